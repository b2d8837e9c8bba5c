"""Models: task heads on top of the recurrent layers of :mod:`rnnkit.nn`."""

from .language_model import LanguageModel, LanguageModelConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["LanguageModel", "LanguageModelConfig", "Seq2Seq", "Seq2SeqConfig"]
