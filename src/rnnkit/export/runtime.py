"""An exported model read back for inference with onnxruntime: its sidecar, and one session per graph.

``ExportedModel(sidecar).run(graph, **inputs)`` feeds named numpy arrays (or tensors) and returns the outputs by
name, so code reads like the sidecar. Nothing here unpickles: ONNX files are protobuf, the sidecar JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..tasks.exporting import EXTRA_HINT

__all__ = ["ExportedModel", "require_onnxruntime"]


def require_onnxruntime() -> Any:
    """The onnxruntime module, or a one-line ValueError naming the extra to install."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ValueError(f"running an ONNX export needs onnxruntime, which is not installed; expected it: "
                         f"{EXTRA_HINT}") from error
    return onnxruntime


class ExportedModel:
    """The graphs of an ONNX export, as onnxruntime sessions.

    Args:
        sidecar: the ``.json`` written beside the ``.onnx`` file(s) (or the ``.onnx`` file of a one-graph export).
        threads: intra-op threads per session (0: onnxruntime's default).
    """

    def __init__(self, sidecar: str | os.PathLike[str], threads: int = 0) -> None:
        sidecar = Path(sidecar)
        if sidecar.suffix == ".onnx":
            sidecar = sidecar.with_suffix(".json")
        if not sidecar.is_file():
            raise FileNotFoundError(f"{sidecar}: no such sidecar; expected the .json written by rnnkit export")
        self.settings: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
        if self.settings.get("format") != "onnx":
            raise ValueError(f"{sidecar}: format {self.settings.get('format')!r}; expected an 'onnx' export")
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = {name: ort.InferenceSession(str(sidecar.parent / graph["file"]), options,
                                                    providers=["CPUExecutionProvider"])
                         for name, graph in self.settings["graphs"].items()}

    def inputs(self, graph: str = "model") -> list[str]:
        """The input names of ``graph``, in order."""
        return [entry["name"] for entry in self.settings["graphs"][graph]["inputs"]]

    def outputs(self, graph: str = "model") -> list[str]:
        """The output names of ``graph``, in order."""
        return [entry["name"] for entry in self.settings["graphs"][graph]["outputs"]]

    def run(self, graph: str = "model", **inputs: Any) -> dict[str, np.ndarray]:
        """Run ``graph`` on named inputs (numpy arrays or tensors); return its outputs by name."""
        if graph not in self.sessions:
            raise ValueError(f"graph: got {graph!r}; expected one of {', '.join(map(repr, self.sessions))}")
        expected = self.inputs(graph)
        if set(inputs) != set(expected):
            raise ValueError(f"inputs: got {sorted(inputs)}; expected {expected}")
        feed = {name: _array(value) for name, value in inputs.items()}
        values = self.sessions[graph].run(None, feed)
        return dict(zip(self.outputs(graph), values, strict=True))


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value)
