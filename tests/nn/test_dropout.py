"""LockedDropout (one mask per sequence) and embedding_dropout (one mask per word type)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit as rk


def test_locked_dropout_shares_one_mask_over_time():
    torch.manual_seed(0)
    dropout = rk.nn.LockedDropout(0.5).train()
    x = torch.rand(4, 9, 6) + 0.5  # strictly positive: a zero in the output means dropped
    ratio = dropout(x) / x  # (B, T, F): 0 or 1 / (1 - p)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))
    assert set(ratio.unique().tolist()) <= {0.0, 2.0}
    assert 0 < int((ratio == 0).sum()) < ratio.numel()


def test_locked_dropout_masks_differ_between_sequences_and_calls():
    torch.manual_seed(0)
    dropout = rk.nn.LockedDropout(0.5).train()
    x = torch.ones(64, 3, 16)
    first, second = dropout(x), dropout(x)
    assert not torch.equal(first, second)
    assert not torch.equal(first[0], first[1])


def test_locked_dropout_preserves_the_mean():
    torch.manual_seed(0)
    dropout = rk.nn.LockedDropout(0.3).train()
    x = torch.ones(2000, 2, 50)
    assert abs(float(dropout(x).mean()) - 1.0) < 0.02


@pytest.mark.parametrize("p", [0.0, 0.5])
def test_locked_dropout_identity_in_eval_and_for_zero(p):
    x = torch.randn(3, 5, 4)
    assert torch.equal(rk.nn.LockedDropout(p).eval()(x), x)
    assert torch.equal(rk.nn.LockedDropout(0.0).train()(x), x)


def test_locked_dropout_gradient_uses_the_mask():
    torch.manual_seed(0)
    dropout = rk.nn.LockedDropout(0.5).train()
    x = torch.ones(5, 4, 3, requires_grad=True)
    y = dropout(x)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())


def make_embedding(padding_idx=None):
    torch.manual_seed(0)
    embedding = nn.Embedding(12, 5, padding_idx=padding_idx)
    with torch.no_grad():
        embedding.weight.add_(torch.sign(embedding.weight) * 0.1)  # no exact zeros outside the padding row
    return embedding


def test_embedding_dropout_drops_whole_word_types():
    embedding = make_embedding()
    torch.manual_seed(1)
    ids = torch.randint(0, 12, (6, 20))
    output = rk.nn.embedding_dropout(embedding, ids, 0.5, training=True)  # (B, T, E)
    assert output.shape == (6, 20, 5)
    expected = embedding(ids).detach()
    dropped = set()
    for word in ids.unique().tolist():
        rows, scaled = output[ids == word], expected[ids == word] * 2.0
        if bool((rows == 0).all()):
            dropped.add(word)
        else:
            assert torch.allclose(rows, scaled), f"word {word}: kept rows must be scaled by 1/(1-p)"
    assert 0 < len(dropped) < len(ids.unique())


def test_embedding_dropout_keeps_padding_and_its_zero_gradient():
    embedding = make_embedding(padding_idx=0)
    ids = torch.tensor([[0, 3, 4, 0], [5, 0, 0, 0]])
    torch.manual_seed(2)
    output = rk.nn.embedding_dropout(embedding, ids, 0.3, training=True)
    assert bool((output[ids == 0] == 0).all())
    output.sum().backward()
    assert bool((embedding.weight.grad[0] == 0).all())


def test_embedding_dropout_identity_in_eval():
    embedding = make_embedding()
    ids = torch.randint(0, 12, (3, 7))
    assert torch.equal(rk.nn.embedding_dropout(embedding, ids, 0.5, training=False), embedding(ids))
    assert torch.equal(rk.nn.embedding_dropout(embedding, ids, 0.0, training=True), embedding(ids))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, True, "0.5"])
def test_bad_probabilities_name_the_argument(p):
    with pytest.raises(ValueError, match=r"^p: got"):
        rk.nn.LockedDropout(p)
    with pytest.raises(ValueError, match=r"^p: got"):
        rk.nn.embedding_dropout(make_embedding(), torch.zeros(1, 1, dtype=torch.long), p, training=True)
