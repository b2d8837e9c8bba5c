"""Every file of a run directory damaged in every way, under every verb: a one-line error or the right result.

For each (file, damage, verb) on a fresh copy of a finished run: the verb either succeeds with exactly the output
of the undamaged run (the damaged file was not needed) or exits 2 with one line ``rnnkit: error: ...``; never a
traceback, never a different result, and nothing lost: a reading verb changes no file, and a failed ``--resume``
goes on, once the damaged file is put back, to exactly the result of the undamaged run. Tensor bytes flipped
in place are not among the damages: safetensors has no checksum, so such a file is indistinguishable from other
weights.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import invoke
from tests.faults.fault_counts import count
from tests.faults.run_helpers import train_args, write_text

TIMING = ("tokens_per_second", "train_seconds", "run")  # times, and the run directory (a copy per case)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(random.Random(str(path.name)).randbytes(max(path.stat().st_size, 16)))


DAMAGES = {
    "deleted": lambda path: path.unlink(),
    "empty": lambda path: path.write_bytes(b""),
    "truncated": _truncate,
    "garbage": _garbage,
    "wrong shape": lambda path: path.write_text("[]" if path.suffix in (".json", ".jsonl") else "{}"),
    "a directory": lambda path: (path.unlink(), path.mkdir()),
}


def verbs(text: Path) -> dict:
    return {
        "evaluate": lambda run: ("evaluate", run, "--data", text),
        "generate": lambda run: ("generate", run, "--length", 12, "--seed", 0, "--prompt", "the"),
        "score": lambda run: ("score", run, "the cat sat"),
        "resume": lambda run: ("train", "lm", "--out", run, "--resume", "--epochs", 2),
    }


def normalised(stdout: str) -> list:
    records = []
    for line in stdout.splitlines():
        record = json.loads(line)
        if isinstance(record, dict):
            record = {key: value for key, value in record.items() if key not in TIMING}
        records.append(record)
    return records


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != ".rnnkit.lock"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("matrix")
    text = write_text(folder / "text.txt", lines=24)
    run = folder / "run"
    code, _, err = invoke(*train_args(text, run, 1))
    assert code == 0, err
    expected = {}
    for verb, arguments in verbs(text).items():
        copy = folder / f"expected-{verb}"
        shutil.copytree(run, copy)
        code, stdout, err = invoke(*arguments(copy))
        assert code == 0, (verb, err)
        expected[verb] = normalised(stdout)
    return run, text, expected


def files_of(run: Path) -> list[str]:
    return sorted(str(path.relative_to(run)) for path in run.rglob("*") if path.is_file())


def repaired_result(run: Path, copy: Path, name: str, arguments) -> list | None:
    """Put the damaged file back as it was and run the verb again: its normalised output, None if it fails."""
    damaged = copy / name
    if damaged.is_dir():
        shutil.rmtree(damaged)
    elif damaged.exists():
        damaged.unlink()
    shutil.copy2(run / name, damaged)
    code, stdout, _ = invoke(*arguments(copy))
    return normalised(stdout) if code == 0 else None


def run_matrix(pristine, tmp_path: Path, chosen_verbs, chosen_damages) -> list[str]:
    run, text, expected = pristine
    problems = []
    for name in ("tracebacks", "silent wrong results", "data lost"):
        count(name, 0)  # so the totals show a zero
    for name in files_of(run):
        for damage in chosen_damages:
            for verb in chosen_verbs:
                copy = tmp_path / f"case-{len(os.listdir(tmp_path))}"
                shutil.copytree(run, copy)
                DAMAGES[damage](copy / name)
                before = snapshot(copy)
                case = f"{name} {damage} / {verb}"
                count("corruptions tried")
                try:
                    code, stdout, err = invoke(*verbs(text)[verb](copy))
                except Exception as error:  # noqa: BLE001 - a traceback is what is being counted
                    problems.append(f"{case}: traceback {type(error).__name__}: {error}")
                    count("tracebacks")
                    continue
                if code == 0:
                    if normalised(stdout) != expected[verb]:
                        problems.append(f"{case}: exit 0 with a different result")
                        count("silent wrong results")
                elif code == 2:
                    lines = err.splitlines()
                    if stdout or len(lines) != 1 or not lines[0].startswith("rnnkit: error: "):
                        problems.append(f"{case}: not a one-line error: {err[-300:]!r}")
                    if verb == "resume":  # repaired, the run must go on to the same result: nothing lost
                        lost = repaired_result(run, copy, name, verbs(text)[verb]) != expected[verb]
                    else:  # reading verbs change nothing
                        after = snapshot(copy)
                        lost = [file for file, data in before.items() if file != name and after.get(file) != data]
                    if lost:
                        problems.append(f"{case}: data lost ({lost})")
                        count("data lost")
                else:
                    problems.append(f"{case}: exit {code}: {err[-300:]!r}")
                shutil.rmtree(copy)
    return problems


def test_every_file_damaged_under_evaluate(pristine, tmp_path):
    assert run_matrix(pristine, tmp_path, ["evaluate"], ["deleted", "garbage"]) == []


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["evaluate", "generate", "score", "resume"])
def test_corruption_matrix(pristine, tmp_path, verb):
    assert run_matrix(pristine, tmp_path, [verb], list(DAMAGES)) == []
