"""Argument checks for the recurrent layers: one clear ``ValueError`` per mistake, naming the argument."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_input(x: Tensor, input_size: int, batch_first: bool) -> bool:
    """Validate the layer input; return True when it is unbatched ``(T, I)``."""
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    if not isinstance(x, Tensor):
        raise ValueError(f"x: got {type(x).__name__}; expected a tensor of shape {layout}")
    if not x.is_floating_point():
        raise ValueError(
            f"x: got a {x.dtype} tensor; expected floating-point features {layout} "
            "(embed or one-hot encode token ids first)"
        )
    if x.dim() not in (2, 3):
        raise ValueError(f"x: got shape {tuple(x.shape)} ({x.dim()}-D); expected {layout} or unbatched (T, I)")
    if x.shape[-1] != input_size:
        raise ValueError(f"x: got {x.shape[-1]} features per step (shape {tuple(x.shape)}); expected input_size "
                         f"{input_size}")
    if x.dim() == 2:
        batch_size, steps = 1, x.shape[0]
    else:
        batch_size, steps = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    if steps < 1 or batch_size < 1:
        raise ValueError(f"x: got shape {tuple(x.shape)}; expected at least one sequence and one time step")
    return x.dim() == 2


def check_lengths(lengths: Tensor | Sequence[int] | None, batch_size: int, steps: int) -> Tensor | None:
    """Validate ``lengths`` against the batch; return them as a LongTensor ``(B,)`` or None."""
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"lengths: got {lengths!r}; expected a sequence of {batch_size} integers") from error
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths: got a {lengths.dtype} tensor; expected integer lengths")
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ValueError(f"lengths: got shape {tuple(lengths.shape)}; expected ({batch_size},), one per sequence")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > steps:
        raise ValueError(
            f"lengths: got values from {low} to {high}; expected each in 1..{steps} (the batch's time axis)"
        )
    return lengths.long()


def check_state(state, expected: tuple[int, int, int], has_cell_state: bool):
    """Validate an initial state: ``h (L*D, B, H)``, or ``(h, c)`` for cells with a cell state; return it."""
    if state is None:
        return None
    if has_cell_state:
        if not (isinstance(state, tuple | list) and len(state) == 2):
            raise ValueError(f"state: got {type(state).__name__}; expected a pair (h, c), each of shape {expected}")
        parts = {"state[0] (h)": state[0], "state[1] (c)": state[1]}
    else:
        if not isinstance(state, Tensor):
            raise ValueError(f"state: got {type(state).__name__}; expected a tensor h of shape {expected}")
        parts = {"state": state}
    for name, part in parts.items():
        if not isinstance(part, Tensor) or tuple(part.shape) != expected:
            shape = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
            raise ValueError(f"{name}: got shape {shape}; expected {expected} = (num_layers * num_directions, "
                             "batch, hidden_size)")
    return tuple(state) if has_cell_state else state
