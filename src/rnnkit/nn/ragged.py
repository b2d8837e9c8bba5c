"""Ragged batches through torch's fused kernels, exactly, without packed sequences.

On the CPU, ``torch.nn.LSTM`` on a ``PackedSequence`` is 10-12x slower than on a padded batch (torch steps the
packed batch one time step at a time outside oneDNN), while the padded call is one oneDNN primitive. This module
runs the padded batch through the fused kernel and keeps today's semantics exactly (``DESIGN.md``): outputs past a
sequence's end are zero, the final state is the one at its last real step, and the reverse direction starts at
each sequence's own last step.

How (sequences sorted by length, longest first; the distinct lengths cut time into segments):
```
    step  0 ....... l3 ........ l2 ...... l1        lengths l1 > l2 > l3 (sorted batch, longest on top)
    seq0  [ call 1  ][  call 2   ][ call 3 ]
    seq1  [ call 1  ][  call 2   ]  0 0 0           <- its final (h, c) is taken when call 2 ends
    seq2  [ call 1  ]  0 0 0 0 0 0 0 0 0 0
```
one kernel call per segment, on the sequences still running (a shrinking prefix of the sorted batch), carrying
the state of every layer from one call to the next. Each sequence's exact final ``(h, c)`` comes out of the call
in which it ends, nothing is computed on padding, and a batch of B sequences costs at most B calls (fewer when
lengths repeat, as length-bucketed batches make them). The reverse direction reverses each sequence within its
own length (one gather), runs the same segments, and reverses the output back; so a bidirectional stack runs
layer by layer, each layer's two directions reading the previous layer's concatenated output.

Where a batch has little padding (length-bucketed batches: a few neighbouring lengths), the segments' extra calls
cost more than the padding they skip; there :func:`use_padded_call` picks :func:`run_padded` instead: ONE call per
layer and direction on the padded batch, the outputs past each end zeroed, the final ``h`` read from the outputs,
and the LSTM's final ``c`` carried exactly through the padding by one extra input feature whose weights saturate
the forget gate to 1 and the input gate to 0 there (same outputs, states and gradients; tests for both paths).
A bidirectional LSTM (zero initial state) or GRU layer goes further: ONE bidirectional call with no reversal at
all (:func:`run_bidirectional_padded`: the same feature keeps the reverse direction's state untouched through
the padding it meets first). A caller that reads the outputs only (``final_state=False``) spares the rest: the
other layers make the plain padded calls and the padding's outputs are zeroed once.

Measured on the 2-core CPU this project runs on, heavily loaded by other jobs, training step of one layer against
``torch.nn.LSTM`` on the padded batch without lengths (which computes on padding and returns the wrong final
state for shorter sequences) in the same run: BiLSTM 128, batch 32, random lengths 200-500: 1.07x (1 thread) and
1.18-1.21x (2 threads), the padding skipped; BiLSTM 100, batch 32, a bucketed batch of lengths 22-23: 0.84-1.03x;
packed sequences 0.10x and 0.5x on the same two shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# torch's fused multi-layer kernels, as torch.nn.RNN/LSTM/GRU call them (the ops behind ``_VF.lstm`` etc.)
KERNELS: dict[str, Callable] = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def reversal_index(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """Row indices ``(T*B,)`` into a ``(T*B, F)`` view of a ``(T, B, F)`` batch that read each sequence backwards
    from its own last real step, padding staying put (see :func:`reverse_within_lengths`)."""
    lengths = lengths.to(device)
    time = torch.arange(steps, device=device).unsqueeze(1)  # (T, 1)
    source_step = torch.where(time < lengths, lengths - 1 - time, time)  # (T, B)
    return (source_step * lengths.numel() + torch.arange(lengths.numel(), device=device)).reshape(-1)


def reverse_within_lengths(sequence: Tensor, lengths: Tensor, index: Tensor | None = None) -> Tensor:
    """Each sequence of ``sequence (T, B, F)`` read backwards from its own last real step; padding stays put.

    Applying it twice gives the input back, so it also turns reversed outputs back into time order. ``index``:
    :func:`reversal_index` of these lengths, when already at hand. One ``index_select`` of whole rows (faster
    on the CPU than a ``gather`` with an expanded index, forward and backward).
    """
    steps, batch_size, features = sequence.shape
    if index is None:
        index = reversal_index(lengths, steps, sequence.device)
    flat = sequence.reshape(steps * batch_size, features)
    return flat.index_select(0, index).view(steps, batch_size, features)


def run_segments(
    mode: str,
    weights: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    x: Tensor,
    lengths: Sequence[int],
    state: list[Tensor],
) -> tuple[Tensor, list[Tensor]]:
    """One direction of ``num_layers`` stacked layers over a sorted ragged batch, exactly.

    Args:
        mode: ``"LSTM"``, ``"GRU"``, ``"RNN_TANH"`` or ``"RNN_RELU"``.
        weights: torch's flat weight list for these layers (``w_ih, w_hh[, b_ih, b_hh]`` per layer).
        has_biases: whether ``weights`` holds biases.
        num_layers, dropout, training: as the kernel takes them (dropout between the stacked layers).
        x: ``(T, B, I)`` time-major, batch sorted by length, longest first.
        lengths: the sorted lengths (Python ints, non-increasing, each in ``1..T``).
        state: the initial state parts (``[h]`` or ``[h, c]``), each ``(num_layers, B, H)``, sorted as ``x``.

    Returns:
        ``output (T, B, H)``, zero past each sequence's end, and the final state parts ``(num_layers, B, H)``
        taken at each sequence's last real step.
    """
    kernel = KERNELS[mode]
    steps, batch_size = x.shape[:2]
    outputs: list[Tensor] = []
    ended: list[list[Tensor]] = [[] for _ in state]  # final-state chunks, shortest sequences first
    start, alive = 0, batch_size
    for end in sorted(set(lengths)):
        still_running = sum(1 for length in lengths if length > end)
        segment = x[start:end, :alive]  # (t, alive, I)
        hx = state if mode == "LSTM" else state[0]
        output, *new_state = kernel(segment, hx, weights, has_biases, num_layers, dropout, training, False, False)
        if alive < batch_size:  # the ended sequences' rows are zero
            output = F.pad(output, (0, 0, 0, batch_size - alive))
        outputs.append(output)
        for chunks, part in zip(ended, new_state, strict=True):
            chunks.append(part[:, still_running:alive])
        state = [part[:, :still_running] for part in new_state]
        start, alive = end, still_running
    if start < steps:  # steps past the longest sequence: padding only
        outputs.append(x.new_zeros(steps - start, batch_size, outputs[0].shape[2]))
    output = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
    finals = [chunks[0] if len(chunks) == 1 else torch.cat(chunks[::-1], dim=1) for chunks in ended]
    return output, finals


def with_padding_column(mode: str, weights: Sequence[Tensor]) -> list[Tensor]:
    """One cell's torch weight list with one more input column, for an input feature that is 1 at padding steps.

    The column saturates the gates that keep the state: for the LSTM (gates i, f, g, o) ``-big`` on the input
    gate and ``+big`` on the forget gate, so ``i = 0`` and ``f = 1`` at padding; for the GRU (gates r, z, n)
    ``+big`` on the update gate, so ``z = 1`` and ``h_t = h_{t-1}``. ``big`` = 1000 + the most the other terms of
    a gate can reach there (``|h| <= 1``, the input 0 at padding): ``max_k sum_j |W_hh[k, j]|`` + the biases.
    """
    weight_ih, weight_hh, *biases = weights
    H = weight_hh.shape[1]
    with torch.no_grad():
        big = weight_hh.abs().sum(1).max() + 1000.0
        for bias in biases:
            big += bias.abs().max()
    column = weight_ih.new_zeros(weight_ih.shape[0], 1)
    if mode == "LSTM":
        column[:H] = -big
    column[H : 2 * H] = big
    return [torch.cat([weight_ih, column], dim=1), weight_hh, *biases]


def run_padded(
    mode: str,
    weights: Sequence[Tensor],
    has_biases: bool,
    training: bool,
    x: Tensor,
    lengths: Tensor,
    mask: Tensor,
    state: list[Tensor],
) -> tuple[Tensor, list[Tensor]]:
    """One layer and direction over a ragged batch in ONE kernel call on the padded batch, exactly.

    A forward-direction recurrence cannot look ahead, so the outputs at each sequence's real steps are those of the
    unpadded sequence; those past its end are zeroed (``mask``). The final ``h`` (the only state of a GRU / RNN)
    equals the output at the last real step: one gather. The LSTM's final ``c`` is not an output; to have the call
    carry it unchanged through the padding, the input gets one more feature, 1 at padding steps and 0 at real ones,
    whose weight column is ``+big`` on the forget gate's rows and ``-big`` on the input gate's: there
    ``f = sigma(big + ...) = 1`` and ``i = sigma(-big + ...) = 0`` in floating point, so
    ``c_t = f c_{t-1} + i g = c_{t-1}`` (and ``dc`` passes back unchanged, ``d_i = d_f = 0``). ``big`` exceeds what
    the other terms can reach (``|b| + sum_j |W_hh[k, j]|`` with ``|h| <= 1`` and the input masked to 0 there) by
    1000, so the saturation holds whatever the weights. ``h`` is not carried through the padding (it is read from
    the outputs instead), and nothing computed there gets a gradient: the masked outputs send 0, ``c`` passes back
    through ``f = 1``, and the padding steps' gates get ``dc * 0``.

    Args:
        mode, has_biases, training: as for :func:`run_segments`.
        weights: one cell's torch weight list (``w_ih, w_hh[, b_ih, b_hh]``).
        x: ``(T, B, I)`` time-major, any batch order, ``T`` the longest length.
        lengths: ``(B,)`` lengths (on ``x``'s device), each in ``1..T``.
        mask: ``(T, B, 1)`` of ``x``'s dtype, 1 at real steps, 0 past each end.
        state: the initial state parts (``[h]`` or ``[h, c]``), each ``(1, B, H)``.

    Returns:
        ``output (T, B, H)``, zero past each end, and the final state parts ``(1, B, H)`` at each last real step.
    """
    kernel = KERNELS[mode]
    x = x * mask  # the padding's input is 0: garbage there could reach neither the saturation bound nor anything
    if mode == "LSTM":
        weights = with_padding_column(mode, weights)
        x = torch.cat([x, 1.0 - mask], dim=2)  # (T, B, I + 1)
    hx = state if mode == "LSTM" else state[0]
    output, *final = kernel(x, hx, weights, has_biases, 1, 0.0, training, False, False)
    output = output * mask  # (T, B, H): 0 past each end
    last = (lengths - 1).view(1, -1, 1).expand(1, -1, output.shape[2])  # (1, B, H)
    final[0] = output.gather(0, last)  # h at each last real step
    return output, final


def fused_ragged(
    mode: str,
    weights: Sequence[Sequence[Tensor]],
    has_biases: bool,
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
    x: Tensor,
    lengths: Tensor,
    state: list[Tensor] | None,
    hidden_size: int,
    final_state: bool = True,
) -> tuple[Tensor, list[Tensor] | None]:
    """A stack of fused layers over a ragged time-major batch with today's semantics (see the module docstring).

    Args:
        mode: the kernel, as in :func:`run_segments`.
        weights: per layer and direction (``l0``, ``l0_reverse``, ``l1``, ...), that cell's torch weight list.
        has_biases, num_layers, dropout, training: as torch's kernel takes them.
        bidirectional: a reverse direction per layer.
        x: ``(T, B, I)`` time-major input.
        lengths: ``(B,)`` lengths in ``1..T``, any order.
        state: initial state parts (``[h]`` or ``[h, c]``), each ``(L*D, B, H)``; ``None`` for zeros.
        hidden_size: H.
        final_state: whether the caller reads the final state; False returns None in its place and lets the
            padded call skip what only the final state needs (see :func:`run_padded`).

    Returns:
        ``output (T, B, D*H)`` and the final state parts, each ``(L*D, B, H)``, in the input's batch order (None
        without ``final_state``).
    """
    directions = 2 if bidirectional else 1
    batch_size = x.shape[1]
    lengths = lengths.cpu()
    sorted_lengths, order = lengths.sort(descending=True, stable=True)
    sorted_list = sorted_lengths.tolist()
    zero_state = state is None
    if state is None:
        parts = 2 if mode == "LSTM" else 1
        shape = (num_layers * directions, batch_size, hidden_size)
        state = [x.new_zeros(shape) for _ in range(parts)]
    if use_padded_call(sorted_list, batch_size):  # any batch order: no reordering
        return _padded_stack(mode, weights, has_biases, num_layers, bidirectional, dropout, training, x, lengths,
                             sorted_list[0], state, final_state, zero_state)
    # length-bucketed batches come sorted, longest first: then no reordering (and no copy) at all
    in_order = bool((sorted_lengths == lengths).all())
    order = order.to(x.device)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(batch_size, device=x.device)
    state = state if in_order else [part.index_select(1, order) for part in state]
    layer_input = x if in_order else x.index_select(1, order)  # (T, B, I), longest first

    steps = x.shape[0]
    if not bidirectional:  # every layer in each call: the state of all layers travels between segments
        flat = [w for cell in weights for w in cell]
        output, finals = run_segments(mode, flat, has_biases, num_layers, dropout, training, layer_input,
                                      sorted_list, state)
    else:
        reverse = reversal_index(sorted_lengths, steps, x.device)
        per_cell: list[list[Tensor]] = []
        for layer in range(num_layers):
            outputs = []
            for direction in range(2):
                index = layer * 2 + direction
                initial = [part[index : index + 1] for part in state]
                if direction == 0:
                    sequence = layer_input
                else:
                    sequence = reverse_within_lengths(layer_input, sorted_lengths, reverse)
                output, final = run_segments(mode, weights[index], has_biases, 1, 0.0, training, sequence,
                                             sorted_list, initial)
                outputs.append(output if direction == 0 else reverse_within_lengths(output, sorted_lengths, reverse))
                per_cell.append(final)
            layer_input = torch.cat(outputs, dim=2)  # (T, B, 2H)
            if dropout and training and layer < num_layers - 1:
                layer_input = F.dropout(layer_input, dropout, training=True)
        output = layer_input
        finals = [torch.cat(parts) for parts in zip(*per_cell, strict=True)]
    if not final_state:
        finals = None
    if in_order:
        return output, finals
    if finals is None:
        return output.index_select(1, inverse), None
    return output.index_select(1, inverse), [part.index_select(1, inverse) for part in finals]


def use_padded_call(sorted_lengths: Sequence[int], batch_size: int) -> bool:
    """The rule between the two exact paths: one padded call per layer and direction (:func:`run_padded`) when
    the padding it computes on costs less than the extra calls the segments would make, else the segments.

    Cost model: a kernel call's fixed cost (oneDNN primitive set-up, threads, output assembly) is about as much
    as ``2 * B`` sequence-steps of work at the shapes measured; the padded call wastes ``B * T - sum(lengths)``
    sequence-steps and the segments make ``distinct lengths - 1`` extra calls. Length-bucketed batches (a few
    neighbouring lengths, little padding) take the padded call, e.g. the audio task's 20-90 frames (one call per
    direction instead of 2-3); random lengths 200-500 (about 30% padding) keep the segments, which skip it.
    """
    distinct = len(set(sorted_lengths))
    if distinct == 1:
        return False  # one segment is one plain call already
    wasted = batch_size * sorted_lengths[0] - sum(sorted_lengths)
    return wasted <= 2 * batch_size * (distinct - 1)


def run_bidirectional_padded(
    mode: str,
    weights: Sequence[Sequence[Tensor]],
    has_biases: bool,
    training: bool,
    x: Tensor,
    lengths: Tensor,
    mask: Tensor,
    state: list[Tensor],
    final_state: bool = True,
) -> tuple[Tensor, list[Tensor] | None]:
    """One bidirectional LSTM or GRU layer over a ragged batch in ONE kernel call, with no reversal, exactly.

    torch's bidirectional kernel reads the whole padded time axis backwards, so its reverse direction meets each
    sequence's padding FIRST. The extra input feature of :func:`run_padded` (1 at padding steps) makes those
    steps leave the state as it is, in both directions: its weight column saturates the LSTM's gates to
    ``i = 0``, ``f = 1`` (``c`` kept), the GRU's to ``z = 1`` (``h_t = z h_{t-1} + (1 - z) n = h_{t-1}``). So the
    reverse direction reaches each sequence's last real step in its initial state, as if it started there:

    - GRU: exact for any initial state; the forward direction carries its final ``h`` through the trailing
      padding, so both final states are the kernel's own.
    - LSTM: ``h = o tanh(c)`` over the padding, which is the initial ``h`` only when the initial state is zero
      (``c = 0`` gives ``h = 0``): the caller uses this path for a zero initial state only. The forward
      direction's final ``c`` is carried (as in :func:`run_padded`), its final ``h`` gathered from the outputs;
      the reverse direction's final state (at step 0) is the kernel's own.

    Gradients: every padding step's gate derivatives are exactly 0 (``i (1 - i) = 0``, ``f (1 - f) = 0``,
    ``z (1 - z) = 0``, ``d n = dh (1 - z) = 0``, ``d o = dh tanh(0) = 0``), so nothing reaches the weights or the
    input from the padding, and ``dc`` / ``dh`` pass through it unchanged; the outputs past each end are zeroed
    (the forward direction's there are not 0). The saving against :func:`run_padded` twice: the two reversals
    (gathers of the input and the output, forward and backward) and the concatenation of the directions.

    Args:
        mode: ``"LSTM"`` or ``"GRU"``.
        weights: the forward and the reverse cell's torch weight lists.
        has_biases, training: as for :func:`run_segments`.
        x: ``(T, B, I)`` time-major, any batch order, ``T`` the longest length.
        lengths: ``(B,)`` lengths (on ``x``'s device), each in ``1..T``.
        mask: ``(T, B, 1)`` of ``x``'s dtype, 1 at real steps, 0 past each end.
        state: the initial state parts (``[h]`` or ``[h, c]``), each ``(2, B, H)``; zero for the LSTM.
        final_state: whether to return the final state (else None).

    Returns:
        ``output (T, B, 2H)``, zero past each end, and the final state parts ``(2, B, H)``.
    """
    kernel = KERNELS[mode]
    H = weights[0][1].shape[1]
    x = x * mask  # the padding's input is 0: garbage there cannot reach the saturation bound
    flat = [weight for cell in weights for weight in with_padding_column(mode, cell)]
    x = torch.cat([x, 1.0 - mask], dim=2)  # (T, B, I + 1)
    hx = state if mode == "LSTM" else state[0]
    output, *final = kernel(x, hx, flat, has_biases, 1, 0.0, training, True, False)
    output = output * mask  # (T, B, 2H): 0 past each end
    if not final_state:
        return output, None
    if mode == "LSTM":  # the forward direction's h at each last real step
        last = (lengths - 1).view(1, -1, 1).expand(1, -1, H)  # (1, B, H)
        final[0] = torch.cat([output[:, :, :H].gather(0, last), final[0][1:]])
    return output, final


def _padded_stack(mode: str, weights: Sequence[Sequence[Tensor]], has_biases: bool, num_layers: int,
                  bidirectional: bool, dropout: float, training: bool, x: Tensor, lengths: Tensor, longest: int,
                  state: list[Tensor], final_state: bool, zero_state: bool) -> tuple[Tensor, list[Tensor] | None]:
    """The padded call layer by layer over ``x (T, B, I)`` in any batch order, ``longest`` the largest of
    ``lengths``, ``zero_state`` whether the initial state is zero.

    A bidirectional LSTM (from a zero state) or GRU layer is one call, :func:`run_bidirectional_padded`; other
    layers run :func:`run_padded` direction by direction. Without ``final_state`` (the caller reads the outputs
    only) each of those calls is the plain padded call, and the padding's outputs are zeroed once, at the end of
    the stack: a forward recurrence cannot look ahead, and the reverse direction reads each sequence from its own
    last step, so nothing computed on the padding reaches a real step's output, in this layer or the next; and no
    gradient reaches the padding (the masked outputs send 0, the unused final states nothing). A unidirectional
    stack is then one call for all layers (dropout between them inside the kernel). The input's padding is still
    zeroed (huge garbage there must not overflow into NaN), and the ReLU RNN, whose padding steps are unbounded,
    keeps the per-call masking of :func:`run_padded`.
    """
    steps = x.shape[0]
    layer_input = x[:longest]  # steps past the longest sequence: padding only, zeros appended at the end
    lengths = lengths.to(x.device)
    mask = (torch.arange(longest, device=x.device).unsqueeze(1) < lengths).unsqueeze(2).to(x.dtype)  # (T, B, 1)
    kernel = KERNELS[mode]
    one_call = bidirectional and (mode == "GRU" or (mode == "LSTM" and zero_state))
    outputs_only = not final_state and mode != "RNN_RELU" and not one_call
    if outputs_only:
        layer_input = layer_input * mask
    if outputs_only and not bidirectional:
        hx = state if mode == "LSTM" else state[0]
        flat = [w for cell in weights for w in cell]
        output = kernel(layer_input, hx, flat, has_biases, num_layers, dropout, training, False, False)[0]
        return _pad_steps(output * mask, steps), None
    reverse = reversal_index(lengths, longest, x.device) if bidirectional and not one_call else None
    directions = 2 if bidirectional else 1
    per_cell: list[list[Tensor]] = []
    for layer in range(num_layers):
        if one_call:
            initial = [part[2 * layer : 2 * layer + 2] for part in state]
            layer_input, final = run_bidirectional_padded(mode, weights[2 * layer : 2 * layer + 2], has_biases,
                                                          training, layer_input, lengths, mask, initial, final_state)
            per_cell.append(final)
        else:
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                initial = [part[index : index + 1] for part in state]
                sequence = layer_input if direction == 0 else reverse_within_lengths(layer_input, lengths, reverse)
                if not outputs_only:
                    output, final = run_padded(mode, weights[index], has_biases, training, sequence, lengths, mask,
                                               initial)
                    per_cell.append(final)
                else:  # the plain call: its outputs past each end are zeroed below
                    hx = initial if mode == "LSTM" else initial[0]
                    output = kernel(sequence, hx, weights[index], has_biases, 1, 0.0, training, False, False)[0]
                outputs.append(output if direction == 0 else reverse_within_lengths(output, lengths, reverse))
            layer_input = outputs[0] if directions == 1 else torch.cat(outputs, dim=2)  # (T, B, D*H)
        if dropout and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    if outputs_only:
        return _pad_steps(layer_input * mask, steps), None  # (T, B, D*H): 0 past each end
    finals = [torch.cat(parts) for parts in zip(*per_cell, strict=True)] if final_state else None
    return _pad_steps(layer_input, steps), finals


def _pad_steps(output: Tensor, steps: int) -> Tensor:
    """``output (t, B, F)`` with zeros appended up to ``steps`` time steps."""
    if output.shape[0] == steps:
        return output
    return torch.cat([output, output.new_zeros(steps - output.shape[0], *output.shape[1:])])


def auto_prefers_packed(device: torch.device) -> bool:
    """The ``backend="auto"`` rule for a ragged batch: packed sequences on CUDA, segments elsewhere.

    On the CPU the segments ran 2x (BiLSTM 100, batch 32, lengths 22-23) to 12x (BiLSTM 128, batch 32, lengths
    200-500) faster than packed sequences (``bench/ragged_speed.py``; the explicit unroll was 0.09x the segments
    in one run and 1.2x in another under heavy load: not settled, so not chosen). On
    CUDA, cuDNN runs packed sequences in its own kernel; that has not been measured against the segments (no GPU
    was at hand), so ``auto`` keeps the packed path there.
    """
    return device.type == "cuda"
