"""Models: task heads on top of the recurrent layers of :mod:`rnnkit.nn`."""

from .language_model import LanguageModel, LanguageModelConfig

__all__ = ["LanguageModel", "LanguageModelConfig"]
