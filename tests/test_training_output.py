"""Training output a person reads: one line per epoch with the metric that chooses the best epoch (and a mark when
it improves), a short summary on stderr at the end, the JSON on stdout unchanged."""

from __future__ import annotations

import json
import re

from rnnkit.cli.summary import training_summary
from rnnkit.train.progress import epoch_line
from tests.cli_helpers import invoke
from tests.test_cli_forecast import series_text


def test_epoch_line_marks_a_new_best_and_names_the_old_one():
    record = {"epoch": 3, "train_loss": 0.52314, "valid_error": 0.18811}
    assert epoch_line(record, "valid_error", True, 0.18811, 3, 10) == \
        "epoch 3/10: train_loss 0.5231 | valid_error 0.1881 * best so far"
    later = {"epoch": 4, "train_loss": 0.5012, "valid_error": 0.2014}
    assert epoch_line(later, "valid_error", False, 0.18811, 3, None) == \
        "epoch 4: train_loss 0.5012 | valid_error 0.2014 (best 0.1881 at epoch 3)"


def test_summary_puts_test_metrics_beside_baselines_and_the_next_command(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    results = {"epoch": 10, "best_epoch": 7, "train_seconds": 35.2, "test_rmse": 24.52, "test_persistence_rmse": 52.49,
               "test_seasonal_naive_rmse": 46.08, "test_origins": 29, "test_beats_persistence": True,
               "valid_rmse": 30.0}
    text = training_summary(results, tmp_path, ("forecast", "evaluate"))
    lines = text.splitlines()
    assert lines[0] == "rnnkit: best epoch 7 of 10, 35 s of training"
    assert lines[1] == "  test: rmse 24.52 (persistence 52.49, seasonal naive 46.08)"  # test, not valid; no counts
    assert lines[2] == f"  run:  {tmp_path} (model.safetensors)"
    assert lines[3].startswith(f"  next: rnnkit forecast {tmp_path} --data FILE") and "rnnkit evaluate" in lines[3]


def test_a_forecast_that_loses_to_a_baseline_gets_a_hint_naming_the_missing_options(tmp_path):
    results = {"epoch": 10, "best_epoch": 7, "test_rmse": 131.0, "test_persistence_rmse": 52.5,
               "test_seasonal_naive_rmse": 46.1}
    config = {"model": {"transform": "none", "relative": False}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    hint = [line for line in training_summary(results, tmp_path, ("forecast",)).splitlines() if "hint" in line]
    assert hint == ["  hint: the forecast does not beat a naive baseline; try --transform log (a positive series "
                    "whose seasonal swing grows with its level) and --relative (forecast the change from the last "
                    "value)"]
    config["model"] = {"transform": "log", "relative": False}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert "hint: the forecast does not beat a naive baseline; try --relative (" in \
        training_summary(results, tmp_path, ("forecast",))
    config["model"] = {"transform": "log", "relative": True}  # nothing left to suggest
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert "hint" not in training_summary(results, tmp_path, ("forecast",))
    config["model"] = {"transform": "none", "relative": False}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert "hint" not in training_summary(dict(results, test_rmse=24.5), tmp_path, ("forecast",))  # it wins


def test_cli_training_prints_epoch_lines_and_summary_on_stderr_json_on_stdout(tmp_path):
    data = tmp_path / "sales.csv"
    data.write_text(series_text(120), encoding="utf-8")
    code, out, err = invoke("train", "forecast", "--data", data, "--target", "sales", "--date-column", "date",
                            "--hidden-size", "8", "--epochs", "3", "--batch-size", "16", "--test-fraction", "0.2",
                            "--out", tmp_path / "run")
    assert code == 0, err
    epoch_lines = [line for line in err.splitlines() if re.match(r"epoch \d/3: ", line)]
    assert len(epoch_lines) == 3 and all("| valid_loss " in line for line in epoch_lines)
    assert "* best so far" in epoch_lines[0]
    assert "rnnkit: best epoch" in err and "  test: rmse" in err and "persistence" in err
    assert f"  next: rnnkit forecast {tmp_path / 'run'} --data {data}" in err
    (line,) = out.splitlines()  # stdout: the one JSON object, as before
    assert json.loads(line)["run"] == str(tmp_path / "run")
    code, out, err = invoke("train", "forecast", "--data", data, "--target", "sales", "--date-column", "date",
                            "--hidden-size", "8", "--epochs", "1", "--out", tmp_path / "quiet", "--quiet")
    assert code == 0 and "epoch" not in err and json.loads(out)["epoch"] == 1  # --quiet: no epoch lines, no summary
