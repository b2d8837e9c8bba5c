"""A 200 MB zip bomb and a 50 MB line, each refused under an address-space limit with a small peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.faults.fault_counts import peak
from tests.faults.run_helpers import write_text

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LIMIT_MB = 3000  # address space: torch alone maps ~1.5 GB of it; the 5.2 GB of the bomb would not fit
PEAK_MB = 500


def probe(*args: object, **environment: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.faults.memory_probe", str(LIMIT_MB), *map(str, args)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", **environment},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_zip_bomb_is_refused_with_little_memory(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for label in ("pos", "neg"):
            archive.writestr(f"data/{label}/a.txt", f"{label} words")
        with archive.open("data/pos/zeros.txt", "w", force_zip64=True) as member:
            block = bytes(2**20)
            for _ in range(200):  # 200 MB of zeros
                member.write(block)
    assert bomb.stat().st_size < 400_000
    outcome = probe("train", "classify", "--data", bomb, "--out", tmp_path / "run", "--quiet")
    assert outcome["code"] == 2 and "zeros.txt: unpacks to more than" in outcome["stderr"], outcome
    assert len(outcome["stderr"].splitlines()) == 1
    assert outcome["peak_mb"] < PEAK_MB, outcome
    peak("memory zip bomb (MB)", outcome["peak_mb"])


def test_a_50_mb_line_at_prediction_is_refused_with_little_memory(tmp_path):
    rows = ["text,label"] + [f"{word} film {index},{label}" for index in range(12)
                             for word, label in (("good", "pos"), ("bad", "neg"))]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    trained = subprocess.run([sys.executable, "-m", "rnnkit", "train", "classify", "--data", tmp_path / "train.csv",
                              "--out", run, "--epochs", "1", "--hidden-size", "4", "--embedding-size", "4",
                              "--quiet"], env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, capture_output=True,
                             text=True)
    assert trained.returncode == 0, trained.stderr
    long = tmp_path / "long.txt"
    with open(long, "wb") as stream:
        stream.write(b"good film\n")
        for _ in range(50):
            stream.write(b"bad " * 262_144)  # 1 MiB
        stream.write(b"\n")
    outcome = probe("predict", run, "--input", long)
    assert outcome["code"] == 2 and "long.txt line 2" in outcome["stderr"], outcome
    assert outcome["peak_mb"] < PEAK_MB, outcome
    peak("memory long line (MB)", outcome["peak_mb"])


def test_the_probe_sees_a_large_allocation(tmp_path):
    """The probe's peak is real: a model of ~150M parameters (the parameter cap switched off) goes over it or
    runs into the address-space limit."""
    data = write_text(tmp_path / "text.txt")
    outcome = probe("train", "lm", "--data", data, "--out", tmp_path / "run", "--hidden-size", "6000",
                    "--embedding-size", "8", "--epochs", "1", "--max-steps-per-epoch", "1", "--quiet",
                    RNNKIT_MAX_PARAMETERS="0")
    assert outcome["code"] in ("MemoryError", "RuntimeError") or outcome["peak_mb"] > PEAK_MB, outcome
