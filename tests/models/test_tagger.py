"""SequenceTagger: padding never changes a tag nor the loss, every cell and both backends; a tiny batch overfits;
the settings are checked."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import SequenceTagger, TaggerConfig
from rnnkit.models.tagger import IGNORE_INDEX, tagging_loss
from rnnkit.text import pad_sequences

SENTENCES = [[4, 5, 6, 7, 8, 9, 10], [3, 11], [12, 13, 14, 15]]
TAGS = [[0, 1, 2, 0, 0, 1, 2], [2, 0], [1, 1, 0, 2]]


def tiny(**options) -> TaggerConfig:
    return TaggerConfig(**({"embedding_size": 6, "hidden_size": 5, "num_layers": 2, "dropout": 0.3} | options))


@pytest.mark.parametrize("backend", ["explicit", "fused"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padded_and_unpadded_sentences_give_the_same_logits(cell, backend, bidirectional):
    torch.manual_seed(0)
    model = SequenceTagger(3, 20, tiny(cell=cell, backend=backend, bidirectional=bidirectional), pad_id=0).eval()
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)  # (3, 7)
    other = ids.clone()
    other[ids == 0] = 19  # what stands in the padding must not matter either
    with torch.no_grad():
        batched, batched_other = model(ids, lengths), model(other, lengths)
        for row, sentence in enumerate(SENTENCES):
            alone = model(torch.tensor([sentence]))[0]  # (T_n, K)
            torch.testing.assert_close(batched[row, : len(sentence)], alone, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(batched_other[row, : len(sentence)], alone, atol=1e-5, rtol=1e-5)
            assert batched[row, : len(sentence)].argmax(1).tolist() == alone.argmax(1).tolist()


def test_the_loss_counts_real_tokens_only():
    torch.manual_seed(1)
    model = SequenceTagger(3, 20, tiny(), pad_id=0).eval()
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    tags, _ = pad_sequences(TAGS, pad_id=0)  # padding tagged 0, a real tag: the mask must drop it
    with torch.no_grad():
        batched = tagging_loss(model(ids, lengths), tags, lengths)
        alone = sum(F.cross_entropy(model(torch.tensor([s]))[0], torch.tensor(t), reduction="sum")
                    for s, t in zip(SENTENCES, TAGS, strict=True))
        garbage = tags.clone()
        garbage[ids == 0] = 2
        batched_garbage = tagging_loss(model(ids, lengths), garbage, lengths)
        ignored = tags.masked_fill(ids == 0, IGNORE_INDEX)
        batched_ignored = tagging_loss(model(ids, lengths), ignored, lengths)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched_garbage, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched_ignored, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_gets_no_gradient_through_the_loss(bidirectional):
    torch.manual_seed(2)
    model = SequenceTagger(3, 20, tiny(bidirectional=bidirectional, dropout=0.0), pad_id=0)
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    ids[ids == 0] = 19  # an ordinary token (not padding_idx) stands in every padding position
    tags, _ = pad_sequences(TAGS, pad_id=0)
    tagging_loss(model(ids, lengths), tags, lengths).backward()
    gradient = model.embedding.weight.grad  # (V, E)
    assert torch.all(gradient[19] == 0) and torch.any(gradient[4] != 0)


@pytest.mark.parametrize("num_layers", [0, 1, 2])
def test_a_tiny_batch_overfits(num_layers):
    torch.manual_seed(3)
    model = SequenceTagger(3, 20, tiny(num_layers=num_layers, hidden_size=16, embedding_size=16, dropout=0.0),
                           pad_id=0)
    # token 7 is tagged 1 after token 4 and 2 after token 5: only a recurrent layer can tell (num_layers > 0)
    sentences = [[4, 7, 8], [5, 7, 8, 9], [4, 7], [5, 7, 3]]
    tags = [[0, 1, 0], [0, 2, 0, 0], [0, 1], [0, 2, 0]]
    ids, lengths = pad_sequences(sentences, pad_id=0)
    targets, _ = pad_sequences(tags, pad_id=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        loss = tagging_loss(model(ids, lengths), targets, lengths) / int(lengths.sum())
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(ids, lengths).argmax(2)
    right = sum(predicted[row, t] == tags[row][t] for row in range(4) for t in range(len(tags[row])))
    if num_layers == 0:
        # token 7 alone cannot tell tag 1 from 2: half its 4 tags wrong, loss >= 4 ln 2 / 12 at best
        assert right == 12 - 2 and loss.item() >= 4 * math.log(2) / 12 - 1e-3
    else:
        assert right == 12 and loss.item() < 0.05


def test_word_dropout_only_in_training_and_never_on_padding():
    torch.manual_seed(4)
    model = SequenceTagger(3, 20, tiny(word_dropout=0.99, dropout=0.0), pad_id=0, unk_id=1)
    seen = []
    model.embedding.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    ids, lengths = pad_sequences(SENTENCES, pad_id=0)
    model.train()(ids, lengths)
    assert torch.all((seen[-1] == 1) | (ids == 0)) and torch.all(seen[-1][ids == 0] == 0)
    assert (seen[-1] == 1).sum() >= 10
    model.eval()(ids, lengths)
    assert torch.equal(seen[-1], ids)


def test_settings_and_inputs_are_checked():
    with pytest.raises(ValueError, match="cell"):
        TaggerConfig(cell="transformer")
    with pytest.raises(ValueError, match="num_layers"):
        TaggerConfig(num_layers=-1)
    with pytest.raises(ValueError, match="word_dropout"):
        TaggerConfig(word_dropout=1.0)
    with pytest.raises(ValueError, match="unknown keys"):
        TaggerConfig.from_dict({"pooling": "max"})
    assert TaggerConfig.from_dict(TaggerConfig().to_dict()) == TaggerConfig()
    with pytest.raises(ValueError, match="num_tags"):
        SequenceTagger(1, 10, TaggerConfig())
    with pytest.raises(ValueError, match="unk_id"):
        SequenceTagger(3, 10, TaggerConfig(word_dropout=0.1))
    model = SequenceTagger(3, 10, tiny())
    with pytest.raises(ValueError, match=r"token id 10; expected ids in \[0, 10\)"):
        model(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.zeros(1, 2))


def test_frequency_aware_word_dropout_drops_rare_words_often_and_frequent_ones_rarely():
    torch.manual_seed(5)
    alpha = 0.25
    model = SequenceTagger(3, 6, tiny(word_dropout_alpha=alpha, dropout=0.0), pad_id=0, unk_id=1)
    model.set_word_counts(torch.tensor([0, 0, 1, 3, 1000, 0]))
    assert torch.allclose(model.word_drop_probability, torch.tensor([1.0, 1.0, alpha / 1.25, alpha / 3.25,
                                                                      alpha / 1000.25, 1.0]))
    seen = []
    model.embedding.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    ids = torch.tensor([[2, 3, 4, 0]]).repeat(4000, 1)  # (4000, 4), the last position padding
    model.train()(ids, torch.full((4000,), 3))
    dropped = (seen[-1] == 1).float().mean(0)  # share of <unk> per position
    assert abs(dropped[0] - 0.2) < 0.03 and abs(dropped[1] - alpha / 3.25) < 0.02 and dropped[2] < 0.003
    assert dropped[3] == 0  # never padding
    model.eval()(ids, torch.full((4000,), 3))
    assert torch.equal(seen[-1], ids)
    assert "word_drop_probability" not in model.state_dict()  # recomputed from the data, never saved


def test_frequency_aware_word_dropout_settings_are_checked():
    for bad in (-0.5, True, "x", float("inf")):
        with pytest.raises(ValueError, match="word_dropout_alpha: got .*; expected a number >= 0"):
            TaggerConfig(word_dropout_alpha=bad)
    with pytest.raises(ValueError, match="word_dropout_alpha: got 0.25; needs unk_id"):
        SequenceTagger(3, 10, TaggerConfig(word_dropout_alpha=0.25))
    model = SequenceTagger(3, 10, tiny(word_dropout_alpha=0.25), pad_id=0, unk_id=1)
    with pytest.raises(ValueError, match="expected 10 counts >= 0"):
        model.set_word_counts([1, 2, 3])
