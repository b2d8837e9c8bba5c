"""The dna task: shuffled negatives, the validation split before negatives, k-mer and one-hot runs, rk.load."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

import rnnkit as rk
from rnnkit.data.dinucleotide_shuffle import dinucleotide_counts
from rnnkit.data.readers.sequences import SequenceRecord
from rnnkit.models import ClassifierConfig
from rnnkit.models.binding_classifier import ConvFrontEndConfig
from rnnkit.tasks import PREDICTORS, SequenceClassifierPredictor, train_dna
from rnnkit.tasks.dna.data import SequenceDataConfig, records_from, with_shuffled_negatives
from rnnkit.train.config import TrainConfig

MOTIF = "TGACTCA"
CORE = ClassifierConfig(cell="gru", hidden_size=8, embedding_size=8, dropout=0.0)
FAST = TrainConfig(epochs=6, batch_size=16, lr=0.01, seed=0, quiet=True)


def bound(rng: random.Random, length: int = 30) -> str:
    """A random sequence with the motif planted somewhere."""
    background = [rng.choice("ACGT") for _ in range(length - len(MOTIF))]
    at = rng.randrange(len(background) + 1)
    return "".join(background[:at]) + MOTIF + "".join(background[at:])


def write_positives_fasta(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    path.write_text("".join(f">peak{i}\n{bound(rng)[:15]}\n{bound(rng)[15:]}\n" for i in range(count)))
    return path


def write_test_tsv(path: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    rows = ["FoldID\tEventID\tseq\tBound"]
    for index in range(count):
        sequence = bound(rng) if index % 2 else "".join(rng.choice("ACGT") for _ in range(30))
        rows.append(f"A\tpeak{index}\t{sequence}\t{index % 2}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_shuffled_negatives_follow_each_positive_and_keep_its_dinucleotides():
    records = [SequenceRecord("ACGTTGCAAC", None, "f line 1"), SequenceRecord("GGGCCCATAT", "1", "f line 3")]
    out = with_shuffled_negatives(records, random.Random(0))
    assert [record.label for record in out] == ["1", "0", "1", "0"]
    assert out[1].where == "f line 1 (shuffled)"
    assert dinucleotide_counts(out[1].sequence) == dinucleotide_counts("ACGTTGCAAC")
    with pytest.raises(ValueError, match=r"g line 2: label '0' with --negatives shuffle; expected only positives"):
        with_shuffled_negatives([SequenceRecord("ACGT", "0", "g line 2")], random.Random(0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dna")
    data = write_positives_fasta(folder / "peaks.fa", 100, seed=0)
    test = write_test_tsv(folder / "test.tsv", 80, seed=1)
    out = folder / "run"
    results = train_dna(out, data=data, test=test, sequence=SequenceDataConfig(negatives="shuffle"), model=CORE,
                        frontend=ConvFrontEndConfig(conv_channels=16, conv_width=7, pool_size=2), train=FAST)
    return out, results, test


def test_training_with_shuffled_negatives_learns_the_motif(trained):
    out, results, _ = trained
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "dna" and config["labels"] == ["0", "1"]
    assert config["data"]["examples"] == {"train": 180, "valid": 20, "test": 80}  # 10 positives held out, x2
    assert results["test_roc_auc"] > 0.9, results
    assert 1 <= results["best_epoch"] <= 6


def test_a_loaded_run_predicts_and_evaluates_as_trained(trained):
    out, results, test = trained
    predictor = rk.load(out)
    assert isinstance(predictor, SequenceClassifierPredictor) and PREDICTORS["dna"] is SequenceClassifierPredictor
    metrics = predictor.evaluate(test)
    assert metrics["roc_auc"] == pytest.approx(results["test_roc_auc"])
    assert metrics["examples"] == 80
    rows = predictor.predict(["AAAA" + MOTIF + "CCCCGGGGTTTTAC", "acgtacgtacgtacgtacgtacgt"])
    assert [row["name"] for row in rows] == ["sequence 1", "sequence 2"]
    assert rows[0]["probabilities"]["1"] > rows[1]["probabilities"]["1"]
    with pytest.raises(ValueError, match="sequence 1 column 3: character 'X' is not a DNA letter"):
        predictor.predict(["ACXT"])


def test_kmer_inputs_train_and_reload(tmp_path):
    data = write_positives_fasta(tmp_path / "peaks.fa", 60, seed=2)
    out = tmp_path / "kmer"
    results = train_dna(out, data=data, sequence=SequenceDataConfig(negatives="shuffle", inputs="kmer", kmer_size=3),
                        model=CORE, train=TrainConfig(epochs=1, batch_size=16, quiet=True))
    assert (out / "vocab.json").is_file()
    assert rk.load(out).evaluate(write_test_tsv(tmp_path / "t.tsv", 10, 3))["examples"] == 10
    assert "valid_roc_auc" in results


def test_one_class_without_shuffled_negatives_is_refused(tmp_path):
    data = write_positives_fasta(tmp_path / "peaks.fa", 20, seed=0)
    with pytest.raises(ValueError, match="peaks.fa line 1: record has no label"):
        train_dna(tmp_path / "run", data=data, train=FAST)
    tsv = write_test_tsv(tmp_path / "t.tsv", 20, seed=0)
    lines = tsv.read_text().splitlines()
    tsv.write_text("\n".join(lines[:1] + [line[:-1] + "1" for line in lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="every training record has the label '1'; expected at least 2 classes"):
        train_dna(tmp_path / "run", data=tsv, train=FAST)
    assert not (tmp_path / "run").exists()


def test_in_memory_pairs_are_checked_and_named_by_item(tmp_path):
    config = SequenceDataConfig(max_length=6)
    records = records_from([("acgtacgtac", "1"), ("GGGG", None)], config, "data")
    assert [(record.sequence, record.label, record.where) for record in records] == [
        ("ACGTAC", "1", "data item 1"), ("GGGG", None, "data item 2")]
    with pytest.raises(ValueError, match=r"^valid item 2 column 3: character 'X' is not a DNA letter"):
        records_from([("ACGT", "0"), ("ACXT", "1")], config, "valid")
    with pytest.raises(ValueError, match=r"^test item 1: expected a \(sequence, label\) pair"):
        records_from([("ACGT", 1)], config, "test")
    with pytest.raises(ValueError, match=r"^data item 1: record has no label; --(data|valid) needs labels"):
        train_dna(tmp_path / "run", data=[("ACGTACGT", None), ("ACGTTT", "1")], train=FAST)
    assert not (tmp_path / "run").exists()


def test_in_memory_positives_with_shuffled_negatives_train(tmp_path):
    rng = random.Random(4)
    data = [(bound(rng), None) for _ in range(20)]
    results = train_dna(tmp_path / "run", data=data, sequence=SequenceDataConfig(negatives="shuffle"), model=CORE,
                        train=TrainConfig(epochs=1, batch_size=8, quiet=True))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["train"] == "<in memory>" and config["data"]["labels_file"] is None
    assert config["data"]["examples"] == {"train": 36, "valid": 4, "test": None}
    assert "valid_roc_auc" in results


def test_read_inputs_reads_a_file_or_stdin_lines(trained, monkeypatch):
    out, _, test = trained
    predictor = rk.load(out)
    records = predictor.read_inputs(str(test))
    assert len(records) == 80 and records[0].where == f"{test} line 2" and records[0].label is None
    monkeypatch.setattr("sys.stdin", io.StringIO("ACGT\n\nTTGA\n"))
    assert [(item.text, item.where) for item in predictor.read_inputs("-")] == [
        ("ACGT", "stdin line 1"), ("TTGA", "stdin line 3")]
