"""The recurrent layers as one graph for any batch size, length and lengths: what ``torch.export`` and ONNX record.

The eager paths cannot be recorded as they are: the ragged segments (:mod:`rnnkit.nn.ragged`) loop over the
batch's distinct lengths on the host, the explicit unroll is a Python loop over T, and torch's fused kernels
decompose into one node per time step under ``torch.export``: each would bake the example's lengths or time
axis into the graph. Here every layer and direction is one ``scan`` (a loop node: ONNX ``Scan``, a
``torch.export`` higher-order op) over the time axis, with the step of the layer's own cells and a mask::

    m_t = [t < length]                               (B, 1), from ``lengths`` at run time
    (h_t, s_t) = cell.step(W_ih x_t + b_ih, s_{t-1})
    s_t <- m_t ? s_t : s_{t-1}                       a sequence that has ended keeps its state
    y_t = m_t * h_t                                  outputs past the end are zero

so the final state is the one at each sequence's last real step. The reverse direction reads each sequence
backwards from its own last real step (one gather with ``where(t < length, length - 1 - t, t)``, padding staying
put), runs the same scan, and gathers the outputs back into time order. The numbers equal the eager layer's
(``tests/nn/test_exportable.py``); no value of the data is read on the host, so nothing is specialised.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cells import State


def is_exporting() -> bool:
    """Whether ``torch.export`` (which the ONNX export goes through) is recording the current call (always False
    on a torch too old to export: ``torch.compiler.is_exporting`` is recent)."""
    exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(exporting()) if exporting is not None else False


def exportable_forward(layer, x: Tensor, lengths: Tensor | None, state: State | None) -> tuple[Tensor, State]:
    """``layer(x, lengths, state)`` of a :class:`~rnnkit.nn.Recurrent` in evaluation mode, as one traceable graph.

    Shapes and semantics as the layer's (``x (B, T, I)`` batch-first, else ``(T, B, I)``; state ``h (L*D, B, H)``
    or ``(h, c)``); ``lengths`` is not checked against the data here (the checks read values on the host):
    the caller gives lengths in ``1..T``. Dropout and weight drop are off (export records inference). The layer's
    own explicit driver (layers, directions, per-sequence reversal, final states) runs with each direction as a
    masked scan instead of its unrolled loop.
    """
    steps, batch_size = (x.shape[1], x.shape[0]) if layer.batch_first else (x.shape[0], x.shape[1])
    if lengths is None:  # the mask is what keeps the graph free of the example's lengths
        lengths = torch.full((batch_size,), steps, dtype=torch.long, device=x.device)
    return layer._forward_explicit(x, lengths.to(device=x.device, dtype=torch.long), state,
                                   run_direction=_masked_scan)


def _masked_scan(cell, sequence: Tensor, initial: State, mask: Tensor, lengths: Tensor | None = None
                 ) -> tuple[Tensor, State]:
    """One cell over ``sequence (T, B, I)`` as a scan; ended sequences keep their state, their outputs are 0
    (``lengths`` is already in ``mask (T, B, 1)``; the argument keeps the explicit driver's runner signature)."""
    from torch._higher_order_ops.scan import scan  # a recent private module: imported only while exporting

    projected = cell.input_projection(sequence)  # (T, B, G*H): one product for all steps

    def step(carry, inputs):
        x_t, m_t = inputs  # (B, G*H), (B, 1)
        h, new = cell.step(x_t, carry)
        if isinstance(new, tuple):
            kept = tuple(torch.where(m_t, n, o) for n, o in zip(new, carry, strict=True))
        else:
            kept = torch.where(m_t, new, carry)
        return kept, h * m_t.to(h.dtype)

    final, output = scan(step, initial, (projected, mask))
    return output, final
