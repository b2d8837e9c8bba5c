"""The translation task: an encoder-decoder on sentence pairs (:mod:`.train`), its verbs on a trained run
(:mod:`.predict`: translate, evaluate, attention), the data (:mod:`.data`) and the attention heatmap
(:mod:`.plots`)."""

from ..base import STREAM_SETTINGS, Task
from .data import TranslationCorpusConfig
from .predict import Seq2SeqPredictor, corpus_scores
from .settings import SCHEDULES, SETTINGS, TASK_NAME, Seq2SeqTaskConfig
from .train import batch_loss, corpus_loss, prepare_data, train_seq2seq

TASK = Task(
    TASK_NAME, "encoder-decoder translation (attention or a context vector)",
    "Train an encoder-decoder on sentence pairs: a TSV (source<TAB>target[<TAB>...]) or parallel files "
    "PREFIX.SRC/PREFIX.TGT (--source-lang, --target-lang).",
    SETTINGS, train_seq2seq, Seq2SeqPredictor, ("translate", "evaluate"),
    ("training pairs: a TSV, or a parallel-file prefix (required unless --resume)",
     "validation pairs (default: hold out a share)", "test pairs: BLEU and chrF at the end"),
    several_files=False, hidden=STREAM_SETTINGS,
    flag_help={"--batch-size": "sentence pairs per batch", "--keep-case": "do not lower-case the text",
               "--unidirectional": "forward-only encoder"})

__all__ = ["SCHEDULES", "SETTINGS", "TASK", "TASK_NAME", "Seq2SeqPredictor", "Seq2SeqTaskConfig",
           "TranslationCorpusConfig", "batch_loss", "corpus_loss", "corpus_scores", "prepare_data", "train_seq2seq"]
