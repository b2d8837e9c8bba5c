"""Text to ids: tokenizers, the vocabulary, and padding / mask / one-hot helpers."""

from .encode import lengths_to_mask, one_hot, pad_sequences
from .tokenize import CharTokenizer, WordTokenizer
from .vocab import UnknownTokenError, Vocab

__all__ = [
    "CharTokenizer",
    "UnknownTokenError",
    "Vocab",
    "WordTokenizer",
    "lengths_to_mask",
    "one_hot",
    "pad_sequences",
]
