"""The fused backend on a GPU: weights flattened for cuDNN, same results as on the CPU (skipped without CUDA)."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnkit as rk

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("layer_class", [rk.nn.LSTM, rk.nn.GRU, rk.nn.RNN])
def test_cuda_fused_uses_flat_weights_and_matches_cpu(layer_class):
    torch.manual_seed(0)
    layer = layer_class(8, 16, num_layers=2, bidirectional=True).double()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    cpu_output, _ = layer(x, lengths)
    cpu_output.sum().backward()
    cpu_grads = {name: parameter.grad.clone() for name, parameter in layer.named_parameters()}

    layer.zero_grad(set_to_none=True)
    layer.cuda()
    parameters = list(layer.parameters())
    # one buffer: every weight is a view into the same storage, as torch.nn.LSTM's after flatten_parameters()
    assert len({p.untyped_storage().data_ptr() for p in parameters}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "weights are not part of single contiguous chunk" would fail here
        cuda_output, _ = layer(x.cuda(), lengths)
        cuda_output.sum().backward()
    torch.testing.assert_close(cuda_output.cpu(), cpu_output, rtol=1e-10, atol=1e-10)
    for name, parameter in layer.named_parameters():
        torch.testing.assert_close(parameter.grad.cpu(), cpu_grads[name], rtol=1e-9, atol=1e-10)


def test_cuda_state_dict_round_trip_keeps_flat_layout():
    layer = rk.nn.LSTM(4, 6).cuda()
    reference = torch.nn.LSTM(4, 6, batch_first=True).cuda()
    layer.load_state_dict(reference.state_dict())
    assert len({p.untyped_storage().data_ptr() for p in layer.parameters()}) == 1
    x = torch.randn(2, 3, 4, device="cuda")
    torch.testing.assert_close(layer(x)[0], reference(x)[0])
