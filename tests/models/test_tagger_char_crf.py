"""SequenceTagger with character features and a CRF: padding changes nothing, a repeated word is encoded once
with the same result, a tiny batch overfits, and the loss / decoding go through the CRF."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import SequenceTagger, TaggerConfig
from rnnkit.models.char_features import CharEncoder
from rnnkit.text import Vocab, pad_sequences
from rnnkit.text.char_ids import MAX_WORD_CHARS, build_char_vocab, pad_char_ids, word_char_ids

WORDS = [["The", "cat", "sat", "."], ["Cats", "sat"], ["the", "cat"]]
TAGS = [[0, 1, 2, 3], [1, 2], [0, 1]]


def batch(model_vocab: Vocab, char_vocab: Vocab):
    ids, lengths = pad_sequences([model_vocab.encode(words) for words in WORDS], model_vocab.pad_id)
    chars = pad_char_ids([word_char_ids(words, char_vocab) for words in WORDS], 0, ids.shape[1])
    tags = torch.zeros_like(ids)
    for row, sentence in enumerate(TAGS):
        tags[row, : len(sentence)] = torch.tensor(sentence)
    return ids, lengths, chars, tags


def build(kind: str, crf: bool, **options):
    vocab = Vocab.build(WORDS)
    char_vocab = build_char_vocab(WORDS)
    config = TaggerConfig(embedding_size=6, hidden_size=5, dropout=0.0, char_features=kind, char_size=4, crf=crf,
                          **options)
    return SequenceTagger(4, len(vocab), config, pad_id=vocab.pad_id, unk_id=vocab.unk_id,
                          num_chars=len(char_vocab), tag_names=["DET", "NOUN", "VERB", "PUNCT"]), vocab, char_vocab


def test_char_ids_pad_and_long_words_keep_prefix_and_suffix():
    char_vocab = build_char_vocab([["ab"]])
    assert word_char_ids(["ab", "az"], char_vocab) == [[2, 3], [2, 1]]  # z unseen: <unk>
    long = "x" * (MAX_WORD_CHARS // 2) + "middle" + "y" * (MAX_WORD_CHARS // 2)
    vocab = build_char_vocab([[long]])
    assert len(word_char_ids([long], vocab)[0]) == MAX_WORD_CHARS
    chars = pad_char_ids([[[2, 3], [2]], [[3]]], 0, 3)
    assert chars.shape == (2, 3, 2) and chars[0, 1].tolist() == [2, 0] and chars[1, 1:].sum() == 0


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_the_char_encoder_gives_each_word_the_same_vector_alone_or_in_a_batch(kind):
    torch.manual_seed(0)
    encoder = CharEncoder(10, kind, 4).eval()
    chars = torch.tensor([[[2, 3, 4], [5, 0, 0], [2, 3, 4]], [[6, 7, 0], [0, 0, 0], [0, 0, 0]]])  # (2, 3, 3)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    out = encoder(chars, mask)
    assert out.shape == (2, 3, encoder.output_size) and out[1, 1:].abs().sum() == 0
    torch.testing.assert_close(out[0, 0], out[0, 2])
    torch.testing.assert_close(out[0, 1], encoder.encode_words(torch.tensor([[5]]))[0])  # padding never counts
    torch.testing.assert_close(out[1, 0], encoder.encode_words(torch.tensor([[6, 7]]))[0])


@pytest.mark.parametrize("kind,crf", [("lstm", False), ("cnn", True), ("lstm", True)])
def test_padded_sentences_equal_their_unpadded_selves(kind, crf):
    torch.manual_seed(1)
    model, vocab, char_vocab = build(kind, crf)
    model.eval()
    ids, lengths, chars, tags = batch(vocab, char_vocab)
    logits = model(ids, lengths, chars)
    decoded = model.decode(logits, lengths)
    for row, words in enumerate(WORDS):
        n = len(words)
        alone = model(ids[row:row + 1, :n], None, chars[row:row + 1, :n])[0]
        torch.testing.assert_close(logits[row, :n], alone, atol=1e-5, rtol=1e-5)
        assert decoded[row] == model.decode(alone.unsqueeze(0), torch.tensor([n]))[0]


@pytest.mark.parametrize("kind,crf", [("lstm", True), ("cnn", False)])
def test_a_tiny_batch_overfits(kind, crf):
    torch.manual_seed(2)
    model, vocab, char_vocab = build(kind, crf)
    ids, lengths, chars, tags = batch(vocab, char_vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(80):
        optimizer.zero_grad()
        loss = model.loss(model(ids, lengths, chars), tags, lengths)
        loss.backward()
        optimizer.step()
    model.eval()
    assert model.decode(model(ids, lengths, chars), lengths) == TAGS
    assert loss.item() < 0.1


def test_the_crf_loss_is_the_sum_of_its_negative_log_likelihoods():
    torch.manual_seed(3)
    model, vocab, char_vocab = build("none", True)
    ids, lengths, chars, tags = batch(vocab, char_vocab)
    logits = model(ids, lengths)
    expected = (model.crf.log_partition(logits, lengths) - model.crf.score(logits, tags, lengths)).sum()
    torch.testing.assert_close(model.loss(logits, tags, lengths), expected)
    assert model.crf.transition_penalty.abs().sum() == 0  # POS tags: no chunk constraints


def test_char_features_need_the_chars_and_their_vocabulary():
    with pytest.raises(ValueError, match="num_chars: got None"):
        SequenceTagger(3, 10, TaggerConfig(char_features="cnn"))
    model, vocab, char_vocab = build("lstm", False)
    ids, lengths, _, _ = batch(vocab, char_vocab)
    with pytest.raises(ValueError, match="chars: got None"):
        model(ids, lengths)
    with pytest.raises(ValueError, match="char_features: got 'gru'"):
        TaggerConfig(char_features="gru")
    with pytest.raises(ValueError, match="crf_constraints: got 'bilou'"):
        TaggerConfig(crf=True, crf_constraints="bilou")
