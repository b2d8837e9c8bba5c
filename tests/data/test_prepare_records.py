"""Interrupted ``rnnkit prepare classify|tag|dna`` resume: a re-run keeps the shards recorded before the
interruption, writes only the rest, and ends with the files of an uninterrupted run, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.data import prepare_records as records_module
from rnnkit.tasks.classify.prepare import prepare_classify
from rnnkit.tasks.dna.data import SequenceDataConfig
from rnnkit.tasks.dna.prepare import prepare_dna
from rnnkit.tasks.tag import prepare as tag_prepare
from rnnkit.tasks.tag.data import TagDataConfig
from rnnkit.tasks.tag.prepare import prepare_tag
from rnnkit.tasks.text_data import TextDataConfig
from tests.tasks.test_classify_prepared import _write_csv
from tests.tasks.test_dna import write_positives_fasta
from tests.test_cli_tag import write_conll


class _Stop(Exception):
    pass


def _kinds(folder: Path) -> dict[str, object]:
    _write_csv(folder / "texts.csv", 200, 0)
    write_conll(folder / "train.conll", 120, seed=0)
    write_positives_fasta(folder / "peaks.fa", 60, seed=0)
    return {
        "classify": lambda out, **o: prepare_classify([folder / "texts.csv"], out, TextDataConfig(), **o),
        "tag": lambda out, **o: prepare_tag([folder / "train.conll"], out, TagDataConfig(), **o),
        "dna": lambda out, **o: prepare_dna([folder / "peaks.fa"], out, SequenceDataConfig(negatives="shuffle"), **o),
    }


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.name != "index.json"}


@pytest.mark.parametrize("kind", ["classify", "tag", "dna"])
def test_an_interrupted_prepare_resumes_to_the_uninterrupted_files(tmp_path, monkeypatch, kind):
    prepare = _kinds(tmp_path)[kind]
    clean = prepare(tmp_path / "clean", shard_tokens=150)
    assert len(clean["shards"]) >= 4
    write_shard, written = records_module.write_shard, []

    def failing(out, number, part, pieces, dtype, end):
        if part == 2:
            raise _Stop  # as a kill would: the offsets and labels on disk already hold records past shard 1
        written.append(part)
        return write_shard(out, number, part, pieces, dtype, end)

    monkeypatch.setattr(records_module, "write_shard", failing)
    with pytest.raises(_Stop):
        prepare(tmp_path / "out", shard_tokens=150)
    assert written == [0, 1] and not (tmp_path / "out" / "index.json").exists()
    work = tmp_path / "out" / ".work"
    recorded = json.loads((work / "shard-00000-00001.bin.json").read_text())["end"]  # records before its end
    assert (work / "offsets.bin.tmp").stat().st_size > 8 * (recorded + 1)  # to be cut back on resuming
    again = []
    monkeypatch.setattr(records_module, "write_shard", lambda *a: again.append(a[2]) or write_shard(*a))
    resumed = prepare(tmp_path / "out", shard_tokens=150)
    assert again == list(range(2, len(clean["shards"])))  # the recorded shards are kept, not rewritten
    assert _files(tmp_path / "out") == _files(tmp_path / "clean")
    strip = lambda index: {k: v for k, v in index.items() if k != "seconds"}  # noqa: E731
    assert strip(resumed) == strip(clean)
    assert not (tmp_path / "out" / ".work").exists()
    count = len(again)
    assert strip(prepare(tmp_path / "out", shard_tokens=150)) == strip(clean)  # finished: returned as it is
    assert len(again) == count


def test_an_interruption_after_counting_keeps_the_vocabulary(tmp_path, monkeypatch):
    prepare = _kinds(tmp_path)["tag"]
    clean = prepare(tmp_path / "clean")
    monkeypatch.setattr(records_module, "_write", lambda *a: (_ for _ in ()).throw(_Stop()))
    with pytest.raises(_Stop):
        prepare(tmp_path / "out")
    assert json.loads((tmp_path / "out" / ".work" / "labels.json").read_text()) == clean["labels"]
    monkeypatch.undo()
    monkeypatch.setattr(tag_prepare, "_count", lambda *a: (_ for _ in ()).throw(AssertionError("counted again")))
    resumed = prepare(tmp_path / "out")  # pass 1 is not run again
    assert _files(tmp_path / "out") == _files(tmp_path / "clean") and resumed["texts"] == clean["texts"]


def test_a_changed_input_is_not_mixed_with_an_unfinished_preparation(tmp_path, monkeypatch):
    prepare = _kinds(tmp_path)["classify"]
    monkeypatch.setattr(records_module, "write_shard", lambda *a: (_ for _ in ()).throw(_Stop()))
    with pytest.raises(_Stop):
        prepare(tmp_path / "out", shard_tokens=150)
    monkeypatch.undo()
    _write_csv(tmp_path / "texts.csv", 201, 0)
    with pytest.raises(ValueError, match="other files or settings"):
        prepare(tmp_path / "out", shard_tokens=150)


KILLED = """
import os, signal, sys
from pathlib import Path
from rnnkit.data import prepare_records
from rnnkit.tasks.classify.prepare import prepare_classify
from rnnkit.tasks.text_data import TextDataConfig

write_shard = prepare_records.write_shard

def dying(out, number, part, pieces, dtype, end):
    if part == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # no exception handler, no flush, no clean-up
    return write_shard(out, number, part, pieces, dtype, end)

prepare_records.write_shard = dying
prepare_classify([Path(sys.argv[1])], Path(sys.argv[2]), TextDataConfig(), shard_tokens=150)
"""


@pytest.mark.slow  # a child process importing torch: several seconds on two busy cores
def test_a_killed_prepare_resumes_to_the_uninterrupted_files(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    prepare = _kinds(tmp_path)["classify"]
    clean = prepare(tmp_path / "clean", shard_tokens=150)
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    killed = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "texts.csv"), str(tmp_path / "out")],
                            env=environment, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert sorted(path.name for path in (tmp_path / "out").glob("shard-*")) == ["shard-00000-00000.bin",
                                                                                "shard-00000-00001.bin"]
    resumed = prepare(tmp_path / "out", shard_tokens=150)
    assert _files(tmp_path / "out") == _files(tmp_path / "clean") and resumed["shards"] == clean["shards"]
