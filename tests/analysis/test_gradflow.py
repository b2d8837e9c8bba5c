"""gradient_flow against direct computations: per-step gradients by autograd, Jacobians of a linear RNN."""

from __future__ import annotations

import pytest
import torch

from rnnkit.analysis import LongDepData, adding_problem, decay_distance, gradient_flow, summarize
from rnnkit.analysis.sequence_model import CELLS, SequenceModel
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.nn import Recurrent
from rnnkit.nn.cells import RecurrentCell

# torch.func's forward-mode AD (the power iteration's Jv) warns about torch.jit.script internally
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


class LinearCell(RecurrentCell):
    """h_t = W_ih x_t + W_hh h_{t-1}: the Jacobian dh_T/dh_k is exactly W_hh^(T-k)."""

    def step(self, x_projected, h):
        h = x_projected + h @ self.weight_hh.T
        return h, h


def _direct_grad_norms(model: SequenceModel, data) -> list[float]:
    """||dL_T/dh_k|| by running the layer to step k, cutting h_k out as a leaf, and running on to T."""
    model = model.double()
    inputs = data.inputs.double()
    T = inputs.shape[1]
    norms = []
    for k in range(1, T + 1):
        _, state = model.recurrent(inputs[:, :k])
        h_k = (state[0] if isinstance(state, tuple) else state).detach().requires_grad_(True)
        state = (h_k, state[1]) if isinstance(state, tuple) else h_k
        if k < T:
            _, state = model.recurrent(inputs[:, k:], state=state)
        h_T = (state[0] if isinstance(state, tuple) else state)[0]  # (B, H)
        loss = (model.readout(h_T)[:, 0] - data.targets.double()).pow(2).sum()
        (grad,) = torch.autograd.grad(loss, h_k)  # (1, B, H)
        norms.append(float(grad[0].norm(dim=1).mean()))
    return norms


@pytest.mark.parametrize("cell", CELLS)
def test_grad_norms_equal_direct_autograd(cell):
    torch.manual_seed(0)
    model = SequenceModel(2, 1, cell, hidden_size=5, forget_bias=1.0, backend="explicit")
    data = adding_problem(3, 7, seed=1)
    report = gradient_flow(model, data)
    expected = _direct_grad_norms(model, data)
    assert report["length"] == 7 and len(report["grad_norm"]) == 7 and len(report["jacobian_norm"]) == 7
    for got, want in zip(report["grad_norm"], expected, strict=True):
        assert got == pytest.approx(want, rel=1e-9)
    assert report["jacobian_norm"][-1] == pytest.approx(1.0)  # dh_T/dh_T = I
    assert ("forget_gate" in report) == (cell in ("lstm", "lnlstm"))


@pytest.mark.parametrize("method", ["exact", "power"])
def test_linear_rnn_jacobian_norms_are_matrix_power_norms(method):
    torch.manual_seed(3)
    layer = Recurrent(LinearCell, 2, 4, backend="explicit")
    if method == "power":  # singular values 1.2, 0.6, 0.3, 0.1 (a gap, so that 40 iterations converge)
        Q = torch.linalg.qr(torch.randn(4, 4))[0]
        with torch.no_grad():
            layer.weight_hh_l0.copy_(Q @ torch.diag(torch.tensor([1.2, 0.6, 0.3, 0.1])) @ Q.T)
    W = layer.weight_hh_l0.detach().double()
    T = 6
    report = gradient_flow(layer, torch.randn(2, T, 2), method=method, iterations=40)
    expected = [float(torch.linalg.matrix_norm(torch.linalg.matrix_power(W, T - k), ord=2)) for k in range(1, T + 1)]
    for got, want in zip(report["jacobian_norm"], expected, strict=True):
        assert got == pytest.approx(want, rel=1e-6)


def test_power_iteration_agrees_with_exact_on_lstm():
    torch.manual_seed(0)
    model = SequenceModel(2, 1, "lstm", hidden_size=4, backend="explicit")
    data = adding_problem(2, 8, seed=0)
    exact = gradient_flow(model, data, method="exact")["jacobian_norm"]
    power = gradient_flow(model, data, method="power", iterations=60)["jacobian_norm"]
    for a, b in zip(power, exact, strict=True):
        assert a == pytest.approx(b, rel=1e-3)


def test_clipping_caps_every_step_and_leaves_small_gradients_alone():
    torch.manual_seed(0)
    layer = Recurrent(LinearCell, 2, 4, backend="explicit")
    with torch.no_grad():
        layer.weight_hh_l0.copy_(2.0 * torch.eye(4))  # the gradient doubles at every step back: an explosion
    x = torch.randn(3, 10, 2)
    report = gradient_flow(layer, x, clip=5.0)
    plain, clipped = report["grad_norm"], report["grad_norm_clipped"]
    assert plain[0] == pytest.approx(2.0**9 * 2.0)  # dL/dh_T = ones(4), norm 2
    assert max(clipped) <= 5.0 + 1e-9
    assert clipped[-1] == pytest.approx(plain[-1]) and clipped[-2] == pytest.approx(plain[-2])  # 2 and 4: unclipped
    assert clipped[0] == pytest.approx(5.0)


def test_forget_gate_is_the_mean_sigmoid_of_the_forget_preactivation():
    torch.manual_seed(0)
    model = SequenceModel(2, 1, "lstm", hidden_size=3, forget_bias=1.0, backend="explicit")
    data = adding_problem(2, 4, seed=0)
    gates = gradient_flow(model, data)["forget_gate"]
    cell = torch.nn.LSTMCell(2, 3).double().requires_grad_(False)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in model.recurrent.state_dict().items()})
    h = c = torch.zeros(2, 3, dtype=torch.float64)
    for t in range(4):
        x = data.inputs[:, t].double()
        pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        assert gates[t] == pytest.approx(float(torch.sigmoid(pre[:, 3:6]).mean()), rel=1e-9)
        h, c = cell(x, (h, c))


def test_language_model_last_layer():
    torch.manual_seed(0)
    model = LanguageModel(11, LanguageModelConfig(cell="gru", embedding_size=4, hidden_size=5, num_layers=2,
                                                  dropout=0.0))
    ids = torch.randint(0, 11, (2, 6))
    report = gradient_flow(model, ids)
    assert report["length"] == 5 and all(value > 0 for value in report["grad_norm"])
    # direct: dL/dh_1 of the top layer through autograd on the whole model
    top = model.layers[-1].double()
    x = model.layers[0].double()(model.embedding.double()(ids[:, :-1]))[0].detach()
    _, h1 = top(x[:, :1])
    leaf = h1.detach().requires_grad_(True)
    output, _ = top(x[:, 1:], state=leaf)
    loss = torch.nn.functional.cross_entropy(model.decoder.double()(output[:, -1]), ids[:, -1], reduction="sum")
    (grad,) = torch.autograd.grad(loss, leaf)
    assert report["grad_norm"][0] == pytest.approx(float(grad[0].norm(dim=1).mean()), rel=1e-9)


def test_rnn_gradient_vanishes_faster_than_lstm_and_summary_says_so():
    torch.manual_seed(0)
    data = adding_problem(2, 40, seed=0)
    cells = {}
    for cell in ("rnn", "lstm"):
        torch.manual_seed(0)
        model = SequenceModel(2, 1, cell, hidden_size=16, forget_bias=1.0, backend="explicit")
        cells[cell] = {k: v for k, v in gradient_flow(model, data).items() if k != "length"}
    rnn, lstm = cells["rnn"]["grad_norm"], cells["lstm"]["grad_norm"]
    assert rnn[0] / rnn[-1] < lstm[0] / lstm[-1]
    text = summarize({"length": 40, "cells": cells})
    assert "rnn" in text and "lstm" in text and "forget gate" in text


def test_decay_distance():
    assert decay_distance([1e-7, 1e-3, 1e-1, 1.0]) == 3
    assert decay_distance([1e-6, 1.0]) == 1
    assert decay_distance([0.5, 1.0]) is None
    assert decay_distance([1e-9, 1e-5, 1.0]) == 2


def test_bad_arguments():
    model = SequenceModel(2, 1, "rnn", hidden_size=3, backend="explicit")
    with pytest.raises(ValueError, match="length of at least 2"):
        gradient_flow(model, LongDepData(torch.zeros(2, 1, 2), torch.zeros(2), "regression", 2, 1))
    with pytest.raises(ValueError, match="method"):
        gradient_flow(model, adding_problem(2, 3, seed=0), method="svd")
    with pytest.raises(ValueError, match="clip"):
        gradient_flow(model, adding_problem(2, 3, seed=0), clip=0)
    with pytest.raises(ValueError, match="expected a rnnkit.nn.Recurrent"):
        gradient_flow(torch.nn.Linear(2, 2), torch.zeros(1, 3, 2))
