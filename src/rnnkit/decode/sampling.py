"""Sampling the next token: temperature, top-k and top-p (nucleus) filtering.

For one step of generation the model gives logits ``z`` over the vocabulary. ``sample_next`` draws from

    p_i = softmax(z / T)_i     restricted to the kept tokens and renormalised,

where the temperature ``T`` sharpens (``T < 1``) or flattens (``T > 1``) the distribution and ``T = 0`` means
greedy decoding (argmax). The filters run in this order, as in Hugging Face's generate:

- top-k keeps the ``k`` largest logits;
- top-p (Holtzman et al. 2020) then keeps the smallest set of the most probable tokens whose probability (of the
  top-k distribution, renormalised) reaches ``p``; the most probable token is always kept.

Ties are broken by vocabulary index, lower first, so the same logits always keep the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["filter_logits", "sample_next", "sampling_rule"]


def _check_top_k(top_k: object) -> None:
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1; got {top_k!r}")


def _check_top_p(top_p: object) -> None:
    if top_p is None:
        return
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be None or a number in (0, 1]; got {top_p!r}")


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor (..., V); got {shape}")
    if logits.shape[-1] == 0:
        raise ValueError(f"logits has shape {tuple(logits.shape)}; expected a vocabulary of at least one token")
    if torch.isnan(logits).any() or torch.isposinf(logits).any():
        raise ValueError("logits holds NaN or +inf; expected real numbers (or -inf for excluded tokens)")
    return logits


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set the logits of the tokens that top-k and top-p filtering drop to ``-inf``.

    Args:
        logits: ``(..., V)`` unnormalised log-probabilities (divide by the temperature first, if any).
        top_k: Keep the ``top_k`` largest logits per row (all of them if ``top_k >= V``); ``None`` keeps all.
        top_p: Then keep the smallest set of most probable tokens whose probability reaches ``top_p``; ``None``
            or 1 keeps all. The probabilities are those of the top-k survivors, renormalised.

    Returns:
        A new tensor shaped like ``logits``, the kept entries unchanged and the others ``-inf``.

    Raises:
        ValueError: If ``top_k < 1``, ``top_p`` is outside ``(0, 1]``, or ``logits`` is not a float tensor
            without NaN and +inf.
    """
    _check_top_k(top_k)
    _check_top_p(top_p)
    return _filter(_check_logits(logits), top_k, top_p)


def _filter(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """:func:`filter_logits` without the checks (the arguments were checked once by the caller)."""
    if top_k is None and (top_p is None or top_p >= 1.0):
        return logits.clone()
    if top_p is None or top_p >= 1.0:
        return logits.masked_fill(~_top_k_mask(logits, top_k), -math.inf)
    # A stable descending sort puts equal logits in index order: the tie-break of both filters.
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)  # (..., V)
    drop = torch.zeros_like(sorted_logits, dtype=torch.bool)  # (..., V), in sorted order
    if top_k is not None and top_k < logits.shape[-1]:
        drop[..., top_k:] = True
    probabilities = torch.softmax(sorted_logits.masked_fill(drop, -math.inf), dim=-1)
    mass_before = torch.cumsum(probabilities, dim=-1) - probabilities  # mass of the more probable tokens
    drop |= mass_before >= top_p
    drop[..., 0] = False
    return logits.masked_fill(drop.scatter(-1, order, drop), -math.inf)


def _top_k_mask(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """True at the ``top_k`` largest logits of each row, ties to the lower index (as a stable sort would keep).

    ``topk`` finds the k-th largest value without sorting the whole row; every logit above it is kept, and of
    those equal to it only as many as are still needed, lowest index first.
    """
    if top_k >= logits.shape[-1]:
        return torch.ones_like(logits, dtype=torch.bool)
    kth = logits.topk(top_k, dim=-1).values[..., -1:]  # (..., 1)
    above = logits > kth
    equal = logits == kth
    needed = top_k - above.sum(dim=-1, keepdim=True)  # (..., 1): how many of the equal ones to keep
    return above | (equal & (equal.cumsum(dim=-1) <= needed))


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Choose the next token of each row: greedily, or by sampling the filtered, tempered distribution.

    Args:
        logits: ``(B, V)`` logits of the next token (any ``(..., V)`` works).
        temperature: ``T`` in ``softmax(logits / T)``; 0 picks the argmax (the lowest index among ties), and
            then ``top_k`` and ``top_p`` change nothing.
        top_k: Sample among the ``top_k`` most likely tokens only; see :func:`filter_logits`.
        top_p: Sample from the nucleus of probability ``top_p`` only; see :func:`filter_logits`.
        generator: The random generator for ``torch.multinomial``; the same seed gives the same tokens.

    Returns:
        A LongTensor ``(B,)`` (``logits.shape[:-1]``) of token ids.

    Raises:
        ValueError: If ``temperature`` is negative or not finite, ``top_k < 1``, ``top_p`` is outside ``(0, 1]``,
            or ``logits`` holds NaN, +inf or a row with no finite logit.
    """
    choose = sampling_rule(temperature, top_k, top_p)
    logits = _check_logits(logits)
    if not torch.isfinite(logits).any(dim=-1).all():
        raise ValueError("logits has a row with no finite value; expected at least one token that can be chosen")
    return choose(logits, generator)


def sampling_rule(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
                  ) -> Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]:
    """:func:`sample_next` with its options checked once: ``choose(logits (B, V), generator) -> tokens (B,)``.

    For decoding loops: the returned function checks nothing and never reads a value back to the host, so a
    GPU runs ahead of Python; it draws exactly the tokens :func:`sample_next` draws from the same generator.

    Raises:
        ValueError: If ``temperature`` is negative or not finite, ``top_k < 1`` or ``top_p`` outside ``(0, 1]``.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        math.isfinite(temperature) and temperature >= 0
    ):
        raise ValueError(f"temperature must be a finite number >= 0 (0 for greedy); got {temperature!r}")
    _check_top_k(top_k)
    _check_top_p(top_p)
    if temperature == 0:
        return lambda logits, generator=None: logits.argmax(dim=-1)

    def choose(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if logits.dtype != torch.float32 and logits.dtype != torch.float64:
            logits = logits.float()  # half precision: sample in float32
        if temperature != 1:
            # Shift the maximum to 0 first, so a tiny temperature cannot overflow to +inf. (At T = 1 softmax
            # subtracts the maximum itself, to the same values: the shift would only cost time.)
            logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # (..., V)
        if top_k is not None or top_p is not None:
            logits = _filter(logits - logits.amax(dim=-1, keepdim=True) if temperature == 1 else logits,
                             top_k, top_p)
        probabilities = torch.softmax(logits, dim=-1)
        if probabilities.dim() != 2:
            probabilities = probabilities.reshape(-1, logits.shape[-1])  # (rows, V)
        tokens = torch.multinomial(probabilities, num_samples=1, generator=generator)  # (rows, 1)
        return tokens.view(logits.shape[:-1])

    return choose
