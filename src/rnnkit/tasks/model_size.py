"""The size of a model, counted before any memory is taken for it.

``--hidden-size 100000000`` asks for an LSTM of 4e16 weights: allocating it fails after minutes of swapping, or
with a traceback about a 204 GB allocation. :func:`build_within_limit` first builds the network on PyTorch's
``meta`` device (shapes only, no memory, no random numbers drawn), counts its parameters and refuses more than
``RNNKIT_MAX_PARAMETERS`` (:mod:`rnnkit.data.limits`) with one line; only then is the real network built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from ..data.limits import limit

ModuleT = TypeVar("ModuleT", bound=nn.Module)

__all__ = ["build_within_limit", "count_parameters"]


def count_parameters(build: Callable[[], nn.Module]) -> int:
    """The parameters (shared ones once) of the network ``build()`` makes, built on the meta device."""
    with torch.device("meta"):
        probe = build()
    return sum(parameter.numel() for parameter in probe.parameters())


def build_within_limit(build: Callable[[], ModuleT], what: str = "the model") -> ModuleT:
    """``build()``, once its parameter count (see :func:`count_parameters`) is known to be within the limit.

    Raises:
        ValueError: The model would hold more than ``RNNKIT_MAX_PARAMETERS`` parameters (e.g. ``--hidden-size
            100000000``), naming the count and the memory it would take.
    """
    count, cap = count_parameters(build), limit("RNNKIT_MAX_PARAMETERS")
    if cap is not None and count > cap:
        raise ValueError(f"{what} would hold {count:,} parameters ({count * 4 / 2**30:,.1f} GiB of float32), over "
                         f"the limit of {cap:,}: lower --hidden-size, --embedding-size or --num-layers (or set "
                         "RNNKIT_MAX_PARAMETERS, 0 for no limit)")
    return build()
