"""The fused C++ kernel of the layer-normalised LSTM against the Python hand-written BPTT and autograd over the cell.

The kernel is compiled once per machine (cached in the user's folder, ~30-60 s the first time); these tests skip
only where no C++ compiler exists, or where ``RNNKIT_NATIVE=0`` switches the kernel off.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest
import torch

import rnnkit as rk
from rnnkit.nn import LayerNormLSTMCell, lnlstm_native
from rnnkit.nn.lnlstm_bptt import lnlstm_cell_unroll, lnlstm_unroll

from .test_lnlstm_bptt import autograd_recurrence, inputs


@pytest.fixture(scope="module")
def native():
    """The compiled kernel's ops; built (or loaded from the cache) once for this module."""
    if not lnlstm_native.native_enabled():
        pytest.skip(f"{lnlstm_native.ENV_SWITCH}=0: the kernel is switched off")
    if not shutil.which(os.environ.get("CXX", "c++").split()[0]):
        pytest.skip("no C++ compiler to build the kernel with")
    ops = lnlstm_native.native_ops()
    assert ops is not None, f"the kernel did not build: {lnlstm_native._loaded.get('failure')}"
    return ops


def differentiate(result, differentiated, dtype):
    """Values and gradients of a fixed random weighting of the three results (so each gets its own gradient)."""
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(part.shape, generator=generator, dtype=dtype) for part in result]
    loss = sum((part * weight).sum() for part, weight in zip(result, weights, strict=True))
    return [part.detach() for part in result], torch.autograd.grad(loss, differentiated)


def assert_all_close(actual, expected, names, tolerance):
    for name, a, b in zip(names, actual, expected, strict=True):
        error = float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
        assert error <= tolerance, f"{name}: relative error {error:.3g} > {tolerance:g}"


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("lengths", [None, [6, 2, 1, 4]])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("entry", ["cell", "unroll"])
def test_kernel_equals_python_bptt_and_autograd(native, dtype, tolerance, lengths, bias, entry):
    """Outputs, h_T, c_T and the gradients of x, h0, c0 and every parameter, three ways: the kernel (with the input
    norm inside it, ``cell``, or given the normalised projections, ``unroll``), the Python BPTT, autograd."""
    cell, x, h0, c0, mask = inputs(dtype, lengths=lengths, bias=bias, hidden_size=5)
    ragged_from = 6 if lengths is None else min(lengths)
    differentiated = (x, h0, c0, *cell.parameters())
    results = {}
    for kind in ("kernel", "python"):
        if entry == "cell":
            result = lnlstm_cell_unroll(cell, x, h0, c0, mask, ragged_from, native=kind == "kernel")
        else:
            result = lnlstm_unroll(cell.input_projection(x), cell.weight_hh, cell.norm_hh_weight, cell.norm_hh_bias,
                                   cell.norm_cell_weight, cell.norm_cell_bias, h0, c0, mask, ragged_from, cell.eps,
                                   native=kind == "kernel")
        results[kind] = differentiate(result, differentiated, dtype)
    results["autograd"] = differentiate(autograd_recurrence(cell, x, h0, c0, mask), differentiated, dtype)
    names = ("outputs", "h_T", "c_T", *(f"grad {name}" for name in ("x", "h0", "c0")),
             *(f"grad {name}" for name, _ in cell.named_parameters()))
    kernel = [*results["kernel"][0], *results["kernel"][1]]
    for reference in ("python", "autograd"):
        assert_all_close(kernel, [*results[reference][0], *results[reference][1]], names, tolerance)
    if lengths is not None:
        assert torch.all(results["kernel"][0][0][2:, 2] == 0)  # outputs past the end are exactly 0


def test_gradcheck_with_the_input_norm_inside(native):
    cell, x, h0, c0, mask = inputs(torch.float64, steps=4, batch_size=3, hidden_size=2, lengths=[4, 2, 3])
    projection = (x @ cell.weight_ih.t()).detach().requires_grad_()
    parameters = [p.detach().requires_grad_() for p in (
        cell.norm_ih_weight, cell.norm_ih_bias, cell.weight_hh, cell.norm_hh_weight, cell.norm_hh_bias,
        cell.norm_cell_weight, cell.norm_cell_bias)]

    def run(p, gih, bih, w, ghh, bhh, gc, bc, h0, c0):
        return lnlstm_native.native_lnlstm_unroll(p, w, ghh, bhh, gc, bc, h0, c0, mask, 2, cell.eps,
                                                  input_norm=(gih, bih))

    assert torch.autograd.gradcheck(run, (projection, *parameters, h0, c0))


def test_bidirectional_ragged_layer_equals_the_python_path(native, monkeypatch):
    """A 2-layer bidirectional layer on a ragged batch, float64: outputs, final states and every gradient."""
    torch.manual_seed(0)
    layer = rk.nn.Recurrent(LayerNormLSTMCell, 3, 4, num_layers=2, bidirectional=True).double()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    x = torch.randn(3, 7, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 4, 2])
    calls = []
    original = lnlstm_native.native_lnlstm_unroll

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("rnnkit.nn.lnlstm_bptt.native_lnlstm_unroll", counting)
    results = []
    for switch in ("1", "0"):
        monkeypatch.setenv(lnlstm_native.ENV_SWITCH, switch)
        output, (h, c) = layer(x, lengths)
        loss = (output * torch.linspace(-1, 1, output.shape[-1], dtype=torch.float64)).sum() + h.sum() - 2 * c.sum()
        grads = torch.autograd.grad(loss, (x, *layer.parameters()))
        results.append([output.detach(), h.detach(), c.detach(), *grads])
    assert len(calls) == 4  # 2 layers x 2 directions through the kernel, none with the switch off
    names = ("output", "h", "c", "grad x", *(name for name, _ in layer.named_parameters()))
    assert_all_close(results[0], results[1], names, 1e-10)


def test_without_gradients_the_kernel_gives_the_same_values(native):
    cell, x, h0, c0, mask = inputs(torch.float32, lengths=[6, 2, 1, 4])
    with torch.no_grad():
        plain = lnlstm_cell_unroll(cell, x, h0, c0, mask, 1)
    recorded = lnlstm_cell_unroll(cell, x, h0, c0, mask, 1)
    for a, b in zip(plain, recorded, strict=True):
        assert torch.equal(a, b.detach())


def test_switched_off_the_python_path_runs_without_a_warning(monkeypatch):
    monkeypatch.setenv(lnlstm_native.ENV_SWITCH, "0")
    monkeypatch.setattr(lnlstm_native, "_loaded", {})
    monkeypatch.setattr("rnnkit.nn.lnlstm_bptt.native_lnlstm_unroll", None)  # would fail if it were called
    cell, x, h0, c0, mask = inputs(torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lnlstm_native.native_ops() is None
        outputs, h, c = lnlstm_cell_unroll(cell, x, h0, c0)
    expected = autograd_recurrence(cell, x, h0, c0, None)
    assert torch.allclose(outputs, expected[0], atol=1e-6) and torch.allclose(c, expected[2], atol=1e-6)


@pytest.mark.parametrize("problem, message",
                         [("compiler", r"no C\+\+ compiler"), ("failed", "an earlier build failed")])
def test_a_kernel_that_cannot_be_built_warns_once_and_training_goes_on(problem, message, monkeypatch, tmp_path):
    monkeypatch.delenv(lnlstm_native.ENV_SWITCH, raising=False)
    monkeypatch.setattr(lnlstm_native, "_loaded", {})  # this process has not tried yet
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    if problem == "compiler":
        monkeypatch.setenv("CXX", "no-such-compiler-rnnkit")
    else:  # a build that failed before is not tried again in every process
        folder = lnlstm_native.build_directory()
        folder.mkdir(parents=True)
        (folder / "failed.txt").write_text("error: something\n")
    layer = rk.nn.Recurrent(LayerNormLSTMCell, 2, 3)
    x = torch.randn(2, 5, 2)
    with pytest.warns(RuntimeWarning, match=message):
        output, _ = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per process, not one per call
        output.sum().backward()
        layer(x)
    assert layer.weight_hh_l0.grad is not None and torch.isfinite(layer.weight_hh_l0.grad).all()


def test_unsupported_tensors_take_the_python_path(native, monkeypatch):
    monkeypatch.setattr("rnnkit.nn.lnlstm_bptt.native_lnlstm_unroll", None)  # would fail if it were called
    cell, x, h0, c0, _ = inputs(torch.float32)
    cell = cell.to(torch.bfloat16)
    outputs, h, c = lnlstm_cell_unroll(cell, x.bfloat16(), h0.bfloat16(), c0.bfloat16())
    assert outputs.dtype == torch.bfloat16 and outputs.shape == (6, 4, 3)
    assert not lnlstm_native.native_supports(x, h0.double())
    assert lnlstm_native.native_supports(x, h0)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # torch.compile tracing: the torch ops
    assert not lnlstm_native.native_supports(x, h0)


def test_rows_split_between_threads_give_the_same_results(native):
    """With two threads the batch rows are split in chunks, each with its own parameter-gradient sums."""
    cell, x, h0, c0, mask = inputs(torch.float64, batch_size=9, hidden_size=4096 // 4, lengths=[6, 2, 1, 4, 6, 5, 3,
                                                                                                  6, 6])
    differentiated = (x, h0, c0, *cell.parameters())
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            results.append(differentiate(lnlstm_cell_unroll(cell, x, h0, c0, mask, 1), differentiated, torch.float64))
    finally:
        torch.set_num_threads(threads)
    names = ("outputs", "h_T", "c_T", "x", "h0", "c0", *(name for name, _ in cell.named_parameters()))
    assert_all_close([*results[1][0], *results[1][1]], [*results[0][0], *results[0][1]], names, 1e-12)
