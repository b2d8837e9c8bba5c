"""Inference speed of the exported graphs: onnxruntime against torch on the same model, per task, in one run.

For each task a run is trained for one epoch on the contract tests' tiny data (``tests/contract/tiny_<task>.py``)
with the sizes raised to something realistic (``--hidden-size``, embedding 64); speed does not depend on how well
it learned. Its ONNX export (``predictor.export``) is timed in onnxruntime against the same graph's torch module
run eagerly (the model's own layers: the ragged fused kernels on a padded batch, :mod:`rnnkit.nn.ragged`), on the
same inputs, at batch 1 and batch 64 (``--steps`` steps; at batch 64 random lengths in ``steps/2 .. steps``).
What one call is, per task: lm, tag, classify, dna, audio, forecast: the whole graph over the batch; seq2seq:
the encoder plus one decoder step; caption: the image encoder (the run's image size) plus one decoder step;
condgen: a teacher-forced pass over the tokens (the ``step`` graph).

Torch and onnxruntime get the same number of threads (``--threads``); the two alternate over ``--rounds``
rounds after a warm-up, and the report gives the median time of each and the median of the per-round ratios
``torch / onnxruntime`` (above 1: onnxruntime is faster).

Usage (from the repository root, which holds ``tests/contract``):
    PYTHONPATH=src:. python bench/export_speed.py                      # all tasks, ~5 min on 2 loaded cores
    PYTHONPATH=src:. python bench/export_speed.py --tasks lm,classify --rounds 5
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.export import ExportedModel
from rnnkit.models import exported as wrappers
from rnnkit.tasks import TASKS

TASK_NAMES = ["lm", "classify", "tag", "dna", "audio", "condgen", "forecast", "seq2seq", "caption"]


def train_run(name: str, folder: Path, hidden_size: int) -> Any:
    """One epoch of the task's tiny contract data at a realistic size; the loaded predictor."""
    import rnnkit as rk

    tiny = importlib.import_module(f"tests.contract.tiny_{name}")
    keywords = tiny.tiny(folder / "data")
    model = keywords["model"]
    sizes = {"hidden_size": hidden_size}
    if "embedding_size" in {field.name for field in dataclasses.fields(model)}:
        sizes["embedding_size"] = 64
    keywords["model"] = dataclasses.replace(model, **sizes)
    keywords["train"] = dataclasses.replace(keywords["train"], epochs=1)
    TASKS[name].train(folder / "run", **keywords)
    return rk.load(folder / "run")


def graph_module(predictor: Any, graph: str) -> torch.nn.Module:
    model, task = predictor.model, predictor.task
    if task == "lm":
        return wrappers.ExportedLanguageModel(model)
    if task in ("classify", "dna", "audio"):
        return wrappers.ExportedClassifier(model)
    if task == "tag":
        return wrappers.ExportedTagger(model)
    if task == "forecast":
        return wrappers.ExportedForecaster(model)
    if task == "seq2seq":
        return (wrappers.ExportedSeq2SeqEncoder(model) if graph == "encoder" else wrappers.ExportedSeq2SeqStep(model))
    if task == "caption":
        return (wrappers.ExportedCaptionEncoder(model) if graph == "encoder" else wrappers.ExportedCaptionStep(model))
    return wrappers.ExportedConditionalStep(model, graph == "initial")


def make_inputs(entries: list[dict[str, Any]], batch: int, steps: int, high: int, generator: torch.Generator,
                given: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inputs for one graph: ids below ``high``, lengths ``steps/2 .. steps`` (all ``steps`` at batch 1)."""
    lengths = (torch.full((batch,), steps) if batch == 1 else
               torch.randint(max(1, steps // 2), steps + 1, (batch,), generator=generator))
    lengths[0] = steps
    values = {}
    for entry in entries:
        name = entry["name"]
        if name in given:
            values[name] = given[name]
            continue
        shape = [batch if size == "batch" else steps if size in ("time", "source") else 4 if size == "characters"
                 else size for size in entry["shape"]]
        if name == "lengths":
            values[name] = lengths
        elif entry["dtype"] == "int64":
            values[name] = torch.randint(0, high, shape, generator=generator)
        elif entry["dtype"] == "bool":
            values[name] = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)
        else:
            values[name] = torch.zeros(shape) if name in ("h", "c") or name[:2] in ("h_", "c_") else torch.randn(shape)
    return values


def timed(function, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def measure(predictor: Any, folder: Path, batch: int, steps: int, rounds: int, threads: int) -> tuple[float, float,
                                                                                                          float]:
    """(torch seconds per call, onnxruntime seconds per call, median ratio) for one task at one batch size."""
    sidecar = predictor.export(folder / "model.onnx", "onnx")
    exported = ExportedModel(sidecar, threads=threads)
    graphs = exported.settings["graphs"]
    names = {"seq2seq": ["encoder", "decoder_step"], "caption": ["encoder", "decoder_step"],
             "condgen": ["step"]}.get(predictor.task, ["model"])
    generator = torch.Generator().manual_seed(0)
    high = 4  # ids every vocabulary has
    calls = []
    given: dict[str, torch.Tensor] = {}
    if predictor.task == "condgen":  # the step graph reads the initial graph's q and state
        start = make_inputs(graphs["initial"]["inputs"], batch, steps, 2, generator, {})
        out = exported.run("initial", **start)
        given = {key.removesuffix("_out"): torch.from_numpy(value) for key, value in out.items()}
    dna_pool = predictor.model.frontend_config.pool_size if predictor.task == "dna" else 1
    for name in names:
        inputs = make_inputs(graphs[name]["inputs"], batch, steps * dna_pool, high, generator, given)
        module = graph_module(predictor, name)
        ordered = [inputs[entry["name"]] for entry in graphs[name]["inputs"]]
        with torch.no_grad():
            result = module(*ordered)
        given = {entry["name"].removesuffix("_out"): value
                 for entry, value in zip(graphs[name]["outputs"], result, strict=True)}
        feed = {key: np.ascontiguousarray(value.numpy()) for key, value in inputs.items()}
        calls.append((module, ordered, exported.sessions[name], feed))

    def run_torch():
        with torch.no_grad():
            for module, ordered, _, _ in calls:
                module(*ordered)

    def run_onnx():
        for _, _, session, feed in calls:
            session.run(None, feed)

    repeats = 20 if batch == 1 else 3
    for function in (run_torch, run_onnx):  # warm-up
        timed(function, 2)
    torch_times, onnx_times, ratios = [], [], []
    for _ in range(rounds):
        a = timed(run_torch, repeats)
        b = timed(run_onnx, repeats)
        torch_times.append(a)
        onnx_times.append(b)
        ratios.append(a / b)
    return statistics.median(torch_times), statistics.median(onnx_times), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASK_NAMES), help="comma-separated tasks")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50, help="time steps per sequence (source length for seq2seq)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), hidden {args.hidden_size}, {args.steps} steps, "
          f"median of {args.rounds} rounds", file=sys.stderr)
    print("| task | batch | torch ms | onnxruntime ms | torch / onnxruntime |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as temporary:
        for name in args.tasks.split(","):
            folder = Path(temporary) / name
            predictor = train_run(name, folder, args.hidden_size)
            for batch in (1, 64):
                torch_s, onnx_s, ratio = measure(predictor, folder / f"b{batch}", batch, args.steps, args.rounds,
                                                 args.threads)
                print(f"| {name} | {batch} | {torch_s * 1e3:.2f} | {onnx_s * 1e3:.2f} | {ratio:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
