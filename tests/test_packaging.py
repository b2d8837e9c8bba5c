"""The installable package: the wheel holds py.typed and the LICENSE, the metadata names the extras, optional
dependencies fail with one line naming their extra, and run files are as readable as config.json."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import torch

from rnnkit.text.vocab import Vocab
from rnnkit.train.atomic import atomic_write_json, readable_file_mode
from rnnkit.train.checkpoint import save_model_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the project (the build leaves nothing in the working tree)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(source)], check=True, capture_output=True, timeout=120)
    (built,) = out.glob("rnnkit-*.whl")
    return built


def test_wheel_holds_py_typed_license_and_main(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "rnnkit/py.typed" in names
    assert "rnnkit/__main__.py" in names
    assert "rnnkit/nn/csrc/lnlstm.cpp" in names  # the LN-LSTM kernel's source, compiled on first use
    assert {f"rnnkit/serve/static/{name}" for name in ("index.html", "run.html", "run.js", "render.js")} <= set(names)
    licence = [name for name in names if name.endswith("dist-info/licenses/LICENSE")]
    assert licence, names
    assert "MIT License" in zipfile.ZipFile(wheel).read(licence[0]).decode()


def test_wheel_metadata_extras_and_no_torch_cap(wheel):
    archive = zipfile.ZipFile(wheel)
    (meta_name,) = [name for name in archive.namelist() if name.endswith("dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(meta_name).decode())
    assert metadata["License-Expression"] == "MIT"
    assert {"translate", "yaml", "tensorboard", "serve", "docs", "dev", "export"} <= set(
        metadata.get_all("Provides-Extra"))
    requires = metadata.get_all("Requires-Dist")
    core = [r for r in requires if "extra ==" not in r]
    torch_requirement = next(r for r in core if r.startswith("torch"))
    assert "<" not in torch_requirement, torch_requirement  # no upper cap: 2.15 and later install
    assert not any(r.startswith("sacrebleu") for r in core)  # translation only: the translate extra
    assert any(r.startswith("sacrebleu") and 'extra == "translate"' in r for r in requires)
    assert any(r.lower().startswith("pyyaml") and 'extra == "yaml"' in r for r in requires)
    assert "Typing :: Typed" in metadata.get_all("Classifier")


def test_python_dash_m_rnnkit_help():
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run([sys.executable, "-m", "rnnkit", "--help"], capture_output=True, text=True,
                            env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: rnnkit" in result.stdout and "train" in result.stdout


def test_missing_sacrebleu_is_one_line_naming_the_extra(monkeypatch):
    from rnnkit.tasks.seq2seq.predict import corpus_scores

    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu now raises ImportError
    monkeypatch.setitem(sys.modules, "sacrebleu.metrics", None)
    with pytest.raises(ValueError, match=r"rnnkit\[translate\]"):
        corpus_scores(["a b"], ["a b"])


def test_missing_pyyaml_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    from rnnkit.train.config import load_config_file

    path = tmp_path / "settings.yaml"
    path.write_text("epochs: 2\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ValueError, match=r"settings\.yaml: .*rnnkit\[yaml\]"):
        load_config_file(path)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_run_files_as_readable_as_config_json(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert readable_file_mode() == 0o666 & ~umask
        atomic_write_json(tmp_path / "config.json", {"a": 1})
        save_model_weights(tmp_path / "model.safetensors", torch.nn.Linear(2, 2))  # safetensors creates 0600
        Vocab.build([["a", "b"]]).save(tmp_path / "vocab.json")  # was a private mkstemp file
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode)
             for name in ("config.json", "model.safetensors", "vocab.json")}
    assert modes["config.json"] == 0o666 & ~umask
    assert set(modes.values()) == {modes["config.json"]}, modes
