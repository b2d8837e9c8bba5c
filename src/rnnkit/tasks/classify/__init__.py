"""The classification task (many-to-one): a text in, one of C labels out.

The one place that knows which reader, model, loss and metrics go together for classification: labelled text
files (tables, label-first lines, a file per class, folders per class; see :mod:`rnnkit.data.readers.labelled`)
or in-memory ``(text, label)`` pairs -> tokens -> vocabulary -> batches of similar lengths ->
:class:`~rnnkit.models.SequenceClassifier` -> cross-entropy summed over the batch. The best epoch is chosen on
validation data (``--valid``, or a stratified share of ``--data``); test data is evaluated once, at the end, and
never used for a choice. Metrics: accuracy, macro-F1, the confusion matrix (also as a PNG), and ROC-AUC and PR-AUC
for two classes.

Modules: :mod:`.train` (``train_classifier``), :mod:`.predict` (``ClassifierPredictor``), :mod:`.pretrain`
(language-model pretraining), :mod:`.data` (what both share).
"""

from ..base import SEED_HELP, STREAM_SETTINGS, Task
from .data import NAME, SETTINGS
from .predict import ClassifierPredictor
from .pretrain import PretrainConfig
from .train import train_classifier

TASK = Task(
    NAME, "sequence classifier (text -> label)",
    "Train a recurrent text classifier. --data takes a CSV/TSV/JSONL table, a file of 'LABEL TEXT' lines, several "
    "files (one per class), or a directory or .zip with a folder per class.",
    SETTINGS, train_classifier, ClassifierPredictor, ("predict", "evaluate"),
    ("training data (see above; required unless --resume)",
     "validation data for choosing the best epoch (default: --valid-fraction of --data)",
     "test data, evaluated once at the end"),
    hidden=STREAM_SETTINGS,
    flag_help={"--batch-size": "examples per batch", "--seed": SEED_HELP})

__all__ = ["SETTINGS", "TASK", "ClassifierPredictor", "PretrainConfig", "train_classifier"]
