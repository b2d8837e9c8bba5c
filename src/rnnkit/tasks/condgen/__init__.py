"""The conditional-generation task (one-to-many): a class label in, a text of that class out.

The one place that knows what goes together for conditional generation: labelled text files (read as for
classification: tables, label-first lines, a file per class, folders per class; see
:mod:`rnnkit.tasks.text_data`) or in-memory ``(text, label)`` pairs -> tokens -> a vocabulary with ``<bos>`` and
``<eos>`` -> batches of similar lengths -> :class:`~rnnkit.models.ConditionalGenerator` (the label sets the
decoder's initial state) -> cross-entropy summed over the real target tokens (``y_1 .. y_T <eos>``; padding
ignored). The best epoch is the one with the lowest validation loss per token (``--valid``, or a stratified share
of ``--data``); test data is evaluated once at the end. Metrics: loss (nats per token) and perplexity, conditioned
on the label.

::

    label "pos", tokens [a, fine, film]  ─▶  condition 1;  inputs  <bos> a    fine film
                                                          targets a     fine film <eos>

Modules: :mod:`.train` (``train_condgen``), :mod:`.predict` (``ConditionalGeneratorPredictor``), :mod:`.data`
(vocabulary and batches), :mod:`.loss` (training loss, corpus perplexity).
"""

from ..base import SEED_HELP, STREAM_SETTINGS, Task
from .data import NAME, SETTINGS, SPECIALS, build_vocab, collate
from .loss import batch_loss, corpus_loss
from .predict import ConditionalGeneratorPredictor
from .train import train_condgen

TASK = Task(
    NAME, "conditional generator (label -> text)",
    "Train a recurrent text generator conditioned on a class label (the label sets the decoder's initial state). "
    "--data takes labelled text as 'rnnkit train classify' does: a CSV/TSV/JSONL table, a file of 'LABEL TEXT' "
    "lines, several files (one per class), or folders per class.",
    SETTINGS, train_condgen, ConditionalGeneratorPredictor, ("generate", "evaluate"),
    ("training data (see above; required unless --resume)",
     "validation data for choosing the best epoch (default: --valid-fraction of --data)",
     "test data, evaluated once at the end"),
    hidden=STREAM_SETTINGS | {"text.truncate", "text.strip_html"},
    flag_help={"--batch-size": "texts per batch", "--seed": SEED_HELP,
               "--max-length": "keep the first N tokens of each text",
               "--min-freq": "rarer training tokens become <unk> (never generated)"})

__all__ = ["SETTINGS", "SPECIALS", "TASK", "ConditionalGeneratorPredictor", "batch_loss", "build_vocab", "collate",
           "corpus_loss", "train_condgen"]
