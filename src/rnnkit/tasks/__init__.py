"""Tasks: each knows which reader, model, loss and metrics go together, and how a trained run is used."""

from .corpus import CorpusConfig
from .lm import train_language_model
from .lm_predict import LanguageModelPredictor

PREDICTORS = {"lm": LanguageModelPredictor}

__all__ = ["PREDICTORS", "CorpusConfig", "LanguageModelPredictor", "train_language_model"]
