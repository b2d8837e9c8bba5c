"""The audio classification task: a WAV recording (or a waveform from Python) in, one of C labels out.

``train.py`` trains (:func:`train_audio_classifier`), ``predict.py`` uses a trained run
(:class:`AudioClassifierPredictor`), ``data.py`` lists recordings and turns them into frames (:class:`AudioDataConfig`).
"""

from ...data.audio_features import FeatureConfig
from ...models import ClassifierConfig
from ...train.config import TrainConfig
from ..base import SEED_HELP, STREAM_SETTINGS, Task
from .data import AudioDataConfig, MemoryAudio
from .predict import AudioClassifierPredictor
from .train import SETTINGS, predict_probabilities, train_audio_classifier

TASK = Task(
    "audio", "audio classifier (WAV recording -> label, e.g. spoken digits)",
    "Train a recurrent classifier of WAV recordings on log-mel or MFCC frames. --data takes directories (a folder "
    "per class, or files named LABEL_...wav), WAV files or quoted glob patterns.",
    SETTINGS, train_audio_classifier, AudioClassifierPredictor, ("predict", "evaluate"),
    ("training recordings (see above; required unless --resume)",
     "validation recordings for choosing the best epoch (default: --valid-fraction of --data)",
     "test recordings, evaluated once at the end"),
    path_type=str, hidden=STREAM_SETTINGS | {"model.embedding_size"},
    flag_help={"--batch-size": "examples per batch", "--seed": SEED_HELP})

__all__ = ["SETTINGS", "TASK", "AudioClassifierPredictor", "AudioDataConfig", "ClassifierConfig", "FeatureConfig",
           "MemoryAudio", "TrainConfig", "predict_probabilities", "train_audio_classifier"]
