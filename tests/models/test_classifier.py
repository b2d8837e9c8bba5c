"""SequenceClassifier: padding never changes a prediction, every pooling, both backends; a tiny batch overfits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.text import pad_sequences

POOLINGS = ("last", "mean", "max", "attention")


def tiny(pooling: str, **options) -> ClassifierConfig:
    settings = dict(embedding_size=6, hidden_size=5, num_layers=2, bidirectional=True, pooling=pooling,
                    attention_size=4, mlp_size=7, dropout=0.3)
    return ClassifierConfig(**(settings | options))


@pytest.mark.parametrize("backend", ["explicit", "fused"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padded_and_unpadded_sequences_give_the_same_logits(pooling, cell, backend):
    torch.manual_seed(0)
    model = SequenceClassifier(3, tiny(pooling, cell=cell, backend=backend), vocab_size=20, pad_id=0).eval()
    sequences = [[4, 5, 6, 7, 8, 9, 10], [3, 11], [12, 13, 14, 15]]
    ids, lengths = pad_sequences(sequences, pad_id=0)  # (3, 7)
    ids_other_padding = ids.clone()
    ids_other_padding[ids == 0] = 19  # what stands in the padding must not matter either
    with torch.no_grad():
        batched = model(ids, lengths)
        batched_other = model(ids_other_padding, lengths)
        alone = torch.cat([model(torch.tensor([sequence])) for sequence in sequences])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched_other, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_numeric_features_padded_equal_unpadded(pooling):
    torch.manual_seed(1)
    model = SequenceClassifier(2, tiny(pooling, cell="gru"), input_size=3).eval()
    first, second = torch.randn(6, 3), torch.randn(2, 3)
    padded = torch.zeros(2, 6, 3)
    padded[0], padded[1, :2] = first, second
    padded[1, 2:] = 100.0  # garbage in the padding
    with torch.no_grad():
        batched = model(padded, torch.tensor([6, 2]))
        alone = torch.cat([model(first[None]), model(second[None])])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_attention_weights_are_zero_on_padding_and_sum_to_one():
    torch.manual_seed(2)
    model = SequenceClassifier(2, tiny("attention"), vocab_size=10, pad_id=0).eval()
    outputs = torch.randn(2, 5, 10)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    weights = model.attention.weights(outputs, mask)
    assert torch.all(weights[1, 2:] == 0)
    torch.testing.assert_close(weights.sum(1), torch.ones(2))


def test_last_pooling_reads_the_forward_state_at_the_last_real_step():
    torch.manual_seed(3)
    model = SequenceClassifier(2, tiny("last", num_layers=1, bidirectional=False), vocab_size=10).eval()
    ids, lengths = pad_sequences([[1, 2, 3, 4], [5, 6]], pad_id=0)
    with torch.no_grad():
        outputs, state = model.recurrent(model.embedding(ids), lengths=lengths)
        pooled = model.pool(outputs, state, lengths)
    torch.testing.assert_close(pooled, torch.stack([outputs[0, 3], outputs[1, 1]]))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_overfits_a_tiny_batch(pooling):
    torch.manual_seed(4)
    model = SequenceClassifier(3, tiny(pooling, dropout=0.0, num_layers=1, hidden_size=16), vocab_size=12, pad_id=0)
    ids, lengths = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8], [9, 10], [3, 2, 1, 11], [5, 9]], pad_id=0)
    labels = torch.tensor([0, 1, 2, 1, 0])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(ids, lengths), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(ids, lengths).argmax(1), labels)
    assert loss.item() < 0.05


def test_state_dict_round_trip_gives_the_same_logits():
    torch.manual_seed(5)
    config = tiny("max")
    model = SequenceClassifier(4, config, vocab_size=15, pad_id=0).eval()
    copy = SequenceClassifier(4, config, vocab_size=15, pad_id=0).eval()
    copy.load_state_dict(model.state_dict())
    ids = torch.randint(1, 15, (3, 6))
    with torch.no_grad():
        assert torch.equal(model(ids), copy(ids))


@pytest.mark.parametrize(("options", "words"), [
    ({"pooling": "sum"}, "pooling"), ({"cell": "transformer"}, "cell"), ({"hidden_size": 0}, "hidden_size"),
    ({"dropout": 1.0}, "dropout"), ({"input_dropout": -0.1}, "input_dropout"),
    ({"mlp_size": -1}, "mlp_size"), ({"cell": "lnlstm", "backend": "fused"}, "fused"),
])
def test_config_errors_name_the_setting(options, words):
    with pytest.raises(ValueError, match=words):
        ClassifierConfig(**options)


def test_constructor_and_input_errors():
    with pytest.raises(ValueError, match="num_classes"):
        SequenceClassifier(1, ClassifierConfig(), vocab_size=5)
    with pytest.raises(ValueError, match="exactly one"):
        SequenceClassifier(2, ClassifierConfig(), vocab_size=5, input_size=3)
    model = SequenceClassifier(2, tiny("mean"), vocab_size=5)
    with pytest.raises(ValueError, match=r"token id 7; expected ids in \[0, 5\)"):
        model(torch.tensor([[1, 7]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.randn(1, 3))
    features = SequenceClassifier(2, tiny("mean"), input_size=3)
    with pytest.raises(ValueError, match=r"float features \(B, T, 3\)"):
        features(torch.randn(1, 4, 2))
