"""Forecaster: shapes, the Gaussian NLL, relative (persistence-anchored) outputs, intervals, tiny-batch overfit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnkit.models.forecaster import Forecaster, ForecasterConfig, forecast_loss


def make(**options) -> Forecaster:
    torch.manual_seed(0)
    model = Forecaster(ForecasterConfig(hidden_size=16, **options))
    model.fit_scaler(np.random.default_rng(0).normal(10.0, 2.0, size=(50, model.config.input_size)) + 5.0)
    return model


def test_direct_and_autoregressive_shapes():
    direct = make(input_size=3, num_targets=2, horizon=4)
    z = torch.randn(5, 12, 3)
    mean, log_variance = direct(z)
    assert mean.shape == (5, 4, 2) and log_variance is None
    assert direct.eval().predict(torch.rand(5, 12, 3) + 1, horizon=2).mean.shape == (5, 2, 2)
    regressive = make(input_size=3, num_targets=2, strategy="autoregressive", gaussian=True)
    mean, log_variance = regressive(z)
    assert mean.shape == (5, 12, 3) and log_variance.shape == (5, 12, 3)
    forecast = regressive.eval().predict(torch.rand(5, 12, 3) + 1, horizon=7, samples=20)
    assert forecast.mean.shape == forecast.lower.shape == forecast.upper.shape == (5, 7, 2)
    assert bool((forecast.lower <= forecast.upper).all())


def test_direct_model_refuses_a_longer_horizon_than_trained():
    with pytest.raises(ValueError, match="trained for at most 2 steps"):
        make(horizon=2).eval().predict(torch.rand(1, 8, 1), horizon=3)


def test_gaussian_nll_matches_torch():
    mean, target, log_variance = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    expected = torch.nn.GaussianNLLLoss(full=True, reduction="sum")(mean, target, log_variance.exp())
    torch.testing.assert_close(forecast_loss(mean, log_variance, target), expected)
    torch.testing.assert_close(forecast_loss(mean, None, target), ((mean - target) ** 2).sum())


def test_scaler_statistics_and_round_trip():
    model = Forecaster(ForecasterConfig(input_size=2, num_targets=2, transform="log"))
    train = np.array([[1.0, 10.0], [math.e, 10.0], [math.e**2, 10.0]])
    model.fit_scaler(train)
    torch.testing.assert_close(model.center, torch.tensor([1.0, math.log(10.0)], dtype=torch.float64))
    assert model.scale[1] == 1.0  # a constant column keeps scale 1, not 0
    values = torch.tensor([[2.0, 5.0], [7.0, 11.0]], dtype=torch.float64)
    torch.testing.assert_close(model.denormalize(model.normalize(values), slice(0, 2)), values)
    with pytest.raises(ValueError, match="values <= 0"):
        model.normalize(torch.tensor([[0.0, 1.0]]))


def test_unfitted_scaler_is_an_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        Forecaster(ForecasterConfig()).normalize(torch.ones(1, 1))


def test_relative_model_with_a_zero_head_is_persistence():
    model = make(input_size=2, num_targets=1, horizon=3, relative=True).eval()
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    history = torch.rand(4, 6, 2) * 10 + 1
    forecast = model.predict(history)
    torch.testing.assert_close(forecast.mean, history[:, -1:, :1].double().expand(4, 3, 1))


def test_direct_gaussian_interval_is_mean_plus_minus_z_sigma():
    model = make(gaussian=True, horizon=2).eval()
    history = torch.rand(3, 6, 1) + 1
    forecast = model.predict(history, level=0.9)
    _, log_variance = model(model.normalize(history))
    half_width = 1.6448536 * torch.exp(0.5 * log_variance.double()) * model.scale[0]
    torch.testing.assert_close(forecast.upper - forecast.mean, half_width, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(forecast.mean - forecast.lower, half_width, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options", [{"horizon": 3}, {"strategy": "autoregressive"},
                                     {"horizon": 2, "gaussian": True, "relative": True}])
def test_overfits_a_tiny_batch(options):
    model = make(input_size=2, num_targets=1, **options)
    torch.manual_seed(1)
    inputs = torch.randn(4, 8, 2)
    autoregressive = model.config.strategy == "autoregressive"
    targets = torch.randn(4, 8, 2) if autoregressive else torch.randn(4, model.config.horizon, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        mean, _ = model(inputs)
        loss = ((mean - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.01
