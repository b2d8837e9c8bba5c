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
    the caller gives lengths in ``1..T``. Dropout and weight drop are off (export records inference).
    """
    layer._bind_cells()
    sequence = x.transpose(0, 1) if layer.batch_first else x  # (T, B, I)
    steps, batch_size = sequence.shape[0], sequence.shape[1]
    time = torch.arange(steps, device=x.device).unsqueeze(1)  # (T, 1)
    if lengths is None:
        lengths = torch.full((batch_size,), steps, dtype=torch.long, device=x.device)
    lengths = lengths.to(device=x.device, dtype=torch.long)
    mask = (time < lengths).unsqueeze(2)  # (T, B, 1): True at real steps
    reverse_index = torch.where(time < lengths, lengths - 1 - time, time)  # (T, B)
    finals = []
    for layer_index in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            index = layer_index * layer.num_directions + direction
            cell = layer._cells[index]
            if state is None:
                initial = cell.initial_state(batch_size, sequence)
            elif isinstance(state, tuple):
                initial = tuple(part[index] for part in state)
            else:
                initial = state[index]
            inputs = sequence if direction == 0 else _reverse(sequence, reverse_index)
            output, final = _masked_scan(cell, inputs, initial, mask)
            outputs.append(output if direction == 0 else _reverse(output, reverse_index))
            finals.append(final)
        sequence = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)  # (T, B, D*H)
    output = sequence.transpose(0, 1) if layer.batch_first else sequence
    if isinstance(finals[0], tuple):
        return output, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
    return output, torch.stack(finals)  # (L*D, B, H)


def _masked_scan(cell, sequence: Tensor, initial: State, mask: Tensor) -> tuple[Tensor, State]:
    """One cell over ``sequence (T, B, I)`` as a scan; ended sequences keep their state, their outputs are 0."""
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


def _reverse(sequence: Tensor, reverse_index: Tensor) -> Tensor:
    """Each sequence of ``(T, B, F)`` read backwards from its own last real step; padding stays in place."""
    return sequence.gather(0, reverse_index.unsqueeze(2).expand(-1, -1, sequence.shape[2]))
