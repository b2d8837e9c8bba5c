"""Language-model streams: cut a corpus into parallel rows and walk them in truncated-BPTT windows.

As in pytorch/examples' word_language_model, the corpus of ``N`` ids becomes ``B`` parallel streams, each a
contiguous piece of the text; the remainder that does not fill a row is dropped. Our layers are batch-first,
so the streams are a ``(B, L)`` tensor with ``L = N // B`` (pytorch/examples keeps ``(L, B)``)::

    ids = 0 1 2 ... 25, batch_size = 4  ->  L = 26 // 4 = 6, ids 24 and 25 dropped

            ┌  0  1  2  3  4  5 ┐   row 0: the first quarter of the corpus
    streams │  6  7  8  9 10 11 │   row 1
            │ 12 13 14 15 16 17 │   row 2
            └ 18 19 20 21 22 23 ┘   row 3

Row ``b`` of one batch continues row ``b`` of the previous one, so the hidden state is carried from window to
window (detached). With ``bptt = 2`` the windows read (inputs -> targets, shifted by one step)::

    columns  [0 1] -> [1 2]    [2 3] -> [3 4]    [4] -> [5]      the last window is shorter

Truncated BPTT(k1, k2) (Williams & Peng 1990) updates every ``k1`` steps and backpropagates ``k2 = bptt`` steps.
Each window then holds ``k2 - k1`` steps of context before its ``k1`` new steps; the loss counts only the new
ones (positions ``>= loss_start``), so every target is counted exactly once per epoch. With ``k2 = 4, k1 = 2``
on a row of length 9 (8 targets)::

    step      0 1 2 3 4 5 6 7
    window 0  n n                   inputs [0, 2)  loss_start 0  carry_steps 0  (next starts at 0)
    window 1  c c n n               inputs [0, 4)  loss_start 2  carry_steps 2  (next starts at 2)
    window 2      c c n n           inputs [2, 6)  loss_start 2  carry_steps 2  (next starts at 4)
    window 3          c c n n       inputs [4, 8)  loss_start 2  carry_steps 4  (last: whole window)
    (c = context, its loss ignored; n = new steps, counted)

The trainer runs a window from its initial state, keeps the (detached) state after ``carry_steps`` steps, and
starts the next window from it; ``carry_steps = 0`` means the next window starts from this window's own
initial state. The state after ``carry_steps`` steps can be had by running the window in two pieces,
``inputs[:, :carry_steps]`` then the rest, which is the same computation as running it whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch

from ..text.encode import _as_integer_tensor

__all__ = ["Span", "Window", "batchify", "bptt_windows", "num_windows", "window_spans"]


class Window(NamedTuple):
    """One truncated-BPTT window of the streams.

    Attributes:
        inputs: ``(B, t)`` ids fed to the model.
        targets: ``(B, t)`` ids to predict, ``inputs`` shifted one step ahead in the stream.
        loss_start: The loss counts positions ``>= loss_start`` only; the ones before are context already
            counted by an earlier window (always 0 without context, i.e. when ``k1 == bptt``).
        carry_steps: The state after this many steps of ``inputs`` (detached) is the initial state of the next
            window, whose inputs begin exactly there; 0 means this window's own initial state. For the last
            window it is ``t``: the state at the end of the streams.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_start: int
    carry_steps: int


def _check_int(value: object, name: str, owner: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}; got {value!r}")
    return value


def _resolve_k1(bptt: int, k1: int | None, owner: str) -> int:
    _check_int(bptt, "bptt", owner, minimum=1)
    if k1 is None:
        return bptt
    _check_int(k1, "k1", owner, minimum=1)
    if k1 > bptt:
        raise ValueError(f"{owner}: k1 must be <= bptt (the window length k2); got k1={k1}, bptt={bptt}")
    return k1


def batchify(ids: torch.Tensor | Sequence[int], batch_size: int) -> torch.Tensor:
    """Cut a corpus of ids into ``batch_size`` parallel streams (see the module's diagram).

    Args:
        ids: ``(N,)`` token ids of the whole corpus, in order.
        batch_size: Parallel streams, B.

    Returns:
        A LongTensor ``(B, N // B)``: row ``b`` is ``ids[b * L : (b + 1) * L]``; the last ``N % B`` ids are dropped.

    Raises:
        ValueError: If ``ids`` is not 1-D integer ids, ``batch_size < 1``, or ``N // B < 2`` (a row needs at
            least one input and one target).
    """
    owner = "batchify"
    _check_int(batch_size, "batch_size", owner, minimum=1)
    tensor = _as_integer_tensor(ids, "ids", owner)
    if tensor.dim() != 1:
        raise ValueError(f"{owner}: ids has shape {tuple(tensor.shape)}; expected 1-D ids (N,)")
    length = tensor.numel() // batch_size
    if length < 2:
        raise ValueError(
            f"{owner}: {tensor.numel()} ids are too few for batch_size {batch_size}: each stream would hold "
            f"{length} ids; expected at least 2 per stream (at least {2 * batch_size} ids, or a smaller batch_size)"
        )
    return tensor[: length * batch_size].long().reshape(batch_size, length)  # (B, L)


def num_windows(length: int, bptt: int, k1: int | None = None) -> int:
    """The number of windows :func:`bptt_windows` yields for streams of ``length`` steps.

    A row of ``length`` ids has ``length - 1`` targets; a new window starts every ``k1`` (default ``bptt``) of them.
    """
    owner = "num_windows"
    _check_int(length, "length", owner, minimum=2)
    step = _resolve_k1(bptt, k1, owner)
    return -(-(length - 1) // step)


def bptt_windows(streams: torch.Tensor, bptt: int, k1: int | None = None) -> Iterator[Window]:
    """Walk the streams in truncated-BPTT windows (see the module's diagrams).

    Args:
        streams: ``(B, L)`` ids from :func:`batchify`.
        bptt: Steps backpropagated through, k2: the longest window.
        k1: New steps per window (the update interval); ``None`` or ``bptt`` gives consecutive windows of ``bptt``
            steps with no context. With ``k1 < bptt`` each window also re-reads the ``bptt - k1`` steps before
            its new ones (fewer at the start of the streams).

    Yields:
        :class:`Window` s, in order. Over the epoch, every target ``streams[:, p + 1]`` (``0 <= p < L - 1``)
        sits at a position ``>= loss_start`` of exactly one window.

    Raises:
        ValueError: If ``streams`` is not ``(B, L)`` integer ids with ``L >= 2``, ``bptt < 1``, or ``k1`` is not in
            ``[1, bptt]``.
    """
    owner = "bptt_windows"
    _resolve_k1(bptt, k1, owner)
    tensor = _as_integer_tensor(streams, "streams", owner)
    if tensor.dim() != 2 or tensor.shape[1] < 2:
        raise ValueError(f"{owner}: streams has shape {tuple(tensor.shape)}; expected (B, L) with L >= 2")
    tensor = tensor.long()
    for start, end, loss_start, carry_steps in window_spans(tensor.shape[1], bptt, k1, owner):
        yield Window(
            inputs=tensor[:, start:end],  # (B, t)
            targets=tensor[:, start + 1 : end + 1],  # (B, t)
            loss_start=loss_start,
            carry_steps=carry_steps,
        )


class Span(NamedTuple):
    """Where a window lies in streams of length ``L``: inputs are columns ``[start, end)``, targets
    ``[start + 1, end + 1)``; ``loss_start`` and ``carry_steps`` as :class:`Window`'s."""

    start: int
    end: int
    loss_start: int
    carry_steps: int


def window_spans(length: int, bptt: int, k1: int | None = None, owner: str = "window_spans") -> Iterator[Span]:
    """The columns of each window :func:`bptt_windows` yields for streams of ``length`` steps, without the ids:
    streams read from disk (:mod:`rnnkit.data.shard_streams`) take the same windows."""
    step = _resolve_k1(bptt, k1, owner)
    _check_int(length, "length", owner, minimum=2)
    context = bptt - step  # k2 - k1
    targets_count = length - 1
    for new_start in range(0, targets_count, step):
        start = max(0, new_start - context)
        end = min(new_start + step, targets_count)
        next_new_start = new_start + step
        if next_new_start < targets_count:
            carry_steps = max(0, next_new_start - context) - start
        else:
            carry_steps = end - start
        yield Span(start, end, new_start - start, carry_steps)
