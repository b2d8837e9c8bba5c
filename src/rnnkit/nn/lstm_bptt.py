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

    dc   = dc_t + dh_t * o (1 - tanh(c_t)^2)
    da_i = dc * d_i,   d_i = g i (1 - i)                 da_f = dc * d_f,   d_f = c_{t-1} f (1 - f)
    da_g = dc * d_g,   d_g = i (1 - g^2)                 da_o = dh_t * d_o, d_o = tanh(c_t) o (1 - o)
    dc_{t-1} = dc * f                                    dh_{t-1} += W_hh^T da_t     (the recurrence)
    dL/dW_hh = sum_t da_t^T h_{t-1}     dL/dW_ih = sum_t da_t^T x_t     dL/db = sum_t da_t     dL/dx_t = W_ih^T da_t
                                        (one matrix product each over all (t, b), after the loop)

The factors ``d_i, d_f, d_g, d_o`` and ``o (1 - tanh(c_t)^2)`` depend on forward values only. The forward pass
computes them at each step while that step's values are still in cache, writing ``d`` over the gate row it no
longer needs, so that a backward step is four element-wise products and the matrix product, instead of eleven
element-wise operations on values written long before (and evicted from cache since). Without a gradient to
compute (``torch.no_grad``, or no input that requires one) the forward pass skips them. The loop's views are
made before it, with one ``unbind`` per tensor: at small sizes, making them step by step cost more than the
arithmetic.

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


def lstm_forward(x: Tensor, weight_ih: Tensor, bias: Tensor | None, weight_hh: Tensor, h0: Tensor, c0: Tensor,
                 mask: Tensor | None, ragged_from: int, keep_factors: bool
                 ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...] | None]:
    """The forward recurrence of :func:`lstm_unroll`; with ``keep_factors`` also what the backward pass needs.

    Args:
        x, weight_ih, bias, weight_hh, h0, c0, mask, ragged_from: as for :func:`lstm_unroll`.
        keep_factors: compute and return the backward factors (``d_i .. d_o`` over the gate rows, ``f`` and
            ``o (1 - tanh(c_t)^2)``); False where no gradient will be asked for.

    Returns:
        ``(outputs, h_T, c_T, saved)``, ``saved`` being ``(factors (T, B, 4H), forget_gates (T, B, H),
        cell_factors (T, B, H), states (T, B, H))`` or None without ``keep_factors``.
    """
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
    gates = gates.view(steps, batch_size, 4 * H)  # (T, B, 4H): W_ih x + b, then the gates, then d_i .. d_o
    states = x.new_empty(steps, batch_size, H)  # (T, B, H): h_1 .. h_T
    # (B, 2H) each, used in turns: (g_t, c_{t-1}) side by side, so that one sigmoid_backward over the (i, f)
    # columns gives both d_i = g i (1 - i) and d_f = c_{t-1} f (1 - f); step t writes c_t into the other one
    pairs = (x.new_empty(batch_size, 2 * H), x.new_empty(batch_size, 2 * H))
    pairs[0][:, H:] = c0
    tanh_cell = x.new_empty(batch_size, H)  # (B, H)
    minus_one = x.new_full((), -1.0)
    weight_t = (weight_hh * scale).t()  # (H, 4H)
    # the per-step views made up front (one call per list, not several per step: it is the loop's overhead)
    rows, state_rows = gates.unbind(0), states.unbind(0)
    gate_views = [gates[:, :, k * H : (k + 1) * H].unbind(0) for k in range(4)]  # i, f, s, o
    input_forget_rows = gates[:, :, : 2 * H].unbind(0)
    pair_views = [(pair, pair[:, :H], pair[:, H:]) for pair in pairs]  # (g_t, c_{t-1}), g_t, c_{t-1}
    if keep_factors:
        forget_gates = x.new_empty(steps, batch_size, H)  # (T, B, H): f_t
        cell_factors = x.new_empty(steps, batch_size, H)  # (T, B, H): o_t (1 - tanh(c_t)^2)
        forget_rows, cell_factor_rows = forget_gates.unbind(0), cell_factors.unbind(0)
    h = h0
    for t in range(steps):
        a, h_t = rows[t], state_rows[t]
        i, f, s, o = (views[t] for views in gate_views)
        pair, g, c_previous = pair_views[t % 2]
        c = pair_views[(t + 1) % 2][2]
        a.addmm_(h, weight_t)  # a_t = W_ih x_t + b + W_hh h_{t-1} (g rows doubled)
        a.sigmoid_()  # i, f, s, o
        torch.add(minus_one, s, alpha=2.0, out=g)  # g = 2s - 1 = tanh(a_g)
        torch.mul(f, c_previous, out=c)
        c.addcmul_(i, g)  # c_t = f * c_{t-1} + i * g
        torch.tanh(c, out=tanh_cell)
        torch.mul(o, tanh_cell, out=h_t)  # h_t = o * tanh(c_t)
        if mask is not None and t >= ragged_from:  # ended sequences keep their state
            torch.where(mask[t], h_t, h, out=h_t)
            torch.where(mask[t], c, c_previous, out=c)
        if keep_factors:  # dL/da_t = (dc d_i, dc d_f, dc d_g, dh d_o): row t of gates becomes (d_i, d_f, d_g, d_o)
            _tanh_backward(o, tanh_cell, grad_input=cell_factor_rows[t])  # dc_t gets dh_t o (1 - tanh(c_t)^2)
            forget_rows[t].copy_(f)  # dc_{t-1} = dc_t f
            _tanh_backward(i, g, grad_input=s)  # d_g = i (1 - g^2)
            _sigmoid_backward(pair, input_forget_rows[t], grad_input=input_forget_rows[t])  # d_i = g i (1 - i), d_f
            _sigmoid_backward(tanh_cell, o, grad_input=o)  # d_o = tanh(c_t) o (1 - o)
        h = h_t
    c_last = pairs[steps % 2][:, H:]
    outputs = states if mask is None else states * mask  # (T, B, H): 0 past each sequence's end
    saved = (gates, forget_gates, cell_factors, states) if keep_factors else None
    return outputs, states[-1].clone(), c_last.clone(), saved


class LSTMUnroll(torch.autograd.Function):
    """``(x (T, B, I), weight_ih (4H, I), bias (4H) | None, weight_hh (4H, H), h0 (B, H), c0 (B, H),
    mask (T, B, 1) | None, ragged_from)`` -> ``(outputs (T, B, H), h_T (B, H), c_T (B, H))``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight_ih: Tensor, bias: Tensor | None, weight_hh: Tensor, h0: Tensor, c0: Tensor,
                mask: Tensor | None, ragged_from: int) -> tuple[Tensor, Tensor, Tensor]:
        outputs, h, c, saved = lstm_forward(x, weight_ih, bias, weight_hh, h0, c0, mask, ragged_from, True)
        ctx.save_for_backward(x, weight_ih, weight_hh, *saved, h0, mask)
        ctx.ragged_from = ragged_from
        ctx.has_bias = bias is not None
        return outputs, h, c

    @staticmethod
    def backward(ctx, grad_outputs: Tensor, grad_h: Tensor, grad_c: Tensor):
        x, weight_ih, weight_hh, factors, forget_gates, cell_factors, states, h0, mask = ctx.saved_tensors
        steps, batch_size, gate_size = factors.shape
        H = gate_size // 4
        if mask is not None:
            grad_outputs = grad_outputs * mask  # the output is 0 (a constant) past each end
        grad_gates = torch.empty_like(factors)  # (T, B, 4H): dL/da_t
        dc = factors.new_empty(batch_size, H)  # (B, H)
        dc_per_gate = dc.unsqueeze(1)  # (B, 1, H)
        dh = grad_h + grad_outputs[-1]  # (B, H): gradient reaching h_T
        grad_c = grad_c.clone()  # (B, H): gradient reaching c_T from later steps
        # the per-step views made up front; (B, 3, H) views of the i, f, g columns and (B, H) ones of the o columns
        grad_rows, grad_outputs_rows = grad_gates.unbind(0), grad_outputs.unbind(0)
        d_ifg, da_ifg = (tensor.view(steps, batch_size, 4, H)[:, :, :3].unbind(0) for tensor in (factors, grad_gates))
        d_o, da_o = (tensor[:, :, 3 * H :].unbind(0) for tensor in (factors, grad_gates))
        forget_rows, cell_factor_rows = forget_gates.unbind(0), cell_factors.unbind(0)
        for t in range(steps - 1, -1, -1):
            masked = mask is not None and t >= ctx.ragged_from
            if masked:
                m = mask[t]  # (B, 1)
                carried_h, carried_c = dh * ~m, grad_c * ~m  # gradients of carried states go straight back
                dh = dh * m
                grad_c = grad_c * m
            torch.addcmul(grad_c, dh, cell_factor_rows[t], out=dc)  # dc = dc_t + dh_t * o * (1 - tanh(c_t)^2)
            torch.mul(dc_per_gate, d_ifg[t], out=da_ifg[t])  # da_i, da_f, da_g = dc * (d_i, d_f, d_g)
            torch.mul(dh, d_o[t], out=da_o[t])  # da_o = dh * d_o
            torch.mul(dc, forget_rows[t], out=grad_c)  # dc_{t-1}
            da = grad_rows[t]  # (B, 4H)
            if t == 0:
                dh = da @ weight_hh
            elif masked:
                dh = torch.addmm(carried_h + grad_outputs_rows[t - 1], da, weight_hh)
            else:
                dh = torch.addmm(grad_outputs_rows[t - 1], da, weight_hh)  # dh_{t-1} = out grad + W_hh^T da_t
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
    inputs = (x, weight_ih, bias, weight_hh, h0, c0)
    if torch.is_grad_enabled() and any(tensor is not None and tensor.requires_grad for tensor in inputs):
        return LSTMUnroll.apply(*inputs, mask, ragged_from)
    return lstm_forward(*inputs, mask, ragged_from, keep_factors=False)[:3]
