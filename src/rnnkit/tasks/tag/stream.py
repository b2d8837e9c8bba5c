"""A unidirectional tagger fed a sentence piece by piece: each token's tag as it arrives.

The recurrent state is carried from piece to piece, so token t's logits are those of the whole sentence's pass
(a forward-only tagger's output at t depends on tokens 1..t only). With per-token tags each arriving token's tag is
final. With a CRF the best path of a prefix may change when the next token arrives (Viterbi needs the sentence's
end): each step gives the best path of the tokens so far, ``"tags"``, and its last tag; after the last token it is
the path :meth:`~rnnkit.tasks.tag.predict.TaggerPredictor.predict` gives.

A bidirectional tagger cannot stream (its reverse direction starts from the sentence's end): asking for a stream
of one is a one-line error, not a silent re-run over the buffered tokens at every step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ...data.readers.conll import TaggedSentence
from ...text.char_ids import pad_char_ids
from ..streaming import Stream, check_unidirectional, token_piece
from .data import encode_sentences

__all__ = ["TaggerStream"]


class TaggerStream(Stream):
    """Streaming tags (see the module docstring).

    A piece is a text split on whitespace (a piece boundary is a token boundary) or a list of tokens. Each step of
    :meth:`feed`: ``{"token", "tag"}``, and with a CRF ``"tags"``, the best path of all tokens so far.
    :attr:`state` is the recurrent state (``h (L, 1, H)`` or ``(h, c)``; None before the first token).

    Raises:
        ValueError: For a bidirectional tagger.
    """

    def __init__(self, predictor: Any) -> None:
        check_unidirectional(predictor.model.config.bidirectional and predictor.model.recurrent is not None, "tagger")
        self.predictor = predictor
        super().__init__()

    def _start(self) -> None:
        self._state: Any = None
        self.tokens: list[str] = []
        self._emissions: list[Tensor] = []  # (T_piece, K) per piece, for the CRF's Viterbi

    @property
    def state(self) -> Any:
        return self._state

    @property
    def logits(self) -> Tensor:
        """The tag logits (CRF emissions) of all tokens so far ``(T, K)``."""
        if not self._emissions:
            return torch.empty(0, self.predictor.model.num_tags)
        return torch.cat(self._emissions)

    @property
    def tags(self) -> list[str]:
        """The tags of all tokens so far (with a CRF: the best path of the prefix)."""
        if not self.tokens:
            return []
        return [self.predictor.tags[i] for i in self._decode(self.logits)]

    def _decode(self, emissions: Tensor) -> list[int]:
        lengths = torch.tensor([emissions.shape[0]])
        return self.predictor.model.decode(emissions.unsqueeze(0), lengths)[0]

    @torch.no_grad()
    def _feed(self, piece: Any) -> list[dict[str, Any]]:
        piece = token_piece(piece)
        tokens = piece.split() if isinstance(piece, str) else piece
        if not tokens:
            return []
        predictor, model = self.predictor, self.predictor.model
        sentence = TaggedSentence(tuple(tokens), None, "piece", (1,) * len(tokens))
        encoded = encode_sentences([sentence], predictor.vocab, predictor.tag_vocab, predictor.text,
                                   predictor.char_vocab)
        device = next(model.parameters()).device
        ids = encoded.ids[0].unsqueeze(0).to(device)  # (1, T)
        x = model.embedding(ids)  # (1, T, E)
        if model.chars is not None:
            chars = pad_char_ids(encoded.chars, 0, ids.shape[1]).to(device)  # (1, T, C)
            x = torch.cat([x, model.chars(chars, torch.ones_like(ids, dtype=torch.bool))], dim=2)  # (1, T, E+F)
        if model.recurrent is not None:
            x, self._state = model.recurrent(x, state=self._state)  # (1, T, H)
        emissions = model.output(x)[0].float()  # (T, K)
        self._emissions.append(emissions)
        start = len(self.tokens)
        self.tokens += tokens
        results = []
        if model.crf is None:
            for token, tag in zip(tokens, emissions.argmax(1).tolist(), strict=True):
                results.append({"token": token, "tag": predictor.tags[tag]})
            return results
        everything = torch.cat(self._emissions)  # (T_all, K)
        for t, token in enumerate(tokens):
            path = [predictor.tags[i] for i in self._decode(everything[: start + t + 1])]
            results.append({"token": token, "tag": path[-1], "tags": path})
        return results
