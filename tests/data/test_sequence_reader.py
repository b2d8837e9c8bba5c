"""The sequence reader: FASTA (multi-line, labels in headers or a file), TSV as DeepBind's, .gz, and bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rnnkit.data.readers.sequences import (
    detect_sequence_format,
    read_fasta,
    read_label_file,
    read_sequence_table,
    read_sequences,
)

FASTA = """>seq1 chr1:1-12 label=1
ACGTAC
gtnn

; a comment
>seq2 label=0
TTTT
>seq3
ACG
"""
DEEPBIND = "FoldID\tEventID\tseq\tBound\nA\tpeak1\tACGTACGT\t1\nA\tpeak2\tTTGCAANN\t0\n"


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["reads.fa", "reads.fasta.gz"])
def test_fasta_joins_multi_line_records_upper_cases_and_reads_header_labels(tmp_path, name):
    path = write(tmp_path / name, FASTA)
    records = list(read_fasta(path))
    assert [(r.name, r.sequence, r.label) for r in records] == [
        ("seq1", "ACGTACGTNN", "1"), ("seq2", "TTTT", "0"), ("seq3", "ACG", None)]
    assert records[1].where == f"{path} line 6"
    assert detect_sequence_format(path) == "fasta"


def test_fasta_labels_from_a_separate_file(tmp_path):
    fasta = write(tmp_path / "a.txt", ">x\nACGT\n>y\nGGCC\n")
    labels = read_label_file(write(tmp_path / "labels.tsv", "x\tbound\ny unbound\n\n"))
    assert labels == {"x": "bound", "y": "unbound"}
    assert [r.label for r in read_sequences(fasta, labels=labels)] == ["bound", "unbound"]  # '>' detected
    with pytest.raises(ValueError, match=r"a.txt line 3: record 'y' has no label in the labels file"):
        list(read_fasta(fasta, labels={"x": "1"}))
    with pytest.raises(ValueError, match=r"labels.tsv line 1: 3 fields; expected NAME and LABEL"):
        read_label_file(write(tmp_path / "labels.tsv", "x 1 2\n"))


@pytest.mark.parametrize("name", ["train.seq.gz", "train.tsv"])
def test_deepbind_table_plain_and_gzip(tmp_path, name):
    path = write(tmp_path / name, DEEPBIND)
    records = list(read_sequences(path))
    assert [(r.sequence, r.label) for r in records] == [("ACGTACGT", "1"), ("TTGCAANN", "0")]
    assert records[1].where == f"{path} line 3"
    assert [r.label for r in read_sequence_table(path, label_column=None)] == [None, None]


def test_fasta_malformed_records_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"f.fa line 1: sequence before the first '>' header"):
        list(read_fasta(write(tmp_path / "f.fa", "ACGT\n>x\nACGT\n")))
    with pytest.raises(ValueError, match=r"f.fa line 1: record 'x' has no sequence"):
        list(read_fasta(write(tmp_path / "f.fa", ">x\n>y\nACGT\n")))
    with pytest.raises(ValueError, match=r"f.fa line 3: empty header"):
        list(read_fasta(write(tmp_path / "f.fa", ">x\nA\n>\nACGT\n")))


def test_table_malformed_rows_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match=r"t.tsv line 1: no label column 'Bound' in the header \(found 'seq', 'y'\)"):
        list(read_sequences(write(tmp_path / "t.tsv", "seq\ty\nACGT\t1\n")))
    with pytest.raises(ValueError, match=r"t.tsv line 4: 2 tab-separated fields; expected 4"):
        list(read_sequences(write(tmp_path / "t.tsv", DEEPBIND + "A\tpeak3\n")))
    with pytest.raises(ValueError, match=r"t.tsv line 2: empty sequence in column 'seq'"):
        list(read_sequences(write(tmp_path / "t.tsv", "seq\tBound\n \t1\n")))
    with pytest.raises(ValueError, match=r"t.tsv: no header line"):
        list(read_sequences(write(tmp_path / "t.tsv", "\n")))


def test_a_character_outside_acgtn_names_file_line_column_and_character(tmp_path):
    with pytest.raises(ValueError, match=r"f.fa line 3 column 3: character 'x' is not a DNA letter; expected one "
                                         r"of A, C, G, T, N \(case-insensitive\)"):
        list(read_fasta(write(tmp_path / "f.fa", ">a\nACGT\nAAxA\n")))
    with pytest.raises(ValueError, match=r"t.tsv line 2 column 12: character 'U' is not a DNA letter"):
        list(read_sequences(write(tmp_path / "t.tsv", "FoldID\tEventID\tseq\tBound\nA\tpeak1\tACGUACGT\t1\n")))
    assert [r.sequence for r in read_fasta(write(tmp_path / "p.fa", ">p\nMKTAYx\n"), alphabet="protein")] == ["MKTAYX"]


def test_missing_file_and_unknown_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.fa: no such file"):
        list(read_sequences(tmp_path / "nope.fa"))
    with pytest.raises(ValueError, match="format: got 'csv'"):
        read_sequences(tmp_path / "x.fa", format="csv")
    with pytest.raises(ValueError, match="alphabet: got 'rna'"):
        read_sequences(tmp_path / "x.fa", alphabet="rna")
