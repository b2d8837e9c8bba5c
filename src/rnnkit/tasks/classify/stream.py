"""A unidirectional classifier fed a text piece by piece: the label probabilities of the text so far, per token.

The recurrent state is carried from piece to piece, and the pooling is kept as a running quantity, so after token
t the probabilities are those :meth:`~rnnkit.tasks.classify.predict.ClassifierPredictor.predict` gives for the
text's first t tokens::

    last:       pooled_t = h_t                        mean: pooled_t = (1/t) sum_{s <= t} h_s   (a running sum)
    max:        pooled_t = max_{s <= t} h_s           (a running maximum)
    attention:  pooled_t = sum_{s <= t} a_s h_s,  a = softmax(e_1 .. e_t)  (the outputs so far are kept)

An ensemble streams each member and averages their probabilities, as its ``predict`` does. A piece is tokenized
on its own (at word level a piece boundary is a word boundary; characters join exactly), and every token counts:
the run's ``max_length`` cut (made for whole texts) is not applied to a stream.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from ...models.classifier import SequenceClassifier
from ...text.clean import strip_html_tags
from ..streaming import Stream, check_unidirectional, token_piece
from ..text_data import tokenizer_of
from .subword import segment

__all__ = ["ClassifierStream"]


class _MemberState:
    """What one member carries between pieces: its recurrent state and its running pooling."""

    def __init__(self) -> None:
        self.recurrent: Any = None
        self.count = 0
        self.total: Tensor | None = None  # (H,): sum of the outputs (mean pooling)
        self.maximum: Tensor | None = None  # (H,): their running maximum (max pooling)
        self.outputs: list[Tensor] = []  # (T_piece, H) per piece (attention pooling)


class ClassifierStream(Stream):
    """Streaming label probabilities (see the module docstring).

    Each step of :meth:`feed`: ``{"token", "label", "probabilities": {label: p}}`` of the text so far.
    :attr:`state` is each member's recurrent state (one entry per member; a plain classifier has one).

    Raises:
        ValueError: For a bidirectional classifier.
    """

    def __init__(self, predictor: Any) -> None:
        model = predictor.model
        self.members: list[SequenceClassifier] = list(getattr(model, "members", [model]))
        check_unidirectional(self.members[0].config.bidirectional, "classifier")
        self.predictor = predictor
        super().__init__()

    def _start(self) -> None:
        self.tokens: list[str] = []
        self._members = [_MemberState() for _ in self.members]

    @property
    def state(self) -> list[Any]:
        return [member.recurrent for member in self._members]

    def _tokens(self, piece: Any) -> list[str]:
        piece = token_piece(piece)
        if isinstance(piece, list):
            return piece
        text_config = self.predictor.text
        text = strip_html_tags(piece) if text_config.strip_html else piece
        text = text.lower() if text_config.lower and text_config.level == "char" else text
        tokens = tokenizer_of(text_config).tokenize(text)
        if text_config.level == "char":
            tokens = [token for token in tokens if token not in "\r\n"]
        if self.predictor.segmenter is not None and tokens:
            tokens = segment([(tokens, "", "piece")], self.predictor.segmenter,
                             dataclasses.replace(text_config, max_length=None))[0][0]
        return tokens

    def _pooled(self, member: SequenceClassifier, carried: _MemberState, outputs: Tensor) -> Tensor:
        """The pooled vector after each step of a piece ``(T, H)`` from its outputs ``(T, H)``; updates ``carried``."""
        pooling, steps = member.config.pooling, outputs.shape[0]
        counts = carried.count + torch.arange(1, steps + 1, device=outputs.device).unsqueeze(1)  # (T, 1)
        carried.count += steps
        if pooling == "last":
            return outputs
        if pooling == "mean":
            sums = outputs.cumsum(0) + (carried.total if carried.total is not None else 0)  # (T, H)
            carried.total = sums[-1]
            return sums / counts.to(outputs.dtype)
        if pooling == "max":
            maxima = outputs.cummax(0).values  # (T, H)
            if carried.maximum is not None:
                maxima = torch.maximum(maxima, carried.maximum)
            carried.maximum = maxima[-1]
            return maxima
        carried.outputs.append(outputs)
        everything = torch.cat(carried.outputs).unsqueeze(0)  # (1, T_all, H)
        start = everything.shape[1] - steps
        return torch.cat([member.attention(everything[:, : start + t + 1],
                                           torch.ones(1, start + t + 1, dtype=torch.bool, device=outputs.device))
                          for t in range(steps)])  # (T, H)

    @torch.no_grad()
    def _feed(self, piece: Any) -> list[dict[str, Any]]:
        tokens = self._tokens(piece)
        if not tokens:
            return []
        device = next(self.members[0].parameters()).device
        ids = torch.tensor([self.predictor.vocab.encode(tokens)], dtype=torch.long, device=device)  # (1, T)
        probabilities = 0
        for member, carried in zip(self.members, self._members, strict=True):
            outputs, carried.recurrent = member.recurrent(member._embed(ids), state=carried.recurrent)  # (1, T, H)
            logits = member.head(self._pooled(member, carried, outputs[0]))  # (T, C)
            probabilities = probabilities + torch.softmax(logits.float(), dim=1)
        probabilities = (probabilities / len(self.members)).cpu()  # (T, C)
        self.tokens += tokens
        labels = self.predictor.labels
        return [{"token": token, "label": labels[int(row.argmax())],
                 "probabilities": dict(zip(labels, row.tolist(), strict=True))}
                for token, row in zip(tokens, probabilities, strict=True)]
