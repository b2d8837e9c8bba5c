"""Inference in a lower precision: a loaded predictor's weights kept in bfloat16 (``--dtype bfloat16``).

On a CPU with AMX / AVX-512 BF16 or a recent GPU, bf16 weights halve the bytes every product reads (at batch 1 the
weights are read once per token, so that is the speed limit) and run on the bf16 units; the products accumulate in
float32 inside the kernels, as oneDNN and cuBLAS do. Logits are turned back to float32 before softmax and sampling
(each verb does that already). The quality cost is small but not nil: ``bench/generate_speed.py`` measures it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}

__all__ = ["DTYPES", "inference_dtype", "set_inference_dtype"]


def inference_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """``dtype`` as a torch dtype (None stays None: the weights as saved)."""
    if dtype is None or dtype in DTYPES.values():
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype: got {dtype!r}; expected one of {', '.join(map(repr, DTYPES))}")
    return DTYPES[dtype]


def set_inference_dtype(predictor: Any, dtype: str | torch.dtype | None) -> Any:
    """Keep ``predictor.model``'s floating-point weights in ``dtype`` (in place); float inputs follow them.

    Feature inputs (audio frames, series, one-hot DNA) arrive in float32: a hook casts the model's floating-point
    arguments to ``dtype`` at each call, so every predictor works unchanged.
    """
    dtype = inference_dtype(dtype)
    if dtype is None:
        return predictor
    model = predictor.model
    model.to(dtype)

    def cast_inputs(_module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args)

    if dtype != torch.float32:
        model.register_forward_pre_hook(cast_inputs)
    return predictor
