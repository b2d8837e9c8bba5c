"""Property-based fuzzing of every reader: random bytes, truncations, flipped bytes, encodings, column changes.

Each reader either gives records or raises a one-line ValueError / FileNotFoundError (:func:`outcome`); for
inputs generated valid, the records are exactly what was written. ``RNNKIT_FUZZ_EXAMPLES`` sets the examples per
reader (25 in ``make test``, many more in ``make test-faults``).
"""

from __future__ import annotations

import io
import json
import math
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.readers.audio import read_wav
from rnnkit.data.readers.conll import read_conll
from rnnkit.data.readers.labelled import (
    read_class_files,
    read_class_folders,
    read_labelled,
    read_lines_with_labels,
    read_table,
)
from rnnkit.data.readers.parallel import read_pairs, read_parallel
from rnnkit.data.readers.sequences import read_label_file, read_sequences
from rnnkit.data.readers.text import read_lines, read_text
from rnnkit.data.readers.timeseries import read_timeseries
from rnnkit.tasks.run_dir import read_run_config
from tests.faults.fuzz_helpers import FUZZ, mutations, outcome


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes((np.arange(200, dtype="<i2") * 50).tobytes())
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for label in ("pos", "neg"):
            for index in range(2):
                archive.writestr(f"data/{label}/{index}.txt", f"{label} words {index}")
    return buffer.getvalue()


# reader name -> (file name, a valid file, how the reader is called on the path)
READERS = {
    "text": ("text.txt", b"hello world\nsecond line\n", lambda path: read_text(path)),
    "lines": ("lines.txt", b"hello world\n\nthird\n", lambda path: read_lines(path)),
    "table csv": ("data.csv", b'text,label\ngood film,pos\n"bad, bad film",neg\n', lambda path: read_table(path)),
    "table tsv": ("data.tsv", b"text\tlabel\ngood film\tpos\nbad film\tneg\n", lambda path: read_table(path)),
    "table jsonl": ("data.jsonl", b'{"text": "good film", "label": "pos"}\n{"text": "bad", "label": "neg"}\n',
                    lambda path: read_table(path)),
    "label lines": ("sst.txt", b"pos good film\nneg bad film\n", lambda path: read_lines_with_labels(path)),
    "class files": ("reviews.pos", b"good film\ngreat plot\n",
                    lambda path: read_class_files([path, path.parent / "fixed.neg"])),
    "class folders zip": ("folders.zip", zip_bytes(), lambda path: read_class_folders(path)),
    "auto labelled": ("any.txt", b"1 good film\n0 bad film\n", lambda path: read_labelled(path)),
    "pairs tsv": ("pairs.tsv", b"hello world\tbonjour monde\nyes\toui\n", lambda path: read_pairs(path)),
    "parallel": ("corpus.en", b"hello\nyes\n", lambda path: read_parallel(path, path.parent / "fixed.fr")),
    "fasta": ("seqs.fa", b">a label=1\nACGTN\nACG\n>b label=0\nTTGA\n", lambda path: read_sequences(path)),
    "sequence tsv": ("seqs.tsv", b"seq\tBound\nACGT\t1\nTTGA\t0\n", lambda path: read_sequences(path)),
    "label file": ("labels.txt", b"a\t1\nb 0\n", lambda path: read_label_file(path)),
    "conll": ("train.conll", b"-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nGerman B-MISC\n",
              lambda path: read_conll(path)),
    "timeseries": ("series.csv", b"month,y,x\n2000-01,1,5\n2000-02,2.5,6\n2000-03,-3e2,7\n",
                   lambda path: read_timeseries(path, ["y"], "month", features=["x"])),
    "wav": ("sound.wav", wav_bytes(), lambda path: read_wav(path)),
    "run config": ("config.json", json.dumps({"format": "rnnkit.run", "task": "lm", "model": {}}).encode(),
                   lambda path: read_run_config(path.parent)),
}


def prepare(folder: Path) -> None:
    (folder / "fixed.neg").write_text("bad film\n")
    (folder / "fixed.fr").write_text("bonjour\noui\n")


@pytest.mark.parametrize("reader", READERS)
def test_reader_gives_records_or_one_line_errors(tmp_path, reader):
    name, valid, call = READERS[reader]
    prepare(tmp_path)
    path = tmp_path / name

    @FUZZ
    @given(data=mutations(valid))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        outcome(lambda: call(path), reader)

    check()
    path.write_bytes(valid)
    assert outcome(lambda: call(path), reader) is not None  # the valid file itself reads


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü", min_size=1, max_size=8)
SENTENCE = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


@FUZZ
@given(examples=st.lists(st.tuples(st.sampled_from(["pos", "neg", "__label__x"]), SENTENCE), min_size=1, max_size=8))
def test_label_lines_read_back_exactly(tmp_path_factory, examples):
    path = tmp_path_factory.mktemp("labels") / "data.txt"
    path.write_text("".join(f"{label} {text}\n" for label, text in examples), encoding="utf-8")
    records = outcome(lambda: read_lines_with_labels(path), "label lines (valid)")
    assert [(record.label, record.text) for record in records] == examples


@FUZZ
@given(pairs=st.lists(st.tuples(SENTENCE, SENTENCE), min_size=1, max_size=8), bom=st.booleans())
def test_sentence_pairs_read_back_exactly(tmp_path_factory, pairs, bom):
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    path.write_text(("\ufeff" if bom else "") + "".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    records = outcome(lambda: read_pairs(path), "pairs (valid)")
    assert [(pair.source, pair.target) for pair in records] == pairs


@FUZZ
@given(values=st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=30),
       start=st.integers(1900, 2100))
def test_series_read_back_exactly(tmp_path_factory, values, start):
    path = tmp_path_factory.mktemp("series") / "series.csv"
    months = [f"{start + index // 12}-{index % 12 + 1:02d}" for index in range(len(values))]
    path.write_text("month,y\n" + "".join(f"{month},{value!r}\n" for month, value in zip(months, values, strict=True)))
    series = outcome(lambda: read_timeseries(path, ["y"], "month"), "timeseries (valid)")
    assert series.dates == months and series.values[:, 0].tolist() == values
    assert all(math.isfinite(value) for value in series.values[:, 0])


@FUZZ
@given(records=st.lists(st.tuples(st.text(alphabet="ACGTN", min_size=1, max_size=40), st.sampled_from(["0", "1"])),
                        min_size=1, max_size=8), width=st.integers(5, 60))
def test_fasta_reads_back_exactly(tmp_path_factory, records, width):
    path = tmp_path_factory.mktemp("fasta") / "seqs.fa"
    lines = []
    for index, (sequence, label) in enumerate(records):
        lines.append(f">s{index} label={label}")
        lines += [sequence[start:start + width] for start in range(0, len(sequence), width)]
    path.write_text("\n".join(lines) + "\n")
    read = outcome(lambda: read_sequences(path), "fasta (valid)")
    assert [(record.sequence, record.label) for record in read] == records
