r"""How far back does the gradient reach? Per-step gradient and Jacobian norms of a recurrent layer.

Backpropagation through time multiplies one Jacobian per step. For a loss :math:`L_T` read from the last
state :math:`h_T` of a layer with state :math:`s_t = f_t(s_{t-1})` (:math:`s = h`, or :math:`(h, c)` for LSTMs):

.. math::
    \frac{\partial L_T}{\partial h_k} = \Big(\frac{\partial h_T}{\partial h_k}\Big)^{\!\top}
        \frac{\partial L_T}{\partial h_T}, \qquad
    \frac{\partial h_T}{\partial h_k} = \frac{\partial h_T}{\partial s_{T-1}} \cdots
        \frac{\partial s_{k+1}}{\partial h_k}

For every k = 1..T, :func:`gradient_flow` reports

* ``grad_norm[k-1]``: :math:`\|\partial L_T / \partial h_k\|`, by backpropagation (with ``clip``, also the
  norms when the backpropagated state gradient is clipped to norm ``clip`` at every step, as Graves (2013) and
  Mikolov's RNNLM do: clipping caps an explosion, it cannot undo a decay);
* ``jacobian_norm[k-1]``: :math:`\|\partial h_T / \partial h_k\|_2`, the largest singular value, estimated by
  power iteration on :math:`J^\top J` with one forward-mode (:math:`Jv`) and one reverse-mode (:math:`J^\top u`)
  sweep per iteration; the sweeps carry the vectors of all k at once (stacked along the batch), so an
  iteration costs :math:`O(T^2)` cell steps but only :math:`2T` Python-level calls;
* ``forget_gate[t-1]`` (LSTM cells): the mean forget-gate activation :math:`\bar f_t` at step t. The cell path
  :math:`\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)` is what keeps the LSTM's gradient alive.

Norms are per sequence, then averaged over the batch. The computation runs in float64 on a copy of the model,
so gradients of 1e-200 do not underflow to zero.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import LayerNormLSTMCell, LSTMCell, Recurrent
from ..nn.cells import State
from .longdep import LongDepData
from .sequence_model import SequenceModel

EXACT_MAX_HIDDEN = 256  # method "auto": full Jacobians up to this hidden size, power iteration above
FinalLoss = Callable[[Tensor], Tensor]  # h_T (B, H) -> per-sequence losses (B,)


def _h(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def _map(state: State, fn: Callable[..., Tensor], *others: State) -> State:
    if isinstance(state, tuple):
        return tuple(fn(*parts) for parts in zip(state, *others, strict=True))
    return fn(state, *others)


def _with_h(state: State, h: Tensor) -> State:
    """``state`` with its h part replaced by ``h`` and every other part zero (a tangent entering at h)."""
    return (h, *(torch.zeros_like(part) for part in state[1:])) if isinstance(state, tuple) else h


def _row_norms(state: State) -> Tensor:
    """Per-row Euclidean norm over all parts of a state: ``(N,)``."""
    parts = state if isinstance(state, tuple) else (state,)
    return torch.sqrt(sum(part.pow(2).sum(dim=1) for part in parts))


class _Unrolled:
    """A single-direction layer unrolled by hand: projected inputs and the primal states ``s_0 .. s_T``."""

    def __init__(self, layer: Recurrent, inputs: Tensor) -> None:
        if layer.num_layers != 1 or layer.bidirectional:
            raise ValueError(f"layer: got {layer.num_layers} layer(s), bidirectional={layer.bidirectional}; "
                             "expected one unidirectional layer (pass the layer to analyse)")
        self.cell = layer.cells[0]
        sequence = inputs.transpose(0, 1) if layer.batch_first else inputs  # (T, B, I)
        self.steps, self.batch_size = sequence.shape[:2]
        self.projected = self.cell.input_projection(sequence).unbind(0)  # T x (B, G*H)
        state = self.cell.initial_state(self.batch_size, sequence)
        self.states = [state]  # s_0 .. s_T
        self.forget: list[float] = []
        for x_t in self.projected:
            if isinstance(self.cell, LSTMCell | LayerNormLSTMCell):
                self.forget.append(float(self._forget_gate(x_t, _h(state)).mean()))
            state = self.cell.step(x_t, state)[1]
            self.states.append(state)

    def _forget_gate(self, x_t: Tensor, h: Tensor) -> Tensor:
        if isinstance(self.cell, LayerNormLSTMCell):
            gates = x_t + self.cell.recurrent_projection(h)
        else:  # LSTMCell's input projection already holds both biases
            gates = torch.addmm(x_t, h, self.cell.weight_hh.T)
        return torch.sigmoid(gates.chunk(4, dim=1)[1])  # (B, H)

    def step(self, t: int, copies: int) -> Callable[[State], State]:
        """``f_t`` on ``copies`` stacked copies of the batch: ``s_{t-1} (copies*B, ...) -> s_t``."""
        x_t = self.projected[t - 1].repeat(copies, 1)
        return lambda state: self.cell.step(x_t, state)[1]

    def primal(self, t: int, copies: int) -> State:
        return _map(self.states[t], lambda part: part.repeat(copies, 1))


def _jacobian_vector(unrolled: _Unrolled, vectors: Tensor) -> Tensor:
    """``J_k v_k`` for every k: ``vectors (T, B, H)`` (row k-1 enters at h_k) -> ``(T, B, H)``.

    One forward-mode sweep; at step t the tangents of every k < t travel together, stacked along the batch.
    """
    T, B = unrolled.steps, unrolled.batch_size
    tangents = None  # tangents of s_{t-1} for k = 1 .. t-1: (k*B, ...)
    for t in range(1, T + 1):
        if tangents is not None:
            copies = t - 1
            _, tangents = torch.func.jvp(unrolled.step(t, copies), (unrolled.primal(t - 1, copies),), (tangents,))
        entering = _with_h(unrolled.states[t], vectors[t - 1])  # the tangent of k = t, at s_t
        tangents = entering if tangents is None else _map(tangents, lambda a, b: torch.cat([a, b]), entering)
    return _h(tangents).reshape(T, B, -1)


def _backward_step(unrolled: _Unrolled, t: int, copies: int, cotangents: State) -> State:
    """The cotangent of ``s_{t-1}`` from that of ``s_t``, for ``copies`` stacked copies of the batch."""
    primal = _map(unrolled.primal(t - 1, copies), lambda part: part.detach().requires_grad_(True))
    inputs = list(primal) if isinstance(primal, tuple) else [primal]
    with torch.enable_grad():
        output = unrolled.step(t, copies)(primal)
        outputs = list(output) if isinstance(output, tuple) else [output]
        given = list(cotangents) if isinstance(cotangents, tuple) else [cotangents]
        grads = torch.autograd.grad(outputs, inputs, given, allow_unused=True)
    grads = [torch.zeros_like(i) if g is None else g for i, g in zip(inputs, grads, strict=True)]
    return tuple(grads) if isinstance(primal, tuple) else grads[0]


def _vector_jacobian(unrolled: _Unrolled, covectors: Tensor) -> Tensor:
    """``J_k^T u_k`` for every k: ``covectors (T, B, H)`` (row k-1 is u_k at h_T) -> ``(T, B, H)``.

    One reverse-mode sweep; the cotangents of every k < t travel together, stacked along the batch (rows of
    k = 1 first), and leave the stack when the sweep reaches h_k.
    """
    T, B = unrolled.steps, unrolled.batch_size
    results = [None] * T
    cotangents = _with_h(unrolled.primal(T, T), covectors.reshape(T * B, -1))
    for t in range(T, 0, -1):  # rows of k = 1 .. t are on the stack; the last B rows belong to k = t
        results[t - 1] = _h(cotangents)[-B:]
        if t > 1:
            rows = (t - 1) * B
            cotangents = _backward_step(unrolled, t, t - 1, _map(cotangents, lambda part, rows=rows: part[:rows]))
    return torch.stack(results)  # (T, B, H)


def jacobian_norms(unrolled: _Unrolled, iterations: int = 20, seed: int = 0) -> list[float]:
    """Power-iteration estimate of ``||dh_T/dh_k||_2`` for k = 1..T, averaged over the batch."""
    generator = torch.Generator().manual_seed(seed)
    like = _h(unrolled.states[0])
    v = torch.randn(unrolled.steps, unrolled.batch_size, like.shape[1], generator=generator, dtype=torch.float64)
    v = v.to(like)
    v = v / v.norm(dim=2, keepdim=True)
    for _ in range(iterations):
        w = _vector_jacobian(unrolled, _jacobian_vector(unrolled, v))  # J^T J v
        v = w / w.norm(dim=2, keepdim=True).clamp_min(1e-300)
    sigma = _jacobian_vector(unrolled, v).norm(dim=2)  # (T, B)
    return sigma.mean(dim=1).tolist()


def exact_jacobian_norms(unrolled: _Unrolled) -> list[float]:
    """``||dh_T/dh_k||_2`` for k = 1..T from the full Jacobians, averaged over the batch.

    One reverse sweep carries the H rows of ``dh_T/ds_t`` (cotangents ``e_1 .. e_H`` at h_T) for every sequence;
    at each step the h part is the Jacobian ``dh_T/dh_t`` (B, H, H), whose largest singular value is exact.
    Cost: T steps on B*H rows, against 2 * iterations sweeps on up to T*B rows for :func:`jacobian_norms`.
    """
    T, B = unrolled.steps, unrolled.batch_size
    like = _h(unrolled.states[T])
    H = like.shape[1]
    basis = torch.eye(H, dtype=like.dtype).repeat_interleave(B, dim=0)  # row i*B + b: e_i for sequence b
    cotangents = _with_h(unrolled.primal(T, H), basis)
    norms = [0.0] * T
    for t in range(T, 0, -1):
        jacobian = _h(cotangents).reshape(H, B, H).transpose(0, 1)  # (B, H, H): [b, i, j] = dh_T,i / dh_t,j
        norms[t - 1] = float(torch.linalg.matrix_norm(jacobian, ord=2).mean())
        if t > 1:
            cotangents = _backward_step(unrolled, t, H, cotangents)
    return norms


def gradient_sweep(unrolled: _Unrolled, final_loss: FinalLoss, clip: float | None = None) -> Tensor:
    """``dL_T/dh_k`` for k = 1..T by one reverse sweep: ``(T, B, H)``.

    With ``clip``, the state gradient of each sequence is rescaled to norm <= ``clip`` at every step before it
    is passed back (per-step clipping).
    """
    T = unrolled.steps
    h_T = _h(unrolled.states[T]).detach().requires_grad_(True)
    with torch.enable_grad():
        (top,) = torch.autograd.grad(final_loss(h_T).sum(), h_T)  # (B, H)
    cotangent = _clip(_with_h(unrolled.states[T], top), clip)
    results = [_h(cotangent)]
    for t in range(T, 1, -1):
        cotangent = _clip(_backward_step(unrolled, t, 1, cotangent), clip)
        results.append(_h(cotangent))
    return torch.stack(results[::-1])  # (T, B, H)


def _clip(state: State, clip: float | None) -> State:
    if clip is None:
        return state
    scale = (clip / _row_norms(state).clamp_min(1e-300)).clamp(max=1.0).unsqueeze(1)  # (N, 1)
    return _map(state, lambda part: part * scale)


def _final_loss_of(model: nn.Module, batch: Any) -> tuple[Recurrent, Tensor, FinalLoss]:
    """The layer to analyse, its input ``(B, T, I)`` and the per-sequence loss of its last state."""
    from ..models import LanguageModel

    if isinstance(model, Recurrent):
        if not isinstance(batch, Tensor) or not batch.is_floating_point():
            raise ValueError("batch: for a Recurrent layer, expected a float tensor of inputs (B, T, I)")
        return model, batch.to(torch.float64), lambda h: h.sum(dim=1)
    if isinstance(model, SequenceModel):
        if not isinstance(batch, LongDepData):
            raise ValueError(f"batch: got {type(batch).__name__}; expected a LongDepData for a SequenceModel")
        inputs = model.features(batch.inputs).to(torch.float64)
        targets = batch.targets if batch.kind != "sequence" else batch.targets[:, -1]
        if batch.kind == "regression":
            return model.recurrent, inputs, lambda h: (model.readout(h)[:, 0] - targets.to(h)).pow(2)
        return model.recurrent, inputs, lambda h: F.cross_entropy(model.readout(h), targets, reduction="none")
    if isinstance(model, LanguageModel):
        if not isinstance(batch, Tensor) or batch.dim() != 2 or batch.shape[1] < 3 or batch.is_floating_point():
            raise ValueError("batch: for a LanguageModel, expected token ids (B, T+1) with T >= 2: the model reads "
                             "T tokens and the loss is that of predicting the last one")
        x = model.embedding(batch[:, :-1])  # (B, T, E)
        for layer in model.layers[:-1]:
            x = layer(x)[0]
        return model.layers[-1], x, lambda h: F.cross_entropy(model.decoder(h), batch[:, -1], reduction="none")
    raise ValueError(f"model: got {type(model).__name__}; expected a rnnkit.nn.Recurrent layer, an "
                     "analysis SequenceModel or a LanguageModel")


def gradient_flow(model: nn.Module, batch: Any, *, clip: float | None = None, method: str = "auto",
                  iterations: int = 20, seed: int = 0) -> dict[str, Any]:
    r"""Per-step gradient norms, Jacobian-product norms and forget-gate activity; see the module docstring.

    Args:
        model: a :class:`rnnkit.nn.Recurrent` layer (one layer, one direction; the loss is
            :math:`L_T = \sum_i h_{T,i}`), a :class:`~rnnkit.analysis.sequence_model.SequenceModel` (the loss of
            its task at the last step), or a :class:`~rnnkit.models.LanguageModel` (the cross-entropy of the last
            token; its last layer is analysed, the layers below give its input).
        batch: inputs ``(B, T, I)`` for a layer, a :class:`~rnnkit.analysis.longdep.LongDepData` for a
            SequenceModel, token ids ``(B, T+1)`` for a language model.
        clip: also report the gradient norms with the state gradient clipped to this norm at every step.
        method: how ``jacobian_norm`` is computed: ``"exact"`` (full Jacobians, one sweep on B*H rows),
            ``"power"`` (power iteration, for large H), or ``"auto"`` (exact up to H = 256).
        iterations: power iterations per Jacobian-norm estimate (method "power").
        seed: seeds the power iteration's start vectors.

    Returns:
        ``{"length": T, "grad_norm": [...], "jacobian_norm": [...]}`` with lists indexed by k = 1..T (the last
        entry is k = T: distance 0), plus ``"forget_gate"`` (LSTM cells: the mean forget gate at each step t)
        and ``"grad_norm_clipped"`` and ``"clip"`` when ``clip`` is given.
    """
    if clip is not None and not (isinstance(clip, int | float) and not isinstance(clip, bool) and clip > 0):
        raise ValueError(f"clip: got {clip!r}; expected a positive number or None")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations: got {iterations!r}; expected a positive integer")
    if method not in ("auto", "exact", "power"):
        raise ValueError(f"method: got {method!r}; expected 'auto', 'exact' or 'power'")
    model = copy.deepcopy(model).double().eval()  # float64: long products of small factors must not underflow
    with torch.no_grad():
        layer, inputs, final_loss = _final_loss_of(model, batch)
        if inputs.shape[1] < 2:
            raise ValueError(f"batch: got {inputs.shape[1]} step(s); expected a length of at least 2")
        unrolled = _Unrolled(layer, inputs)
        report: dict[str, Any] = {"length": unrolled.steps}
        report["grad_norm"] = gradient_sweep(unrolled, final_loss).norm(dim=2).mean(dim=1).tolist()
        if method == "exact" or (method == "auto" and _h(unrolled.states[0]).shape[1] <= EXACT_MAX_HIDDEN):
            report["jacobian_norm"] = exact_jacobian_norms(unrolled)
        else:
            report["jacobian_norm"] = jacobian_norms(unrolled, iterations, seed)
        if unrolled.forget:
            report["forget_gate"] = unrolled.forget
        if clip is not None:
            report["clip"] = clip
            report["grad_norm_clipped"] = gradient_sweep(unrolled, final_loss, clip).norm(dim=2).mean(dim=1).tolist()
    return report


def decay_distance(norms: list[float], factor: float = 1e6) -> int | None:
    """The smallest distance T - k at which ``norms[k-1] <= norms[T-1] / factor``; None if it never falls so far."""
    last = norms[-1]
    for distance in range(1, len(norms)):
        if norms[-1 - distance] <= last / factor:
            return distance
    return None


def summarize(report: dict[str, Any], factor: float = 1e6) -> str:
    """A few lines per cell of ``{"length": T, "cells": {...}}``: where the gradient falls ``factor``-fold."""
    T = report["length"]
    lines = [f"gradient flow over T = {T} steps (norms at distance T-1 relative to distance 0):"]
    for cell, values in report["cells"].items():
        grad, jacobian = values["grad_norm"], values["jacobian_norm"]
        distance = decay_distance(grad, factor)
        falls = (f"falls {factor:.0e}-fold by distance {distance}" if distance is not None
                 else f"does not fall {factor:.0e}-fold within {T - 1} steps")
        ratio = grad[0] / grad[-1] if grad[-1] > 0 else math.nan
        line = f"  {cell:7s} gradient {falls}; |dL/dh_1| / |dL/dh_T| = {ratio:.2e}; |dh_T/dh_1| = {jacobian[0]:.2e}"
        if "forget_gate" in values:
            gate = values["forget_gate"]
            line += f"; mean forget gate {sum(gate) / len(gate):.3f}"
        lines.append(line)
    return "\n".join(lines)
