"""The few lines a person reads when ``rnnkit train`` ends (on stderr; the JSON on stdout is unchanged)::

    rnnkit: best epoch 7 of 10 (valid_error 0.1881), 35 s of training
      test: accuracy 0.8412  macro_f1 0.8398  roc_auc 0.9120
      run:  runs/clf (model.safetensors, config.json, metrics.jsonl, curves.png)
      next: rnnkit predict runs/clf --input FILE

Metrics come from the results themselves: the test split's when there is one, else validation's. A metric
that has baselines in the results (``test_persistence_rmse`` beside ``test_rmse``) is shown with them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BASELINES = ("persistence", "seasonal_naive", "always_up", "majority")
NOT_METRICS = ("examples", "origins", "horizon", "seasonal_period", "date", "beats_", "tokens", "seconds")
MAX_METRICS = 4
NEXT_COMMANDS = {  # the first verb a trained run offers -> how to call it
    "predict": "rnnkit predict {run} --input FILE",
    "generate": "rnnkit generate {run} --length 200 --temperature 0.8",
    "score": "rnnkit score {run} \"some text\"",
    "translate": "rnnkit translate {run} \"a sentence\" --beam 5",
    "forecast": "rnnkit forecast {run} --data FILE --plot forecast.png",
}


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _metrics(results: dict[str, Any], split: str) -> list[str]:
    """``name value (baseline value, ...)`` for the split's headline metrics."""
    prefix = f"{split}_"
    shown = []
    for key, value in results.items():
        name = key[len(prefix):]
        if (not key.startswith(prefix) or isinstance(value, bool) or not isinstance(value, int | float)
                or any(word in name for word in NOT_METRICS) or any(name.startswith(b + "_") for b in BASELINES)):
            continue
        beside = [f"{baseline.replace('_', ' ')} {_number(results[f'{prefix}{baseline}_{name}'])}"
                  for baseline in BASELINES if isinstance(results.get(f"{prefix}{baseline}_{name}"), int | float)]
        shown.append(f"{name} {_number(value)}" + (f" ({', '.join(beside)})" if beside else ""))
    return shown[:MAX_METRICS]


def training_summary(results: dict[str, Any], run: str | Path, verbs: Sequence[str] = ()) -> str:
    """The end-of-training summary: best epoch, metrics beside their baselines, the run, the next command."""
    lines = []
    epochs = results.get("epoch")
    best = results.get("best_epoch")
    head = f"rnnkit: best epoch {best} of {epochs}" if best is not None else f"rnnkit: {epochs} epochs"
    seconds = results.get("train_seconds")
    lines.append(head + (f", {seconds:.0f} s of training" if isinstance(seconds, int | float) else ""))
    for split in ("test", "valid"):
        shown = _metrics(results, split)
        if any("(" in item for item in shown):  # beside baselines: a metric a line, so they line up
            lines += [f"  {split}: {item}" for item in shown]
            break
        if shown:
            lines.append(f"  {split}: " + "  ".join(shown))
            break
    hint = _forecast_hint(results, run)
    if hint:
        lines.append(hint)
    files = [name for name in ("model.safetensors", "config.json", "metrics.jsonl", "curves.png")
             if (Path(run) / name).exists()]
    lines.append(f"  run:  {run}" + (f" ({', '.join(files)})" if files else ""))
    data = _data_file(run)
    first = next((NEXT_COMMANDS[verb] for verb in verbs if verb in NEXT_COMMANDS), None)
    commands = [first.format(run=run).replace("--data FILE", f"--data {data}" if data else "--data FILE")] \
        if first else []
    if "evaluate" in verbs:
        commands.append(f"rnnkit evaluate {run} --data {data or 'FILE'}")
    if commands:
        lines.append("  next: " + "   |   ".join(commands))
    return "\n".join(lines)


def _forecast_hint(results: dict[str, Any], run: str | Path) -> str | None:
    """For a forecast that loses to a naive baseline: the options that let a network win on the usual series.

    A positive series whose seasonal swing grows with its level (passengers, sales) needs ``--transform log``,
    and a series that moves beyond the levels of its training rows needs ``--relative`` (the forecasting tutorial
    shows both on the airline series). The default stays ``none`` because ``log`` refuses any value <= 0.
    """
    split = "test" if isinstance(results.get("test_rmse"), int | float) else "valid"
    rmse = results.get(f"{split}_rmse")
    baselines = [results.get(f"{split}_{name}_rmse") for name in ("persistence", "seasonal_naive")]
    baselines = [value for value in baselines if isinstance(value, int | float)]
    if not isinstance(rmse, int | float) or not baselines or rmse < min(baselines):
        return None
    try:
        model = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(model, dict):
        return None
    missing = []
    if model.get("transform") == "none":
        missing.append("--transform log (a positive series whose seasonal swing grows with its level)")
    if model.get("relative") is False:
        missing.append("--relative (forecast the change from the last value)")
    if not missing:
        return None
    return f"  hint: the forecast does not beat a naive baseline; try {' and '.join(missing)}"


def _data_file(run: str | Path) -> str | None:
    """The run's test file, else its training file, when config.json names one path (not data in memory)."""
    try:
        data = json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for split in ("test", "train"):
        value = data.get(split) if isinstance(data, dict) else None
        if isinstance(value, str) and Path(value).exists():
            return value
    return None


def run_is_quiet(run: str | Path) -> bool:
    """Whether the run was trained with ``quiet`` (its config.json says so): then no summary either."""
    try:
        return bool(json.loads((Path(run) / "config.json").read_text(encoding="utf-8"))["train"].get("quiet"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
