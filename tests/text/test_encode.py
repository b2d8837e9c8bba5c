"""pad_sequences, lengths_to_mask and one_hot, each compared with torch's own building blocks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.text import lengths_to_mask, one_hot, pad_sequences


def test_pad_sequences_values_and_lengths():
    ids, lengths = pad_sequences([[5, 2, 7], [4, 9], [1]], pad_id=0)
    assert ids.tolist() == [[5, 2, 7], [4, 9, 0], [1, 0, 0]]
    assert lengths.tolist() == [3, 2, 1]
    assert ids.dtype == lengths.dtype == torch.long


def test_pad_sequences_accepts_tensors_numpy_and_negative_pad():
    seqs = [torch.tensor([3, 4], dtype=torch.int32), np.array([5]), range(6, 9), (1,)]
    ids, lengths = pad_sequences(seqs, pad_id=-100)
    assert ids.tolist() == [[3, 4, -100], [5, -100, -100], [6, 7, 8], [1, -100, -100]]
    assert lengths.tolist() == [2, 1, 3, 1]


def test_pad_sequences_max_len_truncates():
    ids, lengths = pad_sequences([[1, 2, 3, 4], [5, 6]], pad_id=0, max_len=3)
    assert ids.tolist() == [[1, 2, 3], [5, 6, 0]] and lengths.tolist() == [3, 2]
    ids, lengths = pad_sequences([[1, 2], [5]], pad_id=0, max_len=10)  # T = longest, not max_len
    assert ids.shape == (2, 2) and lengths.tolist() == [2, 1]


@pytest.mark.parametrize(
    ("seqs", "kwargs", "match"),
    [
        ([[1, 2], [3], [4], [1.5, 2]], {}, r"pad_sequences: seqs\[3\] holds float values; expected integer"),
        ([[1], torch.tensor([1.0])], {}, r"seqs\[1\] holds float values"),
        ([[1], []], {}, r"seqs\[1\] is empty"),
        ([[1, -2]], {}, r"seqs\[0\] holds the negative id -2"),
        ([], {}, "seqs is empty"),
        ([[1]], {"max_len": 0}, "max_len must be an int >= 1; got 0"),
        ([[1]], {"pad_id": 0.5}, "pad_id must be an int"),
        ([[[1, 2]]], {}, r"seqs\[0\] has shape \(1, 2\)"),
        ([["a"]], {}, r"seqs\[0\] is not a sequence of integer"),
        ([[True]], {}, r"seqs\[0\] holds torch.bool values"),
    ],
)
def test_pad_sequences_errors(seqs, kwargs, match):
    kwargs = {"pad_id": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        pad_sequences(seqs, **kwargs)


def test_lengths_to_mask():
    mask = lengths_to_mask(torch.tensor([3, 1, 0]), max_len=4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    assert lengths_to_mask(torch.tensor([2, 1])).shape == (2, 2)
    for lengths, kwargs, match in [
        (torch.tensor([3, 1]), {"max_len": 2}, "max_len is 2 but the longest length is 3"),
        (torch.tensor([1.0]), {}, "holds float values"),
        (torch.tensor([[1]]), {}, "expected a 1-D tensor"),
        (torch.tensor([-1]), {}, "negative value -1"),
    ]:
        with pytest.raises(ValueError, match=match):
            lengths_to_mask(lengths, **kwargs)


def test_one_hot_and_its_errors():
    ids = torch.tensor([[2, 0], [1, 3]])
    vectors = one_hot(ids, 4)
    assert torch.equal(vectors, torch.nn.functional.one_hot(ids, 4).float())
    assert one_hot(ids, 4, dtype=torch.float64).dtype == torch.float64
    padded = one_hot(torch.tensor([2, -100]), 3, pad_id=-100)
    assert padded.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match=r"ids holds 4; expected ids in \[0, 4\)"):
        one_hot(torch.tensor([1, 4]), 4)
    with pytest.raises(ValueError, match=r"ids holds -1"):
        one_hot(torch.tensor([-1]), 4, pad_id=0)
    with pytest.raises(ValueError, match="float values"):
        one_hot(torch.tensor([1.0]), 4)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        one_hot(torch.tensor([0]), 0)


id_lists = st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=12), min_size=1, max_size=8)


@given(id_lists, st.integers(-5, 60), st.one_of(st.none(), st.integers(1, 15)))
@settings(max_examples=150, deadline=None)
def test_padding_properties(seqs, pad_id, max_len):
    ids, lengths = pad_sequences(seqs, pad_id, max_len=max_len)
    kept = [seq[:max_len] if max_len is not None else seq for seq in seqs]
    assert ids.shape == (len(seqs), max(len(seq) for seq in kept))
    assert lengths.tolist() == [len(seq) for seq in kept]
    for row, seq in enumerate(kept):
        assert ids[row, : len(seq)].tolist() == seq
        assert (ids[row, len(seq) :] == pad_id).all()
    mask = lengths_to_mask(lengths)
    assert torch.equal(mask, torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1))
    assert torch.equal(mask.sum(1), lengths)
    reference = torch.nn.utils.rnn.pad_sequence([torch.tensor(seq) for seq in kept], batch_first=True,
                                                padding_value=pad_id)
    assert torch.equal(ids, reference)


@given(id_lists)
@settings(max_examples=100, deadline=None)
def test_one_hot_round_trip(seqs):
    pad_id = 51
    ids, lengths = pad_sequences(seqs, pad_id)
    vectors = one_hot(ids, 51, pad_id=pad_id)  # pad_id outside [0, 51): padding rows are all zero
    mask = lengths_to_mask(lengths)
    assert torch.equal(vectors.argmax(-1)[mask], ids[mask])
    assert torch.equal(vectors.sum(-1), mask.float())
