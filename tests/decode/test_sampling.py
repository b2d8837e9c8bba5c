"""Sampling: filters keep the right tokens, greedy is argmax, seeds reproduce, and frequencies match probabilities."""

import math

import pytest
import torch

from rnnkit.decode import filter_logits, sample_next

PROBABILITIES = torch.tensor([0.5, 0.3, 0.15, 0.05])


def test_top_k_1_is_argmax():
    logits = torch.randn(8, 50, generator=torch.Generator().manual_seed(0))
    tokens = sample_next(logits, top_k=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(tokens, logits.argmax(dim=-1))


@pytest.mark.parametrize("top_k", [1, 3, 10, 50, 80])
def test_top_k_leaves_exactly_k_finite_and_the_largest(top_k):
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(2))
    filtered = filter_logits(logits, top_k=top_k)
    kept = torch.isfinite(filtered)
    assert kept.sum(dim=-1).tolist() == [min(top_k, 50)] * 4
    assert torch.equal(filtered[kept], logits[kept])
    smallest_kept = filtered.masked_fill(~kept, math.inf).amin(dim=-1, keepdim=True)
    assert (logits.masked_fill(kept, -math.inf) <= smallest_kept).all()


def test_ties_keep_the_lower_index():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0]])
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[False, True, True, False, False]]
    assert sample_next(logits, temperature=0).tolist() == [1]


@pytest.mark.parametrize("top_p, kept", [
    (0.5, [True, False, False, False]),    # 0.5 alone reaches 0.5
    (0.51, [True, True, False, False]),    # 0.5 + 0.3
    (0.8, [True, True, False, False]),
    (0.81, [True, True, True, False]),     # 0.5 + 0.3 + 0.15
    (0.1, [True, False, False, False]),    # always at least the most probable
    (1.0, [True, True, True, True]),
])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
    logits = PROBABILITIES.log()[[2, 0, 3, 1]]  # shuffled: positions of 0.15, 0.5, 0.05, 0.3
    filtered = filter_logits(logits, top_p=top_p)
    assert torch.isfinite(filtered)[[1, 3, 0, 2]].tolist() == kept


def test_top_p_applies_to_the_top_k_distribution():
    logits = PROBABILITIES.log()
    # after top-2 the distribution is 0.625, 0.375: p = 0.6 keeps the first only
    assert torch.isfinite(filter_logits(logits, top_k=2, top_p=0.6)).tolist() == [True, False, False, False]


def test_temperature_zero_is_greedy():
    logits = torch.randn(6, 20, generator=torch.Generator().manual_seed(3))
    assert torch.equal(sample_next(logits, temperature=0.0, top_p=0.3), logits.argmax(dim=-1))


def test_seeded_generator_reproduces():
    logits = torch.randn(16, 30, generator=torch.Generator().manual_seed(4))

    def draw(seed):
        return sample_next(logits, temperature=1.3, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_frequencies_match_the_tempered_probabilities(temperature):
    count = 20_000
    logits = PROBABILITIES.log().expand(count, 4)
    tokens = sample_next(logits, temperature=temperature, generator=torch.Generator().manual_seed(5))
    frequencies = torch.bincount(tokens, minlength=4).double() / count
    expected = PROBABILITIES.double() ** (1 / temperature)
    expected /= expected.sum()
    # four standard errors of a frequency from 20,000 draws is at most 0.0142
    torch.testing.assert_close(frequencies, expected, atol=0.0142, rtol=0)


def test_filtered_tokens_are_never_sampled():
    logits = PROBABILITIES.log().expand(5000, 4)
    tokens = sample_next(logits, top_k=2, generator=torch.Generator().manual_seed(6))
    assert set(tokens.tolist()) == {0, 1}


def test_batched_leading_dimensions_and_dtype():
    logits = torch.randn(2, 3, 7, dtype=torch.bfloat16)
    tokens = sample_next(logits, generator=torch.Generator().manual_seed(0))
    assert tokens.shape == (2, 3) and tokens.dtype == torch.long


def test_tiny_temperature_does_not_overflow():
    logits = torch.tensor([[1000.0, 999.0, -5.0]])
    assert sample_next(logits, temperature=1e-30, generator=torch.Generator().manual_seed(0)).tolist() == [0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=-0.5), r"temperature must be a finite number >= 0.*got -0.5"),
    (dict(temperature=math.inf), r"temperature.*got inf"),
    (dict(top_k=0), r"top_k must be None or an int >= 1; got 0"),
    (dict(top_k=2.0), r"top_k.*got 2.0"),
    (dict(top_p=0.0), r"top_p must be None or a number in \(0, 1\]; got 0.0"),
    (dict(top_p=1.5), r"top_p.*got 1.5"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_next(torch.zeros(2, 5), **kwargs)


def test_bad_logits_raise():
    with pytest.raises(ValueError, match="NaN"):
        sample_next(torch.tensor([[0.0, math.nan]]))
    with pytest.raises(ValueError, match="no finite value"):
        sample_next(torch.full((1, 3), -math.inf))
    with pytest.raises(ValueError, match="float tensor"):
        filter_logits(torch.tensor([[1, 2]]), top_k=1)
