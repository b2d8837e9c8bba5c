"""Pretrained word vectors put into a model's embedding table (``--embeddings FILE``, ``--freeze-embeddings``).

Rows of the vocabulary's words found in the file (exactly or lower-cased) are copied in; the others, and the
specials, keep their random initialisation (``<pad>`` stays zero). Frozen, the table receives no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data.readers.vectors import read_vectors
from ..text import Vocab
from ..train.config import setting, validate_field_types

__all__ = ["VectorsConfig", "load_pretrained", "load_pretrained_all"]


@dataclass(frozen=True)
class VectorsConfig:
    """Pretrained word vectors for a task's word embeddings (its own config section, ``vectors``).

    Attributes:
        embeddings: a word2vec / GloVe / fastText text file (``.gz`` too) whose rows initialise the embeddings of
            the vocabulary's words; its dimension must be the model's embedding size.
        freeze_embeddings: keep the word embeddings fixed (no gradient).
        encoding: text encoding of the vectors file.
    """

    embeddings: str | None = setting(None, help="pretrained word vectors (word2vec / GloVe / fastText text, .gz "
                                                "too) for the vocabulary's words; dimension = --embedding-size")
    freeze_embeddings: bool = setting(False, help="keep the word embeddings fixed in training")
    encoding: str = setting("utf-8", flag="--embeddings-encoding", help="text encoding of the vectors file")

    def __post_init__(self) -> None:
        validate_field_types(self)


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


def load_pretrained_all(model: nn.Module, vocab: Vocab, settings: Any) -> dict[str, Any] | None:
    """:func:`load_pretrained` into every word embedding of ``model`` (an ensemble's members each have one): the
    file is read once."""
    tables = [module.embedding for module in model.modules()
              if isinstance(getattr(module, "embedding", None), nn.Embedding)]
    if getattr(settings, "embeddings", None) is None or not tables:
        return None
    report = load_pretrained(tables[0], vocab, settings)
    for table in tables[1:]:
        with torch.no_grad():
            table.weight.copy_(tables[0].weight)
        table.weight.requires_grad_(tables[0].weight.requires_grad)
    return report
