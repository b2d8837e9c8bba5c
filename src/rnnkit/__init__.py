"""rnnkit: recurrent neural networks for sequences, written from the equations and run at fused-kernel speed."""

from importlib.metadata import PackageNotFoundError, version

from . import analysis, nn
from .data import BucketBatchSampler, datasets
from .text import CharTokenizer, Vocab, WordTokenizer, lengths_to_mask, one_hot, pad_sequences


def load(run_dir, device: str = "cpu", dtype=None):
    """Load a run directory written by ``rnnkit train``: an object with the task's verbs (see rnnkit.api)."""
    from .api import load as load_run

    return load_run(run_dir, device=device, dtype=dtype)


try:
    __version__ = version("rnnkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BucketBatchSampler",
    "CharTokenizer",
    "Vocab",
    "WordTokenizer",
    "__version__",
    "analysis",
    "datasets",
    "lengths_to_mask",
    "load",
    "nn",
    "one_hot",
    "pad_sequences",
]
