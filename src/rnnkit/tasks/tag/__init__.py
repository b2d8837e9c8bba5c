"""The tagging task: a tag per token (NER, POS, chunking) from CoNLL-style files or ``(tokens, tags)`` pairs.

``train.py`` trains (:func:`train_tagger`), ``predict.py`` uses a trained run (:class:`TaggerPredictor`),
``data.py`` reads and encodes sentences (:class:`TagDataConfig`).
"""

from ...models.tagger import TaggerConfig
from ...train.config import TrainConfig
from ..base import SEED_HELP, STREAM_SETTINGS, Task
from .data import MemorySentence, TagDataConfig
from .predict import TaggerPredictor
from .train import SETTINGS, batch_loss, metrics_of, predict_tags, train_tagger

TASK = Task(
    "tag", "sequence tagger (a tag per token: NER, POS, chunking)",
    "Train a recurrent tagger on CoNLL-style files: one token per line with its tag in another column, a blank line "
    "between sentences, -DOCSTART- lines skipped; or CoNLL-U treebanks (Universal Dependencies; auto-detected): "
    "FORM and UPOS or XPOS, comments, multiword ranges and empty nodes skipped; plain or .gz.",
    SETTINGS, train_tagger, TaggerPredictor, ("predict", "evaluate"),
    ("training file(s) (required unless --resume)",
     "validation file(s) for choosing the best epoch (default: --valid-fraction of --data)",
     "test file(s), evaluated once at the end"),
    hidden=STREAM_SETTINGS, flag_help={"--batch-size": "sentences per batch", "--seed": SEED_HELP})

__all__ = ["SETTINGS", "TASK", "MemorySentence", "TagDataConfig", "TaggerConfig", "TaggerPredictor", "TrainConfig",
           "batch_loss", "metrics_of", "predict_tags", "train_tagger"]
