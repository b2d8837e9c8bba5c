"""Checks shared by the tests of training from prepared directories (classify, tag, dna)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from tests.cli_helpers import assert_user_error, invoke


def write_files(folder: Path, texts: dict[str, str]) -> None:
    """Each ``name: text`` of ``texts`` written to ``folder / name``."""
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


def prepare_pair(tmp_path: Path, task: str, train: Path, valid: Path, *flags: Any) -> int:
    """``prepare TASK`` of ``train`` into ``tmp_path/prep`` and of ``valid`` into ``tmp_path/prep-valid`` with
    ``--vocab-from`` the first; returns the validation records the second reports."""
    assert invoke("prepare", task, "--data", train, "--out", tmp_path / "prep", *flags)[0] == 0
    code, out, err = invoke("prepare", task, "--data", valid, "--out", tmp_path / "prep-valid", "--vocab-from",
                            tmp_path / "prep")
    assert code == 0, err
    return json.loads(out)["texts"]


def train_both_ways(tmp_path: Path, task: str, memory: list[Any], disk: list[Any],
                    common: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``train TASK`` on the files (``memory``: their data flags) and on prepared directories (``disk``) with the
    same ``common`` flags, into ``tmp_path/memory`` and ``tmp_path/disk``; the final weights agree to float rounding
    (the rows of a batch come in another order). Returns the two runs' final metrics."""
    results = [invoke("train", task, *flags, "--out", tmp_path / name, *common)
               for name, flags in (("memory", memory), ("disk", disk))]
    assert results[0][0] == 0 and results[1][0] == 0, (results[0][2], results[1][2])
    expected, actual = (load_file(tmp_path / name / "model.safetensors") for name in ("memory", "disk"))
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], atol=1e-5, rtol=1e-4)
    metrics_memory, metrics_disk = (json.loads(result[1].strip().splitlines()[-1]) for result in results)
    return metrics_memory, metrics_disk


def assert_each_refused(command: tuple[Any, ...], tmp_path: Path, name: str,
                        cases: list[tuple[list[Any], list[str]]]) -> None:
    """``COMMAND tmp_path/nameN --data ARGUMENTS`` (``command`` ends with ``--out``) for each ``(ARGUMENTS,
    needles)`` of ``cases`` is a one-line error holding every needle."""
    for number, (arguments, needles) in enumerate(cases):
        assert_user_error(invoke(*command, tmp_path / f"{name}{number}", "--data", *arguments), *needles)


def assert_damage_refused(train: tuple[Any, ...], tmp_path: Path, valid: Path, kind: str, damaged: Path) -> None:
    """``train`` (a ``train KIND ... --out`` prefix) refuses a directory prepared for another task (naming its
    index and the kind expected), and a truncated data file of a prepared directory (naming the file)."""
    other = tmp_path / "other-kind"
    if kind == "tag":
        (tmp_path / "texts.csv").write_text("text,label\ngood film,pos\nbad film,neg\n")
        assert invoke("prepare", "classify", "--data", tmp_path / "texts.csv", "--out", other)[0] == 0
    else:
        (tmp_path / "tags.txt").write_text("a X\nb Y\n")
        assert invoke("prepare", "tag", "--data", tmp_path / "tags.txt", "--out", other)[0] == 0
    assert_user_error(invoke(*train, tmp_path / "wrong-kind", "--data", other, "--valid", valid),
                      str(other / "index.json"), f"'{kind}'")
    damaged.write_bytes(damaged.read_bytes()[:-8])
    assert_user_error(invoke(*train, tmp_path / "damaged", "--data", damaged.parent, "--valid", valid), str(damaged),
                      "truncated")
