"""Hand-written BPTT against central finite differences, entry by entry, in float64.

    ∂L/∂θ ≈ (L(θ + ε) - L(θ - ε)) / 2ε,   ε = 1e-6, truncation error O(ε²) ≈ 1e-12

compared as ||analytic - numeric|| / max(||analytic||, ||numeric||) < 1e-7 for every array (all weights,
readout, inputs, initial states), and entry by entry with an absolute floor for the round-off of L / ε.

The round-off of L(θ ± ε) is divided by 2ε, so it sets the floor (about u·|L|/ε ≈ 1e-9 here). To keep it
low, the test differences the loss term by term, Σ_t (ℓ_t(θ + ε) - ℓ_t(θ - ε)), rather than two totals; the
ℓ_t are written out here again from the lecture's formulas, and their sum is checked against the library's L.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.reference import (
    ElmanParams,
    LSTMParams,
    ReadoutParams,
    backward,
    forward,
    sequence_loss_and_grads,
)

T, B, D, H, K = 5, 2, 3, 4, 3  # steps, batch, input size, hidden size, outputs
EPS = 1e-6
CELLS = [("elman", "tanh"), ("elman", "relu"), ("lstm", "tanh")]
CELL_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


def _problem(cell: str, nonlinearity: str, loss: str, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = ElmanParams if cell == "elman" else LSTMParams
    v = {**cls.init(D, H, rng).as_dict(), **ReadoutParams.init(H, K, rng).as_dict()}
    v["x"] = rng.normal(size=(T, B, D))
    v["h0"] = 0.5 * rng.normal(size=(B, H))
    if cell == "lstm":
        v["c0"] = 0.5 * rng.normal(size=(B, H))
    if loss == "squared":
        v["targets"] = rng.normal(size=(T, B, K))
    else:
        v["targets"] = rng.integers(0, K, size=(T, B))
    return v


def _params(cell: str, v: dict[str, np.ndarray]):
    cls = ElmanParams if cell == "elman" else LSTMParams
    return cls(**{k: v[k] for k in CELL_NAMES})


def _per_step_losses(cell: str, nonlinearity: str, loss: str, v) -> np.ndarray:
    """ℓ_t for every step and sequence, (T, B): ½||y_t - target_t||² or -log softmax(y_t)[target_t]."""
    hs, _ = forward(_params(cell, v), v["x"], v["h0"], v.get("c0"), nonlinearity=nonlinearity)
    y = hs @ v["W_hy"].T + v["b_y"]  # (T, B, K)
    if loss == "squared":
        return 0.5 * np.sum((y - v["targets"]) ** 2, axis=-1)
    z = y - y.max(axis=-1, keepdims=True)
    return np.log(np.exp(z).sum(axis=-1)) - np.take_along_axis(z, v["targets"][..., None], -1)[..., 0]


def _loss_and_grads(cell, nonlinearity, loss, v):
    readout = ReadoutParams(W_hy=v["W_hy"], b_y=v["b_y"])
    return sequence_loss_and_grads(
        _params(cell, v), readout, v["x"], v["targets"], loss=loss,
        h0=v["h0"], c0=v.get("c0"), nonlinearity=nonlinearity,
    )


def _relu_problem(loss: str) -> dict[str, np.ndarray]:
    """A relu problem far from the kink: every |a_t| > 1e-3, so a ±1e-6 nudge never flips a unit."""
    for seed in range(200):
        v = _problem("elman", "relu", loss, seed)
        _, cache = forward(_params("elman", v), v["x"], v["h0"], nonlinearity="relu")
        if np.abs(cache.a).min() > 1e-3 and (cache.a > 0).mean() > 0.4:
            return v
    raise AssertionError("no seed gave a relu problem away from the kink")


def _numeric_gradient(f, v: dict[str, np.ndarray], name: str) -> np.ndarray:
    """Central differences of Σ f(v), where f returns the loss's terms as an array."""
    grad = np.zeros_like(v[name])
    for idx in np.ndindex(v[name].shape):
        saved = v[name][idx]
        v[name][idx] = saved + EPS
        up = f(v)
        v[name][idx] = saved - EPS
        down = f(v)
        v[name][idx] = saved
        grad[idx] = np.sum(up - down) / (2 * EPS)
    return grad


def _assert_close(analytic: np.ndarray, numeric: np.ndarray, name: str) -> None:
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    assert scale > 1e-3, f"{name}: gradient too small to test"
    rel = np.linalg.norm(analytic - numeric) / scale
    assert rel < 1e-7, f"{name}: relative error {rel:.2e}"
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_sequence_loss_gradients_match_finite_differences(cell, nonlinearity, loss):
    v = _relu_problem(loss) if nonlinearity == "relu" else _problem(cell, nonlinearity, loss, seed=0)
    L, grads = _loss_and_grads(cell, nonlinearity, loss, v)
    assert L == pytest.approx(np.sum(_per_step_losses(cell, nonlinearity, loss, v)), rel=1e-13)
    names = [*CELL_NAMES, "W_hy", "b_y", "x", "h0"] + (["c0"] if cell == "lstm" else [])
    assert sorted(grads) == sorted(names)
    for name in names:
        numeric = _numeric_gradient(lambda w: _per_step_losses(cell, nonlinearity, loss, w), v, name)
        assert grads[name].shape == v[name].shape
        _assert_close(grads[name], numeric, name)


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_external_gradient_form_matches_finite_differences(cell, nonlinearity):
    """L = Σ_t h_t·R_t + h_T·r (+ c_T·q): backward(dhs=R, dh_final=r, dc_final=q) is its gradient."""
    v = _relu_problem("squared") if nonlinearity == "relu" else _problem(cell, nonlinearity, "squared", 1)
    rng = np.random.default_rng(7)
    R, r, q = rng.normal(size=(T, B, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def functional(w):
        hs, cache = forward(_params(cell, w), w["x"], w["h0"], w.get("c0"), nonlinearity=nonlinearity)
        terms = [hs * R, cache.h_final * r] + ([cache.c_final * q] if cell == "lstm" else [])
        return np.concatenate([t.ravel() for t in terms])

    _, cache = forward(_params(cell, v), v["x"], v["h0"], v.get("c0"), nonlinearity=nonlinearity)
    grads = backward(_params(cell, v), cache, R, dh_final=r, dc_final=q if cell == "lstm" else None)
    for name in [*CELL_NAMES, "x", "h0"] + (["c0"] if cell == "lstm" else []):
        _assert_close(grads[name], _numeric_gradient(functional, v, name), name)


def test_one_sequence_equals_a_batch_of_one():
    v = _problem("lstm", "tanh", "cross_entropy", seed=3)
    params = _params("lstm", v)
    readout = ReadoutParams(W_hy=v["W_hy"], b_y=v["b_y"])
    L1, g1 = sequence_loss_and_grads(params, readout, v["x"][:, 0], v["targets"][:, 0], "cross_entropy",
                                     h0=v["h0"][0], c0=v["c0"][0])
    Lb, gb = sequence_loss_and_grads(params, readout, v["x"][:, :1], v["targets"][:, :1], "cross_entropy",
                                     h0=v["h0"][:1], c0=v["c0"][:1])
    assert L1 == pytest.approx(Lb, rel=1e-14)
    for name in gb:
        unbatched = gb[name][:, 0] if name == "x" else gb[name][0] if name in ("h0", "c0") else gb[name]
        np.testing.assert_allclose(g1[name], unbatched, rtol=1e-13, atol=1e-15, err_msg=name)
