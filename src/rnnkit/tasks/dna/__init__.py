"""The DNA (or protein) sequence-classification task, e.g. transcription-factor binding sites.

``train.py`` trains (:func:`train_dna`), ``predict.py`` uses a trained run (:class:`SequenceClassifierPredictor`),
``data.py`` reads records, makes shuffled negatives and encodes them (:class:`SequenceDataConfig`).
"""

from ...models import ClassifierConfig
from ...models.binding_classifier import ConvFrontEndConfig
from ...train.config import TrainConfig
from ..base import SEED_HELP, STREAM_SETTINGS, Task
from .data import SequenceDataConfig, with_shuffled_negatives
from .predict import SequenceClassifierPredictor
from .train import SETTINGS, build_model, train_dna

TASK = Task(
    "dna", "DNA/protein sequence classifier (e.g. TF binding sites)",
    "Train a recurrent classifier of DNA or protein sequences. --data takes FASTA (labels as 'label=VALUE' in the "
    "headers or from --labels FILE) or a TSV with a header (DeepBind's 'FoldID EventID seq Bound'), plain or .gz. "
    "With --negatives shuffle the training file holds positives only and their dinucleotide-shuffled copies are the "
    "negatives.",
    SETTINGS, train_dna, SequenceClassifierPredictor, ("predict", "evaluate"),
    ("training sequences (required unless --resume)",
     "labelled validation sequences for choosing the best epoch (default: --valid-fraction of --data)",
     "labelled test sequences, evaluated once at the end"),
    extra_data={"--labels": ("labels_file", "FASTA labels: a file of 'NAME LABEL' lines")},
    hidden=STREAM_SETTINGS, flag_help={"--batch-size": "examples per batch", "--seed": SEED_HELP})

__all__ = ["SETTINGS", "TASK", "ClassifierConfig", "ConvFrontEndConfig", "SequenceClassifierPredictor",
           "SequenceDataConfig", "TrainConfig", "build_model", "train_dna", "with_shuffled_negatives"]
