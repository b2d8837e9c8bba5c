"""Recurrent layers: unroll any cell over time, stacked and bidirectional, with variable lengths.

``Recurrent(cell_factory, ...)`` builds one cell per layer and direction and unrolls them (``backend="explicit"``)
or, when the cells compute what a torch kernel computes, calls that kernel (``backend="fused"``: oneDNN on CPU,
cuDNN on GPU). ``RNN``, ``LSTM`` and ``GRU`` are ``Recurrent`` with the textbook cells.

The layer owns the parameters under torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), so
``state_dict()`` of ``rk.nn.LSTM`` equals that of ``torch.nn.LSTM``; before each forward the cells are pointed at
those tensors, so whatever replaced them (``.to()``, ``load_state_dict(assign=True)``,
``torch.func.functional_call``) is what runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cells import ElmanCell, GRUCell, LayerNormLSTMCell, LSTMCell, RecurrentCell, State, bias_sum
from .checks import check_input, check_lengths, check_state
from .exportable import exportable_forward, is_exporting
from .gru_bptt import gru_unroll
from .lnlstm_bptt import lnlstm_cell_unroll
from .lstm_bptt import lstm_unroll
from .ragged import auto_prefers_packed, fused_ragged

BACKENDS = ("auto", "explicit", "fused", "packed")
_FUSED_MODULES = {
    "LSTM": lambda **kw: nn.LSTM(**kw),
    "GRU": lambda **kw: nn.GRU(**kw),
    "RNN_TANH": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "RNN_RELU": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
}


class Recurrent(nn.Module):
    """A stack of recurrent layers built from any cell.

    Args:
        cell_factory: ``cell_factory(input_size, hidden_size)`` returns a fresh cell (a
            :class:`~rnnkit.nn.cells.RecurrentCell` or anything with the same methods).
        input_size: features per step of the input, I.
        hidden_size: hidden units per direction, H.
        num_layers: stacked layers, L; layer l > 0 reads layer l-1's output.
        bidirectional: add a reverse-time direction per layer (D = 2); outputs are concatenated.
        dropout: dropout probability on every layer's output except the last (training mode only).
        batch_first: input and output as ``(B, T, ...)``; otherwise ``(T, B, ...)``.
        backend: ``"explicit"`` unrolls the cells; ``"fused"`` calls torch's kernel, on a ragged batch
            (``lengths``) segment by segment on the padded batch (:mod:`rnnkit.nn.ragged`, exact); ``"packed"``
            calls torch's kernel on a ``PackedSequence``; ``"auto"`` picks by this rule, from
            ``bench/ragged_speed.py``: the explicit unroll where the cells have no torch kernel; else the kernel,
            and for a ragged batch ``"fused"`` on the CPU (packed measured 2-12x slower there) and ``"packed"`` on
            CUDA (cuDNN's packed kernel, not measured against the segments: no GPU was at hand).
        weight_dropout: DropConnect on the hidden-to-hidden weights ``weight_hh_*`` (Wan et al. 2013), one mask
            per forward call, training mode only: the weight drop of AWD-LSTM (Merity et al. 2018).

    Call: ``layer(x, lengths=None, state=None) -> (output, state)`` with ``x (B, T, I)``, ``lengths (B,)``,
    ``output (B, T, D*H)`` and state as torch's: ``h (L*D, B, H)``, or ``(h, c)`` for cells with a cell state.
    With ``lengths``, outputs past a sequence's end are zero, the final state is the one at its last real step,
    and the reverse direction starts at the sequence's own last step. ``layer(..., final_state=False)`` returns
    ``(output, None)``: for callers that read the outputs only (less work on a ragged batch's padded call).
    """

    def __init__(
        self,
        cell_factory: Callable[[int, int], RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        batch_first: bool = True,
        backend: str = "auto",
        weight_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        for name, value in (("dropout", dropout), ("weight_dropout", weight_dropout)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name}: got {value!r}; expected a probability in [0, 1)")
        self.weight_dropout = float(weight_dropout)
        if backend not in BACKENDS:
            raise ValueError(f"backend: got {backend!r}; expected one of {', '.join(map(repr, BACKENDS))}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.dropout, self.batch_first = bidirectional, float(dropout), batch_first
        self.num_directions = 2 if bidirectional else 1

        cells: list[RecurrentCell] = []
        bindings: list[list[tuple[nn.Module, str, str]]] = []  # per cell: (owner module, leaf name, layer name)
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                cell = cell_factory(layer_input_size, hidden_size)
                if (cell.input_size, cell.hidden_size) != (layer_input_size, hidden_size):
                    raise ValueError(
                        f"cell_factory: built a cell of sizes ({cell.input_size}, {cell.hidden_size}); "
                        f"expected ({layer_input_size}, {hidden_size})"
                    )
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                binding = []
                for path, parameter in cell.named_parameters():
                    owner_path, _, leaf = path.rpartition(".")
                    name = path.replace(".", "_") + suffix
                    self.register_parameter(name, parameter)
                    binding.append((cell.get_submodule(owner_path), leaf, name))
                cells.append(cell)
                bindings.append(binding)
        # The cells are deliberately not submodules: their parameters are registered above under torch's names.
        self._cells = tuple(cells)
        self._bindings = tuple(bindings)
        self.has_cell_state = bool(getattr(cells[0], "has_cell_state", False))

        fused_modes = {getattr(cell, "fused_mode", None) for cell in cells}
        fused_mode = fused_modes.pop() if len(fused_modes) == 1 else None
        fused = self._build_fused(fused_mode, getattr(cells[0], "bias", True)) if fused_mode else None
        self.__dict__["_fused"] = fused  # not a submodule: it holds no weights of its own
        if backend in ("fused", "packed") and self._fused is None:
            raise ValueError(
                f"backend: got {backend!r} for {type(cells[0]).__name__}, which has no fused torch kernel; "
                "expected 'explicit' or 'auto'"
            )
        self.backend = backend

    def _build_fused(self, mode: str, bias: bool) -> nn.RNNBase | None:
        """A torch.nn.RNN/LSTM/GRU shell on the meta device whose weights are ours at each call."""
        shell = _FUSED_MODULES[mode](
            input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers, bias=bias,
            batch_first=self.batch_first, dropout=self.dropout, bidirectional=self.bidirectional, device="meta",
        )
        if set(shell._flat_weights_names) != set(self._parameters):
            return None
        return shell

    @property
    def cells(self) -> tuple[RecurrentCell, ...]:
        """The cells, layer-major then direction (``l0``, ``l0_reverse``, ``l1``, ...), bound to this layer."""
        self._bind_cells()
        return self._cells

    @property
    def uses_fused(self) -> bool:
        """Whether ``forward`` calls torch's fused kernel."""
        return self._fused is not None and self.backend in ("fused", "packed", "auto")

    def _weight(self, name: str) -> Tensor:
        """The parameter ``name`` as this call uses it: with weight drop on ``weight_hh_*`` when training."""
        weight = getattr(self, name)
        if self.weight_dropout and self.training and name.startswith("weight_hh"):
            weight = F.dropout(weight, self.weight_dropout, training=True)
        return weight

    def _bind_cells(self, for_forward: bool = False) -> None:
        """Point the cells at this layer's tensors (weight-dropped ones when ``for_forward`` in training)."""
        for binding in self._bindings:
            for owner, leaf, name in binding:
                owner._parameters[leaf] = self._weight(name) if for_forward else getattr(self, name)

    def forward(
        self, x: Tensor, lengths: Tensor | Sequence[int] | None = None, state: State | None = None, *,
        final_state: bool = True,
    ) -> tuple[Tensor, State | None]:
        """Run the stack over ``x``; see the class docstring for shapes and semantics.

        ``final_state=False``: the caller reads the outputs only (a classifier pooling over them, a tagger), so
        the final state comes back as None and a ragged batch's padded call skips what only it needs.
        """
        if is_exporting():  # one graph for any lengths: the checks and paths below read data on the host
            output, final = exportable_forward(self, x, None if lengths is None else torch.as_tensor(lengths), state)
            return output, final if final_state else None
        unbatched = check_input(x, self.input_size, self.batch_first)
        if unbatched:
            x = x.unsqueeze(0 if self.batch_first else 1)
            state = None if state is None else _map_state(state, lambda s: s.unsqueeze(1))
        batch_size, steps = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        lengths = check_lengths(lengths, batch_size, steps)
        expected = (self.num_layers * self.num_directions, batch_size, self.hidden_size)
        state = check_state(state, expected, self.has_cell_state)
        if lengths is not None and bool((lengths == steps).all()):
            lengths = None  # every sequence is full length: no masking needed

        if self.uses_fused:
            packed = lengths is not None and (self.backend == "packed" or (
                self.backend == "auto" and auto_prefers_packed(x.device)))
            output, final = self._forward_fused(x, lengths, state, steps, packed, final_state)
        else:
            output, final = self._forward_explicit(x, lengths, state)
        if not final_state:
            final = None
        if unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            final = None if final is None else _map_state(final, lambda s: s.squeeze(1))
        return output, final

    def _forward_fused(self, x: Tensor, lengths: Tensor | None, state: State | None, steps: int, packed: bool,
                       final_state: bool = True):
        if x.device.type == "cpu" and _autocast_enabled(x.device) and not _cpu_has_bf16_kernels():
            # oneDNN has no bfloat16 RNN kernel for this CPU (it fails to create one): run this layer in float32
            with torch.autocast("cpu", enabled=False):
                state = None if state is None else _map_state(state, lambda s: s.float())
                return self._forward_fused(x.float(), lengths, state, steps, packed, final_state)
        shell = self._fused
        shell._flat_weights = [self._weight(name) for name in shell._flat_weights_names]
        shell.training = self.training
        if lengths is None:
            return shell(x, state)
        if not packed:
            return self._forward_ragged(x, lengths, state, final_state)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=self.batch_first, enforce_sorted=False)
        output, final = shell(packed, state)
        output, _ = pad_packed_sequence(output, batch_first=self.batch_first, total_length=steps)
        return output, final

    def _forward_ragged(self, x: Tensor, lengths: Tensor, state: State | None, final_state: bool = True):
        """The fused kernel on the padded batch, segment by segment (:mod:`rnnkit.nn.ragged`): exact, no packing."""
        shell = self._fused
        names = shell._flat_weights_names
        per_cell = len(names) // (self.num_layers * self.num_directions)
        weights = [shell._flat_weights[i : i + per_cell] for i in range(0, len(names), per_cell)]
        parts = None if state is None else (list(state) if isinstance(state, tuple) else [state])
        sequence = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        output, finals = fused_ragged(
            shell.mode, weights, shell.bias, self.num_layers, self.bidirectional, self.dropout, self.training,
            sequence, lengths, parts, self.hidden_size, final_state,
        )
        output = output.transpose(0, 1) if self.batch_first else output
        if finals is None:
            return output, None
        return output, (tuple(finals) if self.has_cell_state else finals[0])

    def _forward_explicit(self, x: Tensor, lengths: Tensor | None, state: State | None, run_direction=None):
        """Our cells over every layer and direction; ``run_direction(cell, sequence (T, B, I), state, mask,
        lengths) -> (output, final)`` runs one direction (:func:`_unroll`, or the export's masked scan)."""
        run_direction = _unroll if run_direction is None else run_direction
        self._bind_cells(for_forward=True)
        layer_input = x.transpose(0, 1) if self.batch_first else x  # (T, B, I)
        steps, batch_size = layer_input.shape[:2]
        mask = None  # (T, B, 1): True at real steps
        reverse_index = None  # (T, B): position of step t when each sequence is read backwards
        if lengths is not None:
            lengths = lengths.to(x.device)
            time = torch.arange(steps, device=x.device).unsqueeze(1)  # (T, 1)
            mask = (time < lengths).unsqueeze(2)
            reverse_index = torch.where(time < lengths, lengths - 1 - time, time)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                cell = self._cells[index]
                if state is None:
                    initial = cell.initial_state(batch_size, x)
                else:
                    initial = _map_state(state, lambda s, index=index: s[index])
                sequence = layer_input if direction == 0 else _reverse(layer_input, reverse_index)
                output, final = run_direction(cell, sequence, initial, mask, lengths)
                outputs.append(output if direction == 0 else _reverse(output, reverse_index))
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)  # (T, B, D*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        if isinstance(finals[0], tuple):
            return output, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return output, torch.stack(finals)  # (L*D, B, H)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self._bind_cells()
        self.flatten_parameters()
        return result

    def flatten_parameters(self) -> None:
        """On a GPU, lay the weights out in the one contiguous buffer cuDNN reads (as ``torch.nn.LSTM`` does).

        Our parameters become views into that buffer, so the fused kernel does not copy them at every call. A
        no-op on the CPU, without a fused kernel, or with weight drop (whose dropped copies are new each call).
        Called after every ``.to()`` / ``.cuda()``.
        """
        if self._fused is None:
            return
        self._fused._flat_weights = [getattr(self, name) for name in self._fused._flat_weights_names]
        self._fused.flatten_parameters()

    def extra_repr(self) -> str:
        cell = type(self._cells[0]).__name__
        options = f"{cell}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.bidirectional:
            options += ", bidirectional=True"
        if self.dropout:
            options += f", dropout={self.dropout}"
        if self.weight_dropout:
            options += f", weight_dropout={self.weight_dropout}"
        if not self.batch_first:
            options += ", batch_first=False"
        return options + f", backend={self.backend!r}"


def _unroll(cell: RecurrentCell, sequence: Tensor, state: State, mask: Tensor | None, lengths: Tensor | None):
    """Run one cell over ``sequence (T, B, I)`` with the input projection hoisted out of the loop.

    With a mask, a sequence that has ended keeps its state, and its outputs past the end are zeroed.
    The textbook LSTM cell runs through :func:`~rnnkit.nn.lstm_bptt.lstm_unroll`, the same equations with
    backpropagation through time written out (no autograd graph per step); other cells are recorded by autograd.
    """
    first_ragged_step = sequence.shape[0] if lengths is None else int(lengths.min())
    if type(cell) is LSTMCell and not _autocast_enabled(sequence.device):
        bias = bias_sum(cell.bias_ih, cell.bias_hh)
        output, h, c = lstm_unroll(sequence, cell.weight_ih, bias, cell.weight_hh, *state, mask, first_ragged_step)
        return output, (h, c)
    if type(cell) is GRUCell and not _autocast_enabled(sequence.device):
        return gru_unroll(sequence, cell.weight_ih, cell.bias_ih, cell.weight_hh, cell.bias_hh, state, mask,
                          first_ragged_step)
    if type(cell) is LayerNormLSTMCell and not _autocast_enabled(sequence.device):
        output, h, c = lnlstm_cell_unroll(cell, sequence, *state, mask, first_ragged_step)
        return output, (h, c)
    projected = cell.input_projection(sequence)  # (T, B, G*H): one matrix product for all steps
    outputs = []
    # unbind, not projected[t]: one split node in the graph instead of T full-size slice gradients
    for t, x_t in enumerate(projected.unbind(0)):
        h, new_state = cell.step(x_t, state)
        if t >= first_ragged_step:
            new_state = _map_pair(new_state, state, lambda new, old, m=mask[t]: torch.where(m, new, old))  # (B, H)
        state = new_state
        outputs.append(h)
    output = torch.stack(outputs)  # (T, B, H)
    if mask is not None:
        output = output * mask
    return output, state


def _autocast_enabled(device: torch.device) -> bool:
    """Whether autocast is on for ``device`` (the hand-written LSTM backward runs in one dtype, so it steps aside)."""
    try:
        return torch.is_autocast_enabled(device.type)
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_enabled() if device.type == "cuda" else torch.is_autocast_cpu_enabled()


def _cpu_has_bf16_kernels() -> bool:
    """Whether oneDNN runs bfloat16 kernels on this CPU (AVX-512 BF16 or AMX); False where torch cannot say."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _reverse(sequence: Tensor, reverse_index: Tensor | None) -> Tensor:
    """Read each sequence of ``(T, B, F)`` backwards from its own last real step; padding stays in place."""
    if reverse_index is None:
        return sequence.flip(0)
    return sequence.gather(0, reverse_index.unsqueeze(2).expand_as(sequence))


def _map_state(state: State, fn: Callable[[Tensor], Tensor]) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _map_pair(new: State, old: State, fn: Callable[[Tensor, Tensor], Tensor]) -> State:
    if isinstance(new, tuple):
        return tuple(fn(a, b) for a, b in zip(new, old, strict=True))
    return fn(new, old)


class RNN(Recurrent):
    """Elman RNN layer(s), a drop-in for ``torch.nn.RNN`` (same parameters, same ``state_dict``).

    Args as :class:`Recurrent`, plus ``nonlinearity`` (``"tanh"`` or ``"relu"``) and ``bias``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, bidirectional: bool = False, dropout: float = 0.0, batch_first: bool = True,
                 backend: str = "auto", weight_dropout: float = 0.0) -> None:
        def factory(i: int, h: int) -> ElmanCell:
            return ElmanCell(i, h, bias=bias, nonlinearity=nonlinearity)

        super().__init__(factory, input_size, hidden_size, num_layers, bidirectional, dropout, batch_first, backend,
                         weight_dropout)


class LSTM(Recurrent):
    """LSTM layer(s), a drop-in for ``torch.nn.LSTM`` (same parameters, same ``state_dict``); state ``(h, c)``.

    Args as :class:`Recurrent`, plus ``bias`` and ``forget_bias`` (added to the forget gate's bias at init).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False, dropout: float = 0.0, batch_first: bool = True,
                 backend: str = "auto", forget_bias: float = 0.0, weight_dropout: float = 0.0) -> None:
        def factory(i: int, h: int) -> LSTMCell:
            return LSTMCell(i, h, bias=bias, forget_bias=forget_bias)

        super().__init__(factory, input_size, hidden_size, num_layers, bidirectional, dropout, batch_first, backend,
                         weight_dropout)


class GRU(Recurrent):
    """GRU layer(s), a drop-in for ``torch.nn.GRU`` (same parameters, same ``state_dict``).

    Args as :class:`Recurrent`, plus ``bias``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False, dropout: float = 0.0, batch_first: bool = True,
                 backend: str = "auto", weight_dropout: float = 0.0) -> None:
        def factory(i: int, h: int) -> GRUCell:
            return GRUCell(i, h, bias=bias)

        super().__init__(factory, input_size, hidden_size, num_layers, bidirectional, dropout, batch_first, backend,
                         weight_dropout)
