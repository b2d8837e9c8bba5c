"""Sampling continuations from a step function: the loop of ``generate``, for one prompt or many at once.

Given the logits after each prompt and the state there (:meth:`LanguageModelStep.prefill`), each step draws one
token per row and feeds it back::

    token_t = choose(logits_t)              logits_{t+1}, state = stepper(token_t, state)

Nothing in the loop reads a value back to the host: the tokens stay on the device until the loop ends, then come
back in one copy. The rows are independent sequences, so many prompts decode in the time of few (one matrix product
serves them all); with one random generator a row's draws depend on the batch it is in, so a sampled text is
reproducible for the same prompts and seed, and equal to one-by-one decoding when decoding greedily.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .steps import CellState

__all__ = ["sample_continuations"]


@torch.no_grad()
def sample_continuations(stepper: Callable[[Tensor, Sequence[CellState]], tuple[Tensor, list[CellState]]],
                         logits: Tensor, state: Sequence[CellState], length: int,
                         choose: Callable[[Tensor, torch.Generator | None], Tensor],
                         generator: torch.Generator | None = None) -> Tensor:
    """Draw ``length`` tokens per row from ``logits (B, V)`` on: returns their ids ``(B, length)``.

    Args:
        stepper: a step function, ``(tokens (B,), state) -> (logits (B, V), state)``.
        logits, state: the next-token logits and the state after each prompt.
        length: tokens to draw, >= 1 (checked by the caller).
        choose: the sampling rule (:func:`rnnkit.decode.sampling.sampling_rule`).
        generator: random numbers for the draws.
    """
    tokens = []
    for position in range(length):
        token = choose(logits, generator)  # (B,)
        tokens.append(token)
        if position + 1 < length:  # the last token's successor is never needed
            logits, state = stepper(token, state)
    return torch.stack(tokens, dim=1)  # (B, length)
