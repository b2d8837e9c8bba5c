"""Language models (char or word level): :func:`train_language_model`, :class:`LanguageModelPredictor` (score,
generate, evaluate) and the task's entry in the registry, :data:`TASK`."""

from ...data.corpus import CorpusConfig
from ...models import LanguageModelConfig
from ...train.config import TrainConfig
from ..base import Task
from .predict import LanguageModelPredictor
from .train import SETTINGS, demo_settings, train_language_model

TASK = Task(
    "lm", "language model (char or word level)",
    "Train a language model. Without --data: the built-in CPython corpus.",
    {"corpus": CorpusConfig, "model": LanguageModelConfig, "train": TrainConfig}, train_language_model,
    LanguageModelPredictor, ("score", "generate", "evaluate"),
    ("training text file", "validation text (default: last 10% of --data)", "test text, evaluated once at the end"),
    several_files=False, data_required=False, flag_help={"--batch-size": "parallel streams (language models)"})

__all__ = ["SETTINGS", "TASK", "CorpusConfig", "LanguageModelConfig", "LanguageModelPredictor", "TrainConfig",
           "demo_settings", "train_language_model"]
