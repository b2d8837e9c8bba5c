"""The segment path for ragged batches (backend "fused" with lengths) against the packed path and the explicit one.

Same weights, same ragged batch (garbage in the padding, lengths 1 and T among others, repeated lengths, any
order), with and without an initial state: outputs, final states and the gradients of every parameter, of the
input and of the initial state agree in float64 to 1e-10 relative.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.nn import ragged
from rnnkit.nn.ragged import auto_prefers_packed, reversal_index, reverse_within_lengths
from tests.nn.helpers import RK_LAYERS, assert_close, flatten_state, loss_of, random_weights_like

CELLS = list(RK_LAYERS)
LENGTHS = [9, 1, 4, 9, 6, 4, 2]  # T = 9 twice, a length-1 sequence, a repeated 4, unsorted


def ragged_batch(lengths: list[int], features: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths_tensor = torch.tensor(lengths)
    steps = max(lengths)
    x = torch.randn(len(lengths), steps, features, generator=generator, dtype=torch.float64)
    padding = torch.arange(steps)[None, :, None] >= lengths_tensor[:, None, None]
    return x + 100.0 * padding, lengths_tensor  # padding holds garbage on purpose: it must not leak anywhere


def run(layer, x, lengths, initial, batch_first=True):
    """Outputs, final state and gradients (parameters, input, initial state) of one forward + backward."""
    inputs = x.clone().requires_grad_(True)
    state = None if initial is None else tuple(part.clone().requires_grad_(True) for part in initial)
    layer_state = None if state is None else (state if layer.has_cell_state else state[0])
    layer_input = inputs if batch_first else inputs.transpose(0, 1)
    output, final = layer(layer_input, lengths, layer_state)
    output = output if batch_first else output.transpose(0, 1)
    loss_of(output, final, random_weights_like(output, final)).backward()
    gradients = {name: p.grad.clone() for name, p in layer.named_parameters()}
    state_gradients = [] if state is None else [part.grad for part in state]
    return output, flatten_state(final), gradients, inputs.grad, state_gradients


def assert_runs_equal(ours, theirs, against: str = "", final_state: bool = True) -> None:
    """Two :func:`run` results agree: output, final state (unless ``final_state`` is False: a run that asked for
    outputs only), every gradient (parameters, input, initial state)."""
    suffix = f" vs {against}" if against else ""
    assert_close(ours[0], theirs[0], f"output{suffix}")
    if final_state:
        for index, (part, other) in enumerate(zip(ours[1], theirs[1], strict=True)):
            assert_close(part, other, f"state[{index}]{suffix}")
    assert ours[2].keys() == theirs[2].keys()
    for name, gradient in ours[2].items():
        assert_close(gradient, theirs[2][name], f"d/d{name}{suffix}")
    assert_close(ours[3], theirs[3], f"d/dx{suffix}")
    for index, (part, other) in enumerate(zip(ours[4], theirs[4], strict=True)):
        assert_close(part, other, f"d/dstate[{index}]{suffix}")


@pytest.mark.parametrize("padded_call", [False, True], ids=["segments", "padded-call"])
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "with_state"),
                         list(itertools.product(CELLS, [1, 2], [False, True], [False, True])))
def test_segments_equal_packed_and_explicit(cell, num_layers, bidirectional, with_state, padded_call, monkeypatch):
    monkeypatch.setattr(ragged, "use_padded_call", lambda lengths, batch_size: padded_call)
    torch.manual_seed(0)
    options = dict(num_layers=num_layers, bidirectional=bidirectional)
    layers = {name: RK_LAYERS[cell](5, 6, backend=name, **options).double() for name in ("fused", "packed",
                                                                                          "explicit")}
    for layer in layers.values():
        layer.load_state_dict(layers["explicit"].state_dict())
    x, lengths = ragged_batch(LENGTHS)
    initial = None
    if with_state:
        shape = (num_layers * (2 if bidirectional else 1), len(LENGTHS), 6)
        initial = tuple(torch.randn(shape, dtype=torch.float64) for _ in range(2 if cell == "lstm" else 1))
    results = {name: run(layer, x, lengths, initial) for name, layer in layers.items()}

    output, _, _, input_gradient, _ = results["fused"]
    past_end = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
    assert output[past_end].abs().max() == 0
    assert input_gradient[past_end].abs().max() == 0  # padding never reaches anything
    for reference in ("packed", "explicit"):
        assert_runs_equal(results["fused"], results[reference], reference)


@pytest.mark.parametrize("padded_call", [False, True], ids=["segments", "padded-call"])
@pytest.mark.parametrize("lengths", [[1], [5, 5, 5], [1, 1, 2], [8, 7, 7, 3, 1], [3, 8, 2, 7, 1, 8, 5, 4, 6]])
def test_segments_time_major_and_odd_length_sets(lengths, padded_call, monkeypatch):
    monkeypatch.setattr(ragged, "use_padded_call", lambda lengths, batch_size: padded_call)
    torch.manual_seed(1)
    fused = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True, batch_first=False, backend="fused").double()
    packed = RK_LAYERS["lstm"](5, 6, num_layers=2, bidirectional=True, batch_first=False, backend="packed").double()
    packed.load_state_dict(fused.state_dict())
    x, lengths_tensor = ragged_batch(lengths, seed=len(lengths))
    x = torch.cat([x, torch.randn(x.shape[0], 2, 5, dtype=x.dtype)], dim=1)  # steps past the longest one too
    ours = run(fused, x, lengths_tensor, None, batch_first=False)
    theirs = run(packed, x, lengths_tensor, None, batch_first=False)
    assert_runs_equal(ours, theirs)


def test_reverse_within_lengths_reverses_each_sequence_and_undoes_itself():
    sequence = torch.arange(12.0).reshape(4, 3, 1)  # (T, B, F): column b is sequence b
    lengths = torch.tensor([4, 2, 1])
    reversed_ = reverse_within_lengths(sequence, lengths)
    assert reversed_[:, 0, 0].tolist() == [9.0, 6.0, 3.0, 0.0]
    assert reversed_[:, 1, 0].tolist() == [4.0, 1.0, 7.0, 10.0]  # padding (7, 10) stays in place
    assert reversed_[:, 2, 0].tolist() == [2.0, 5.0, 8.0, 11.0]
    assert torch.equal(reverse_within_lengths(reversed_, lengths), sequence)


def test_auto_rule_uses_segments_on_cpu_and_packed_on_cuda(monkeypatch):
    assert not auto_prefers_packed(torch.device("cpu"))
    assert auto_prefers_packed(torch.device("cuda"))
    layer = RK_LAYERS["gru"](5, 6, bidirectional=True).double()
    x, lengths = ragged_batch(LENGTHS)
    calls = []
    monkeypatch.setattr("rnnkit.nn.recurrent.pack_padded_sequence",
                        lambda *args, **kwargs: calls.append(1) or pytest.fail("auto packed on the CPU"))
    layer(x, lengths)
    assert calls == []


def test_reverse_with_a_precomputed_index_equals_the_gather():
    sequence = torch.randn(6, 4, 3)
    lengths = torch.tensor([6, 2, 5, 1])
    time = torch.arange(6).unsqueeze(1)
    gathered = sequence.gather(0, torch.where(time < lengths, lengths - 1 - time, time).unsqueeze(2).expand(6, 4, 3))
    assert torch.equal(reverse_within_lengths(sequence, lengths), gathered)
    assert torch.equal(reverse_within_lengths(sequence, lengths, reversal_index(lengths, 6, sequence.device)), gathered)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padded_call_in_float32_through_the_cpu_kernel_equals_packed(cell, monkeypatch):
    """float32 runs oneDNN's kernel (float64 does not): its sigmoid must saturate the carried LSTM cell state too;
    large weights and a large forget bias push the pre-activations the saturation bound has to beat."""
    monkeypatch.setattr(ragged, "use_padded_call", lambda lengths, batch_size: True)
    torch.manual_seed(2)
    fused = RK_LAYERS[cell](5, 6, bidirectional=True, backend="fused")
    packed = RK_LAYERS[cell](5, 6, bidirectional=True, backend="packed")
    with torch.no_grad():
        for parameter in fused.parameters():
            parameter.mul_(8.0)
    packed.load_state_dict(fused.state_dict())
    x, lengths = ragged_batch([12, 11, 11, 9, 3, 12])
    ours, theirs = run(fused, x.float(), lengths, None), run(packed, x.float(), lengths, None)
    assert ours[0][torch.arange(12)[None, :] >= lengths[:, None]].abs().max() == 0
    assert_runs_equal(ours, theirs)


def test_padded_call_rule_takes_bucketed_batches_and_leaves_widely_spread_ones_to_the_segments():
    assert ragged.use_padded_call([90] * 20 + [89] * 12, 32)  # a length-bucketed batch: 12 padded steps
    assert ragged.use_padded_call([57, 57, 56, 56, 55, 55], 6)
    assert not ragged.use_padded_call([40] * 8, 8)  # one length: one plain call either way
    spread = sorted(torch.randint(200, 501, (32,), generator=torch.Generator().manual_seed(0)).tolist(), reverse=True)
    assert not ragged.use_padded_call(spread, 32)  # ~30% padding: the segments skip it
