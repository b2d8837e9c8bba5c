"""Id sequences to tensors: padding, masks and one-hot vectors.

A batch of variable-length sequences becomes one rectangle of ids plus the true lengths::

    seqs = [[5, 2, 7], [4, 9]]          ids = [[5, 2, 7],        lengths = [3, 2]
                                              [4, 9, pad]]        mask    = [[T, T, T],
                                                                             [T, T, F]]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["INTEGER_DTYPES", "lengths_to_mask", "one_hot", "pad_sequences"]

INTEGER_DTYPES = frozenset({torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64})


def _check_int(value: object, name: str, owner: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        expected = "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(f"{owner}: {name} must be {expected}; got {value!r}")
    return value


def _as_integer_tensor(values: object, name: str, owner: str) -> torch.Tensor:
    """Convert ``values`` (a tensor, list, tuple, range or numpy array) to an integer tensor, or raise."""
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{owner}: {name} is a {type(values).__name__}; expected integer token ids")
    try:
        tensor = values if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{owner}: {name} is not a sequence of integer token ids ({error})") from None
    if tensor.numel() == 0:  # torch.as_tensor([]) is float32, yet holds no float value
        return tensor.long()
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        raise ValueError(f"{owner}: {name} holds float values; expected integer token ids")
    if tensor.dtype not in INTEGER_DTYPES:
        raise ValueError(f"{owner}: {name} holds {tensor.dtype} values; expected integer token ids")
    return tensor


def pad_sequences(
    seqs: Sequence[Sequence[int]] | Sequence[torch.Tensor],
    pad_id: int,
    max_len: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id sequences on the right into one ``(B, T)`` tensor.

    Args:
        seqs: ``B`` sequences of token ids (lists of int or 1-D integer tensors), each at least one long.
        pad_id: The id written after each sequence's end; any int (e.g. ``vocab.pad_id``, or ``-100`` for
            labels that a loss should ignore).
        max_len: If given, sequences longer than ``max_len`` are cut to their first ``max_len`` ids.

    Returns:
        ``(ids, lengths)``: ``ids`` a LongTensor ``(B, T)`` with ``T`` the longest (cut) length, so
        ``T = min(max_len, longest)``; ``lengths`` a LongTensor ``(B,)`` of the (cut) lengths. Both on CPU.

    Raises:
        ValueError: If ``seqs`` is empty, a sequence is empty, not 1-D, holds float or negative ids, or
            ``max_len < 1``.
    """
    owner = "pad_sequences"
    _check_int(pad_id, "pad_id", owner)
    if max_len is not None:
        _check_int(max_len, "max_len", owner, minimum=1)
    if isinstance(seqs, (str, bytes)) or len(seqs) == 0:
        raise ValueError(f"{owner}: seqs is empty; expected at least one sequence")
    tensors = []
    for index, seq in enumerate(seqs):
        tensor = _as_integer_tensor(seq, f"seqs[{index}]", owner)
        if tensor.dim() != 1:
            raise ValueError(f"{owner}: seqs[{index}] has shape {tuple(tensor.shape)}; expected 1-D ids")
        if tensor.numel() == 0:
            raise ValueError(f"{owner}: seqs[{index}] is empty; expected at least one id "
                             "(recurrent layers need lengths >= 1)")
        smallest = int(tensor.min())
        if smallest < 0:
            raise ValueError(f"{owner}: seqs[{index}] holds the negative id {smallest}; expected ids >= 0")
        tensors.append(tensor[:max_len] if max_len is not None else tensor)
    lengths = torch.tensor([tensor.numel() for tensor in tensors], dtype=torch.long)
    ids = torch.full((len(tensors), int(lengths.max())), pad_id, dtype=torch.long)  # (B, T)
    for row, tensor in enumerate(tensors):
        ids[row, : tensor.numel()] = tensor
    return ids, lengths


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Boolean mask of the real (non-padding) steps.

    Args:
        lengths: A 1-D integer tensor ``(B,)`` of sequence lengths, each >= 0.
        max_len: Width ``T`` of the mask; defaults to ``max(lengths)``.

    Returns:
        A BoolTensor ``(B, T)``, True where ``t < lengths[b]``, on the device of ``lengths``.

    Raises:
        ValueError: If ``lengths`` is not a 1-D integer tensor, holds a negative value, or
            ``max_len < max(lengths)``.
    """
    owner = "lengths_to_mask"
    lengths = _as_integer_tensor(lengths, "lengths", owner)
    if lengths.dim() != 1:
        raise ValueError(f"{owner}: lengths has shape {tuple(lengths.shape)}; expected a 1-D tensor (B,)")
    longest = int(lengths.max()) if lengths.numel() else 0
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError(f"{owner}: lengths holds the negative value {int(lengths.min())}; expected >= 0")
    if max_len is None:
        max_len = longest
    elif _check_int(max_len, "max_len", owner, minimum=0) < longest:
        raise ValueError(f"{owner}: max_len is {max_len} but the longest length is {longest}; "
                         "expected max_len >= max(lengths)")
    steps = torch.arange(max_len, device=lengths.device)  # (T,)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)


def one_hot(
    ids: torch.Tensor,
    num_classes: int,
    dtype: torch.dtype = torch.float32,
    pad_id: int | None = None,
) -> torch.Tensor:
    """One-hot vectors of token ids.

    Args:
        ids: An integer tensor of any shape ``(...)``.
        num_classes: Length ``V`` of each vector, usually ``len(vocab)``.
        dtype: Element type of the result.
        pad_id: If given, positions holding ``pad_id`` get an all-zero vector (``pad_id`` may lie outside
            ``[0, V)``, e.g. ``-100``).

    Returns:
        A tensor ``(..., V)`` with a single 1 per position (none at padding), on the device of ``ids``.

    Raises:
        ValueError: If ``ids`` holds float values, an id is outside ``[0, num_classes)`` (other than
            ``pad_id``), or ``num_classes < 1``.
    """
    owner = "one_hot"
    ids = _as_integer_tensor(ids, "ids", owner).long()
    _check_int(num_classes, "num_classes", owner, minimum=1)
    if pad_id is not None:
        _check_int(pad_id, "pad_id", owner)
    padding = ids == pad_id if pad_id is not None else torch.zeros_like(ids, dtype=torch.bool)
    outside = ((ids < 0) | (ids >= num_classes)) & ~padding
    if bool(outside.any()):
        offending = int(ids[outside][0])
        raise ValueError(f"{owner}: ids holds {offending}; expected ids in [0, {num_classes})"
                         + (f" or the pad_id {pad_id}" if pad_id is not None else ""))
    safe_ids = ids.masked_fill(padding, 0)
    vectors = torch.nn.functional.one_hot(safe_ids, num_classes).to(dtype)  # (..., V)
    return vectors.masked_fill(padding.unsqueeze(-1), 0)
