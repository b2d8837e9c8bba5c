"""What the classification task's training and its predictor share: the task's name and settings sections (the
labelled text itself is read by :mod:`rnnkit.tasks.text_data`, as for condgen)."""

from __future__ import annotations

from ...models import ClassifierConfig
from ...train.config import TrainConfig
from ..pretrained import VectorsConfig
from ..text_data import TextDataConfig
from .chars import CharFeaturesConfig
from .pretrain import PretrainConfig
from .subword import SubwordConfig

NAME = "classify"
SETTINGS = {"text": TextDataConfig, "model": ClassifierConfig, "train": TrainConfig, "pretrain": PretrainConfig,
            "vectors": VectorsConfig, "subword": SubwordConfig, "chars": CharFeaturesConfig}
