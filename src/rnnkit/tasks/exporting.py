"""Writing a predictor's model out of Python: ``torch.export`` graphs saved as ``.pt2`` or ONNX, plus a JSON sidecar.

Every task's ``predictor.export(path, format)`` describes its graph(s) as :class:`Graph` (a module, example
inputs, which axes are the batch and the time axis, input and output names) and what a client needs to prepare
inputs and read outputs (vocabulary, labels, scaler, ...); :func:`write_export` does the rest, the same way for
every task:

* ``torch.export.export`` records the module once with named dynamic axes (``batch``, ``time``; the recurrent
  layers turn into scans, :mod:`rnnkit.nn.exportable`, so any lengths run through the same graph);
* ``format="pt2"`` saves that program with ``torch.export.save``; ``format="onnx"`` converts it with
  ``torch.onnx.export`` (the dynamo exporter, opset 18) and saves the ``.onnx`` file;
* the sidecar ``<file>.json`` lists each graph's file, inputs and outputs (name, shape with axis names, dtype)
  and the task's own settings, with the rnnkit version.

A task with two graphs (seq2seq: the encoder and one decoder step) writes ``<stem>.<graph>.<ext>`` for each and one
sidecar ``<stem>.json``. A ``.pt2`` file is a zip whose weights ``torch.export.load`` reads with
``torch.load(..., weights_only=False)`` (torch 2.13, ``torch/export/pt2_archive/_package.py``): unpickling, so load
only files you made yourself (rnnkit never loads one except in its tests). ONNX files are protobuf: no pickle.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..train.atomic import atomic_write_text

FORMATS = ("onnx", "pt2")
EXTRA_HINT = "pip install rnnkit[export]"
OPSET = 18
CONVENTIONS = ("axes named batch and time vary at run time; lengths: each in 1..time, outputs past a sequence's end "
               "are zero and the final state is the one at its last real step (a reverse direction starts there); "
               "state inputs (h, c: zeros to start a sequence) come back as h_out, c_out: pass them with the next "
               "piece of the same sequences to continue them")

__all__ = ["FORMATS", "Graph", "check_format", "default_path", "require_onnx", "write_export"]


@dataclass
class Graph:
    """One graph to export.

    Attributes:
        module: the module to record (in evaluation mode); ``module(*example)`` returns a tuple of tensors.
        example: example inputs, one tensor per input (batch >= 2 and time >= 2, so no axis looks constant).
        inputs: a name per input.
        outputs: a name per output.
        axes: input name -> {axis index: "batch" or "time"}: the axes that vary at run time.
    """

    module: nn.Module
    example: tuple[Tensor, ...]
    inputs: Sequence[str]
    outputs: Sequence[str]
    axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)


def check_format(format: str) -> str:
    """``format`` if it is one of :data:`FORMATS`, else a ValueError naming them."""
    if format not in FORMATS:
        raise ValueError(f"format: got {format!r}; expected one of {', '.join(map(repr, FORMATS))}")
    return format


def require_onnx() -> None:
    """A one-line error naming the extra when onnx / onnxscript (what ``torch.onnx.export`` needs) are missing."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(f"format 'onnx' needs {' and '.join(missing)}, which are not installed; expected them: "
                         f"{EXTRA_HINT}")


def default_path(run_dir: str | os.PathLike[str], format: str) -> Path:
    """Where ``rnnkit export RUN`` writes without ``--out``: ``RUN/export/model.<format>``."""
    return Path(run_dir) / "export" / f"model.{check_format(format)}"


def write_export(path: str | os.PathLike[str], format: str, task: str, graphs: Mapping[str, Graph],
                 settings: Mapping[str, Any]) -> Path:
    """Export ``graphs`` to ``path`` in ``format`` and write the sidecar; return the sidecar's path.

    Args:
        path: the file (``.onnx`` / ``.pt2``; the suffix is added when missing). With several graphs, each goes
            to ``<stem>.<graph name>.<ext>`` beside it.
        format: ``"onnx"`` or ``"pt2"``.
        task: the run's task name, recorded in the sidecar.
        graphs: graph name -> :class:`Graph`.
        settings: what a client needs besides the graphs (vocabulary, labels, scaler, ...), JSON-serialisable.
    """
    check_format(format)
    if format == "onnx":
        require_onnx()
    path = Path(path)
    if path.suffix != f".{format}":
        path = path.with_name(path.name + f".{format}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"--out: {path.parent} is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    described = {}
    for name, graph in graphs.items():
        target = path if len(graphs) == 1 else path.with_name(f"{path.stem}.{name}.{format}")
        program = _record(graph)
        if format == "pt2":
            torch.export.save(program, str(target))
        else:
            _save_onnx(program, graph, target)
        described[name] = {"file": target.name, **_signature(program, graph)}
    sidecar = path.with_suffix(".json")
    document = {"rnnkit_version": _rnnkit_version(), "torch_version": torch.__version__, "task": task, "format": format,
                "opset": OPSET if format == "onnx" else None, "graphs": described,
                "conventions": CONVENTIONS, **settings}
    atomic_write_text(sidecar, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return sidecar


def _record(graph: Graph) -> torch.export.ExportedProgram:
    """``torch.export`` of the graph with its batch and time axes dynamic (one Dim object per axis name)."""
    dims: dict[str, Any] = {}
    shapes = []
    for name in graph.inputs:
        axes = graph.axes.get(name, {})
        shapes.append({axis: dims.setdefault(label, torch.export.Dim(label, min=1)) for axis, label in axes.items()}
                      or None)
    # the dynamic shapes follow forward's signature: a ``*state`` parameter takes a tuple of the remaining inputs
    import inspect

    parameters = list(inspect.signature(graph.module.forward).parameters.values())
    structured: list[Any] = []
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            structured.append(tuple(shapes[len(structured):]))
            break
        structured.append(shapes[len(structured)])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)  # torch's own internals
        return torch.export.export(graph.module.eval(), tuple(graph.example), dynamic_shapes=tuple(structured))


def _save_onnx(program: torch.export.ExportedProgram, graph: Graph, target: Path) -> None:
    import logging

    for noisy in ("torch.onnx", "onnxscript"):  # the exporter logs its steps; stdout is for results
        logging.getLogger(noisy).setLevel(logging.ERROR)
    onnx_program = torch.onnx.export(program, dynamo=True, input_names=list(graph.inputs),
                                     output_names=list(graph.outputs), opset_version=OPSET, verbose=False,
                                     report=False)
    onnx_program.save(str(target))


def _signature(program: torch.export.ExportedProgram, graph: Graph) -> dict[str, Any]:
    """Inputs and outputs of the recorded program: name, shape (axis names for the dynamic axes), dtype."""
    placeholders = [node for node in program.graph.nodes if node.op == "placeholder"]
    user_inputs = placeholders[len(placeholders) - len(graph.inputs):]
    symbols: dict[str, str] = {}
    for name, node in zip(graph.inputs, user_inputs, strict=True):
        for axis, label in graph.axes.get(name, {}).items():
            symbols[str(node.meta["val"].shape[axis])] = label
    output_node = next(node for node in program.graph.nodes if node.op == "output")
    values = [value.meta["val"] for value in output_node.args[0]]

    def describe(name: str, value: Any) -> dict[str, Any]:
        shape = [int(size) if isinstance(size, int) else symbols.get(str(size), str(size)) for size in value.shape]
        return {"name": name, "shape": shape, "dtype": str(value.dtype).removeprefix("torch.")}

    return {"inputs": [describe(name, node.meta["val"]) for name, node in zip(graph.inputs, user_inputs, strict=True)],
            "outputs": [describe(name, value) for name, value in zip(graph.outputs, values, strict=True)]}


def _rnnkit_version() -> str:
    """The installed rnnkit's version (read from the package metadata: the package root sits above this layer)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rnnkit")
    except PackageNotFoundError:
        return "0.0.0+unknown"
