"""rk.nn.RNN/LSTM/GRU: explicit backend, fused backend and torch's module, same weights, same numbers.

Every cell type x 1-2 layers x uni/bidirectional x equal/unequal lengths x float32/float64: outputs, final
states, and the gradients of every parameter and of the input agree (float32 1e-5, float64 1e-10 relative).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.nn.helpers import (
    RK_LAYERS,
    TORCH_LAYERS,
    assert_close,
    flatten_state,
    loss_of,
    random_weights_like,
    run_torch,
)

CELLS = list(TORCH_LAYERS)
GRID = list(itertools.product(CELLS, [1, 2], [False, True], ["equal", "unequal"], [torch.float32, torch.float64]))


def make_batch(lengths_kind: str, dtype: torch.dtype, batch: int = 4, steps: int = 7, features: int = 5):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, steps, features, generator=generator, dtype=dtype)
    lengths = None if lengths_kind == "equal" else torch.tensor([7, 3, 5, 1])
    if lengths is not None:  # padding holds garbage on purpose: it must not leak anywhere
        x = x + 100.0 * (torch.arange(steps)[None, :, None] >= lengths[:, None, None])
    return x, lengths


@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "lengths_kind", "dtype"), GRID)
def test_explicit_fused_and_torch_agree(cell, num_layers, bidirectional, lengths_kind, dtype):
    torch.manual_seed(0)
    options = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    reference = TORCH_LAYERS[cell](5, 6, **options).to(dtype)
    x, lengths = make_batch(lengths_kind, dtype)

    results = {}
    for name in ("torch", "fused", "explicit"):
        if name == "torch":
            layer = reference
        else:
            layer = RK_LAYERS[cell](5, 6, backend=name, **options).to(dtype)
            layer.load_state_dict(reference.state_dict())
        inputs = x.clone().requires_grad_(True)
        output, state = run_torch(layer, inputs, lengths) if name == "torch" else layer(inputs, lengths)
        weights = random_weights_like(output, state)
        loss_of(output, state, weights).backward()
        gradients = {key: p.grad for key, p in layer.named_parameters()}
        results[name] = (output, flatten_state(state), gradients, inputs.grad)

    expected_output, expected_state, expected_gradients, expected_input_gradient = results["torch"]
    for name in ("fused", "explicit"):
        output, state, gradients, input_gradient = results[name]
        assert_close(output, expected_output, f"{name} output")
        for index, (part, expected) in enumerate(zip(state, expected_state, strict=True)):
            assert_close(part, expected, f"{name} state[{index}]")
        assert gradients.keys() == expected_gradients.keys()
        for key, expected in expected_gradients.items():
            assert_close(gradients[key], expected, f"{name} d/d{key}")
        assert_close(input_gradient, expected_input_gradient, f"{name} d/dx")
    if lengths is not None:  # zero outputs past each sequence's end, for every backend
        for name, (output, *_rest) in results.items():
            past_end = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
            assert output[past_end].abs().max() == 0, name


@pytest.mark.parametrize("backend", ["explicit", "fused"])
@pytest.mark.parametrize("cell", CELLS)
def test_padded_batch_equals_each_sequence_alone(cell, backend):
    torch.manual_seed(0)
    layer = RK_LAYERS[cell](5, 6, num_layers=2, bidirectional=True, backend=backend).double()
    x, lengths = make_batch("unequal", torch.float64)
    output, state = layer(x, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone_output, alone_state = layer(x[b : b + 1, :length])
        torch.testing.assert_close(output[b, :length], alone_output[0], rtol=1e-12, atol=1e-12)
        for part, alone in zip(flatten_state(state), flatten_state(alone_state), strict=True):
            torch.testing.assert_close(part[:, b], alone[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_initial_state_and_time_major_layout(backend):
    torch.manual_seed(0)
    reference = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True)  # batch_first=False
    layer = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True, batch_first=False, backend=backend)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(7, 3, 5)  # (T, B, I)
    state = (torch.randn(4, 3, 6), torch.randn(4, 3, 6))
    expected_output, expected_state = reference(x, state)
    output, final = layer(x, state=state)
    assert_close(output, expected_output, "output")
    for part, expected in zip(final, expected_state, strict=True):
        assert_close(part, expected, "state")


@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_unbatched_input_as_torch(backend):
    torch.manual_seed(0)
    reference = torch.nn.GRU(5, 6, batch_first=True)
    layer = RK_LAYERS["gru"](5, 6, backend=backend)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(7, 5)  # (T, I)
    expected_output, expected_state = reference(x)
    output, state = layer(x)
    assert_close(output, expected_output, "output")
    assert_close(state, expected_state, "state")


def test_state_dict_moves_both_ways_and_auto_is_fused():
    for cell in CELLS:
        ours = RK_LAYERS[cell](3, 4, num_layers=2, bidirectional=True)
        theirs = TORCH_LAYERS[cell](3, 4, num_layers=2, bidirectional=True, batch_first=True)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [p.shape for p in ours.state_dict().values()] == [p.shape for p in theirs.state_dict().values()]
        theirs.load_state_dict(ours.state_dict())
        ours.load_state_dict(theirs.state_dict())
        assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
        assert ours.uses_fused


def test_no_bias_layer_matches_torch():
    torch.manual_seed(0)
    reference = torch.nn.LSTM(5, 6, bias=False, batch_first=True)
    for backend in ("explicit", "fused"):
        layer = RK_LAYERS["lstm"](5, 6, bias=False, backend=backend)
        assert list(layer.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
        layer.load_state_dict(reference.state_dict())
        x = torch.randn(2, 4, 5)
        assert_close(layer(x)[0], reference(x)[0], f"{backend} output")


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    layer = RK_LAYERS["lstm"](5, 6, num_layers=2, dropout=0.5, backend="explicit")
    plain = RK_LAYERS["lstm"](5, 6, num_layers=2, backend="explicit")
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(3, 4, 5)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], plain(x)[0])
    layer.train()
    assert not torch.allclose(layer(x)[0], plain(x)[0])
    fused = RK_LAYERS["lstm"](5, 6, num_layers=2, dropout=0.5, backend="fused")
    fused.load_state_dict(layer.state_dict())
    fused.eval()
    torch.testing.assert_close(fused(x)[0], plain(x)[0])


@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_conversion_and_reloading_rebind_the_cells(backend):
    torch.manual_seed(0)
    layer = RK_LAYERS["lstm"](5, 6, backend=backend)
    reference = torch.nn.LSTM(5, 6, batch_first=True).double()
    layer = layer.double()
    layer.load_state_dict(reference.state_dict(), assign=True)
    x = torch.randn(2, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], reference(x)[0])
    # functional_call swaps in other tensors: the run must use them
    zeros = {name: torch.zeros_like(p) for name, p in layer.named_parameters()}
    output, _ = torch.func.functional_call(layer, zeros, (x,))
    assert output.abs().max() == 0


def test_weight_dropout_drops_recurrent_weights_alike_in_both_backends():
    torch.manual_seed(0)
    explicit = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True, weight_dropout=0.5, backend="explicit")
    fused = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True, weight_dropout=0.5, backend="fused")
    fused.load_state_dict(explicit.state_dict())
    plain = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True)
    plain.load_state_dict(explicit.state_dict())
    x = torch.randn(3, 4, 5)
    results = []
    for layer in (explicit, fused):
        torch.manual_seed(7)  # the same masks: both draw them in torch's weight order
        output, _ = layer(x)
        output.sum().backward()
        results.append((output, layer.weight_hh_l0.grad, layer.weight_ih_l0.grad))
    assert_close(results[0][0], results[1][0], "output")
    assert_close(results[0][1], results[1][1], "d/dweight_hh_l0")
    assert not torch.allclose(results[0][0], plain(x)[0])  # training: weights dropped
    dropped = results[0][1] == 0
    assert 0.2 < dropped.float().mean() < 0.8  # about half the recurrent weights get no gradient this call
    assert (results[0][2] == 0).float().mean() < 0.05  # input weights are not dropped
    for layer in (explicit, fused):
        layer.eval()
        torch.testing.assert_close(layer(x)[0], plain(x)[0])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_layers_run_under_cpu_bf16_autocast(cell):
    layer = RK_LAYERS[cell](3, 4, batch_first=True, backend="fused")
    x = torch.randn(2, 5, 3)
    reference, _ = layer(x, lengths=torch.tensor([5, 3]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = layer(x, lengths=torch.tensor([5, 3]))
    assert (output.float() - reference).abs().max() < 0.05
