"""BucketBatchSampler: every index once, deterministic, epoch-dependent, and less padding than random batches."""

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import BucketBatchSampler, padding_fraction
from rnnkit.data.batching import bucketed_epochs, length_ordered_batches


def skewed_lengths(count=2000, seed=0):
    """Mostly short sequences with a long tail, as in real text (a log-normal distribution)."""
    generator = random.Random(seed)
    return [max(1, min(400, int(generator.lognormvariate(3.0, 1.0)))) for _ in range(count)]


def random_batches(count, batch_size, seed=0):
    indices = list(range(count))
    random.Random(seed).shuffle(indices)
    return [indices[start : start + batch_size] for start in range(0, count, batch_size)]


def test_every_index_exactly_once_and_len():
    lengths = skewed_lengths(1003)
    sampler = BucketBatchSampler(lengths, batch_size=32, bucket_size_multiplier=5)
    batches = list(sampler)
    assert len(batches) == len(sampler) == math.ceil(1003 / 32)
    assert sorted(index for batch in batches for index in batch) == list(range(1003))
    assert sorted(len(batch) for batch in batches)[1:] == [32] * (len(batches) - 1)


def test_drop_last_drops_only_the_short_batch():
    sampler = BucketBatchSampler(skewed_lengths(1003), batch_size=32, drop_last=True, bucket_size_multiplier=5)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 1003 // 32
    assert all(len(batch) == 32 for batch in batches)
    assert len({index for batch in batches for index in batch}) == 31 * 32


def test_deterministic_for_a_seed_and_epoch():
    lengths = skewed_lengths(500)
    first = BucketBatchSampler(lengths, batch_size=16, seed=3)
    second = BucketBatchSampler(lengths, batch_size=16, seed=3)
    assert list(first) == list(second)
    assert list(first) == list(first)  # iterating again without set_epoch repeats the order
    first.set_epoch(1)
    assert list(first) != list(second)
    second.set_epoch(1)
    assert list(first) == list(second)
    assert list(BucketBatchSampler(lengths, batch_size=16, seed=4)) != list(BucketBatchSampler(lengths, 16, seed=3))


def test_without_shuffle_batches_are_sorted_chunks():
    lengths = [3, 1, 4, 1, 5, 9, 2, 6]
    sampler = BucketBatchSampler(lengths, batch_size=2, shuffle=False, bucket_size_multiplier=2)
    assert list(sampler) == [[2, 0], [1, 3], [5, 7], [4, 6]]  # chunks [0..3], [4..7], longest first
    sampler.set_epoch(5)
    assert list(sampler) == [[2, 0], [1, 3], [5, 7], [4, 6]]


def test_bucketing_cuts_padding_against_random_batches():
    lengths = skewed_lengths(4000)
    bucketed = padding_fraction(lengths, BucketBatchSampler(lengths, batch_size=32, bucket_size_multiplier=50))
    shuffled = padding_fraction(lengths, random_batches(len(lengths), 32))
    assert shuffled > 0.5  # random batches of a skewed distribution are mostly padding
    assert bucketed < 0.5 * shuffled


def test_padding_fraction_by_hand():
    assert padding_fraction([2, 4, 3, 3], [[0, 1], [2, 3]]) == pytest.approx(2 / 14)
    assert padding_fraction([2, 2], [[0, 1]]) == 0.0
    with pytest.raises(ValueError, match="batches is empty"):
        padding_fraction([1], [])
    with pytest.raises(ValueError, match=r"batches\[0\] is empty or holds an index outside"):
        padding_fraction([1], [[1]])


@pytest.mark.parametrize(
    ("lengths", "kwargs", "match"),
    [
        ([], {}, "lengths is empty"),
        ([1, -1], {}, "negative value -1"),
        ([1.5], {}, "1-D sequence of int"),
        ([1], {"batch_size": 0}, "batch_size must be an int >= 1; got 0"),
        ([1], {"bucket_size_multiplier": 0}, "bucket_size_multiplier must be an int >= 1"),
        ([1], {"seed": "x"}, "seed must be an int"),
    ],
)
def test_bad_arguments(lengths, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BucketBatchSampler(lengths, **{"batch_size": 2, **kwargs})


def test_works_with_a_dataloader():
    data = [torch.arange(length) for length in skewed_lengths(100)]
    sampler = BucketBatchSampler([len(item) for item in data], batch_size=8)
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=lambda batch: batch)
    assert sum(len(batch) for batch in loader) == 100 and len(loader) == len(sampler)


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=60),
    st.integers(1, 9),
    st.integers(1, 4),
    st.booleans(),
    st.booleans(),
    st.integers(0, 3),
)
@settings(max_examples=150, deadline=None)
def test_partition_property(lengths, batch_size, multiplier, shuffle, drop_last, epoch):
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, drop_last=drop_last,
                                 bucket_size_multiplier=multiplier)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    seen = [index for batch in batches for index in batch]
    assert len(seen) == len(set(seen)) and set(seen) <= set(range(len(lengths)))
    expected = len(lengths) - (len(lengths) % batch_size if drop_last else 0)
    assert len(seen) == expected
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_bucketed_epochs_cover_every_index_once_and_repeat_for_the_same_epoch():
    lengths = [5, 1, 9, 3, 3, 7, 2, 8, 4, 6]
    batches, steps = bucketed_epochs(lengths, 3, seed=1, make_batch=list)
    first = list(batches(0))
    assert len(first) == steps == 4
    assert sorted(index for batch in first for index in batch) == list(range(10))
    assert list(batches(0)) == first and list(batches(1)) != first


def test_length_ordered_batches_go_shortest_first_and_say_which_rows_they_hold():
    lengths = [5, 1, 9, 3]
    got = list(length_ordered_batches(lengths, 3, make_batch=lambda indices: [lengths[i] for i in indices]))
    assert got == [([1, 3, 0], [1, 3, 5]), ([2], [9])]
