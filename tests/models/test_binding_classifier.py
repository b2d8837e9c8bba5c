"""The binding-site classifier: one-hot or k-mer inputs, optional conv front-end, padding kept out, overfits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.sequence_encoding import one_hot
from rnnkit.models import ClassifierConfig
from rnnkit.models.binding_classifier import BindingSiteClassifier, ConvFrontEndConfig

CORE = ClassifierConfig(cell="gru", embedding_size=8, hidden_size=8, dropout=0.0)


@pytest.mark.parametrize("channels", [0, 6])
def test_padded_and_alone_give_the_same_logits(channels):
    torch.manual_seed(0)
    model = BindingSiteClassifier(2, CORE, ConvFrontEndConfig(conv_channels=channels, conv_width=5, pool_size=3))
    model.eval()
    ids = torch.tensor([[1, 2, 3, 4, 5, 1, 2, 3, 4, 1, 2], [4, 3, 2, 1, 1, 2, 3, 0, 0, 0, 0]])  # 0: padding
    lengths = torch.tensor([11, 7])
    together = model(ids, lengths)
    alone = model(ids[1:, :7], lengths[1:])
    assert torch.allclose(together[1], alone[0], atol=1e-6)


def test_letter_ids_and_one_hot_features_give_the_same_logits():
    torch.manual_seed(0)
    model = BindingSiteClassifier(2, CORE, ConvFrontEndConfig(conv_channels=4, conv_width=3, pool_size=2)).eval()
    features = one_hot(["ACGTNACG", "TTGA"])  # (2, 8, 4)
    ids = torch.tensor([[1, 2, 3, 4, 5, 1, 2, 3], [4, 4, 3, 1, 0, 0, 0, 0]])
    lengths = torch.tensor([8, 4])
    assert torch.allclose(model(features, lengths), model(ids, lengths), atol=1e-6)


def test_bad_inputs_are_value_errors():
    model = BindingSiteClassifier(2, CORE, ConvFrontEndConfig(conv_channels=4, pool_size=4))
    with pytest.raises(ValueError, match="expected at least 4"):
        model(torch.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"outside \[0, 6\)"):
        model(torch.tensor([[1, 2, 3, 9]]))
    with pytest.raises(ValueError, match="expected a size for k-mer inputs"):
        BindingSiteClassifier(2, CORE, ConvFrontEndConfig(), inputs="kmer")
    with pytest.raises(ValueError, match="conv_width: got 4; expected an odd width"):
        ConvFrontEndConfig(conv_width=4)


@pytest.mark.parametrize(("inputs", "channels"), [("onehot", 8), ("onehot", 0), ("kmer", 8)])
def test_a_tiny_batch_is_overfitted(inputs, channels):
    torch.manual_seed(0)
    vocab_size = 30 if inputs == "kmer" else None
    model = BindingSiteClassifier(2, CORE, ConvFrontEndConfig(conv_channels=channels, conv_width=3, pool_size=2),
                                  inputs=inputs, vocab_size=vocab_size)
    high = 30 if inputs == "kmer" else 6
    ids = torch.randint(1, high, (8, 12))
    labels = torch.tensor([0, 1] * 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss = F.cross_entropy(model(ids), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    assert torch.equal(model(ids).argmax(1), labels)
