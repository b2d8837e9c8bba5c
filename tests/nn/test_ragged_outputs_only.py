"""``layer(x, lengths, state, final_state=False)``: the outputs only, for callers that pool or tag over them.

The ragged padded call then skips the LSTM cell-state carry and masks the padding once, at the end of the stack
(a unidirectional stack in one kernel call; a bidirectional LSTM / GRU layer is one bidirectional call with or
without it). Against the explicit unroll (``backend="explicit"``, the reference of
the other ragged tests) on the same weights and the same ragged batch with garbage in the padding: the outputs,
and the gradients of every parameter, of the input and of the initial state through a loss on the outputs, agree
in float64 to 1e-10 relative, on both exact paths (padded call and segments); the final state comes back as None.
float32 runs oneDNN's kernel (float64 does not): checked against torch's packed sequences there.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnkit as rk
from rnnkit.models import ClassifierConfig, SequenceClassifier, SequenceTagger, TaggerConfig
from rnnkit.nn import ragged
from tests.nn.helpers import RK_LAYERS, assert_close, flatten_state
from tests.nn.test_ragged import assert_runs_equal, ragged_batch

LENGTHS = [9, 1, 4, 9, 6, 4, 2]  # unsorted, a length-1 sequence, repeats
BUCKETED = [9, 9, 8, 9, 8, 8, 9]  # a bucketed batch (little padding) in no particular order


def outputs_and_gradients(layer, x, lengths, initial, final_state, batch_first=True):
    """Output, returned state and gradients (parameters, input, initial state) of a loss on the outputs only."""
    inputs = x.clone().requires_grad_(True)
    state = None if initial is None else tuple(part.clone().requires_grad_(True) for part in initial)
    layer_state = None if state is None else (state if layer.has_cell_state else state[0])
    layer_input = inputs if batch_first else inputs.transpose(0, 1)
    output, final = layer(layer_input, lengths, layer_state, final_state=final_state)
    output = output if batch_first else output.transpose(0, 1)
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(1), dtype=output.dtype)
    (output * weights).sum().backward()
    gradients = {name: p.grad.clone() for name, p in layer.named_parameters()}
    state_gradients = [] if state is None else [part.grad for part in state]
    return output, final, gradients, inputs.grad, state_gradients


@pytest.mark.parametrize("padded_call", [False, True], ids=["segments", "padded-call"])
@pytest.mark.parametrize(("cell", "num_layers", "bidirectional", "with_state"),
                         list(itertools.product(list(RK_LAYERS), [1, 2], [False, True], [False, True])))
def test_outputs_only_equal_the_explicit_unroll(cell, num_layers, bidirectional, with_state, padded_call,
                                                monkeypatch):
    monkeypatch.setattr(ragged, "use_padded_call", lambda lengths, batch_size: padded_call)
    torch.manual_seed(0)
    options = dict(num_layers=num_layers, bidirectional=bidirectional)
    fused = RK_LAYERS[cell](5, 6, backend="fused", **options).double()
    explicit = RK_LAYERS[cell](5, 6, backend="explicit", **options).double()
    explicit.load_state_dict(fused.state_dict())
    x, lengths = ragged_batch(LENGTHS)
    initial = None
    if with_state:
        shape = (num_layers * (2 if bidirectional else 1), len(LENGTHS), 6)
        initial = tuple(torch.randn(shape, dtype=torch.float64) for _ in range(2 if cell == "lstm" else 1))
    ours = outputs_and_gradients(fused, x, lengths, initial, final_state=False)
    assert ours[1] is None
    past_end = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
    assert ours[0][past_end].abs().max() == 0
    assert ours[3][past_end].abs().max() == 0  # no gradient reaches the padding
    reference = outputs_and_gradients(explicit, x, lengths, initial, final_state=True)
    assert_runs_equal(ours, reference, "explicit", final_state=False)
    assert outputs_and_gradients(explicit, x, lengths, initial, final_state=False)[1] is None  # every backend


@pytest.mark.parametrize("lengths", [BUCKETED, [5, 5, 5], [1, 1, 2], [3, 8, 2, 7, 1, 8, 5, 4, 6]])
def test_outputs_only_time_major_steps_past_the_longest_and_the_auto_rule(lengths):
    torch.manual_seed(1)
    fused = rk.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=False).double()  # backend "auto"
    explicit = rk.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=False, backend="explicit").double()
    explicit.load_state_dict(fused.state_dict())
    x, lengths_tensor = ragged_batch(lengths, seed=len(lengths))
    x = torch.cat([x, torch.randn(x.shape[0], 2, 5, dtype=x.dtype)], dim=1)  # steps past the longest one too
    ours = outputs_and_gradients(fused, x, lengths_tensor, None, final_state=False, batch_first=False)
    reference = outputs_and_gradients(explicit, x, lengths_tensor, None, final_state=True, batch_first=False)
    assert ours[1] is None
    assert_runs_equal(ours, reference, "explicit", final_state=False)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_which_padded_call_runs_a_bucketed_batch_in_its_own_order(cell, monkeypatch):
    """A bidirectional LSTM from a zero state, or GRU from any, is one bidirectional call per layer; an LSTM
    with an initial state runs each direction apart; the batch is never reordered. The grids above and in
    test_ragged.py then check each of these paths' values and gradients."""
    assert ragged.use_padded_call(sorted(BUCKETED, reverse=True), len(BUCKETED))
    torch.manual_seed(5)
    layer = RK_LAYERS[cell](5, 6, num_layers=2, bidirectional=True).double()
    explicit = RK_LAYERS[cell](5, 6, num_layers=2, bidirectional=True, backend="explicit").double()
    explicit.load_state_dict(layer.state_dict())
    x, lengths = ragged_batch(BUCKETED)
    calls = {"run_padded": [], "run_bidirectional_padded": []}
    for name, log in calls.items():
        original = getattr(ragged, name)
        monkeypatch.setattr(ragged, name, lambda *args, log=log, original=original: log.append(args[4].shape[1])
                            or original(*args))
    parts = 2 if cell == "lstm" else 1
    initial = tuple(torch.randn(4, len(BUCKETED), 6, dtype=torch.float64) for _ in range(parts))
    for state, final_state in ((None, True), (None, False), (initial, True)):
        for log in calls.values():
            log.clear()
        given = None if state is None else (state if parts == 2 else state[0])
        output, final = layer(x, lengths, given, final_state=final_state)
        one_call = cell == "gru" or state is None
        assert calls["run_bidirectional_padded"] == ([len(BUCKETED)] * 2 if one_call else [])
        assert calls["run_padded"] == ([] if one_call else [len(BUCKETED)] * 4)
        expected, expected_final = explicit(x, lengths, given)
        assert_close(output, expected, "output")
        if final_state:
            for part, other in zip(flatten_state(final), flatten_state(expected_final), strict=True):
                assert_close(part, other, "final state")
        else:
            assert final is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_outputs_only_in_float32_through_the_cpu_kernel_equal_packed(cell, bidirectional, monkeypatch):
    monkeypatch.setattr(ragged, "use_padded_call", lambda lengths, batch_size: True)
    torch.manual_seed(2)
    fused = RK_LAYERS[cell](5, 6, num_layers=2, bidirectional=bidirectional, backend="fused")
    packed = RK_LAYERS[cell](5, 6, num_layers=2, bidirectional=bidirectional, backend="packed")
    packed.load_state_dict(fused.state_dict())
    x, lengths = ragged_batch([12, 11, 11, 9, 3, 12])
    ours = outputs_and_gradients(fused, x.float(), lengths, None, final_state=False)
    theirs = outputs_and_gradients(packed, x.float(), lengths, None, final_state=True)
    assert ours[0][torch.arange(12)[None, :] >= lengths[:, None]].abs().max() == 0
    assert_runs_equal(ours, theirs, "packed", final_state=False)


def test_unidirectional_stack_in_one_call_applies_dropout_between_layers_in_training():
    torch.manual_seed(3)
    layer = rk.nn.LSTM(5, 6, num_layers=2, dropout=0.5).double()
    x, lengths = ragged_batch(BUCKETED)
    layer.eval()
    evaluated = layer(x, lengths, final_state=False)[0]
    assert_close(evaluated, layer(x, lengths)[0], "eval: outputs only = with the state")
    layer.train()
    trained = layer(x, lengths, final_state=False)[0]
    past_end = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
    assert trained[past_end].abs().max() == 0
    assert (trained - evaluated).abs().max() > 1e-3  # the dropout between the layers acted


def test_classifier_and_tagger_ask_for_the_outputs_only_and_keep_their_results(monkeypatch):
    """Max pooling and tagging never read the final state: the models ask for none, and give the logits of the
    explicit layers on the same weights; pooling "last" still gets the state."""
    torch.manual_seed(4)
    asked = []
    original = rk.nn.Recurrent.forward

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("final_state", True))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rk.nn.Recurrent, "forward", spy)
    ids = torch.randint(1, 30, (6, 9))
    lengths = torch.tensor([9, 8, 9, 8, 8, 9])
    for pooling, wanted in (("max", False), ("mean", False), ("attention", False), ("last", True)):
        models = [SequenceClassifier(3, ClassifierConfig(pooling=pooling, backend=backend, dropout=0.0),
                                     vocab_size=30, pad_id=0).double() for backend in ("auto", "explicit")]
        models[1].load_state_dict(models[0].state_dict())
        asked.clear()
        logits = [model(ids, lengths) for model in models]
        assert asked == [wanted, wanted]
        assert_close(logits[0], logits[1], f"logits with pooling {pooling}")
    taggers = [SequenceTagger(4, 30, TaggerConfig(backend=backend), pad_id=0).double()
               for backend in ("auto", "explicit")]
    taggers[1].load_state_dict(taggers[0].state_dict())
    asked.clear()
    scores = [tagger.eval()(ids, lengths) for tagger in taggers]
    assert asked == [False, False]
    assert_close(scores[0], scores[1], "tag scores")
