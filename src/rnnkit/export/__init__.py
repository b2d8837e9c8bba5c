"""Running exported models: onnxruntime sessions read through the sidecar (:mod:`rnnkit.export.runtime`), and
greedy and beam decoding of an exported seq2seq model (:mod:`rnnkit.export.seq2seq`).

Writing the files is ``predictor.export(path, format)`` (:mod:`rnnkit.tasks.exporting`) or ``rnnkit export``.
"""

from .runtime import ExportedModel
from .seq2seq import OnnxSeq2Seq

__all__ = ["ExportedModel", "OnnxSeq2Seq"]
