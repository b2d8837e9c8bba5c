"""Recurrent cells and layers: written from the equations, equal to torch's, as fast as the fused kernels."""

from .cells import ElmanCell, GRUCell, LayerNormLSTMCell, LSTMCell, RecurrentCell
from .recurrent import GRU, LSTM, RNN, Recurrent

__all__ = [
    "ElmanCell",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LayerNormLSTMCell",
    "RNN",
    "Recurrent",
    "RecurrentCell",
]
