"""The dinucleotide-preserving shuffle: exact 2-let counts, first and last letter kept, seeded, varied, uniform."""

from __future__ import annotations

import itertools
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.dinucleotide_shuffle import dinucleotide_counts, dinucleotide_shuffle

DNA = st.text(alphabet="ACGTN", min_size=0, max_size=120)


def test_dinucleotide_counts_are_the_overlapping_pairs():
    assert dinucleotide_counts("ACAC") == Counter({"AC": 2, "CA": 1})
    assert dinucleotide_counts("A") == Counter()


@settings(max_examples=200, deadline=None)
@given(sequence=DNA, seed=st.integers(0, 2**32 - 1))
def test_shuffle_keeps_dinucleotide_counts_and_both_ends_exactly(sequence, seed):
    shuffled = dinucleotide_shuffle(sequence, random.Random(seed))
    assert len(shuffled) == len(sequence)
    assert dinucleotide_counts(shuffled) == dinucleotide_counts(sequence)
    assert Counter(shuffled) == Counter(sequence)
    if sequence:
        assert shuffled[0] == sequence[0] and shuffled[-1] == sequence[-1]


def test_shuffle_is_seeded_and_gives_different_sequences():
    letters = random.Random(1)
    sequence = "".join(letters.choice("ACGT") for _ in range(101))
    first = [dinucleotide_shuffle(sequence, random.Random(seed)) for seed in range(20)]
    again = [dinucleotide_shuffle(sequence, random.Random(seed)) for seed in range(20)]
    assert first == again
    assert len(set(first)) == 20 and sequence not in first


def test_shuffle_draws_every_sequence_with_the_same_counts_about_equally_often():
    sequence = "ACAGTACGA"
    same = {"".join(letters) for letters in itertools.permutations(sequence)
            if letters[0] == sequence[0] and letters[-1] == sequence[-1]
            and dinucleotide_counts("".join(letters)) == dinucleotide_counts(sequence)}
    rng = random.Random(0)
    draws = Counter(dinucleotide_shuffle(sequence, rng) for _ in range(300 * len(same)))
    assert set(draws) == same and len(same) > 3  # every one reachable, nothing else
    expected = 300
    assert all(abs(count - expected) < 5 * expected**0.5 for count in draws.values()), draws  # uniform: within 5 sd


def test_short_and_single_letter_sequences_come_back_unchanged():
    rng = random.Random(0)
    assert dinucleotide_shuffle("", rng) == "" and dinucleotide_shuffle("AC", rng) == "AC"
    assert dinucleotide_shuffle("AAAAA", rng) == "AAAAA"
