"""Sequence classifiers from a prepared directory (``rnnkit prepare dna``): the ids (letters or k-mers), labels and
vocabulary equal what in-memory training encodes (shuffled negatives included), training from the directory
matches training in memory where the batches can be the same, and bad inputs are one-line errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rnnkit.data.prepared_records import PreparedRecords
from rnnkit.models.binding_classifier import ConvFrontEndConfig
from rnnkit.tasks.dna.data import SequenceDataConfig
from rnnkit.tasks.dna.prepare import prepare_dna
from rnnkit.tasks.dna.train import read_data
from rnnkit.train.config import TrainConfig
from tests.cli_helpers import assert_resume_is_exact, invoke
from tests.tasks.prepared_helpers import (
    assert_damage_refused,
    assert_each_refused,
    prepare_pair,
    train_both_ways,
    write_files,
)
from tests.tasks.test_dna import write_positives_fasta, write_test_tsv

TINY = ["--cell", "gru", "--hidden-size", "4", "--dropout", "0", "--quiet"]
CONV = ["--conv-channels", "4", "--conv-width", "5", "--pool-size", "2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dna")
    write_positives_fasta(folder / "peaks.fa", 40, seed=0)
    write_test_tsv(folder / "train.seq", 60, seed=2)
    write_test_tsv(folder / "valid.seq", 20, seed=1)
    return folder


def _in_memory(data: Path, valid: Path, sequence: SequenceDataConfig, seed: int):
    """What ``train dna --data DATA --valid VALID`` reads and encodes (its own read_data)."""
    run = SimpleNamespace(data=str(data), valid=str(valid), test=None, train=TrainConfig(seed=seed))
    return read_data(run, sequence, ConvFrontEndConfig(), None)


@pytest.mark.parametrize(("name", "sequence", "seed"), [
    ("peaks.fa", SequenceDataConfig(negatives="shuffle"), 5),
    ("train.seq", SequenceDataConfig(inputs="kmer", kmer_size=4, min_freq=2), 0),
    ("train.seq", SequenceDataConfig(max_length=17), 0),
], ids=["onehot-shuffled-negatives", "kmer", "max-length"])
def test_round_trip_equals_the_in_memory_encoding(files, tmp_path, name, sequence, seed):
    index = prepare_dna([files / name], tmp_path / "prep", sequence, seed=seed, shard_tokens=300)
    expected = _in_memory(files / name, files / "valid.seq", sequence, seed)
    prepared = PreparedRecords(tmp_path / "prep", "dna", verify=True)
    ids, labels = prepared.everything()
    assert len(index["shards"]) > 1 and prepared.label_names == expected.labels == ["0", "1"]
    assert [t.tolist() for t in ids] == [t.tolist() for t in expected.train.ids]
    assert labels == expected.train.labels
    if sequence.inputs == "kmer":
        assert prepared.vocab.itos == expected.vocab.itos
    else:  # letter ids, named by the vocabulary: <pad> 0, A C G T 1..4, N 5
        assert list(prepared.vocab.itos) == ["<pad>", "A", "C", "G", "T", "N"] and expected.vocab is None


def test_training_from_the_directory_matches_training_in_memory(files, tmp_path):
    """One batch of every record per epoch, no dropout: the weights agree (to float rounding) with in-memory
    training on the same file (shuffled negatives drawn with the same seed); the prepared --valid gives the metrics
    of the same file read in memory."""
    assert prepare_pair(tmp_path, "dna", files / "peaks.fa", files / "valid.seq", "--negatives", "shuffle",
                        "--seed", "3") == 20
    metrics_memory, metrics_disk = train_both_ways(
        tmp_path, "dna", ["--data", files / "peaks.fa", "--negatives", "shuffle", "--valid", files / "valid.seq"],
        ["--data", tmp_path / "prep", "--valid", tmp_path / "prep-valid"],
        [*TINY, *CONV, "--epochs", "2", "--batch-size", "200", "--seed", "3", "--test", files / "valid.seq"])
    assert metrics_disk["valid_roc_auc"] == pytest.approx(metrics_disk["test_roc_auc"])
    assert metrics_disk["valid_loss"] == pytest.approx(metrics_memory["valid_loss"], abs=1e-4)
    config = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert config["labels"] == ["0", "1"] and config["data"]["examples"]["train"] == 80
    assert config["sequence"]["negatives"] == "shuffle"  # the directory's settings
    code, out, err = invoke("predict", tmp_path / "disk", "--input", files / "valid.seq")
    assert code == 0, err


def test_bad_inputs_are_one_line_errors_naming_the_file(files, tmp_path):
    write_files(tmp_path, {"bad.fa": ">a label=1\nACGT\n>b label=0\nACXT\n",
                           "typo.seq": "seq\tBound\nACGTACGT\t1\nACGTACGA\t0\nACGTACGC\t0\nACGTAAAA\tx\n",
                           "three.seq": "seq\tBound\nACGTACGT\t1\nACGTACGA\t2\n"})
    good, kmers, valid = tmp_path / "good", tmp_path / "kmers", files / "valid.seq"
    prepare_cases = [  # (--data and flags, what the error names)
        ([tmp_path / "missing.fa"], ["missing.fa", "no such file"]),
        ([tmp_path / "bad.fa"], ["bad.fa", "line 4"]),
        ([files / "peaks.fa"], ["peaks.fa line 1", "no label"]),
        ([tmp_path / "typo.seq"], ["typo.seq line 5", "'x'"]),
        ([files / "train.seq", "--max-examples", "5"], ["--max-examples 5"]),
        ([tmp_path / "three.seq", "--vocab-from", good], ["three.seq line 3", "'2'"]),
    ]
    for out, flags in ((good, [files / "train.seq"]), (kmers, [valid, "--inputs", "kmer"])):
        assert invoke("prepare", "dna", "--out", out, "--data", *flags)[0] == 0  # the ones done right
    assert_each_refused(("prepare", "dna", "--out"), tmp_path, "p", prepare_cases)
    train_cases = [  # (--data and flags, what the error names)
        ([good], ["--valid: missing"]),
        ([good, "--valid", valid, "--inputs", "kmer"], ["--inputs kmer", str(good)]),
        ([good, "--valid", valid, "--max-examples", "10"], ["--max-examples 10"]),
        ([good, "--valid", valid, "--conv-channels", "2", "--pool-size", "40"], [str(good), "record 1 has 30 input"]),
        ([good, "--valid", kmers], [str(kmers), "another vocabulary or labels"]),
    ]
    train = ("train", "dna", *TINY, "--epochs", "1", "--out")
    assert_each_refused(train, tmp_path, "r", train_cases)
    assert_damage_refused(train, tmp_path, valid, "dna", good / "offsets.bin")


def test_resume_from_a_prepared_directory_is_exact(files, tmp_path):
    assert invoke("prepare", "dna", "--data", files / "train.seq", "--out", tmp_path / "prep")[0] == 0
    assert_resume_is_exact(tmp_path, "dna", "--data", tmp_path / "prep", "--valid", files / "valid.seq",
                           *TINY, "--batch-size", "16")
    lengths = np.diff(np.asarray(PreparedRecords(tmp_path / "prep", "dna").offsets))
    assert (lengths == 30).all()  # one id a letter
