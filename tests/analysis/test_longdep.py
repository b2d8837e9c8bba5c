"""Long-range task generators: deterministic under a seed, targets right; the training loop on tiny runs."""

from __future__ import annotations

import pytest
import torch

from rnnkit.analysis import LongDepConfig, adding_problem, copy_task, delayed_recall, make_task, tickets_task
from rnnkit.analysis.longdep import COPY_LENGTH, IGNORE, digits_task, tickets_vocabulary
from rnnkit.analysis.longdep_train import run_forward, train_long_dependency
from rnnkit.analysis.sequence_model import SequenceModel


@pytest.mark.parametrize("task", ["adding", "copy", "recall", "tickets"])
def test_generators_are_deterministic_under_a_seed(task):
    first, again, other = make_task(task, 16, 12, seed=5), make_task(task, 16, 12, seed=5), make_task(task, 16, 12, 6)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.inputs, other.inputs)


def test_adding_targets_are_the_sum_of_the_two_marked_values():
    data = adding_problem(200, 30, seed=0)
    values, markers = data.inputs[..., 0], data.inputs[..., 1]
    assert data.inputs.shape == (200, 30, 2) and data.kind == "regression"
    assert torch.equal(markers.sum(dim=1), torch.full((200,), 2.0))
    assert bool((markers[:, :15].sum(dim=1) == 1).all())  # one mark in each half
    for row in range(200):
        marked = values[row][markers[row] == 1]
        assert float(data.targets[row]) == pytest.approx(float(marked.sum()))
    assert float(values.min()) >= 0.0 and float(values.max()) < 1.0


def test_adding_baseline_mse_of_answering_one_is_about_one_sixth():
    data = adding_problem(20000, 10, seed=1)
    assert float((data.targets - 1.0).pow(2).mean()) == pytest.approx(1 / 6, abs=0.005)


def test_copy_task_layout():
    data = copy_task(4, delay=7, seed=0)
    assert data.inputs.shape == (4, 7 + 2 * COPY_LENGTH)
    symbols = data.inputs[:, :COPY_LENGTH]
    assert bool(((symbols >= 1) & (symbols <= 8)).all())
    assert bool((data.inputs[:, COPY_LENGTH + 6] == 9).all())  # the go marker after delay - 1 blanks
    assert torch.equal(data.targets[:, -COPY_LENGTH:], symbols)
    assert bool((data.targets[:, :-COPY_LENGTH] == IGNORE).all())
    assert int(data.inputs[:, COPY_LENGTH:COPY_LENGTH + 6].sum()) == 0


def test_delayed_recall_target_is_the_first_symbol():
    data = delayed_recall(50, 9, seed=0, symbols=4)
    assert data.inputs.shape == (50, 9)
    assert torch.equal(data.targets, data.inputs[:, 0])
    assert bool(((data.inputs[:, 1:-1] >= 4) & (data.inputs[:, 1:-1] < 8)).all())
    assert bool((data.inputs[:, -1] == 8).all())


def test_tickets_last_target_is_the_ticket_seen_at_the_start():
    data = tickets_task(20, 12, seed=0)
    words = tickets_vocabulary()
    assert data.inputs.shape == (20, 12) and data.targets.shape == (20, 12)
    assert torch.equal(data.targets[:, -1], data.inputs[:, 1])  # "ticket X ... ? X"
    assert torch.equal(data.targets[:, :-1], data.inputs[:, 1:])  # next-token targets
    assert all(words[int(i)] == "ticket" for i in data.inputs[:, 0])
    assert all(words[int(i)] == "?" for i in data.inputs[:, -1])
    assert data.scored[:, -1].all() and int(data.scored.sum()) == 20


def test_digits_split_is_seeded_and_disjoint():
    pytest.importorskip("sklearn")
    train, test = digits_task("train", 0), digits_task("test", 0)
    assert train.inputs.shape[1:] == (64, 1) and len(train) + len(test) == 1797
    assert torch.equal(digits_task("test", 0).inputs, test.inputs)
    assert float(train.inputs.max()) <= 1.0


@pytest.mark.parametrize("call", [lambda: adding_problem(4, 1, 0), lambda: delayed_recall(4, 2, 0),
                                  lambda: make_task("parity", 4, 10, 0), lambda: adding_problem(0, 10, 0)])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_truncated_bptt_stops_the_gradient_at_the_window():
    torch.manual_seed(0)
    model = SequenceModel(3, 2, "lstm", hidden_size=4)
    inputs = torch.randn(2, 8, 3, requires_grad=True)
    full = run_forward(model, inputs)
    window = run_forward(model, inputs, bptt=3)
    assert torch.allclose(full, window, atol=1e-6)  # the same values: the state is carried, only detached
    (grad,) = torch.autograd.grad(window[:, -1].sum(), inputs)
    assert float(grad[:, :6].abs().max()) == 0.0 and float(grad[:, 6:].abs().max()) > 0.0


def test_lstm_learns_short_delayed_recall():
    torch.set_num_threads(1)
    config = LongDepConfig(hidden_size=16, batch_size=32, lr=1e-2, max_steps=300, eval_every=50, test_size=200)
    result = train_long_dependency("recall", "lstm", 5, config)
    assert result["solved"] and result["metric"] == "accuracy" and result["value"] >= 0.99
    assert result["steps"] == result["solved_at_step"] and result["curve"][-1][0] == result["steps"]


def test_budget_and_failure_are_reported():
    config = LongDepConfig(hidden_size=4, batch_size=8, max_steps=3, eval_every=10, test_size=20)
    result = train_long_dependency("adding", "gru", 10, config)
    assert result["steps"] == 3 and not result["solved"] and result["solved_at_step"] is None
    assert result["metric"] == "mse" and result["value"] > 0.01 and len(result["curve"]) == 1


def test_forget_bias_opens_the_lstm_forget_gate_and_the_gru_update_gate():
    torch.manual_seed(0)
    plain = SequenceModel(2, 1, "gru", hidden_size=3, forget_bias=0.0).recurrent.bias_ih_l0.detach()
    torch.manual_seed(0)
    biased = SequenceModel(2, 1, "gru", hidden_size=3, forget_bias=4.0).recurrent.bias_ih_l0.detach()
    assert torch.allclose(biased - plain, torch.tensor([0.0] * 3 + [4.0] * 3 + [0.0] * 3))  # r, z, n
    torch.manual_seed(0)
    lstm = SequenceModel(2, 1, "lstm", hidden_size=3, forget_bias=4.0).recurrent.bias_ih_l0.detach()
    assert float(lstm[3:6].min()) > 3.0 and float(lstm[:3].abs().max()) < 1.0  # i, f, g, o


@pytest.mark.parametrize("cell, name", [("lstm", "bias_ih_l0"), ("lnlstm", "norm_ih_bias_l0")])
def test_input_bias_closes_the_lstm_input_gate(cell, name):
    torch.manual_seed(0)
    plain = getattr(SequenceModel(2, 1, cell, hidden_size=3).recurrent, name).detach()
    torch.manual_seed(0)
    closed = getattr(SequenceModel(2, 1, cell, hidden_size=3, input_bias=-4.0).recurrent, name).detach()
    assert torch.allclose(closed - plain, torch.tensor([-4.0] * 3 + [0.0] * 9))
