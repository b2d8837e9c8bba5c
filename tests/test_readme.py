"""The README's code runs as written: every ``rnnkit`` command of a block marked ``<!-- readme-test: parse -->``
or ``run`` parses; the blocks marked ``run`` are executed, in a fresh folder, with ``rnnkit data get`` served by
a loopback mirror of the built-in registry (the shared offline copies, checked against the registry's SHA-256)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.cli.main import build_parser
from rnnkit.data import datasets
from tests.data.http_fixture import FixtureServer, write_registry

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- readme-test: (parse|run) -->\n```(bash|python)\n(.*?)^```", re.S | re.M)
SHARED = Path(os.environ.get("RNNKIT_DATA_DIR", "/nonexistent-rnnkit-data"))


def marked_blocks() -> list[tuple[str, str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def commands(script: str) -> list[list[str]]:
    """The shell commands of a bash block: continuation lines joined, comments dropped."""
    return [shlex.split(line, comments=True) for line in script.replace("\\\n", " ").splitlines()
            if shlex.split(line, comments=True)]


def test_every_marked_rnnkit_command_parses():
    parser = build_parser()
    checked = 0
    for _, language, script in marked_blocks():
        if language != "bash":
            continue
        for words in commands(script):
            if words[0] == "torchrun":
                words = ["rnnkit", *words[words.index("rnnkit.cli") + 1:]]
            if words[0] != "rnnkit":
                continue
            try:
                parser.parse_args(words[1:])
            except SystemExit as stop:
                pytest.fail(f"README: {' '.join(words)}: exit {stop.code}")
            checked += 1
    assert checked >= 30  # every task's examples, not a few


def test_every_data_set_the_readme_gets_is_registered():
    registry = datasets.registry()
    named = {words[3] for _, language, script in marked_blocks() if language == "bash"
             for words in commands(script) if words[:3] == ["rnnkit", "data", "get"]}
    assert named and named <= set(registry), named - set(registry)


def mirror(server: FixtureServer, tmp_path: Path) -> Path:
    """A registry that serves the built-in entries' files from the shared copies over the loopback server."""
    entries = []
    for dataset in datasets.list_datasets():
        if any(item.store == "extract" for item in dataset.files):
            continue  # archives (IMDb, FSDD) are not rebuilt here
        files = []
        for item in dataset.files:
            data = (SHARED / dataset.name / item.path).read_bytes()
            server.files[f"/{dataset.name}/{item.path}"] = gzip.decompress(data) if item.store == "gzip" else data
            files.append({"path": item.path, item.algorithm: item.checksum, "store": item.store})
        entries.append({"name": dataset.name, "title": dataset.title, "licence": dataset.licence,
                        "example": dataset.example, "base_url": server.url(f"/{dataset.name}"), "files": files})
    return write_registry(tmp_path / "mirror.json", entries)


@pytest.mark.skipif(not (SHARED / "classic_timeseries").is_dir(), reason="RNNKIT_DATA_DIR (shared copies) not set")
def test_run_blocks_run_as_written(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rnnkit"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m rnnkit \"$@\"\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    work = tmp_path / "work"
    work.mkdir()
    with FixtureServer({}) as server:
        environment = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1",
                           PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg",
                           RNNKIT_DATASETS_REGISTRY=str(mirror(server, tmp_path)),
                           RNNKIT_DATA_DIR=str(tmp_path / "cache"))
        ran = 0
        for _, language, script in [block for block in marked_blocks() if block[0] == "run"]:
            command = ["bash", "-e", "-c", script] if language == "bash" else [sys.executable, "-c", script]
            result = subprocess.run(command, cwd=work, env=environment, capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"README block failed:\n{script}\n{result.stderr[-3000:]}"
            ran += 1
            if "rnnkit train forecast" in script:  # the airline forecast as written beats seasonal naive
                trained = next(json.loads(line) for line in result.stdout.splitlines()
                               if line.startswith("{") and '"run": "runs/airline"' in line)
                assert trained["test_rmse"] < trained["test_seasonal_naive_rmse"], trained
                assert trained["test_rmse"] < trained["test_persistence_rmse"], trained
                assert (work / "forecast.png").is_file()
        assert ran >= 3
