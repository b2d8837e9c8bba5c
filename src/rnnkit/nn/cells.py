"""Recurrent cells written from their equations.

Every cell computes one time step. Its work is split in two so that a layer can hoist the input side out of
the time loop:

* ``input_projection(x)`` computes ``W_ih x + b_ih`` for any leading shape, so a layer computes it for all
  time steps at once with one matrix product (``(T, B, I) -> (T, B, G*H)``);
* ``step(x_projected, state)`` applies the recurrence for one time step.

``cell(x, state)`` runs both for a single step, as ``torch.nn.*Cell`` does. Parameters are named and shaped as
in ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` (gate order i, f, g, o and r, z, n), so weights move between
rnnkit and torch unchanged.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

State = Tensor | tuple[Tensor, Tensor]


class RecurrentCell(nn.Module):
    """Base of the cells: parameters ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)`` and optional biases.

    Subclasses set ``gate_count`` (G) and implement :meth:`step`. A custom cell for
    :class:`rnnkit.nn.Recurrent` needs ``input_size``, ``hidden_size``, ``input_projection``, ``step`` and
    ``initial_state``; ``fused_mode`` names the torch kernel that computes the same function, if any.
    """

    gate_count: ClassVar[int] = 1
    fused_mode: ClassVar[str | None] = None
    has_cell_state: ClassVar[bool] = False

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        _check_positive("input_size", input_size)
        _check_positive("hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = self.gate_count * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates))
            self.bias_hh = nn.Parameter(torch.empty(gates))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch initialises its cells."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` over the last axis: ``(..., I) -> (..., G*H)``."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrent_projection(self, h: Tensor) -> Tensor:
        """``W_hh h + b_hh``: ``(B, H) -> (B, G*H)``."""
        return F.linear(h, self.weight_hh, self.bias_hh)

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """Zero state for ``batch_size`` sequences, on ``like``'s device and dtype."""
        h = like.new_zeros(batch_size, self.hidden_size)
        return (h, h.clone()) if self.has_cell_state else h

    def step(self, x_projected: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step from the projected input ``(B, G*H)``; returns ``(h, new_state)``."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One step from raw input ``x (B, I)``; returns the new state, as ``torch.nn.*Cell``."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)[1]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class ElmanCell(RecurrentCell):
    r"""Elman (simple) recurrent cell.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \quad \phi \in \{\tanh, \mathrm{relu}\}

    Args:
        input_size: features per step, I.
        hidden_size: size of the hidden state, H.
        bias: whether to use ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
    """

    gate_count = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: got {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias)

    @property
    def fused_mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih + b_hh``: both biases are constant over time, so they are added once here."""
        return F.linear(x, self.weight_ih, bias_sum(self.bias_ih, self.bias_hh))

    def step(self, x_projected: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        a = torch.addmm(x_projected, state, self.weight_hh.T)  # W_ih x + b + W_hh h: (B, H)
        h = torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a)
        return h, h

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(RecurrentCell):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})   &\text{input gate} \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})   &\text{forget gate} \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})    &\text{input node} \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})   &\text{output gate} \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                        &\text{cell state} \\
        h_t &= o_t \odot \tanh(c_t)

    Args:
        input_size: features per step, I.
        hidden_size: size of the hidden and cell state, H.
        bias: whether to use ``b_ih`` and ``b_hh``.
        forget_bias: added to the forget gate's ``b_ih`` at initialisation (1.0 is the usual choice of
            Jozefowicz et al. 2015: the cell remembers by default early in training).
    """

    gate_count = 4
    fused_mode = "LSTM"
    has_cell_state = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float = 0.0) -> None:
        if forget_bias and not bias:
            raise ValueError(f"forget_bias: got {forget_bias} with bias=False; expected bias=True to hold it")
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias and self.forget_bias:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H : 2 * H] += self.forget_bias

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih + b_hh``: both biases are constant over time, so they are added once here."""
        return F.linear(x, self.weight_ih, bias_sum(self.bias_ih, self.bias_hh))

    def step(self, x_projected: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        gates = torch.addmm(x_projected, h, self.weight_hh.T)  # W_ih x + b + W_hh h: (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, (h, c)


class GRUCell(RecurrentCell):
    r"""Gated recurrent unit (Cho et al. 2014), in torch's form (reset applied after ``W_hn h``).

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})   &\text{reset gate} \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})   &\text{update gate} \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))  &\text{candidate} \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
    """

    gate_count = 3
    fused_mode = "GRU"

    def step(self, x_projected: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = state
        x_r, x_z, x_n = x_projected.chunk(3, dim=1)  # (B, H) each
        h_r, h_z, h_n = self.recurrent_projection(h).chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h


class LayerNormLSTMCell(RecurrentCell):
    r"""LSTM cell with layer normalisation (Ba, Kiros & Hinton 2016, eq. 20-22).

    The input and recurrent pre-activations are normalised separately over their 4H gate units, and the cell
    state is normalised before the output nonlinearity; the shifts ``beta`` play the role of the biases.

    .. math::
        (i, f, g, o)_t &= \mathrm{LN}(W_{ih} x_t; \gamma_{ih}, \beta_{ih})
                        + \mathrm{LN}(W_{hh} h_{t-1}; \gamma_{hh}, \beta_{hh}) \\
        c_t &= \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t) \\
        h_t &= \sigma(o_t) \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))

    Parameters: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``norm_ih_weight/bias (4H)``,
    ``norm_hh_weight/bias (4H)``, ``norm_cell_weight/bias (H)`` (the shifts only when ``bias=True``).
    """

    gate_count = 4
    has_cell_state = True

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float = 0.0, eps: float = 1e-5
    ) -> None:
        if forget_bias and not bias:
            raise ValueError(f"forget_bias: got {forget_bias} with bias=False; expected bias=True to hold it")
        self.forget_bias = forget_bias
        self.eps = eps
        nn.Module.__init__(self)
        _check_positive("input_size", input_size)
        _check_positive("hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        H = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H))
        for name, size in (("norm_ih", 4 * H), ("norm_hh", 4 * H), ("norm_cell", H)):
            self.register_parameter(f"{name}_weight", nn.Parameter(torch.empty(size)))
            self.register_parameter(f"{name}_bias", nn.Parameter(torch.empty(size)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        for name in ("norm_ih", "norm_hh", "norm_cell"):
            nn.init.ones_(getattr(self, f"{name}_weight"))
            if self.bias:
                nn.init.zeros_(getattr(self, f"{name}_bias"))
        if self.bias and self.forget_bias:
            H = self.hidden_size
            with torch.no_grad():
                self.norm_ih_bias[H : 2 * H] += self.forget_bias

    def _norm(self, x: Tensor, name: str) -> Tensor:
        weight, bias = getattr(self, f"{name}_weight"), getattr(self, f"{name}_bias")
        return F.layer_norm(x, weight.shape, weight, bias, self.eps)

    def input_projection(self, x: Tensor) -> Tensor:
        return self._norm(F.linear(x, self.weight_ih), "norm_ih")  # (..., 4H)

    def recurrent_projection(self, h: Tensor) -> Tensor:
        return self._norm(F.linear(h, self.weight_hh), "norm_hh")  # (B, 4H)

    def step(self, x_projected: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h, c = state
        gates = x_projected + self.recurrent_projection(h)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(self._norm(c, "norm_cell"))
        return h, (h, c)


def bias_sum(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    """``b_ih + b_hh`` (None without biases): the bias of the hoisted input projection."""
    return None if bias_ih is None else bias_ih + bias_hh


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: got {value!r}; expected a positive integer")
