"""Pretrained word vectors put into a model's embedding table (``--embeddings FILE``, ``--freeze-embeddings``).

Rows of the vocabulary's words found in the file (exactly or lower-cased) are copied in; the others, and the
specials, keep their random initialisation (``<pad>`` stays zero). Frozen, the table receives no gradient.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.readers.vectors import read_vectors
from ..text import Vocab

__all__ = ["load_pretrained"]


def load_pretrained(embedding: nn.Embedding, vocab: Vocab, settings: Any) -> dict[str, Any] | None:
    """Copy the vectors of ``settings.embeddings`` (a path, or None: nothing to do) into ``embedding``; freeze it
    when ``settings.freeze_embeddings``. Returns ``{"file", "found", "words", "found_share"}`` (the share of the
    vocabulary's non-special words found) or None."""
    path = getattr(settings, "embeddings", None)
    if path is None:
        return None
    specials = set(vocab.specials)
    words = [word for word in vocab.itos if word not in specials]
    vectors = read_vectors(path, words, embedding.embedding_dim, getattr(settings, "encoding", "utf-8"))
    with torch.no_grad():
        for word, vector in vectors.items():
            embedding.weight[vocab.stoi[word]] = vector
    if settings.freeze_embeddings:
        embedding.weight.requires_grad_(False)
    return {"file": str(path), "found": len(vectors), "words": len(words),
            "found_share": len(vectors) / max(1, len(words))}
