"""Sentence-pair readers: TSV and line-aligned parallel files (plain or gzip), with one-line errors."""

from __future__ import annotations

import gzip

import pytest

from rnnkit.data.readers.parallel import parallel_paths, read_pairs, read_parallel, read_tsv_pairs


def test_tsv_pairs_ignore_extra_columns_and_keep_persian(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Who?\tچه کسی؟\tCC-BY 2.0 (France) Attribution: tatoeba.org #1\n"
                    "Books.\tکتاب\u200cها\tx\n", encoding="utf-8")
    pairs = read_tsv_pairs(path)
    assert [(p.source, p.target, p.line) for p in pairs] == [("Who?", "چه کسی؟", 1), ("Books.", "کتاب\u200cها", 2)]


def test_tsv_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\nonly one column\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv line 2: 1 tab-separated column; expected at least 2"):
        read_tsv_pairs(path)
    path.write_text("a\tb\n\t b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: empty source sentence.*--skip-empty"):
        read_tsv_pairs(path)
    assert len(read_tsv_pairs(path, skip_empty=True)) == 1
    path.write_text("a\tb\n\nc\td\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: blank line"):
        read_tsv_pairs(path)
    assert [p.line for p in read_tsv_pairs(path, skip_empty=True)] == [1, 3]


def _write(path, lines, compress=False):
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_parallel_files_plain_and_gzip(tmp_path):
    _write(tmp_path / "train.de.gz", ["ein hund .", "eine katze ."], compress=True)
    _write(tmp_path / "train.en", ["a dog .", "a cat ."])
    assert parallel_paths(tmp_path / "train", "de", "en") == (tmp_path / "train.de.gz", tmp_path / "train.en")
    pairs = read_pairs(tmp_path / "train", "de", "en")
    assert [(p.source, p.target) for p in pairs] == [("ein hund .", "a dog ."), ("eine katze .", "a cat .")]


def test_misaligned_files_give_both_line_counts(tmp_path):
    source = _write(tmp_path / "x.de", ["a", "b", "c"])
    target = _write(tmp_path / "x.en", ["a", "b"])
    with pytest.raises(ValueError, match=r"x.de has 3 lines but .*x.en has 2; expected line-aligned"):
        read_parallel(source, target)


def test_parallel_empty_line_and_missing_files(tmp_path):
    source = _write(tmp_path / "y.de", ["a", "", "c"])
    target = _write(tmp_path / "y.en", ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"y.de line 2: empty source sentence"):
        read_parallel(source, target)
    assert [p.line for p in read_parallel(source, target, skip_empty=True)] == [1, 3]
    with pytest.raises(FileNotFoundError, match=r"no file .*z.de or .*z.de.gz"):
        parallel_paths(tmp_path / "z", "de", "en")
    with pytest.raises(ValueError, match="expected both"):
        read_pairs(tmp_path / "y", "de", None)
