"""Data-parallel training with PyTorch DDP: one process per device, each reading its own shard of the batch.

The same training command runs alone or under ``torchrun``, which starts N processes and tells each who it is
through the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)::

    rnnkit train lm --data corpus.txt --out run --batch-size 32
    torchrun --standalone --nproc_per_node=4 -m rnnkit.cli train lm --data corpus.txt --out run --batch-size 32

``--batch-size`` stays the *global* batch: each of the W processes takes B / W of the B streams, so the W local
batches together are the single-process batch::

              ┌ row 0 ┐
    streams   │ row 1 │  rank 0: rows [0, B/W)        each rank's loss is the mean over its own tokens;
    (B, L)    │ row 2 │  rank 1: rows [B/W, 2B/W)     DDP averages the gradients over the ranks, and with
              └ row 3 ┘  ...                          equal token counts that is the single-process mean.

Clipping acts after ``backward``, on the averaged gradients, which are the same on every rank. Rank 0 alone
writes files (run directory, metrics, checkpoints); the others compute and stay silent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "DistributedContext",
    "all_reduce_sum",
    "barrier",
    "check_batch_size",
    "setup_distributed",
    "shard_batch",
    "shard_rows",
    "teardown_distributed",
    "wrap_model",
]


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is among the training processes (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # the process's index on its machine, which picks its GPU
    owns_group: bool = False  # this context joined the process group (and so leaves it); a caller's group stays

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process (and so a process group)."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}: got {value!r}; expected an integer") from None


def setup_distributed(device: str) -> DistributedContext:
    """Join the process group that ``torchrun`` describes in the environment, or run alone.

    With ``WORLD_SIZE > 1`` the default process group is initialised from the environment (backend ``nccl``
    for a CUDA ``device``, ``gloo`` otherwise) and, on CUDA, the current device becomes ``cuda:LOCAL_RANK``.
    Calling it again in a process that has joined a group already returns the same context.

    Raises:
        ValueError: If ``RANK``, ``WORLD_SIZE`` or ``LOCAL_RANK`` is not an integer, or the rank is out of range.
        RuntimeError: If torch was built without distributed support.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return DistributedContext()
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"environment variable RANK: got {rank}; expected 0 <= RANK < WORLD_SIZE = {world_size}")
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={world_size} asks for distributed training, which this torch build lacks")
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.set_device(local_rank)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, owns_group=owns_group)


def teardown_distributed(ctx: DistributedContext) -> None:
    """Leave the process group that :func:`setup_distributed` joined (nothing to do for a single process, or for a
    group the caller had joined before: a program that trains several runs in one torchrun keeps its group)."""
    if ctx.enabled and ctx.owns_group and dist.is_available() and dist.is_initialized():
        dist.barrier()  # every rank done (rank 0 may still be writing) before the group goes
        dist.destroy_process_group()


def barrier(ctx: DistributedContext) -> None:
    """Wait until every process gets here (e.g. until rank 0 has written a file the others read)."""
    if ctx.enabled:
        dist.barrier()


def check_batch_size(batch_size: int, ctx: DistributedContext) -> int:
    """The local batch size ``batch_size / world_size``.

    Raises:
        ValueError: If ``batch_size`` is not a multiple of the number of processes.
    """
    if batch_size % ctx.world_size:
        raise ValueError(f"batch_size: got {batch_size} for {ctx.world_size} processes; "
                         "expected a multiple of the number of processes")
    return batch_size // ctx.world_size


def shard_rows(streams: Tensor, ctx: DistributedContext) -> Tensor:
    """This rank's rows of ``streams (B, L)``: rows ``[r B/W, (r+1) B/W)``, a ``(B/W, L)`` view.

    Raises:
        ValueError: If ``B`` is not a multiple of the number of processes.
    """
    local = check_batch_size(streams.shape[0], ctx)
    return streams[ctx.rank * local:(ctx.rank + 1) * local]


def wrap_model(model: nn.Module, ctx: DistributedContext) -> nn.Module:
    """``DistributedDataParallel(model)`` when there are several processes, else ``model`` itself.

    The model must already sit on its device (``cuda:LOCAL_RANK`` on a GPU). DDP makes every rank start from
    rank 0's weights and averages the gradients over the ranks in ``backward``.
    """
    if not ctx.enabled:
        return model
    first = next(model.parameters(), None)
    on_cuda = first is not None and first.device.type == "cuda"
    device_ids = [ctx.local_rank] if on_cuda else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: Sequence[float], device: torch.device | str = "cpu") -> list[float]:
    """Each of ``values`` summed over all processes of the group, in one call (float64 on ``device``: the
    model's device, as NCCL reduces CUDA tensors only)."""
    tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def _rows(batch: Any) -> int | None:
    """The number of rows of a batch: dim 0 of its first tensor (None without tensors)."""
    if isinstance(batch, Tensor):
        return batch.shape[0] if batch.dim() else None
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for part in batch:
            rows = _rows(part)
            if rows is not None:
                return rows
    return None


def _take(batch: Any, rows: int, start: int, stop: int) -> Any:
    if isinstance(batch, Tensor):
        return batch[start:stop] if batch.dim() and batch.shape[0] == rows else batch
    if isinstance(batch, dict):
        return {key: _take(value, rows, start, stop) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(_take(part, rows, start, stop) for part in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_take(part, rows, start, stop) for part in batch)
    return batch


def shard_batch(batch: Any, rank: int, world_size: int) -> Any:
    """This rank's contiguous rows of a global batch (a tensor, or tuples / lists / dicts / named tuples of them).

    Every tensor whose dim 0 has the batch's row count (dim 0 of its first tensor) is split, in order, into
    ``world_size`` parts as ``torch.tensor_split`` does (the first ``B % W`` ranks take one row more); anything
    else (ints, tensors of other sizes) is kept whole. Returns None for a batch with fewer rows than ranks, which
    no rank can share.
    """
    rows = _rows(batch)
    if rows is None or world_size == 1:
        return batch
    if rows < world_size:
        return None
    size, extra = divmod(rows, world_size)
    start = rank * size + min(rank, extra)
    stop = start + size + (1 if rank < extra else 0)
    return _take(batch, rows, start, stop)
