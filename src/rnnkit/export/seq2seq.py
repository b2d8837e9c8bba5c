"""Greedy and beam decoding of an exported seq2seq model, its encoder and one decoder step run by onnxruntime.

:class:`OnnxSeq2Seq` offers what :func:`rnnkit.decode.beam.greedy_search` and
:func:`~rnnkit.decode.beam.beam_search` call on a model (``encode``, ``step``, ``logits``, ``training``), each
backed by the exported graphs, so the search is rnnkit's own and only the network runs in onnxruntime: the
tokens equal the torch predictor's (``tests/export/test_seq2seq_search.py``). A client in another language runs
the same loop: encoder once; then ``decoder_step`` from ``<bos>`` with the encoder's state, feeding back the state,
with the banned ids' log-probabilities set to minus infinity.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..decode.beam import Decoded, beam_search, greedy_search
from ..models.seq2seq import Encoded
from ..nn.attention import Memory
from .runtime import ExportedModel

__all__ = ["OnnxSeq2Seq"]


class OnnxSeq2Seq:
    """The seq2seq model of an ONNX export, as the decoders see a model.

    Args:
        exported: the export read back (:class:`ExportedModel` of a seq2seq sidecar).
    """

    training = False

    def __init__(self, exported: ExportedModel) -> None:
        if exported.settings.get("task") != "seq2seq":
            raise ValueError(f"exported: a {exported.settings.get('task')!r} export; expected a 'seq2seq' one")
        self.exported = exported
        self.decoding = exported.settings["decoding"]
        step_inputs = exported.inputs("decoder_step")
        self.state_names = [name for name in step_inputs if name in ("h", "c")]
        self.memory_names = step_inputs[1 + len(self.state_names):]

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Encoded, Any]:
        out = self.exported.run("encoder", source=source.long(), lengths=torch.as_tensor(lengths).long())
        memory = [torch.from_numpy(out[name]) for name in self.memory_names]
        state = tuple(torch.from_numpy(out[name]) for name in self.state_names)  # the decoder's initial state
        lengths = torch.as_tensor(lengths).long()
        encoded = (Encoded(None, memory[0], lengths) if self.memory_names == ["context"]
                   else Encoded(Memory(*memory), None, lengths))
        return encoded, state[0] if len(state) == 1 else state

    def step(self, tokens: Tensor, state: Any, encoded: Encoded) -> tuple[Tensor, Any, Tensor | None]:
        parts = state if isinstance(state, tuple) else (state,)
        memory = [encoded.context] if encoded.memory is None else list(encoded.memory)
        feed = {"tokens": tokens.long(), **dict(zip(self.state_names, parts, strict=True)),
                **dict(zip(self.memory_names, memory, strict=True))}
        out = self.exported.run("decoder_step", **feed)
        new = tuple(torch.from_numpy(out[f"{name}_out"]) for name in self.state_names)
        weights = torch.from_numpy(out["weights"]) if "weights" in out else None
        return torch.from_numpy(out["log_probs"]), new[0] if len(new) == 1 else new, weights

    def logits(self, features: Tensor) -> Tensor:
        """The step's log-probabilities as they are (their log-softmax is themselves)."""
        return features

    def decode(self, source: Tensor, lengths: Tensor, beam_size: int = 1) -> Decoded:
        """Greedy (``beam_size`` 1) or beam search over padded source ids ``(B, S)`` with the export's settings."""
        settings = self.decoding
        options = dict(max_length_ratio=settings["max_length_ratio"],
                       max_length_offset=settings["max_length_offset"], banned=tuple(settings["banned"]))
        if beam_size == 1:
            return greedy_search(self, source, lengths, settings["bos_id"], settings["eos_id"], **options)
        return beam_search(self, source, lengths, settings["bos_id"], settings["eos_id"], beam_size=beam_size,
                           length_penalty=settings["length_penalty"], **options)
