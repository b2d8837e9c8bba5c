"""Attention: weights are a distribution over the real source positions (exactly 0 on padding), the scores
follow their equations, and bad settings are one clear ValueError."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn.attention import ATTENTION_MODES, Attention, check_attention_mode

SIZES = {"additive": (6, 10), "dot": (10, 10), "general": (6, 10)}


def _memory_inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    values = torch.randn(4, 7, 10, generator=generator)  # (B, S, K)
    lengths = torch.tensor([7, 3, 1, 5])
    mask = torch.arange(7) < lengths.unsqueeze(1)  # (B, S)
    return values, mask, lengths


@pytest.mark.parametrize("mode", ["additive", "dot", "general"])
def test_weights_sum_to_one_over_real_positions_and_are_zero_on_padding(mode):
    torch.manual_seed(0)
    query_size, key_size = SIZES[mode]
    attention = Attention(mode, query_size, key_size)
    values, mask, lengths = _memory_inputs()
    query = torch.randn(4, query_size)
    context, weights = attention(query, attention.prepare(values, mask))
    assert weights.shape == (4, 7) and context.shape == (4, 10)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))
    assert torch.all(weights[~mask] == 0.0)
    assert torch.all(weights[mask] > 0.0)
    torch.testing.assert_close(context, torch.einsum("bs,bsk->bk", weights, values))


@pytest.mark.parametrize("mode", ["additive", "dot", "general"])
def test_padding_values_do_not_change_the_context(mode):
    torch.manual_seed(0)
    query_size, key_size = SIZES[mode]
    attention = Attention(mode, query_size, key_size)
    values, mask, _ = _memory_inputs()
    query = torch.randn(4, query_size)
    noisy = torch.where(mask.unsqueeze(2), values, torch.randn_like(values) * 100)
    first = attention(query, attention.prepare(values, mask))
    second = attention(query, attention.prepare(noisy, mask))
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b)


def test_scores_follow_their_equations():
    torch.manual_seed(0)
    values, mask, _ = _memory_inputs()
    query = torch.randn(4, 6)
    additive = Attention("additive", 6, 10)
    e = torch.tanh(values @ additive.key_projection.weight.T + additive.key_projection.bias
                   + (query @ additive.query_projection.weight.T).unsqueeze(1)) @ additive.score.weight[0]  # (B, S)
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
    torch.testing.assert_close(additive(query, additive.prepare(values, mask))[1], expected)
    general = Attention("general", 6, 10)
    e = torch.einsum("bq,qk,bsk->bs", query, general.key_projection.weight, values)  # q^T W_a k_s
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
    torch.testing.assert_close(general(query, general.prepare(values, mask))[1], expected)
    dot = Attention("dot", 10, 10)
    query10 = torch.randn(4, 10)
    e = torch.einsum("bk,bsk->bs", query10, values)
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
    torch.testing.assert_close(dot(query10, dot.prepare(values, mask))[1], expected)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="attention: got 'luong'; expected one of 'none', 'additive'"):
        check_attention_mode("luong")
    with pytest.raises(ValueError, match="'dot'.*expected equal sizes"):
        Attention("dot", 6, 10)
    with pytest.raises(ValueError, match="'none' has no attention module"):
        Attention("none", 6, 10)
    assert ATTENTION_MODES == ("none", "additive", "dot", "general")
