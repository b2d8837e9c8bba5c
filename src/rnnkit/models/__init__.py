"""Models: task heads on top of the recurrent layers of :mod:`rnnkit.nn`."""

from .classifier import ClassifierConfig, SequenceClassifier
from .classifier_ensemble import ClassifierEnsemble, build_classifier
from .condgen import ConditionalGenerator, ConditionalGeneratorConfig
from .forecaster import Forecaster, ForecasterConfig
from .language_model import LanguageModel, LanguageModelConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .tagger import SequenceTagger, TaggerConfig

__all__ = ["ClassifierConfig", "Forecaster", "ForecasterConfig", "LanguageModel", "LanguageModelConfig", "Seq2Seq",
           "Seq2SeqConfig", "SequenceClassifier"]
__all__ += ["SequenceTagger", "TaggerConfig"]
__all__ += ["ConditionalGenerator", "ConditionalGeneratorConfig"]
__all__ += ["ClassifierEnsemble", "build_classifier"]
