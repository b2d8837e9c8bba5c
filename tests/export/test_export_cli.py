"""``rnnkit export`` end to end on a tiny language-model run, and the user mistakes around exporting: each a
one-line error (exit code 2) that names what was wrong."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from tests.cli_helpers import assert_user_error, invoke

from .helpers import load, tiny_run


def test_rnnkit_export_writes_a_pt2_program_and_its_sidecar(tmp_path, tmp_path_factory):
    run = tiny_run("lm", tmp_path_factory)
    code, out, err = invoke("export", run, "--format", "pt2", "--out", tmp_path / "lm")
    assert code == 0, err
    record = json.loads(out)
    assert record == {"task": "lm", "format": "pt2", "sidecar": str(tmp_path / "lm.json"),
                      "files": [str(tmp_path / "lm.pt2")]}
    sidecar = json.loads((tmp_path / "lm.json").read_text())
    graph = sidecar["graphs"]["model"]
    assert [entry["name"] for entry in graph["inputs"]] == ["ids", "lengths", "h_0", "c_0"]
    assert graph["inputs"][0] == {"name": "ids", "shape": ["batch", "time"], "dtype": "int64"}
    assert [entry["name"] for entry in graph["outputs"]] == ["logits", "h_0_out", "c_0_out"]
    predictor = load("lm", tmp_path_factory)
    assert sidecar["vocabulary"]["tokens"] == list(predictor.vocab.itos) and sidecar["task"] == "lm"
    assert graph["outputs"][0]["shape"] == ["batch", "time", len(predictor.vocab)]
    program = torch.export.load(str(tmp_path / "lm.pt2")).module()  # our own file, written just now
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    lengths = torch.tensor([4, 2])
    zeros = torch.zeros(1, 2, predictor.model.layers[0].hidden_size)
    logits, _, _ = program(ids, lengths, zeros, zeros)
    with torch.no_grad():
        want, _ = predictor.model(ids, lengths=lengths)
    assert torch.allclose(logits, want, atol=1e-5)


def test_export_mistakes_are_one_line_errors(tmp_path, tmp_path_factory, monkeypatch):
    run = tiny_run("lm", tmp_path_factory)
    assert_user_error(invoke("export", run, "--format", "tflite"), "--format", "tflite")
    assert_user_error(invoke("export", tmp_path / "missing-run", "--format", "pt2"), "missing-run")
    (tmp_path / "a-file").write_text("")
    assert_user_error(invoke("export", run, "--format", "pt2", "--out", tmp_path / "a-file" / "model.pt2"),
                      "a-file", "not a folder")
    predictor = load("lm", tmp_path_factory)
    with pytest.raises(ValueError, match=r"^format: got 'torchscript'; expected one of 'onnx', 'pt2'$"):
        predictor.export(tmp_path / "model", "torchscript")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert_user_error(invoke("export", run, "--out", tmp_path / "model.onnx"), "onnx", "pip install rnnkit[export]")
    assert not (tmp_path / "model.onnx").exists()


def test_running_an_export_without_onnxruntime_names_the_extra(tmp_path, monkeypatch):
    import sys

    from rnnkit.export import ExportedModel

    (tmp_path / "model.json").write_text(json.dumps({"format": "onnx", "graphs": {}}))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ValueError, match=r"needs onnxruntime.*pip install rnnkit\[export\]"):
        ExportedModel(tmp_path / "model.json")
    with pytest.raises(FileNotFoundError, match="no such sidecar"):
        ExportedModel(tmp_path / "other.json")
