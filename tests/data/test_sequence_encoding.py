"""One-hot columns (N as 1/4 each, padding zeros) and overlapping k-mer tokens."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.sequence_encoding import kmers, letter_ids, one_hot, one_hot_table
from rnnkit.models.binding_classifier import letter_table


def test_one_hot_of_one_sequence_in_acgt_order_with_n_uniform():
    expected = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0.25] * 4])
    assert torch.equal(one_hot("ACGTN"), expected)
    assert torch.equal(one_hot("acgtn"), expected)


def test_one_hot_of_several_pads_with_zero_rows():
    batch = one_hot(["AC", "GTA"])  # (B, T, 4)
    assert batch.shape == (2, 3, 4)
    assert torch.equal(batch[0, 2], torch.zeros(4)) and torch.equal(batch[1], one_hot("GTA"))


def test_letter_ids_and_the_tables_agree():
    assert letter_ids("ACGTN") == [1, 2, 3, 4, 5]
    assert torch.equal(one_hot_table("dna"), letter_table(4))
    assert torch.equal(one_hot_table("protein"), letter_table(20))
    assert one_hot_table("protein")[21].sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="character 'U' is not a DNA letter"):
        letter_ids("ACU")


def test_kmers_overlap_one_per_position():
    assert kmers("ACGTA", 3) == ["ACG", "CGT", "GTA"]
    assert kmers("ACGTA", 1) == list("ACGTA")
    assert kmers("AC", 3) == []
    with pytest.raises(ValueError, match="k: got 0"):
        kmers("ACGT", 0)
