"""Each task's graphs for ``predictor.export``: which module, example inputs, names and dynamic axes, and the
settings a client needs to prepare inputs and read outputs (written by :func:`~rnnkit.tasks.exporting.write_export`).

Axes named ``batch`` and ``time`` vary at run time (``source`` for a seq2seq source, ``steps`` for the tokens of
one condgen call); examples use 2 sequences of 3 steps so no axis is mistaken for a constant.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..models.exported import (
    ExportedCaptionEncoder,
    ExportedCaptionStep,
    ExportedClassifier,
    ExportedConditionalStep,
    ExportedForecaster,
    ExportedLanguageModel,
    ExportedSeq2SeqEncoder,
    ExportedSeq2SeqStep,
    ExportedTagger,
)
from ..text import Vocab
from .exporting import Graph, write_export

BATCH, TIME = 2, 3
PathLike = str | os.PathLike[str]

__all__ = ["export_captioner", "export_classifier", "export_condgen", "export_forecaster", "export_language_model",
           "export_seq2seq", "export_tagger", "vocabulary"]


def vocabulary(vocab: Vocab | None) -> dict[str, Any] | None:
    """A vocabulary as a client reads it: tokens in id order, the specials, and the padding / unknown ids."""
    if vocab is None:
        return None
    specials = list(vocab.specials)
    return {"tokens": list(vocab.itos), "specials": specials,
            "pad_id": vocab.pad_id if "<pad>" in specials else None,
            "unk_id": vocab.unk_id if "<unk>" in specials else None}


def settings_of(value: Any) -> Any:
    """A settings dataclass as a JSON object (paths as strings)."""
    if value is None:
        return None
    return json_ready(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value)


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Tensor):
        return value.tolist()
    return value


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _lengths(device: torch.device) -> Tensor:
    return torch.tensor([TIME, TIME - 1], device=device)


def _zeros_state(rows: int, hidden_size: int, parts: int, device: torch.device) -> tuple[Tensor, ...]:
    return tuple(torch.zeros(rows, BATCH, hidden_size, device=device) for _ in range(parts))


def outs(names: list[str]) -> list[str]:
    """Output names of the final state: ONNX wants them apart from the inputs' (``h`` in, ``h_out`` out)."""
    return [f"{name}_out" for name in names]


def _state_axes(names: list[str]) -> dict[str, dict[int, str]]:
    return {name: {1: "batch"} for name in names}


def export_language_model(predictor: Any, path: PathLike, format: str) -> Path:
    """``ids, lengths, h_0[, c_0], ...`` -> ``logits, h_0[, c_0], ...``, one state entry per layer."""
    model = predictor.model
    wrapper = ExportedLanguageModel(model)
    device = _device(model)
    ids = torch.randint(0, len(predictor.vocab), (BATCH, TIME), device=device)
    cell = wrapper.per_layer == 2
    state, names = [], []
    for index, layer in enumerate(model.layers):
        state += _zeros_state(1, layer.hidden_size, wrapper.per_layer, device)
        names += [f"h_{index}", f"c_{index}"] if cell else [f"h_{index}"]
    graph = Graph(wrapper, (ids, _lengths(device), *state), ["ids", "lengths", *names], ["logits", *outs(names)],
                  {"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **_state_axes(names)})
    return write_export(path, format, predictor.task, {"model": graph}, {
        "vocabulary": vocabulary(predictor.vocab), "corpus": settings_of(predictor.corpus),
        "subword_tokenizer": "tokenizer.json" if predictor.segmenter is not None else None,
        "notes": "logits[b, t] score token t+1; feed the returned state with the next piece to continue a text"})


def export_classifier(predictor: Any, path: PathLike, format: str, example: Tensor,
                      settings: dict[str, Any]) -> Path:
    """``inputs, lengths[, h[, c]]`` -> ``probabilities[, h[, c]]`` for classify, dna and audio.

    Args:
        example: example inputs ``(2, 3)`` ids or ``(2, 3, I)`` features on the model's device.
        settings: the task's own sidecar entries (vocabulary, labels, feature settings, ...).
    """
    wrapper = ExportedClassifier(predictor.model)
    device = example.device
    axes: dict[str, dict[int, str]] = {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    names: list[str] = []
    state: tuple[Tensor, ...] = ()
    if wrapper.has_state:
        layer = wrapper.classifier.recurrent
        names = ["h", "c"] if wrapper.has_cell_state else ["h"]
        state = _zeros_state(layer.num_layers * layer.num_directions, layer.hidden_size, len(names), device)
        axes |= _state_axes(names)
    lengths = _lengths(device)
    if wrapper.front is not None and wrapper.front.conv is not None:  # the front-end pools: longer examples
        pool = wrapper.front.frontend_config.pool_size
        example = example.repeat_interleave(pool, dim=1)
        lengths = lengths * pool
    graph = Graph(wrapper, (example, lengths, *state), ["inputs", "lengths", *names], ["probabilities", *outs(names)],
                  axes)
    return write_export(path, format, predictor.task, {"model": graph}, {"labels": list(predictor.labels),
                                                                          **json_ready(settings)})


def export_tagger(predictor: Any, path: PathLike, format: str) -> Path:
    """``ids, lengths[, chars][, h[, c]]`` -> ``logits[, h[, c]]`` (with a CRF, its transitions in the sidecar)."""
    model = predictor.model
    wrapper = ExportedTagger(model)
    device = _device(model)
    ids = torch.randint(0, len(predictor.vocab), (BATCH, TIME), device=device)
    inputs, names, axes = [ids, _lengths(device)], ["ids", "lengths"], {"ids": {0: "batch", 1: "time"},
                                                                          "lengths": {0: "batch"}}
    if model.chars is not None:
        inputs.append(torch.randint(0, len(predictor.char_vocab), (BATCH, TIME, 4), device=device))
        names.append("chars")
        axes["chars"] = {0: "batch", 1: "time", 2: "characters"}
    state_names: list[str] = []
    if wrapper.has_state:
        layer = model.recurrent
        state_names = ["h", "c"] if wrapper.has_cell_state else ["h"]
        inputs += _zeros_state(layer.num_layers * layer.num_directions, layer.hidden_size, len(state_names), device)
        axes |= _state_axes(state_names)
    graph = Graph(wrapper, tuple(inputs), [*names, *state_names], ["logits", *outs(state_names)], axes)
    crf = None
    if model.crf is not None:
        crf = {name: json_ready(tensor.detach().float().cpu()) for name, tensor in model.crf.state_dict().items()}
    return write_export(path, format, predictor.task, {"model": graph}, {
        "vocabulary": vocabulary(predictor.vocab), "tags": list(predictor.tags),
        "characters": vocabulary(predictor.char_vocab), "text": settings_of(predictor.text), "crf": crf,
        "notes": "tags: argmax of logits over the last axis, or Viterbi with the crf transitions when present"})


def export_forecaster(predictor: Any, path: PathLike, format: str) -> Path:
    """``z, h[, c]`` -> ``mean[, log_variance], h[, c]`` on normalised windows; the scaler in the sidecar."""
    model = predictor.model
    wrapper = ExportedForecaster(model)
    device = _device(model)
    config = model.config
    z = torch.randn(BATCH, TIME, config.input_size, device=device)
    layer = model.recurrent
    names = ["h", "c"] if wrapper.has_cell_state else ["h"]
    state = _zeros_state(layer.num_layers * layer.num_directions, layer.hidden_size, len(names), device)
    outputs = ["mean", *(["log_variance"] if config.gaussian else []), *outs(names)]
    graph = Graph(wrapper, (z, *state), ["z", *names], outputs, {"z": {0: "batch", 1: "time"}, **_state_axes(names)})
    scaler = {"center": json_ready(model.center.cpu()), "scale": json_ready(model.scale.cpu()),
              "transform": config.transform,
              "formula": "z = (g(x) - center) / scale, g = log if transform == 'log' else identity; "
                         "x = g^-1(z * scale + center) for the target columns"}
    return write_export(path, format, predictor.task, {"model": graph}, {
        "model_settings": settings_of(config), "series": settings_of(predictor.series), "scaler": scaler,
        "window": predictor.window})


def export_seq2seq(predictor: Any, path: PathLike, format: str) -> Path:
    """Two graphs: the encoder ``source, lengths -> memory..., h[, c]`` and one decoder step
    ``tokens, h[, c], memory... -> log_probs, h[, c][, weights]``."""
    model = predictor.model
    device = _device(model)
    source = torch.randint(0, len(predictor.source_vocab), (BATCH, TIME), device=device)
    encoder = ExportedSeq2SeqEncoder(model)
    names = ["h", "c"] if model.config.cell == "lstm" else ["h"]
    attention = model.attention is not None
    memory_names = ["memory", "keys", "mask"] if attention else ["context"]
    encoder_graph = Graph(encoder, (source, _lengths(device)), ["source", "lengths"], [*memory_names, *names],
                          {"source": {0: "batch", 1: "source"}, "lengths": {0: "batch"}})
    with torch.no_grad():
        encoded = encoder(source, _lengths(device))
    memory, state = encoded[: len(memory_names)], encoded[len(memory_names) :]
    tokens = torch.tensor([predictor.bos_id] * BATCH, device=device)
    memory_axes = ({"memory": {0: "batch", 1: "source"}, "keys": {0: "batch", 1: "source"},
                    "mask": {0: "batch", 1: "source"}} if attention else {"context": {0: "batch"}})
    step_graph = Graph(ExportedSeq2SeqStep(model), (tokens, *state, *memory), ["tokens", *names, *memory_names],
                       ["log_probs", *outs(names), *(["weights"] if attention else [])],
                       {"tokens": {0: "batch"}, **_state_axes(names), **memory_axes})
    settings = predictor.settings
    return write_export(path, format, predictor.task, {"encoder": encoder_graph, "decoder_step": step_graph}, {
        "source_vocabulary": vocabulary(predictor.source_vocab),
        "target_vocabulary": vocabulary(predictor.target_vocab), "corpus": settings_of(predictor.corpus),
        "decoding": {"bos_id": predictor.bos_id, "eos_id": predictor.eos_id, "banned": list(predictor.banned),
                     "beam_size": settings.beam_size, "length_penalty": settings.length_penalty,
                     "max_length_ratio": settings.max_length_ratio, "max_length_offset": settings.max_length_offset},
        "notes": "run the encoder once, then decoder_step from tokens = bos_id with the encoder's state and memory, "
                 "feeding back the returned state; never choose a banned id"})


def export_condgen(predictor: Any, path: PathLike, format: str) -> Path:
    """Two graphs: ``initial`` (condition -> q, h[, c]) and ``step`` (tokens, lengths, q, h[, c] -> logits, h[, c])."""
    model = predictor.model
    device = _device(model)
    if model.num_classes is not None:
        condition = torch.tensor([0, 1 % model.num_classes], device=device)
    else:
        condition = torch.randn(BATCH, model.condition_features, device=device)
    initial = ExportedConditionalStep(model, initial=True)
    names = ["h", "c"] if model.decoder.has_cell_state else ["h"]
    with torch.no_grad():
        q, *state = initial(condition)
    initial_graph = Graph(initial, (condition,), ["condition"], ["q", *names], {"condition": {0: "batch"}})
    tokens = torch.randint(0, len(predictor.vocab), (BATCH, TIME), device=device)
    step_graph = Graph(ExportedConditionalStep(model, initial=False), (tokens, _lengths(device), q, *state),
                       ["tokens", "lengths", "q", *names], ["logits", *outs(names)],
                       {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "q": {0: "batch"},
                        **_state_axes(names)})
    return write_export(path, format, predictor.task, {"initial": initial_graph, "step": step_graph}, {
        "vocabulary": vocabulary(predictor.vocab), "labels": list(predictor.labels),
        "text": settings_of(predictor.text), "max_length": predictor.max_length})


def export_captioner(predictor: Any, path: PathLike, format: str) -> Path:
    """Two graphs: the encoder ``images -> grid[, keys], h, c`` and one decoder step
    ``tokens, h, c, grid[, keys] -> log_probs, h_out, c_out[, weights]``."""
    model, config = predictor.model, predictor.config
    device = _device(model)
    images = torch.randn(BATCH, 3, config.image_size, config.image_size, device=device)
    encoder = ExportedCaptionEncoder(model)
    attention = model.attention is not None
    memory_names = ["grid", "keys"] if attention else ["grid"]
    encoder_graph = Graph(encoder, (images,), ["images"], [*memory_names, "h", "c"], {"images": {0: "batch"}})
    with torch.no_grad():
        encoded = encoder(images)
    memory, state = encoded[: len(memory_names)], encoded[len(memory_names) :]
    tokens = torch.tensor([predictor.bos_id] * BATCH, device=device)
    step_graph = Graph(ExportedCaptionStep(model), (tokens, *state, *memory), ["tokens", "h", "c", *memory_names],
                       ["log_probs", "h_out", "c_out", *(["weights"] if attention else [])],
                       {"tokens": {0: "batch"}, **_state_axes(["h", "c"]),
                        **{name: {0: "batch"} for name in memory_names}})
    return write_export(path, format, predictor.task, {"encoder": encoder_graph, "decoder_step": step_graph}, {
        "vocabulary": vocabulary(predictor.vocab), "images": settings_of(config),
        "decoding": {"bos_id": predictor.bos_id, "eos_id": predictor.eos_id, "banned": list(predictor.banned),
                     "beam_size": config.beam_size, "max_length": predictor.max_length},
        "notes": "images: RGB, resized to image_size, (x / 255 - mean) / std, shape (B, 3, S, S); then as seq2seq: "
                 "the encoder once, decoder_step from bos_id feeding back the state"})
