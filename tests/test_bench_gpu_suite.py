"""bench/gpu_suite.py, prepared for a GPU, runs end to end on the CPU at tiny sizes (paths, imports, JSON rows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_suite_smoke_run_on_cpu_writes_every_part(tmp_path):
    out = tmp_path / "rows.json"
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_suite.py"), "--device", "cpu", "--smoke",
                             "--out", str(out)], capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {row["part"] for row in rows} == {"recurrent", "ptb_small", "generate"}
    assert all(row.get("tokens_per_s", row.get("rnnkit_tokens_per_s", 0)) > 0 for row in rows)
    assert {row["variant"] for row in rows if row["part"] == "recurrent"} >= {
        "torch.nn.LSTM (cuDNN)", "rk LSTM fused", "rk LSTM explicit", "rk LN-LSTM", "rk GRU explicit"}
