"""Recurrent cells and layers: written from the equations, equal to torch's, as fast as the fused kernels."""

from .cells import ElmanCell, GRUCell, LayerNormLSTMCell, LSTMCell, RecurrentCell
from .dropout import LockedDropout, embedding_dropout
from .recurrent import GRU, LSTM, RNN, Recurrent

__all__ = [
    "ElmanCell",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LayerNormLSTMCell",
    "LockedDropout",
    "RNN",
    "Recurrent",
    "RecurrentCell",
    "embedding_dropout",
]
