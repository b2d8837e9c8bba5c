"""Every task's export, ONNX (run by onnxruntime) and pt2 (``torch.export.load``), against the torch model on
random variable-length batches other than the recorded example's: max abs difference <= 1e-4 in float32; and for
unidirectional models, a batch fed in two pieces (the state passed on) equals one whole pass.

The reference is the task's export wrapper run eagerly: it calls the model's own layers (ragged fused kernels,
explicit cells) with their usual checks; ``test_the_wrappers_equal_the_models_own_forward`` ties it to each
model's ``forward``. Exports take seconds each (torch.export + ONNX conversion), so all but one are slow tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnnkit.models import exported as wrappers

from .helpers import assert_close, load, random_inputs

TASKS_WITH_EXPORT = ["lm", "classify", "tag", "dna", "audio", "condgen", "forecast", "seq2seq", "caption"]
FAST = {("lm", "onnx")}


def modules(predictor: Any) -> dict[str, torch.nn.Module]:
    """The export wrappers of a predictor's model, by graph name (as ``predictor.export`` builds them)."""
    model, task = predictor.model, predictor.task
    if task == "lm":
        return {"model": wrappers.ExportedLanguageModel(model)}
    if task in ("classify", "dna", "audio"):
        return {"model": wrappers.ExportedClassifier(model)}
    if task == "tag":
        return {"model": wrappers.ExportedTagger(model)}
    if task == "forecast":
        return {"model": wrappers.ExportedForecaster(model)}
    if task == "seq2seq":
        return {"encoder": wrappers.ExportedSeq2SeqEncoder(model), "decoder_step": wrappers.ExportedSeq2SeqStep(model)}
    if task == "caption":
        return {"encoder": wrappers.ExportedCaptionEncoder(model), "decoder_step": wrappers.ExportedCaptionStep(model)}
    return {"initial": wrappers.ExportedConditionalStep(model, True), "step": wrappers.ExportedConditionalStep(model,
                                                                                                                False)}


def limits(predictor: Any) -> dict[str, int]:
    """Upper bounds of the integer inputs of each task's graphs."""
    task = predictor.task
    if task == "dna":
        model = predictor.model
        size = model.one_hot_table.shape[0] if predictor.vocab is None else len(predictor.vocab)
        return {"inputs": size}
    if task == "seq2seq":
        return {"source": len(predictor.source_vocab), "tokens": len(predictor.target_vocab)}
    if task == "condgen":
        return {"tokens": len(predictor.vocab), "condition": len(predictor.labels)}
    if task == "caption":
        return {"tokens": len(predictor.vocab)}
    result = {"ids": len(predictor.vocab) if getattr(predictor, "vocab", None) is not None else 0,
              "inputs": len(predictor.vocab) if getattr(predictor, "vocab", None) is not None else 0}
    if task == "tag" and predictor.char_vocab is not None:
        result["chars"] = len(predictor.char_vocab)
    return result


def run_torch(module: torch.nn.Module, graph: dict[str, Any], inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    with torch.no_grad():
        values = module(*[inputs[entry["name"]] for entry in graph["inputs"]])
    return {entry["name"]: value.numpy() for entry, value in zip(graph["outputs"], values, strict=True)}


class Runner:
    """One export read back: ``run(graph, inputs) -> outputs by name`` with onnxruntime or the loaded pt2."""

    def __init__(self, sidecar: Path) -> None:
        self.settings = json.loads(sidecar.read_text())
        self.format = self.settings["format"]
        if self.format == "onnx":
            from rnnkit.export import ExportedModel

            self.onnx = ExportedModel(sidecar)
        else:
            self.programs = {name: torch.export.load(str(sidecar.parent / graph["file"])).module()
                             for name, graph in self.settings["graphs"].items()}

    def run(self, name: str, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        graph = self.settings["graphs"][name]
        if self.format == "onnx":
            return self.onnx.run(name, **inputs)
        return run_torch(self.programs[name], graph, inputs)


def graph_inputs(predictor: Any, runner: Runner, name: str, batch: int, time: int, generator: torch.Generator,
                 given: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    graph = runner.settings["graphs"][name]
    return random_inputs(graph["inputs"], batch, time, limits(predictor), generator, given)


def check_task(predictor: Any, sidecar: Path) -> None:
    runner = Runner(sidecar)
    graphs = runner.settings["graphs"]
    eager = modules(predictor)
    generator = torch.Generator().manual_seed(1)
    for batch, time in ((5, 9), (1, 4), (3, 1)):  # the example had 2 sequences of 3 steps
        if predictor.task == "dna":
            time *= predictor.model.frontend_config.pool_size
        previous: dict[str, Any] = {}
        for name in graphs:  # seq2seq / condgen: the second graph reads the first one's outputs
            given = {key[: -len("_out")] if key.endswith("_out") else key: torch.from_numpy(np.asarray(value))
                     for key, value in previous.items()}
            inputs = graph_inputs(predictor, runner, name, batch, time, generator, given)
            if predictor.task == "dna":
                inputs["lengths"] = torch.clamp(inputs["lengths"], min=predictor.model.frontend_config.pool_size)
            want = run_torch(eager[name], graphs[name], inputs)
            got = runner.run(name, inputs)
            outputs = [entry["name"] for entry in graphs[name]["outputs"]]
            assert_close(got, want, outputs, f"{predictor.task} {runner.format} {name} batch {batch} time {time}")
            previous = want


def check_pieces(predictor: Any, sidecar: Path) -> None:
    """A unidirectional model's graph fed two pieces of a batch (the first's state into the second) gives the
    whole pass's final state, and its per-step outputs joined."""
    runner = Runner(sidecar)
    name = "step" if predictor.task == "condgen" else "model"
    graph = runner.settings["graphs"][name]
    inputs_of = [entry["name"] for entry in graph["inputs"]]
    states = [entry for entry in inputs_of if entry in ("h", "c") or entry.startswith(("h_", "c_"))]
    generator = torch.Generator().manual_seed(2)
    batch, time, cut = 3, 8, 3
    whole = graph_inputs(predictor, runner, name, batch, time, generator)
    if "lengths" in whole:
        whole["lengths"] = torch.full((batch,), time)
    for state in states:
        whole[state] = torch.zeros_like(whole[state])
    sequence_inputs = [entry["name"] for entry in graph["inputs"] if "time" in entry["shape"]]
    first = {key: (value[:, :cut] if key in sequence_inputs else value) for key, value in whole.items()}
    second = {key: (value[:, cut:] if key in sequence_inputs else value) for key, value in whole.items()}
    if "lengths" in whole:
        first["lengths"], second["lengths"] = torch.full((batch,), cut), torch.full((batch,), time - cut)
    result_whole, result_first = runner.run(name, whole), runner.run(name, first)
    for state in states:
        second[state] = torch.from_numpy(np.asarray(result_first[f"{state}_out"]))
    result_second = runner.run(name, second)
    assert_close(result_second, result_whole, [f"{state}_out" for state in states], f"{predictor.task} pieces")
    for entry in graph["outputs"]:
        if "time" in entry["shape"]:
            axis = entry["shape"].index("time")
            joined = np.concatenate([result_first[entry["name"]], result_second[entry["name"]]], axis=axis)
            assert_close({"x": joined}, {"x": result_whole[entry["name"]]}, ["x"], f"{predictor.task} pieces")


def unidirectional(predictor: Any) -> bool:
    model = predictor.model
    config = model.classifier.config if predictor.task == "dna" else model.config
    if predictor.task == "forecast":
        return not config.relative
    return predictor.task in ("lm", "condgen") or not getattr(config, "bidirectional", True)


CASES = [pytest.param(task, format, marks=() if (task, format) in FAST else pytest.mark.slow, id=f"{task}-{format}")
         for task in TASKS_WITH_EXPORT for format in ("onnx", "pt2")]


@pytest.mark.parametrize(("task", "format"), CASES)
def test_export_equals_torch_on_random_variable_length_batches(task, format, tmp_path, tmp_path_factory):
    predictor = load(task, tmp_path_factory)
    sidecar = predictor.export(tmp_path / f"model.{format}", format)
    assert sidecar == tmp_path / "model.json" and sidecar.is_file()
    check_task(predictor, sidecar)
    if unidirectional(predictor):
        check_pieces(predictor, sidecar)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classify", "tag"])
def test_unidirectional_classifier_and_tagger_fed_in_pieces_equal_one_pass(task, tmp_path, tmp_path_factory):
    """The tiny classify and tag runs read both ways (pieces do not apply); one-way variants, in ONNX and pt2."""
    changes = {"bidirectional": False, **({"pooling": "last"} if task == "classify" else {})}
    predictor = load(task, tmp_path_factory, **changes)
    for format in ("onnx", "pt2"):
        sidecar = predictor.export(tmp_path / format / f"model.{format}", format)
        check_task(predictor, sidecar)
        check_pieces(predictor, sidecar)


def model_outputs(predictor: Any, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(the wrapper's main output, the same from the model's own forward) for a task's first graph."""
    model, task = predictor.model, predictor.task
    lengths = inputs.get("lengths")
    if task == "lm":
        return inputs["logits"], model(inputs["ids"], lengths=lengths)[0]
    if task in ("classify", "dna", "audio"):
        return inputs["probabilities"], torch.softmax(model(inputs["inputs"], lengths).float(), dim=1)
    if task == "tag":
        return inputs["logits"], model(inputs["ids"], lengths, inputs.get("chars"))
    if task == "forecast":
        return inputs["mean"], model(inputs["z"])[0]
    if task == "caption":
        return inputs["grid"], model.encode(inputs["images"])[0].grid
    if task == "seq2seq":
        encoded, _ = model.encode(inputs["source"], lengths)
        return inputs["memory" if "memory" in inputs else "context"], (
            encoded.memory.values if encoded.memory is not None else encoded.context)
    return inputs["q"], model.encode_condition(inputs["condition"])


@pytest.mark.parametrize("task", [pytest.param(task, marks=() if task == "lm" else pytest.mark.slow)
                                  for task in TASKS_WITH_EXPORT])
def test_the_wrappers_equal_the_models_own_forward(task, tmp_path_factory):
    """The reference above is the model itself: each wrapper, with zero initial state, gives its forward's output."""
    predictor = load(task, tmp_path_factory)
    module = modules(predictor)
    name = next(iter(module))
    wrapper = module[name]
    generator = torch.Generator().manual_seed(3)
    # the graph's inputs as the export describes them, without writing a file: from the forward's parameters
    names = _input_names(predictor, wrapper)
    batch, time = 4, 6 * (predictor.model.frontend_config.pool_size if task == "dna" else 1)
    inputs = random_inputs(names, batch, time, limits(predictor), generator)
    for entry in names:
        if entry["name"] in ("h", "c") or entry["name"].startswith(("h_", "c_")):
            inputs[entry["name"]] = torch.zeros_like(inputs[entry["name"]])
    if task == "dna":
        inputs["lengths"] = torch.clamp(inputs["lengths"], min=predictor.model.frontend_config.pool_size)
    with torch.no_grad():
        outputs = wrapper(*inputs.values())
        first = {"lm": "logits", "tag": "logits", "forecast": "mean", "condgen": "q", "caption": "grid"}.get(
            task, "probabilities")
        if task == "seq2seq":
            first = "memory" if predictor.model.attention is not None else "context"
        got, want = model_outputs(predictor, {**inputs, first: outputs[0]})
    assert torch.allclose(got.float(), want.float(), atol=1e-5)


def _input_names(predictor: Any, wrapper: torch.nn.Module) -> list[dict[str, Any]]:
    """Sidecar-like input entries for the first graph of a task (shapes with axis names), built from the model."""
    task, model = predictor.task, predictor.model

    def state(rows: int, hidden: int, names: list[str]) -> list[dict[str, Any]]:
        return [{"name": name, "shape": [rows, "batch", hidden], "dtype": "float32"} for name in names]

    sequence = {"name": "ids", "shape": ["batch", "time"], "dtype": "int64"}
    lengths = {"name": "lengths", "shape": ["batch"], "dtype": "int64"}
    if task == "lm":
        entries = [sequence, lengths]
        for index, layer in enumerate(model.layers):
            names = [f"h_{index}", f"c_{index}"] if layer.has_cell_state else [f"h_{index}"]
            entries += state(1, layer.hidden_size, names)
        return entries
    if task in ("classify", "dna", "audio"):
        inputs = ({"name": "inputs", "shape": ["batch", "time", model.input_size], "dtype": "float32"}
                  if task == "audio" else {"name": "inputs", "shape": ["batch", "time"], "dtype": "int64"})
        layer = wrapper.classifier.recurrent
        names = ["h", "c"] if layer.has_cell_state else ["h"]
        return [inputs, lengths, *state(layer.num_layers * layer.num_directions, layer.hidden_size, names)]
    if task == "tag":
        layer = model.recurrent
        names = ["h", "c"] if layer.has_cell_state else ["h"]
        chars = [{"name": "chars", "shape": ["batch", "time", "characters"], "dtype": "int64"}] if model.chars else []
        return [sequence, lengths, *chars, *state(layer.num_layers * layer.num_directions, layer.hidden_size, names)]
    if task == "forecast":
        layer = model.recurrent
        names = ["h", "c"] if layer.has_cell_state else ["h"]
        return [{"name": "z", "shape": ["batch", "time", model.config.input_size], "dtype": "float32"},
                *state(layer.num_layers, layer.hidden_size, names)]
    if task == "caption":
        size = predictor.config.image_size
        return [{"name": "images", "shape": ["batch", 3, size, size], "dtype": "float32"}]
    if task == "seq2seq":
        return [{"name": "source", "shape": ["batch", "source"], "dtype": "int64"}, lengths]
    return [{"name": "condition", "shape": ["batch"], "dtype": "int64"}]
