"""Training a conditional generator through the task contract (:mod:`rnnkit.tasks.base`); see
:mod:`rnnkit.tasks.condgen`.

::

    prepare_run ─▶ read + check every split ─▶ vocab (<bos>, <eos>), network ─▶ run.start (config.json)
        ─▶ run.fit (best epoch on valid_loss) ─▶ valid/test loss and perplexity ─▶ finish_run
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from torch import nn

from ...models.condgen import ConditionalGenerator, ConditionalGeneratorConfig
from ...text import Vocab
from ...train.config import TrainConfig
from ..base import finish_run, prepare_run
from ..common import EVAL_BATCH_SIZE, Encoded
from ..model_size import build_within_limit
from ..text_data import TextDataConfig, example_counts, read_data
from .data import NAME, SETTINGS, SPECIALS, evaluation_batches, training_batches
from .loss import batch_loss, corpus_loss

Data = str | os.PathLike[str] | Sequence[Any] | None  # paths, or in-memory (text, label) pairs


def train_condgen(out: str | os.PathLike[str], *, data: Data = None, valid: Data = None, test: Data = None,
                  text: TextDataConfig | None = None, model: ConditionalGeneratorConfig | None = None,
                  train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None,
                  callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a label-conditioned generator into the run directory ``out``; return the final metrics.

    ``data``, ``valid`` and ``test`` are paths (read as ``rnnkit train classify`` reads them) or in-memory
    sequences of ``(text, label)`` pairs (config.json then records ``"<in memory>"``; a resume needs them given
    again). Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by
    ``train.seed``) for choosing the best epoch. ``test`` is read and checked first, and evaluated once with the
    best weights. With ``resume``, the run's saved data and settings are used and training continues from its last
    checkpoint (``epochs`` may extend a finished run). ``callbacks``: see :mod:`rnnkit.train.callbacks`.

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line, or ``data item N``), a single
            class, a label in ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"text": text, "model": model, "train": train}, callbacks=callbacks)
    text, model, train = (run.settings[name] for name in SETTINGS)
    labels, vocab, (train_data, valid_data, test_data) = read_data(run.data, run.valid, run.test, text, train.seed,
                                                                   SPECIALS)
    network = build_within_limit(lambda: ConditionalGenerator(len(vocab), model, num_classes=len(labels),
                                                             pad_id=vocab.pad_id)).to(run.device)
    run.start({"text": text, "model": model, "train": train, "labels": labels,
               # generation stops after this many tokens without <eos>: the longest training text, plus a margin
               "generation": {"max_length": max(len(ids) for ids in train_data.ids) + 10}},
              vocabularies={"vocab.json": vocab}, derived={"labels": labels},
              data_extra={"examples": example_counts(train_data, valid_data, test_data)})
    pad_id = vocab.pad_id
    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, vocab)
    results = run.fit(network, lambda net, batch, state: batch_loss(net, batch, pad_id), batches,
                      evaluate=validation(valid_data, vocab, len(labels)), monitor="valid_loss",
                      steps_per_epoch=steps_per_epoch, show_perplexity=True)  # the best epoch on validation
    for prefix, split in (("valid", valid_data), ("test", test_data)):
        results.update(split_metrics(network, split, vocab, labels, prefix))
    return finish_run(run, results, title=f"{model.cell} conditional generator")


def validation(valid_data: Encoded, vocab: Vocab, num_classes: int):
    """The end-of-epoch evaluation: loss per token (what the best epoch is chosen on) and perplexity."""
    valid_batches = evaluation_batches(valid_data, EVAL_BATCH_SIZE, vocab)

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = corpus_loss(net, valid_batches, vocab.pad_id, num_classes)
        return {"valid_loss": metrics["loss"], "valid_ppl": metrics["ppl"]}

    return evaluate


def split_metrics(network: nn.Module, split: Encoded | None, vocab: Vocab, labels: list[str],
                  prefix: str) -> dict[str, Any]:
    """``PREFIX_loss``, ``PREFIX_ppl`` and ``PREFIX_ppl_by_label`` of the best weights on ``split`` (none: {})."""
    if split is None:
        return {}
    metrics = corpus_loss(network, evaluation_batches(split, EVAL_BATCH_SIZE, vocab), vocab.pad_id, len(labels))
    return {f"{prefix}_loss": metrics["loss"], f"{prefix}_ppl": metrics["ppl"],
            f"{prefix}_ppl_by_label": dict(zip(labels, metrics["ppl_by_label"], strict=True))}
