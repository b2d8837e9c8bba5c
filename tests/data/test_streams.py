"""LM streams: batchify's layout, plain BPTT windows, and TBPTT(k1, k2) windows that count each target once."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import Window, batchify, bptt_windows, num_windows


def test_batchify_layout_matches_the_diagram():
    streams = batchify(torch.arange(26), batch_size=4)
    assert streams.dtype == torch.long
    assert streams.tolist() == [list(range(0, 6)), list(range(6, 12)), list(range(12, 18)), list(range(18, 24))]


def test_batchify_accepts_a_list_and_exact_multiples():
    assert batchify(list(range(6)), batch_size=3).tolist() == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("count, batch_size", [(7, 4), (3, 2), (0, 1)])
def test_batchify_too_short_names_both_numbers(count, batch_size):
    with pytest.raises(ValueError, match=rf"{count} ids are too few for batch_size {batch_size}"):
        batchify(torch.arange(count), batch_size)


@pytest.mark.parametrize("ids, batch_size", [(torch.arange(10), 0), (torch.zeros(2, 5, dtype=torch.long), 1),
                                              (torch.rand(10), 2)])
def test_batchify_rejects_bad_input(ids, batch_size):
    with pytest.raises(ValueError, match="batchify"):
        batchify(ids, batch_size)


def test_plain_windows_shift_by_one_and_the_last_is_shorter():
    streams = batchify(torch.arange(26), batch_size=4)  # (4, 6)
    windows = list(bptt_windows(streams, bptt=2))
    assert len(windows) == num_windows(6, bptt=2) == 3
    assert [window.inputs[0].tolist() for window in windows] == [[0, 1], [2, 3], [4]]
    assert [window.targets[0].tolist() for window in windows] == [[1, 2], [3, 4], [5]]
    assert windows[1].inputs[3].tolist() == [20, 21] and windows[1].targets[3].tolist() == [21, 22]
    assert all(window.loss_start == 0 for window in windows)
    assert [window.carry_steps for window in windows] == [2, 2, 1]
    assert isinstance(windows[0], Window) and windows[0].inputs.shape == (4, 2)


def test_tbptt_windows_match_the_module_diagram():
    windows = list(bptt_windows(torch.arange(9).unsqueeze(0), bptt=4, k1=2))
    spans = [(window.inputs[0, 0].item(), window.inputs[0, -1].item() + 1) for window in windows]
    assert spans == [(0, 2), (0, 4), (2, 6), (4, 8)]
    assert [window.loss_start for window in windows] == [0, 2, 2, 2]
    assert [window.carry_steps for window in windows] == [0, 2, 2, 4]


@settings(max_examples=150, deadline=None)
@given(length=st.integers(2, 60), bptt=st.integers(1, 12), data=st.data())
def test_tbptt_counts_each_target_once_and_carries_to_the_next_start(length, bptt, data):
    k1 = data.draw(st.one_of(st.none(), st.integers(1, bptt)), label="k1")
    step = bptt if k1 is None else k1
    streams = torch.arange(length).unsqueeze(0).repeat(2, 1)  # ids equal positions
    windows = list(bptt_windows(streams, bptt=bptt, k1=k1))
    assert len(windows) == num_windows(length, bptt, k1)
    counted = []
    for index, window in enumerate(windows):
        start, size = window.inputs[0, 0].item(), window.inputs.shape[1]
        assert window.inputs[0].tolist() == list(range(start, start + size))
        assert torch.equal(window.targets, window.inputs + 1)
        assert size <= bptt and 0 <= window.loss_start < size and size - window.loss_start <= step
        assert 0 <= window.carry_steps <= size
        counted += window.targets[0, window.loss_start :].tolist()
        if index + 1 < len(windows):  # (b) the next window begins where carry_steps says
            assert windows[index + 1].inputs[0, 0].item() == start + window.carry_steps
        else:
            assert window.carry_steps == size
    assert counted == list(range(1, length))  # (a) every target exactly once, in order


@settings(max_examples=40, deadline=None)
@given(length=st.integers(2, 40), bptt=st.integers(1, 8))
def test_k1_equal_to_bptt_is_the_plain_walk(length, bptt):
    streams = torch.randint(0, 50, (3, length))
    plain, same = list(bptt_windows(streams, bptt)), list(bptt_windows(streams, bptt, k1=bptt))
    assert len(plain) == len(same)
    for first, second in zip(plain, same, strict=True):
        assert torch.equal(first.inputs, second.inputs) and torch.equal(first.targets, second.targets)
        expected = (0, first.inputs.shape[1])
        assert (first.loss_start, first.carry_steps) == (second.loss_start, second.carry_steps) == expected


@pytest.mark.parametrize("k1", [None, 1, 3, 5])
def test_carried_state_reproduces_the_full_run(k1):
    """Running each window from the carried state gives, at the counted positions, the full sequence's outputs."""
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 6, batch_first=True).double()
    embedding = torch.nn.Embedding(30, 4).double()

    def run(ids, state):  # a window piece may be empty: then the state passes through
        if ids.shape[1] == 0:
            return torch.zeros(ids.shape[0], 0, 6, dtype=torch.float64), state
        return rnn(embedding(ids), state)

    streams = batchify(torch.randint(0, 30, (53,)), batch_size=2)  # (2, 26)
    with torch.no_grad():
        full, _ = rnn(embedding(streams[:, :-1]))  # (2, 25, 6)
        outputs, state = [], None
        for window in bptt_windows(streams, bptt=5, k1=k1):
            head, carried = run(window.inputs[:, : window.carry_steps], state)
            tail, _ = run(window.inputs[:, window.carry_steps :], carried)
            outputs.append(torch.cat([head, tail], dim=1)[:, window.loss_start :])
            state = carried
    torch.testing.assert_close(torch.cat(outputs, dim=1), full)


@pytest.mark.parametrize("kwargs, message", [
    (dict(bptt=0), "bptt must be an int >= 1"),
    (dict(bptt=3, k1=4), "k1 must be <= bptt"),
    (dict(bptt=3, k1=0), "k1 must be an int >= 1"),
])
def test_bad_window_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next(bptt_windows(torch.zeros(2, 5, dtype=torch.long), **kwargs))
    with pytest.raises(ValueError, match=message):
        num_windows(5, **kwargs)


def test_bad_streams_shape():
    with pytest.raises(ValueError, match=r"expected \(B, L\) with L >= 2"):
        next(bptt_windows(torch.zeros(2, 1, dtype=torch.long), bptt=2))
    with pytest.raises(ValueError, match=r"expected \(B, L\)"):
        next(bptt_windows(torch.zeros(5, dtype=torch.long), bptt=2))
