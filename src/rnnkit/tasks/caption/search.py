"""Greedy and beam search for captions, through the encoder-decoder search of :mod:`rnnkit.decode.beam`.

That search asks its model for ``encode(source, lengths)``, ``step``, ``logits`` and a length limit
``floor(ratio * |x|) + offset``. An image has no source length, so this adapter hands the images over as the
"source", encodes them with the captioner, and sets the limit to ``max_length`` words for every image (ratio 0,
offset ``max_length``). Nothing in ``decode/`` knows about images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ...decode.beam import Decoded, beam_search, greedy_search
from ...models.captioner import Captioner, EncodedImages, State


class _ImageSearch:
    """A :class:`Captioner` seen as the encoder-decoder that :mod:`rnnkit.decode.beam` searches."""

    def __init__(self, model: Captioner) -> None:
        self.model = model

    def encode(self, images: Tensor, lengths: Tensor) -> tuple[EncodedImages, State]:
        return self.model.encode(images)

    def step(self, tokens: Tensor, state: State, encoded: EncodedImages):
        return self.model.step(tokens, state, encoded)

    def logits(self, features: Tensor) -> Tensor:
        return self.model.logits(features)


@torch.no_grad()
def search_captions(model: Captioner, images: Tensor, bos_id: int, eos_id: int, max_length: int,
                    beam_size: int = 1, banned: Sequence[int] = (), length_penalty: float = 1.0) -> Decoded:
    """Captions (word ids, without ``<bos>``/``<eos>``) of normalised ``images (B, 3, S, S)``: greedy for
    ``beam_size`` 1, else beam search; at most ``max_length`` words, ``<eos>`` included."""
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam: got {beam_size!r}; expected a positive integer")
    lengths = torch.zeros(images.shape[0], dtype=torch.long)
    options = dict(max_length_ratio=0.0, max_length_offset=int(max_length), banned=banned)
    adapter = _ImageSearch(model)
    if beam_size == 1:
        return greedy_search(adapter, images, lengths, bos_id, eos_id, **options)
    return beam_search(adapter, images, lengths, bos_id, eos_id, beam_size=beam_size, length_penalty=length_penalty,
                       **options)


__all__ = ["search_captions"]
