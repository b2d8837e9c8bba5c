r"""The LSTM recurrence of one layer and direction with backpropagation through time written by hand.

:class:`~rnnkit.nn.LSTMCell` states the equations step by step and lets autograd record every step. That is
the clearest form, but autograd then builds a graph of ~12 nodes per step, allocates every intermediate, and
accumulates ``dL/dW_hh`` with one small matrix product (and one full-size addition) per step. This module runs
the same equations, step by step, with the derivatives of the lecture written out:

Forward: the input side for all T steps in one matrix product, then for t = 1..T::

    a   = W_ih x + b_ih + b_hh                           (T, B, 4H): one matrix product for all steps
    a_t += W_hh h_{t-1}                                  (B, 4H): one matrix product per step, in place
    i, f, o = sigma(a_i), sigma(a_f), sigma(a_o)       g = tanh(a_g) = 2 sigma(2 a_g) - 1
    c_t = f * c_{t-1} + i * g                            h_t = o * tanh(c_t)

Backward, for t = T..1, with ``dh_t`` the gradient reaching ``h_t`` (from the output at t and from step t+1)
and ``dc_t`` the one reaching ``c_t`` from step t+1::

    dc   = dc_t + dh_t * o * (1 - tanh(c_t)^2)
    da_o = dh_t * tanh(c_t) * o (1 - o)                  da_i = dc * g * i (1 - i)
    da_f = dc * c_{t-1} * f (1 - f)                      da_g = dc * i * (1 - g^2)
    dc_{t-1} = dc * f                                    dh_{t-1} += W_hh^T da_t     (the recurrence)
    dL/dW_hh = sum_t da_t^T h_{t-1}     dL/dW_ih = sum_t da_t^T x_t     dL/db = sum_t da_t     dL/dx_t = W_ih^T da_t
                                        (one matrix product each over all (t, b), after the loop)

Variable lengths follow :class:`~rnnkit.nn.Recurrent`: where ``mask[t, b]`` is False the state is carried
unchanged (``h_t = h_{t-1}``, ``c_t = c_{t-1}``) and the output is 0, so the gradient of a carried state passes
straight to step t-1. The results equal those of the autograd loop over ``LSTMCell.step`` (tests check values and
gradients in float32 and float64).
"""

from __future__ import annotations

import torch
from torch import Tensor

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # (dy, y, grad_input=out): out = dy * y * (1 - y)
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # (dy, y, grad_input=out): out = dy * (1 - y^2)


class LSTMUnroll(torch.autograd.Function):
    """``(x (T, B, I), weight_ih (4H, I), bias (4H) | None, weight_hh (4H, H), h0 (B, H), c0 (B, H),
    mask (T, B, 1) | None, ragged_from)`` -> ``(outputs (T, B, H), h_T (B, H), c_T (B, H))``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight_ih: Tensor, bias: Tensor | None, weight_hh: Tensor, h0: Tensor, c0: Tensor,
                mask: Tensor | None, ragged_from: int) -> tuple[Tensor, Tensor, Tensor]:
        steps, batch_size, input_size = x.shape
        H = weight_hh.shape[1]
        # tanh(z) = 2 sigma(2z) - 1: with the g rows doubled, one sigmoid over the whole (B, 4H) row gives i, f,
        # o and s = sigma(2 a_g), and g = 2s - 1 (a strided tanh on the g columns costs more than the sigmoid)
        scale = weight_hh.new_ones(4 * H, 1)
        scale[2 * H : 3 * H] = 2.0
        flat_x = x.reshape(steps * batch_size, input_size)  # (T*B, I)
        if bias is None:
            gates = flat_x @ (weight_ih * scale).t()
        else:
            gates = torch.addmm(bias * scale[:, 0], flat_x, (weight_ih * scale).t())
        gates = gates.view(steps, batch_size, 4 * H)  # (T, B, 4H): W_ih x + b, then i, f, s, o in place
        cells = x.new_empty(steps + 1, batch_size, H)  # (T+1, B, H): c_0 .. c_T
        states = x.new_empty(steps, batch_size, H)  # (T, B, H): h_1 .. h_T
        tanh_cells = x.new_empty(steps, batch_size, H)  # (T, B, H): tanh of the new cell state
        cells[0] = c0
        weight_t = (weight_hh * scale).t()  # (H, 4H)
        h = h0
        for t in range(steps):
            a = gates[t]
            a.addmm_(h, weight_t)  # a_t = W_ih x_t + b + W_hh h_{t-1} (g rows doubled)
            a.sigmoid_()  # i, f, s, o
            i, f, s, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = cells[t + 1]
            torch.mul(f, cells[t], out=c)
            c.addcmul_(i, s, value=2.0).sub_(i)  # c_t = f * c_{t-1} + i * g, with i * g = 2 i s - i
            torch.tanh(c, out=tanh_cells[t])
            torch.mul(o, tanh_cells[t], out=states[t])  # h_t = o * tanh(c_t)
            if mask is not None and t >= ragged_from:  # ended sequences keep their state
                torch.where(mask[t], states[t], h, out=states[t])
                torch.where(mask[t], c, cells[t], out=c)
            h = states[t]
        gates[:, :, 2 * H : 3 * H].mul_(2.0).sub_(1.0)  # g = 2s - 1, for the backward pass
        outputs = states if mask is None else states * mask  # (T, B, H): 0 past each sequence's end
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, cells, states, tanh_cells, h0, mask)
        ctx.ragged_from = ragged_from
        ctx.has_bias = bias is not None
        return outputs, states[-1].clone(), cells[-1].clone()

    @staticmethod
    def backward(ctx, grad_outputs: Tensor, grad_h: Tensor, grad_c: Tensor):
        x, weight_ih, weight_hh, gates, cells, states, tanh_cells, h0, mask = ctx.saved_tensors
        steps, batch_size, gate_size = gates.shape
        H = gate_size // 4
        if mask is not None:
            grad_outputs = grad_outputs * mask  # the output is 0 (a constant) past each end
        grad_gates = torch.empty_like(gates)  # (T, B, 4H): dL/da_t
        scratch = gates.new_empty(batch_size, 2 * H)  # (B, 2H)
        dc = gates.new_empty(batch_size, H)  # (B, H)
        dh = grad_h + grad_outputs[-1]  # (B, H): gradient reaching h_T
        grad_c = grad_c.clone()  # (B, H): gradient reaching c_T from later steps
        for t in range(steps - 1, -1, -1):
            a, da = gates[t], grad_gates[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            masked = mask is not None and t >= ctx.ragged_from
            if masked:
                m = mask[t]  # (B, 1)
                carried_h, carried_c = dh * ~m, grad_c * ~m  # gradients of carried states go straight back
                dh = dh * m
                grad_c = grad_c * m
            torch.mul(dh, o, out=dc)
            _tanh_backward(dc, tanh_cells[t], grad_input=dc)
            dc.add_(grad_c)  # dc = dc_t + dh_t * o * (1 - tanh(c_t)^2)
            torch.mul(dh, tanh_cells[t], out=scratch[:, :H])
            _sigmoid_backward(scratch[:, :H], o, grad_input=da[:, 3 * H :])  # da_o
            torch.mul(dc, g, out=scratch[:, :H])
            torch.mul(dc, cells[t], out=scratch[:, H:])
            _sigmoid_backward(scratch, a[:, : 2 * H], grad_input=da[:, : 2 * H])  # da_i, da_f
            torch.mul(dc, i, out=scratch[:, :H])
            _tanh_backward(scratch[:, :H], g, grad_input=da[:, 2 * H : 3 * H])  # da_g
            torch.mul(dc, f, out=grad_c)  # dc_{t-1}
            if t == 0:
                dh = da @ weight_hh
            elif masked:
                dh = torch.addmm(carried_h + grad_outputs[t - 1], da, weight_hh)
            else:
                dh = torch.addmm(grad_outputs[t - 1], da, weight_hh)  # dh_{t-1} = out grad + W_hh^T da_t
            if masked:
                grad_c.add_(carried_c)
                if t == 0:
                    dh = dh + carried_h
        flat_grad = grad_gates.view(steps * batch_size, gate_size)  # (T*B, 4H)
        grad_x = grad_weight_ih = grad_bias = grad_weight_hh = None
        if ctx.needs_input_grad[0]:
            grad_x = (flat_grad @ weight_ih).view(x.shape)  # (T, B, I)
        if ctx.needs_input_grad[1]:
            grad_weight_ih = flat_grad.t() @ x.reshape(steps * batch_size, -1)  # (4H, I)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = flat_grad.sum(0)  # (4H,)
        if ctx.needs_input_grad[3]:
            later = grad_gates[1:].view(-1, gate_size)  # ((T-1)*B, 4H)
            grad_weight_hh = torch.addmm(grad_gates[0].t() @ h0, later.t(), states[:-1].reshape(-1, H))  # (4H, H)
        return grad_x, grad_weight_ih, grad_bias, grad_weight_hh, dh, grad_c, None, None


def lstm_unroll(x: Tensor, weight_ih: Tensor, bias: Tensor | None, weight_hh: Tensor, h0: Tensor, c0: Tensor,
                mask: Tensor | None = None, ragged_from: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer direction over ``x (T, B, I)``; see the module docstring for the equations.

    Args:
        x: the inputs, time first.
        weight_ih: input weights ``(4H, I)``, gates in torch's order i, f, g, o.
        bias: ``b_ih + b_hh`` ``(4H,)``, or None for a cell without biases.
        weight_hh: recurrent weights ``(4H, H)``.
        h0: initial hidden state ``(B, H)``.
        c0: initial cell state ``(B, H)``.
        mask: ``(T, B, 1)`` booleans, True at real steps, or None when every sequence fills all T steps.
        ragged_from: the first step at which some mask entry is False (steps before it skip the masking).

    Returns:
        ``(outputs (T, B, H), h_T (B, H), c_T (B, H))``, outputs 0 past each sequence's end.
    """
    return LSTMUnroll.apply(x, weight_ih, bias, weight_hh, h0, c0, mask, ragged_from)
