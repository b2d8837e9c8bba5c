"""Learning-curve PNGs from metrics.jsonl, and the optional TensorBoard EventWriter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.train import events as events_module
from rnnkit.train.events import EventWriter
from rnnkit.train.plots import plot_learning_curves, read_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_metrics(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_plot_writes_a_png(tmp_path: Path) -> None:
    records = [
        {"epoch": epoch, "train_loss": 3.0 / epoch, "valid_loss": 3.2 / epoch, "train_ppl": 20.0 / epoch,
         "valid_bpc": 1.5 / epoch, "lr": 1e-3, "tokens_per_second": 1000.0, "note": "text"}
        for epoch in range(1, 5)
    ]
    metrics = write_metrics(tmp_path / "metrics.jsonl", records)
    out = plot_learning_curves(metrics, tmp_path / "plots" / "curves.png", title="a run")
    assert out == tmp_path / "plots" / "curves.png"
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)
    assert [path.name for path in out.parent.iterdir()] == ["curves.png"]  # no temporary file left behind


def test_plot_with_train_loss_only_and_blank_lines(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"epoch": 1, "train_loss": 2.0}\n\n{"epoch": 2, "train_loss": 1.5, "valid_loss": null}\n')
    out = plot_learning_curves(metrics, tmp_path / "curves.png")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_replaces_an_existing_file(tmp_path: Path) -> None:
    metrics = write_metrics(tmp_path / "metrics.jsonl", [{"epoch": 1, "valid_loss": 1.0}])
    out = tmp_path / "curves.png"
    out.write_bytes(b"old")
    plot_learning_curves(metrics, out)
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.jsonl"):
        plot_learning_curves(tmp_path / "nothing.jsonl", tmp_path / "curves.png")


def test_empty_file(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n")
    with pytest.raises(ValueError, match=f"{metrics}: no metrics to plot"):
        plot_learning_curves(metrics, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


def test_records_without_losses(tmp_path: Path) -> None:
    metrics = write_metrics(tmp_path / "metrics.jsonl", [{"epoch": 1, "lr": 0.1}])
    with pytest.raises(ValueError, match="no metrics to plot"):
        plot_learning_curves(metrics, tmp_path / "curves.png")


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"train_loss": 1.0}\n{oops\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: not valid JSON"):
        read_metrics(metrics)


def test_event_writer_is_a_no_op_without_tensorboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "load_summary_writer", lambda: None)
    with EventWriter(tmp_path / "events") as writer:
        assert not writer.available
        writer.add_scalars(1, {"train_loss": 1.0})
    assert not (tmp_path / "events").exists()


class FakeSummaryWriter:
    instances: list[FakeSummaryWriter] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.scalars: list[tuple[str, float, int]] = []
        self.flushes = 0
        self.closed = False
        FakeSummaryWriter.instances.append(self)

    def add_scalar(self, tag: str, value: float, global_step: int) -> None:
        self.scalars.append((tag, value, global_step))

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


def test_event_writer_writes_through_summary_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSummaryWriter.instances.clear()
    monkeypatch.setattr(events_module, "load_summary_writer", lambda: FakeSummaryWriter)
    writer = EventWriter(tmp_path / "events")
    assert writer.available
    writer.add_scalars(3, {"loss": 1.5, "lr": 1e-3, "name": "x", "flag": True, "bad": float("nan")}, prefix="train")
    writer.add_scalars(4, {"loss": 1})
    fake = FakeSummaryWriter.instances[0]
    assert fake.log_dir == str(tmp_path / "events")
    assert fake.scalars == [("train/loss", 1.5, 3), ("train/lr", 1e-3, 3), ("loss", 1.0, 4)]
    assert fake.flushes == 2
    writer.close()
    writer.close()
    assert fake.closed and not writer.available


def test_event_writer_disabled_never_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "load_summary_writer", lambda: pytest.fail("loaded while disabled"))
    assert not EventWriter(tmp_path, enabled=False).available


def test_real_loader_without_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert events_module.load_summary_writer() is None
    else:
        assert events_module.load_summary_writer() is not None
