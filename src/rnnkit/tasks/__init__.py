"""Tasks: each knows which reader, model, loss and metrics go together, and how a trained run is used."""

from .audio import train_audio_classifier
from .audio_predict import AudioClassifierPredictor
from .classify import train_classifier
from .classify_predict import ClassifierPredictor
from .condgen import train_condgen
from .condgen_predict import ConditionalGeneratorPredictor
from .corpus import CorpusConfig
from .dna import train_dna
from .dna_predict import SequenceClassifierPredictor
from .forecast import train_forecaster
from .forecast_data import SeriesConfig
from .forecast_predict import ForecastPredictor
from .lm import train_language_model
from .lm_predict import LanguageModelPredictor
from .seq2seq import Seq2SeqTaskConfig, train_seq2seq
from .seq2seq_predict import Seq2SeqPredictor
from .tag import train_tagger
from .tag_predict import TaggerPredictor

PREDICTORS = {"lm": LanguageModelPredictor, "seq2seq": Seq2SeqPredictor}
PREDICTORS["forecast"] = ForecastPredictor
PREDICTORS["classify"] = ClassifierPredictor
PREDICTORS["tag"] = TaggerPredictor
PREDICTORS["dna"] = SequenceClassifierPredictor
PREDICTORS["audio"] = AudioClassifierPredictor
PREDICTORS["condgen"] = ConditionalGeneratorPredictor

__all__ = ["PREDICTORS", "CorpusConfig", "LanguageModelPredictor", "Seq2SeqPredictor", "Seq2SeqTaskConfig",
           "train_language_model", "train_seq2seq"]
__all__ += ["ForecastPredictor", "SeriesConfig", "train_forecaster"]
__all__ += ["ClassifierPredictor", "train_classifier"]
__all__ += ["TaggerPredictor", "train_tagger"]
__all__ += ["SequenceClassifierPredictor", "train_dna"]
__all__ += ["AudioClassifierPredictor", "train_audio_classifier"]
__all__ += ["ConditionalGeneratorPredictor", "train_condgen"]
