"""Tasks: each knows which reader, model, loss and metrics go together, and how a trained run is used.

``TASKS`` is the registry of the task contract (:class:`~rnnkit.tasks.base.Task`): the CLI builds ``rnnkit train
TASK`` from it and ``rk.load`` finds each run's predictor class in it (``PREDICTORS``).
"""

from ..data.corpus import CorpusConfig
from .audio import TASK as AUDIO
from .audio import AudioClassifierPredictor, train_audio_classifier
from .base import Task
from .caption import TASK as CAPTION
from .caption import CaptionPredictor, train_caption
from .classify import TASK as CLASSIFY
from .classify import ClassifierPredictor, train_classifier
from .condgen import TASK as CONDGEN
from .condgen import ConditionalGeneratorPredictor, train_condgen
from .dna import TASK as DNA
from .dna import SequenceClassifierPredictor, train_dna
from .forecast import TASK as FORECAST
from .forecast import ForecastPredictor, SeriesConfig, train_forecaster
from .lm import TASK as LM
from .lm import LanguageModelPredictor, train_language_model
from .seq2seq import TASK as SEQ2SEQ
from .seq2seq import Seq2SeqPredictor, Seq2SeqTaskConfig, train_seq2seq
from .tag import TASK as TAG
from .tag import TaggerPredictor, train_tagger

TASKS: dict[str, Task] = {task.name: task for task in (LM, CLASSIFY, TAG, DNA, AUDIO, CONDGEN, FORECAST, SEQ2SEQ,
                                                   CAPTION)}
PREDICTORS = {name: task.predictor for name, task in TASKS.items()}

__all__ = ["PREDICTORS", "TASKS", "CorpusConfig", "LanguageModelPredictor", "Seq2SeqPredictor",
           "Seq2SeqTaskConfig", "Task", "train_language_model", "train_seq2seq"]
__all__ += ["ForecastPredictor", "SeriesConfig", "train_forecaster"]
__all__ += ["ClassifierPredictor", "train_classifier"]
__all__ += ["TaggerPredictor", "train_tagger"]
__all__ += ["SequenceClassifierPredictor", "train_dna"]
__all__ += ["AudioClassifierPredictor", "train_audio_classifier"]
__all__ += ["ConditionalGeneratorPredictor", "train_condgen"]
__all__ += ["CaptionPredictor", "train_caption"]
