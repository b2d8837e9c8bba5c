"""Float64 NumPy reference: Elman and LSTM forward passes and hand-written BPTT, as the lecture derives them.

Weights are named and shaped as torch.nn.RNNCell / LSTMCell (W_ih, W_hh, b_ih, b_hh; gate order i, f, g, o),
so they copy both ways. Use it to learn the derivation and to check faster implementations against it.

    params = ElmanParams.init(input_size=3, hidden_size=4, rng=0)
    hs, cache = elman_forward(params, x)                     # x (T, I) or (T, B, I)
    grads = elman_backward(params, cache, dL_dhs)            # W_ih, W_hh, b_ih, b_hh, x, h0
    L, grads = sequence_loss_and_grads(params, readout, x, targets, loss="cross_entropy")
    jacobian_norms(params, cache)                            # ||∂h_t/∂h_0||, t = 0..T
"""

from .elman import ElmanCache, elman_backward, elman_forward, elman_step_jacobians
from .lstm import LSTMCache, lstm_backward, lstm_forward, lstm_step_jacobians
from .numpy_bptt import (
    backward,
    forward,
    jacobian_norms,
    jacobian_product,
    sequence_loss_and_grads,
    softmax_cross_entropy,
    squared_error,
    step_jacobians,
)
from .params import ElmanParams, LSTMParams, ReadoutParams

__all__ = [
    "ElmanCache",
    "ElmanParams",
    "LSTMCache",
    "LSTMParams",
    "ReadoutParams",
    "backward",
    "elman_backward",
    "elman_forward",
    "elman_step_jacobians",
    "forward",
    "jacobian_norms",
    "jacobian_product",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_jacobians",
    "sequence_loss_and_grads",
    "softmax_cross_entropy",
    "squared_error",
    "step_jacobians",
]
