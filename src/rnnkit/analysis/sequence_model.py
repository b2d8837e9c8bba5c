"""The small models of the analysis lab: one recurrent layer of a named cell and a linear read-out.

    inputs (B, T, F) or ids (B, T) ──one-hot──▶ Recurrent(cell) ──▶ h (B, T, H) ──Linear──▶ outputs (B, T, O)
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import GRU, LSTM, RNN, LayerNormLSTMCell, Recurrent

CELLS = ("rnn", "lstm", "gru", "lnlstm")


def check_cell(cell: str) -> str:
    """``cell`` if it is one of :data:`CELLS`, else a ValueError listing them."""
    if cell not in CELLS:
        raise ValueError(f"cell: got {cell!r}; expected one of {', '.join(CELLS)}")
    return cell


def build_recurrent(cell: str, input_size: int, hidden_size: int, forget_bias: float = 0.0,
                    backend: str = "auto", input_bias: float = 0.0) -> Recurrent:
    """One batch-first recurrent layer: ``"rnn"`` (tanh Elman), ``"lstm"``, ``"gru"`` or ``"lnlstm"``.

    ``forget_bias`` is added at initialisation to the bias of the gate that keeps the old state: the LSTM's
    forget gate, and the GRU's update gate z (``h_t = (1 - z) n_t + z h_{t-1}``); a tanh RNN has none. A bias b
    starts that gate near sigmoid(b), so memory decays like sigmoid(b)^d over d steps (b = 1: 0.73^d; b = 4:
    0.982^d), the idea behind the chrono initialisation of Tallec & Ollivier (2018).
    ``input_bias`` is added to the LSTM input gate's bias: a negative one keeps the cell closed to new input by
    default (chrono initialisation pairs ``b_i = -b_f``); the GRU's z already couples keeping and writing.
    The layer-norm LSTM has no fused kernel and always runs ``"explicit"``.
    """
    check_cell(cell)
    if cell == "rnn":
        return RNN(input_size, hidden_size, backend=backend)
    if cell == "gru":
        layer = GRU(input_size, hidden_size, backend=backend)
        with torch.no_grad():
            layer.bias_ih_l0[hidden_size : 2 * hidden_size] += forget_bias  # gate order r, z, n
        return layer
    if cell == "lstm":
        layer = LSTM(input_size, hidden_size, backend=backend, forget_bias=forget_bias)
        input_gate_bias = layer.bias_ih_l0
    else:
        layer = Recurrent(partial(LayerNormLSTMCell, forget_bias=forget_bias), input_size, hidden_size,
                          backend="explicit")
        input_gate_bias = layer.norm_ih_bias_l0
    with torch.no_grad():
        input_gate_bias[:hidden_size] += input_bias  # gate order i, f, g, o
    return layer


class SequenceModel(nn.Module):
    """``outputs_t = W_o h_t + b_o`` on top of one recurrent layer.

    Args:
        input_size: features per step F, or the number of token ids when ``token_inputs`` (then one-hot).
        output_size: outputs per step O (1 for regression, the classes otherwise).
        cell: one of :data:`CELLS`.
        hidden_size: H.
        token_inputs: the inputs are integer ids ``(B, T)`` rather than features ``(B, T, F)``.
        forget_bias: LSTM forget-gate / GRU update-gate bias at initialisation (see :func:`build_recurrent`).
        input_bias: LSTM input-gate bias at initialisation.
        backend: passed to the recurrent layer (``"explicit"`` to look inside the unrolled steps).

    Call: ``model(inputs, state=None) -> (outputs (B, T, O), state)``.
    """

    def __init__(self, input_size: int, output_size: int, cell: str = "lstm", hidden_size: int = 128,
                 token_inputs: bool = False, forget_bias: float = 0.0, backend: str = "auto",
                 input_bias: float = 0.0) -> None:
        super().__init__()
        self.input_size, self.token_inputs, self.cell = input_size, token_inputs, cell
        self.recurrent = build_recurrent(cell, input_size, hidden_size, forget_bias, backend, input_bias)
        self.readout = nn.Linear(hidden_size, output_size)

    def features(self, inputs: Tensor) -> Tensor:
        """The recurrent layer's input ``(B, T, F)``: one-hot ids, or the float features as given."""
        return F.one_hot(inputs, self.input_size).float() if self.token_inputs else inputs

    def forward(self, inputs: Tensor, state=None) -> tuple[Tensor, object]:
        hidden, state = self.recurrent(self.features(inputs), state=state)  # (B, T, H)
        return self.readout(hidden), state  # (B, T, O)
