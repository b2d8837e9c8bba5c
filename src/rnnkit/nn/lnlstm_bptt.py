r"""The layer-normalised LSTM recurrence of one layer and direction with backpropagation through time by hand.

:class:`~rnnkit.nn.LayerNormLSTMCell` (Ba et al. 2016) under autograd records ~20 nodes per step; this module runs
the same equations with one autograd Function for the whole sequence, as :mod:`rnnkit.nn.lstm_bptt` does for the
plain LSTM. The input side ``x_t = LN(W_ih x_t; gamma_ih, beta_ih)`` of all steps is computed before (by the cell's
``input_projection``, one matrix product and one normalisation for all T steps, recorded by autograd); this function
takes it and runs, for t = 1..T::

    u_t = W_hh h_{t-1}                                    (B, 4H): one matrix product per step
    a_t = x_t + LN(u_t; gamma_hh, beta_hh)                the gates' pre-activations, i, f, g, o
    i, f, o = sigma(a_i), sigma(a_f), sigma(a_o)          g = tanh(a_g)
    c_t = f c_{t-1} + i g                                 h_t = o tanh(LN(c_t; gamma_c, beta_c))

Backward, with ``dh_t`` the gradient reaching h_t and ``dc_t`` the one reaching c_t from step t+1, and
``LN'(dy)`` the layer-norm input gradient (torch's fused ``native_layer_norm_backward``, from the mean and
1/std kept by the forward pass)::

    dn   = dh_t * P,   P = o (1 - tanh(LN(c_t))^2)        gradient reaching LN(c_t)
    dc   = dc_t + LN'_c(dn)
    da_i = dc * d_i   d_i = g i (1 - i)      da_f = dc * d_f   d_f = c_{t-1} f (1 - f)
    da_g = dc * d_g   d_g = i (1 - g^2)      da_o = dh_t * d_o  d_o = tanh(LN(c_t)) o (1 - o)
    dc_{t-1} = dc * f                        du_t = LN'_hh(da_t)     dh_{t-1} = W_hh^T du_t (+ output gradient)
    dL/dx_t = da_t      dL/dW_hh = sum_t du_t^T h_{t-1}
    dL/dgamma_hh = sum_t da_t * LN-normalised u_t   dL/dbeta_hh = sum_t da_t   (likewise gamma_c, beta_c with dn)

The factors ``d_i .. d_o``, ``f`` and ``P`` come from the forward pass (computed while the step's values are in
cache); the parameter gradients of the norms and of ``W_hh`` are one product or reduction each after the loop.
Variable lengths as in :mod:`rnnkit.nn.lstm_bptt` (ended sequences carry their state, outputs 0). The results equal
the autograd loop over ``LayerNormLSTMCell.step`` (tests check values, gradients, and gradcheck in float64).

These are torch ops, ~23 per step; on CPU float32 / float64 tensors the same equations run in the fused C++ kernel
of :mod:`rnnkit.nn.lnlstm_native` when it could be built (~1.4x faster a training step: ``bench/README.md``), and
this module's Function is the path for everything else (CUDA, bfloat16, no compiler, ``RNNKIT_NATIVE=0``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .lnlstm_native import native_lnlstm_unroll, native_ops, native_supports

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # (dy, y, grad_input=out): out = dy * y * (1 - y)
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # (dy, y, grad_input=out): out = dy * (1 - y^2)
_norm_forward = torch.ops.aten.native_layer_norm.out  # (..., out0=normalised, out1=mean, out2=1/std)
_norm_backward_out = torch.ops.aten.native_layer_norm_backward.out  # (dy, x, shape, mean, rstd, weight, bias, mask,
#                                                                       out0=dx, out1=dgamma, out2=dbeta)

__all__ = ["lnlstm_cell_unroll", "lnlstm_unroll"]


def lnlstm_forward(x: Tensor, weight_hh: Tensor, norm_hh: tuple[Tensor, Tensor | None],
                   norm_cell: tuple[Tensor, Tensor | None], h0: Tensor, c0: Tensor, mask: Tensor | None,
                   ragged_from: int, eps: float, keep: bool) -> tuple[Tensor, Tensor, Tensor, dict | None]:
    """The forward recurrence of :func:`lnlstm_unroll`; with ``keep``, also what the backward pass reads.

    Every intermediate is written in place into a buffer made before the loop (the norms through their ``out=``
    forms), so a step allocates nothing and copies nothing; the loop's views are made up front, one ``unbind`` per
    buffer.
    """
    steps, batch_size, gate_size = x.shape
    H = gate_size // 4
    weight_t = weight_hh.t()  # (H, 4H)
    states = x.new_empty(steps, batch_size, H)  # h_1 .. h_T
    cells = x.new_empty(steps + 1, batch_size, H)  # c_0 .. c_T
    cells[0] = c0
    rows = 1 if not keep else steps  # without a backward pass, one row of each buffer is reused at every step
    recurrent = x.new_empty(rows, batch_size, gate_size)  # u_t
    # i, f, g, o: one row used at every step (it stays in cache; the backward reads only f, kept aside, and the
    # factors made from the row while it is hot)
    activations = x.new_empty(1, batch_size, gate_size)
    factors = x.new_empty(rows, batch_size, gate_size)  # d_i, d_f, d_g, d_o
    forget_gates = x.new_empty(rows, batch_size, H)  # f_t
    cell_factors = x.new_empty(rows, batch_size, H)  # P
    moments = x.new_empty(4, rows, batch_size, 1)  # mean and 1/std of u_t, then of c_t
    pre = x.new_empty(batch_size, gate_size)  # a_t
    tanh_cell = x.new_empty(batch_size, H)  # tanh(LN(c_t))
    x_rows, state_rows, cell_rows = x.unbind(0), states.unbind(0), cells.unbind(0)
    u_rows, p_rows, forget_rows = (t.unbind(0) for t in (recurrent, cell_factors, forget_gates))
    activation = activations[0]
    i, f, g, o = activation.split(H, dim=1)  # (B, H) views of the one activation row
    factor_views = [factors[:, :, k * H : (k + 1) * H].unbind(0) for k in range(4)]
    moment_rows = [part.unbind(0) for part in moments.unbind(0)]
    pre_g = pre[:, 2 * H : 3 * H]
    h = h0
    for t in range(steps):
        r = t if keep else 0
        u = u_rows[r]
        torch.mm(h, weight_t, out=u)  # u_t = W_hh h_{t-1}
        _norm_forward(u, (gate_size,), *norm_hh, eps, out0=pre, out1=moment_rows[0][r], out2=moment_rows[1][r])
        pre.add_(x_rows[t])  # a_t
        torch.sigmoid(pre, out=activation)  # i, f, o (and sigma(a_g), overwritten next)
        torch.tanh(pre_g, out=g)
        c_previous, c = cell_rows[t], cell_rows[t + 1]
        torch.mul(f, c_previous, out=c)
        c.addcmul_(i, g)  # c_t = f c_{t-1} + i g
        _norm_forward(c, (H,), *norm_cell, eps, out0=tanh_cell, out1=moment_rows[2][r], out2=moment_rows[3][r])
        tanh_cell.tanh_()
        h_t = state_rows[t]
        torch.mul(o, tanh_cell, out=h_t)  # h_t = o tanh(LN(c_t))
        if keep:
            d_i, d_f, d_g, d_o = (views[r] for views in factor_views)
            _sigmoid_backward(g, i, grad_input=d_i)  # g i (1 - i)
            _sigmoid_backward(c_previous, f, grad_input=d_f)  # c_{t-1} f (1 - f)
            _tanh_backward(i, g, grad_input=d_g)  # i (1 - g^2)
            _sigmoid_backward(tanh_cell, o, grad_input=d_o)  # tanh(LN(c)) o (1 - o)
            _tanh_backward(o, tanh_cell, grad_input=p_rows[r])  # P = o (1 - tanh(LN(c))^2)
            forget_rows[r].copy_(f)  # dc_{t-1} = dc f
        if mask is not None and t >= ragged_from:  # ended sequences keep their state
            torch.where(mask[t], h_t, h, out=h_t)
            torch.where(mask[t], c, c_previous, out=c)
        h = h_t
    outputs = states if mask is None else states * mask  # (T, B, H): 0 past each sequence's end
    saved = None
    if keep:
        saved = {"recurrent": recurrent, "factors": factors, "forget_gates": forget_gates,
                 "cell_factors": cell_factors, "moments": moments, "states": states, "cells": cells}
    return outputs, states[-1].clone(), cells[-1].clone(), saved


class LayerNormLSTMUnroll(torch.autograd.Function):
    """``(x (T, B, 4H), weight_hh, gamma_hh, beta_hh | None, gamma_c, beta_c | None, h0, c0, mask | None,
    ragged_from, eps)`` -> ``(outputs (T, B, H), h_T, c_T)``; ``x`` the normalised input projections."""

    @staticmethod
    def forward(ctx, x, weight_hh, gamma_hh, beta_hh, gamma_c, beta_c, h0, c0, mask, ragged_from, eps):
        outputs, h, c, saved = lnlstm_forward(x, weight_hh, (gamma_hh, beta_hh), (gamma_c, beta_c), h0, c0, mask,
                                              ragged_from, eps, True)
        ctx.save_for_backward(weight_hh, gamma_hh, gamma_c, h0, mask, *saved.values())
        ctx.ragged_from, ctx.eps = ragged_from, eps
        ctx.has_bias = (beta_hh is not None, beta_c is not None)
        return outputs, h, c

    @staticmethod
    def backward(ctx, grad_outputs: Tensor, grad_h: Tensor, grad_c: Tensor):
        (weight_hh, gamma_hh, gamma_c, h0, mask, recurrent, factors, forget_gates, cell_factors, moments, states,
         cells) = ctx.saved_tensors
        steps, batch_size, gate_size = factors.shape
        H = gate_size // 4
        if mask is not None:
            grad_outputs = grad_outputs * mask  # the output is 0 (a constant) past each end
        grad_gates = torch.empty_like(factors)  # (T, B, 4H): dL/da_t = dL/dx_t
        recurrent_grads = torch.empty_like(factors)  # (T, B, 4H): du_t
        # the norms' weight and bias gradients of every step, written by the fused norm backward (out= forms, so a
        # step allocates nothing) and summed over the steps after the loop: (T, 4H) for gamma_hh/beta_hh, (T, H)
        norm_rows = [factors.new_empty(steps, size) for size in (gate_size, gate_size, H, H)]
        # the out= form wants all three outputs computed (it rejects an unrequested one), so the norm-parameter
        # gradients are always formed (two reductions over (B, 4H) and (B, H) per step) and returned if wanted;
        # the norm backward reads its bias argument for the shape of the bias gradient only: gamma stands in
        every = [True, True, True]
        wanted_hh = [True, ctx.needs_input_grad[2], ctx.has_bias[0] and ctx.needs_input_grad[3]]
        wanted_c = [True, ctx.needs_input_grad[4], ctx.has_bias[1] and ctx.needs_input_grad[5]]
        mean_u, rstd_u, mean_c, rstd_c = (part.unbind(0) for part in moments.unbind(0))
        factor_ifg = factors.view(steps, batch_size, 4, H)[:, :, :3].unbind(0)  # (B, 3, H) views
        grad_ifg = grad_gates.view(steps, batch_size, 4, H)[:, :, :3].unbind(0)
        factor_o, grad_o = factors[:, :, 3 * H :].unbind(0), grad_gates[:, :, 3 * H :].unbind(0)
        gate_rows, du_rows, cell_rows, u_rows = (t.unbind(0) for t in (grad_gates, recurrent_grads, cells, recurrent))
        forget_rows, p_rows, output_rows = forget_gates.unbind(0), cell_factors.unbind(0), grad_outputs.unbind(0)
        gamma_hh_rows, beta_hh_rows, gamma_c_rows, beta_c_rows = (t.unbind(0) for t in norm_rows)
        dn, dc = factors.new_empty(batch_size, H), factors.new_empty(batch_size, H)
        dh_buffers = (factors.new_empty(batch_size, H), factors.new_empty(batch_size, H))
        dc_buffers = (factors.new_empty(batch_size, H), factors.new_empty(batch_size, H))
        dh = torch.add(grad_h, output_rows[-1], out=dh_buffers[steps % 2])
        dc_next = dc_buffers[steps % 2].copy_(grad_c)
        for t in range(steps - 1, -1, -1):
            masked = mask is not None and t >= ctx.ragged_from
            if masked:
                m = mask[t]
                carried_h, carried_c = dh * ~m, dc_next * ~m
                dh, dc_next = dh * m, dc_next * m
            torch.mul(dh, p_rows[t], out=dn)  # (B, H): gradient reaching LN(c_t)
            _norm_backward_out(dn, cell_rows[t + 1], (H,), mean_c[t], rstd_c[t], gamma_c, gamma_c, every,
                               out0=dc, out1=gamma_c_rows[t], out2=beta_c_rows[t])
            dc += dc_next  # dc = dc_t + LN'_c(dn)
            torch.mul(dc.unsqueeze(1), factor_ifg[t], out=grad_ifg[t])  # da_i, da_f, da_g
            torch.mul(dh, factor_o[t], out=grad_o[t])  # da_o
            dc_next = torch.mul(dc, forget_rows[t], out=dc_buffers[t % 2])  # dc_{t-1}
            du = du_rows[t]
            _norm_backward_out(gate_rows[t], u_rows[t], (gate_size,), mean_u[t], rstd_u[t], gamma_hh, gamma_hh,
                               every, out0=du, out1=gamma_hh_rows[t], out2=beta_hh_rows[t])
            previous_grad = output_rows[t - 1] if t > 0 else None
            if masked:
                previous_grad = carried_h if previous_grad is None else previous_grad + carried_h
                dc_next = dc_next + carried_c
            if previous_grad is None:
                dh = du @ weight_hh
            else:  # dh_{t-1} = W_hh^T du_t + the output gradient at t-1
                dh = torch.addmm(previous_grad, du, weight_hh, out=dh_buffers[t % 2])
        flat_du = recurrent_grads.view(steps * batch_size, gate_size)  # (T*B, 4H)
        grads = [grad_gates if ctx.needs_input_grad[0] else None, None, None, None, None, None, dh, dc_next]
        if ctx.needs_input_grad[1]:  # sum_t du_t^T h_{t-1}: h_0, then the states h_1 .. h_{T-1}
            later = flat_du[batch_size:]  # ((T-1)*B, 4H)
            grads[1] = torch.addmm(flat_du[:batch_size].t() @ h0, later.t(), states[:-1].reshape(-1, H))  # (4H, H)
        for index, wanted, rows in ((2, wanted_hh[1], norm_rows[0]), (3, wanted_hh[2], norm_rows[1]),
                                    (4, wanted_c[1], norm_rows[2]), (5, wanted_c[2], norm_rows[3])):
            if wanted:
                grads[index] = rows.sum(0)
        return (*grads, None, None, None)


def lnlstm_unroll(x: Tensor, weight_hh: Tensor, gamma_hh: Tensor, beta_hh: Tensor | None, gamma_c: Tensor,
                  beta_c: Tensor | None, h0: Tensor, c0: Tensor, mask: Tensor | None = None, ragged_from: int = 0,
                  eps: float = 1e-5, native: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Run one layer-normalised LSTM direction over the normalised input projections ``x (T, B, 4H)``.

    CPU float32 / float64 tensors run in the fused C++ kernel of :mod:`rnnkit.nn.lnlstm_native` when it could be
    built (the same equations, one fused loop per step); everything else, or ``native=False``, or
    ``RNNKIT_NATIVE=0``, runs the torch ops of this module.

    Args:
        x: ``LN(W_ih x_t)`` of every step (the cell's ``input_projection``), time first.
        weight_hh: recurrent weights ``(4H, H)``, gates i, f, g, o.
        gamma_hh, beta_hh: the recurrent pre-activations' norm ``(4H,)`` (beta None without biases).
        gamma_c, beta_c: the cell state's norm ``(H,)``.
        h0, c0: initial states ``(B, H)``.
        mask: ``(T, B, 1)`` booleans, True at real steps, or None when every sequence fills all T steps.
        ragged_from: the first step at which some mask entry is False.
        eps: the norms' epsilon.
        native: whether the C++ kernel may be used (False: this module's torch ops, e.g. to compare them).

    Returns:
        ``(outputs (T, B, H), h_T (B, H), c_T (B, H))``, outputs 0 past each sequence's end.
    """
    inputs = (x, weight_hh, gamma_hh, beta_hh, gamma_c, beta_c, h0, c0)
    if native and native_supports(*inputs) and native_ops() is not None:
        return native_lnlstm_unroll(*inputs, mask, ragged_from, eps)
    if torch.is_grad_enabled() and any(tensor is not None and tensor.requires_grad for tensor in inputs):
        return LayerNormLSTMUnroll.apply(*inputs, mask, ragged_from, eps)
    return lnlstm_forward(x, weight_hh, (gamma_hh, beta_hh), (gamma_c, beta_c), h0, c0, mask, ragged_from, eps,
                          False)[:3]


def lnlstm_cell_unroll(cell, sequence: Tensor, h0: Tensor, c0: Tensor, mask: Tensor | None = None,
                       ragged_from: int = 0, native: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Run a :class:`~rnnkit.nn.LayerNormLSTMCell` over ``sequence (T, B, I)``: the layer's path.

    The input projection ``W_ih x_t`` of all steps is one matrix product; its norm ``LN(.; gamma_ih, beta_ih)``
    runs inside the C++ kernel's row loop when the kernel is used (see :func:`lnlstm_unroll`), else as the cell's
    ``input_projection`` before :func:`lnlstm_unroll`. Returns ``(outputs (T, B, H), h_T, c_T)``.
    """
    recurrence = (cell.weight_hh, cell.norm_hh_weight, cell.norm_hh_bias, cell.norm_cell_weight, cell.norm_cell_bias)
    if native and native_supports(sequence, cell.weight_ih, *recurrence, h0, c0) and native_ops() is not None:
        return native_lnlstm_unroll(F.linear(sequence, cell.weight_ih), *recurrence, h0, c0, mask, ragged_from,
                                    cell.eps, input_norm=(cell.norm_ih_weight, cell.norm_ih_bias))
    return lnlstm_unroll(cell.input_projection(sequence), *recurrence, h0, c0, mask, ragged_from, cell.eps,
                         native=False)
