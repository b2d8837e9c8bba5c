r"""The GRU recurrence of one layer and direction with backpropagation through time written by hand.

The same idea as :mod:`rnnkit.nn.lstm_bptt`: the input side of all T steps is one matrix product before the
loop, each step's backward factors are computed in the forward pass while its values are in cache, and the backward
pass is one element-wise product per step and the matrix product of the recurrence, instead of autograd's graph of
a dozen nodes per step. Equations (torch's form, gates r, z, n)::

    (x_r, x_z, x_n) = W_ih x_t + b_ih            (T, B, 3H): one matrix product for all steps
    (u_r, u_z, u_n) = W_hh h_{t-1} + b_hh        (B, 3H): one per step
    r = sigma(x_r + u_r)     z = sigma(x_z + u_z)     n = tanh(x_n + r * u_n)
    h_t = (1 - z) n + z h_{t-1}  =  n + z (h_{t-1} - n)

Backward, with ``dh`` the gradient reaching ``h_t`` (from the output at t and from step t+1)::

    da_n = dh * F_n,   F_n = (1 - z)(1 - n^2)             gradient of x_n + r u_n
    da_r = dh * F_r,   F_r = F_n u_n r (1 - r)            da_z = dh * F_z,   F_z = (h_{t-1} - n) z (1 - z)
    du_n = dh * F_nr,  F_nr = F_n r                       (the recurrent side of the n gate, through r)
    dh_{t-1} = dh * z + W_hh^T (da_r, da_z, du_n)
    dL/dW_ih = sum_t (da_r, da_z, da_n)^T x_t     dL/db_ih = sum_t (da_r, da_z, da_n)     dL/dx_t = W_ih^T (...)
    dL/dW_hh = sum_t (da_r, da_z, du_n)^T h_{t-1}     dL/db_hh = sum_t (da_r, da_z, du_n)

The factors sit per step in the order ``(F_n, F_r, F_z, F_nr)``, so ``dh`` times them (one broadcast product) gives
``(da_n, da_r, da_z, du_n)``, whose last three blocks are the recurrent gradient, contiguous, for the matrix product
of the step; the input-side gradient ``(da_n, da_r, da_z)`` is the first three, in the order n, r, z (put back to
torch's r, z, n once, after the loop).

Variable lengths as :mod:`rnnkit.nn.lstm_bptt`: where ``mask[t, b]`` is False the state is carried unchanged and the
output is 0. Results equal the autograd loop over ``GRUCell.step`` (tests check values and gradients, and gradcheck
in float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # (dy, y, grad_input=out): out = dy * y * (1 - y)
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # (dy, y, grad_input=out): out = dy * (1 - y^2)

__all__ = ["gru_unroll"]


def gru_forward(x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None, weight_hh: Tensor, bias_hh: Tensor | None,
                h0: Tensor, mask: Tensor | None, ragged_from: int, keep_factors: bool
                ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor] | None]:
    """The forward recurrence of :func:`gru_unroll`; with ``keep_factors`` also ``(factors (T, B, 4H), z (T, B, H))``
    for the backward pass, and ``states (T, B, H)`` (the hidden state after each step) always first in the tuple."""
    steps, batch_size, _ = x.shape
    H = weight_hh.shape[1]
    projected = F.linear(x, weight_ih, bias_ih)  # (T, B, 3H)
    states = x.new_empty(steps, batch_size, H)  # h_1 .. h_T
    recurrent = x.new_empty(batch_size, 3 * H)  # (B, 3H): W_hh h + b_hh
    weight_t = weight_hh.t()  # (H, 3H)
    x_rz, x_n = projected[:, :, : 2 * H].unbind(0), projected[:, :, 2 * H :].unbind(0)
    state_rows = states.unbind(0)
    u_rz, u_n = recurrent[:, : 2 * H], recurrent[:, 2 * H :]
    if keep_factors:
        factors = x.new_empty(steps, batch_size, 4 * H)  # (F_n, F_r, F_z, F_nr) per step
        update_gates = x.new_empty(steps, batch_size, H)  # z_t
        factor_views = [factors[:, :, k * H : (k + 1) * H].unbind(0) for k in range(4)]
        z_rows = update_gates.unbind(0)
    h = h0
    for t in range(steps):
        if bias_hh is None:
            torch.mm(h, weight_t, out=recurrent)
        else:
            torch.addmm(bias_hh, h, weight_t, out=recurrent)
        rz = torch.sigmoid(x_rz[t] + u_rz)  # (B, 2H)
        r, z = rz[:, :H], rz[:, H:]
        n = torch.addcmul(x_n[t], r, u_n).tanh_()  # (B, H)
        difference = h - n
        h_t = state_rows[t]
        torch.addcmul(n, z, difference, out=h_t)  # h_t = n + z (h_{t-1} - n)
        if mask is not None and t >= ragged_from:  # ended sequences keep their state
            torch.where(mask[t], h_t, h, out=h_t)
        if keep_factors:
            f_n, f_r, f_z, f_nr = (views[t] for views in factor_views)
            _tanh_backward(1 - z, n, grad_input=f_n)  # F_n = (1 - z)(1 - n^2)
            _sigmoid_backward(f_n * u_n, r, grad_input=f_r)  # F_r = F_n u_n r (1 - r)
            _sigmoid_backward(difference, z, grad_input=f_z)  # F_z = (h_{t-1} - n) z (1 - z)
            torch.mul(f_n, r, out=f_nr)  # F_nr = F_n r
            z_rows[t].copy_(z)
        h = h_t
    outputs = states if mask is None else states * mask  # (T, B, H): 0 past each sequence's end
    return outputs, states, ((factors, update_gates) if keep_factors else None)


class GRUUnroll(torch.autograd.Function):
    """``(x (T, B, I), weight_ih (3H, I), bias_ih | None, weight_hh (3H, H), bias_hh | None, h0 (B, H),
    mask (T, B, 1) | None, ragged_from)`` -> ``(outputs (T, B, H), h_T (B, H))``."""

    @staticmethod
    def forward(ctx, x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None, weight_hh: Tensor,
                bias_hh: Tensor | None, h0: Tensor, mask: Tensor | None, ragged_from: int) -> tuple[Tensor, Tensor]:
        outputs, states, (factors, update_gates) = gru_forward(x, weight_ih, bias_ih, weight_hh, bias_hh, h0, mask,
                                                               ragged_from, True)
        ctx.save_for_backward(x, weight_ih, weight_hh, factors, update_gates, states, h0, mask)
        ctx.ragged_from = ragged_from
        ctx.has_bias = (bias_ih is not None, bias_hh is not None)
        return outputs, states[-1].clone()

    @staticmethod
    def backward(ctx, grad_outputs: Tensor, grad_h: Tensor):
        x, weight_ih, weight_hh, factors, update_gates, states, h0, mask = ctx.saved_tensors
        steps, batch_size, _ = factors.shape
        H = weight_hh.shape[1]
        if mask is not None:
            grad_outputs = grad_outputs * mask  # the output is 0 (a constant) past each end
        grads = torch.empty_like(factors)  # (T, B, 4H): (da_n, da_r, da_z, du_n)
        factor_rows = factors.view(steps, batch_size, 4, H).unbind(0)
        grad_rows = grads.view(steps, batch_size, 4, H).unbind(0)
        recurrent_rows = grads[:, :, H:].unbind(0)  # (B, 3H): (da_r, da_z, du_n)
        z_rows, grad_output_rows = update_gates.unbind(0), grad_outputs.unbind(0)
        dh = grad_h + grad_outputs[-1]  # (B, H): gradient reaching h_T
        for t in range(steps - 1, -1, -1):
            masked = mask is not None and t >= ctx.ragged_from
            if masked:
                m = mask[t]  # (B, 1)
                carried = dh * ~m  # the gradient of a carried state goes straight back
                dh = dh * m
            torch.mul(dh.unsqueeze(1), factor_rows[t], out=grad_rows[t])  # (B, 4, H)
            direct = dh * z_rows[t]  # dh_t z
            if t > 0:
                direct += grad_output_rows[t - 1]
            if masked:
                direct += carried
            dh = torch.addmm(direct, recurrent_rows[t], weight_hh)  # dh_{t-1}
        flat = grads.view(steps * batch_size, 4 * H)
        input_side = flat[:, : 3 * H]  # (T*B, 3H) in the order n, r, z
        recurrent_side = flat[:, H:]  # (T*B, 3H) in the order r, z, n
        grad_x = grad_weight_ih = grad_bias_ih = grad_weight_hh = grad_bias_hh = None
        if ctx.needs_input_grad[0]:
            weight_nrz = torch.cat([weight_ih[2 * H :], weight_ih[: 2 * H]])  # (3H, I) rows n, r, z
            grad_x = (input_side @ weight_nrz).view(x.shape)  # (T, B, I)
        if ctx.needs_input_grad[1]:
            grad_nrz = input_side.t() @ x.reshape(steps * batch_size, -1)  # (3H, I)
            grad_weight_ih = torch.cat([grad_nrz[H:], grad_nrz[:H]])
        if ctx.has_bias[0] and ctx.needs_input_grad[2]:
            grad_nrz = input_side.sum(0)
            grad_bias_ih = torch.cat([grad_nrz[H:], grad_nrz[:H]])
        if ctx.needs_input_grad[3]:
            previous = torch.cat([h0.unsqueeze(0), states[:-1]]).view(steps * batch_size, H)  # h_{t-1}
            grad_weight_hh = recurrent_side.t() @ previous  # (3H, H)
        if ctx.has_bias[1] and ctx.needs_input_grad[4]:
            grad_bias_hh = recurrent_side.sum(0)
        return grad_x, grad_weight_ih, grad_bias_ih, grad_weight_hh, grad_bias_hh, dh, None, None


def gru_unroll(x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None, weight_hh: Tensor, bias_hh: Tensor | None,
               h0: Tensor, mask: Tensor | None = None, ragged_from: int = 0) -> tuple[Tensor, Tensor]:
    """Run one GRU layer direction over ``x (T, B, I)``; see the module docstring for the equations.

    Args:
        x: the inputs, time first.
        weight_ih, bias_ih: input weights ``(3H, I)`` and bias ``(3H,)`` (or None), gates r, z, n as torch.
        weight_hh, bias_hh: recurrent weights ``(3H, H)`` and bias ``(3H,)`` (or None).
        h0: initial hidden state ``(B, H)``.
        mask: ``(T, B, 1)`` booleans, True at real steps, or None when every sequence fills all T steps.
        ragged_from: the first step at which some mask entry is False.

    Returns:
        ``(outputs (T, B, H), h_T (B, H))``, outputs 0 past each sequence's end.
    """
    inputs = (x, weight_ih, bias_ih, weight_hh, bias_hh, h0)
    if torch.is_grad_enabled() and any(tensor is not None and tensor.requires_grad for tensor in inputs):
        return GRUUnroll.apply(*inputs, mask, ragged_from)
    outputs, states, _ = gru_forward(*inputs, mask, ragged_from, keep_factors=False)
    return outputs, states[-1].clone()
