"""Data: readers, batching by length, language-model streams for truncated BPTT, and the built-in corpus."""

from .batching import BucketBatchSampler, padding_fraction
from .builtin import builtin_splits, pydoc_corpus
from .readers import read_lines, read_text
from .streams import Window, batchify, bptt_windows, num_windows

__all__ = [
    "BucketBatchSampler",
    "Window",
    "batchify",
    "bptt_windows",
    "builtin_splits",
    "num_windows",
    "padding_fraction",
    "pydoc_corpus",
    "read_lines",
    "read_text",
]
