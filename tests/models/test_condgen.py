"""ConditionalGenerator: the condition sets every layer's initial state, padding stays out of the loss, and a tiny
batch overfits (sampling from it: tests/decode/test_condgen.py)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
from rnnkit.models.condgen import sequence_loss
from rnnkit.text import pad_sequences

CELLS = ("rnn", "gru", "lstm", "lnlstm")


def tiny(**options) -> ConditionalGeneratorConfig:
    settings = dict(embedding_size=6, hidden_size=8, num_layers=2, condition_size=4, dropout=0.0)
    return ConditionalGeneratorConfig(**(settings | options))


@pytest.mark.parametrize("cell", CELLS)
def test_the_condition_sets_the_initial_state_of_every_layer(cell):
    torch.manual_seed(0)
    model = ConditionalGenerator(10, tiny(cell=cell, condition_input=False), num_classes=3, pad_id=0).eval()
    state = model.initial_state(model.encode_condition(torch.tensor([0, 1, 2])))
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == (2 if cell in ("lstm", "lnlstm") else 1)
    for part in parts:
        assert part.shape == (2, 3, 8)  # (L, B, H)
        for layer in range(2):  # each layer's state differs between the conditions
            assert not torch.allclose(part[layer, 0], part[layer, 1])
            assert not torch.allclose(part[layer, 1], part[layer, 2])
    # the state really is the decoder's starting point: with the condition not fed as input, the logits of the
    # same tokens differ only through it
    ids = torch.tensor([[3, 4, 5]] * 3)
    with torch.no_grad():
        logits = model(torch.tensor([0, 1, 2]), ids)  # (3, 3, 10)
    assert not torch.allclose(logits[0], logits[1]) and not torch.allclose(logits[1], logits[2])


def test_forward_starts_from_the_initial_state():
    """The decoder run by hand from initial_state(q) gives forward's logits: nothing else carries the condition."""
    torch.manual_seed(1)
    model = ConditionalGenerator(10, tiny(condition_input=False), num_classes=2, pad_id=0).eval()
    condition, ids = torch.tensor([1, 0]), torch.tensor([[2, 3, 4], [5, 6, 7]])
    with torch.no_grad():
        q = model.encode_condition(condition)
        outputs, _ = model.decoder(model.embedding(ids), state=model.initial_state(q))
        torch.testing.assert_close(model(condition, ids), model.logits(outputs))


def test_feature_conditions_go_through_a_linear_layer():
    torch.manual_seed(2)
    model = ConditionalGenerator(10, tiny(cell="gru"), condition_features=3, pad_id=0).eval()
    features = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    with torch.no_grad():
        logits = model(features, torch.tensor([[1, 2], [1, 2]]))
    assert logits.shape == (2, 2, 10) and not torch.allclose(logits[0], logits[1])
    with pytest.raises(ValueError, match=r"expected float features \(B, 3\)"):
        model(torch.tensor([0, 1]), torch.tensor([[1, 2], [1, 2]]))


def test_padding_does_not_enter_the_loss():
    torch.manual_seed(3)
    model = ConditionalGenerator(12, tiny(), num_classes=2, pad_id=0).eval()
    inputs = [[1, 4, 5, 6, 7], [1, 8]]
    targets = [[4, 5, 6, 7, 2], [8, 2]]
    ids, lengths = pad_sequences(inputs, pad_id=0)
    target_ids, _ = pad_sequences(targets, pad_id=0)
    other = ids.clone()
    other[ids == 0] = 11  # whatever stands in the padding
    condition = torch.tensor([0, 1])
    with torch.no_grad():
        batched = sequence_loss(model(condition, ids, lengths), target_ids, pad_id=0)
        batched_other = sequence_loss(model(condition, other, lengths), target_ids, pad_id=0)
        alone = sum(sequence_loss(model(condition[i : i + 1], torch.tensor([inputs[i]])),
                                  torch.tensor([targets[i]]), pad_id=0) for i in range(2))
    torch.testing.assert_close(batched, alone)
    torch.testing.assert_close(batched_other, alone)


@pytest.mark.parametrize("tie_weights", [False, True])
def test_overfits_a_tiny_batch(tie_weights):
    torch.manual_seed(4)
    model = ConditionalGenerator(12, tiny(num_layers=1, hidden_size=24, tie_weights=tie_weights), num_classes=4,
                                 pad_id=0)
    inputs, _ = pad_sequences([[1, 4, 5, 6], [1, 7, 8], [1, 9, 10, 11, 4], [1, 5, 5]], pad_id=0)
    targets, lengths = pad_sequences([[4, 5, 6, 2], [7, 8, 2], [9, 10, 11, 4, 2], [5, 5, 2]], pad_id=0)
    condition = torch.tensor([0, 1, 2, 3])  # one condition per sequence: each is fully predictable
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(150):
        optimizer.zero_grad()
        loss = sequence_loss(model(condition, inputs, lengths), targets, pad_id=0) / int(lengths.sum())
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="expected exactly one"):
        ConditionalGenerator(10, tiny())
    with pytest.raises(ValueError, match="cell"):
        ConditionalGeneratorConfig(cell="transformer")
    with pytest.raises(ValueError, match="condition_size"):
        ConditionalGeneratorConfig(condition_size=0)
    with pytest.raises(ValueError, match="unknown keys"):
        ConditionalGeneratorConfig.from_dict({"hidden": 3})
    model = ConditionalGenerator(10, tiny(), num_classes=2)
    with pytest.raises(ValueError, match=r"expected ids in \[0, 2\)"):
        model(torch.tensor([2]), torch.tensor([[1, 2]]))


def test_tied_weights_share_one_matrix():
    model = ConditionalGenerator(10, tiny(tie_weights=True), num_classes=2, pad_id=0)
    assert model.output.weight is model.embedding.weight
    assert sum(parameter.numel() for parameter in model.parameters()) == sum(
        parameter.numel() for parameter in set(model.parameters()))  # listed once
