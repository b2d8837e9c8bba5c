"""Training a classifier through the task contract (:mod:`rnnkit.tasks.base`); see :mod:`rnnkit.tasks.classify`.

::

    prepare_run ─▶ read + check every split ─▶ vocab, network ─▶ run.start (config.json, vocab.json)
        ─▶ [language-model pretraining in out/pretrain] ─▶ run.fit (best epoch on valid_error)
        ─▶ valid/test metrics + confusion PNGs (rank 0) ─▶ finish_run
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from torch import nn

from ...analysis.confusion_plot import plot_confusion_matrix
from ...models import ClassifierConfig, build_classifier
from ...text import Vocab
from ...text.subword import SubwordTokenizer
from ...train.checkpoint import has_checkpoint
from ...train.config import TrainConfig
from ...train.distributed import check_batch_size
from ..base import Run, finish_run, prepare_run
from ..common import Encoded, batch_loss, metrics_of, predict_probabilities, training_batches
from ..model_size import build_within_limit
from ..pretrained import VectorsConfig, load_pretrained_all
from ..text_data import Splits, TextDataConfig, build_vocab, encode_splits, example_counts, long_text_hint, read_splits
from .chars import CHARS_FILE, CharFeaturesConfig, add_chars, char_vocab_of, load_char_vocab
from .data import NAME, SETTINGS
from .prepared import PreparedTexts, steps_per_epoch
from .prepared_split import prepared_dir, prepared_split, prepared_text_settings
from .pretrain import PretrainConfig, check_pretrainable, pretrain_classifier
from .subword import SEGMENTER_FILE, SubwordConfig, load_segmenter, segment, train_segmenter

Data = str | os.PathLike[str] | Sequence[Any] | None  # paths, or in-memory (text, label) pairs


def train_classifier(out: str | os.PathLike[str], *, data: Data = None, valid: Data = None, test: Data = None,
                     text: TextDataConfig | None = None, model: ClassifierConfig | None = None,
                     train: TrainConfig | None = None, pretrain: PretrainConfig | None = None,
                     vectors: VectorsConfig | None = None, subword: SubwordConfig | None = None,
                     chars: CharFeaturesConfig | None = None, resume: bool = False, epochs: int | None = None,
                     callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) a sequence classifier into the run directory ``out``; return the final metrics.

    ``data``, ``valid`` and ``test`` are paths (see :mod:`rnnkit.data.readers.labelled`) or in-memory sequences
    of ``(text, label)`` pairs (config.json then records ``"<in memory>"``; a resume needs them given again).
    Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by ``train.seed``)
    for choosing the best epoch. ``test`` is read and checked first (so a mistake in it costs no training), and
    evaluated once with the best weights. With ``pretrain.pretrain_epochs`` the embedding and recurrent layer are
    first trained as a language model on the training texts (:mod:`.pretrain`; in ``out/pretrain``). With
    ``chars.char_features``, each word's spelling (a character BiLSTM or CNN, :mod:`.chars`) is concatenated with
    its embedding; the character vocabulary is saved as ``chars.json``.

    With ``resume``, the data and settings saved in ``out/config.json`` are used and training continues from the
    last checkpoint (of the pretraining, while that was running), ending with the weights an uninterrupted run
    would have; ``epochs`` may extend a finished run. ``callbacks``: see :mod:`rnnkit.train.callbacks`.

    Raises:
        ValueError: For unreadable or malformed data (naming the file and line, or ``data item N``), a single
            class, a label in ``valid`` or ``test`` that ``data`` does not have, or settings out of range.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"text": text, "model": model, "train": train, "pretrain": pretrain,
                                "vectors": vectors, "subword": subword, "chars": chars},
                      callbacks=callbacks, checkpoints=("checkpoint", "pretrain/checkpoint"),
                      optional=("pretrain", "vectors", "subword", "chars"))  # sections that runs made before them lack
    if prepared_dir(run.data) is not None:  # ids on disk (rnnkit prepare classify), read through memory maps
        return _train_prepared(run)
    text, model, train, pretrain, vectors, subword, chars = (run.settings[name] for name in SETTINGS)
    if pretrain.pretrain_epochs:
        check_pretrainable(model)
        if chars.enabled:
            raise ValueError(f"pretrain_epochs: got {pretrain.pretrain_epochs} with char_features "
                             f"{chars.char_features!r}; the language-model pretraining reads word embeddings only: "
                             "expected one of them")
    labels, vocab, (train_data, valid_data, test_data), segmenter, char_vocab = read_classify_data(run, text, subword,
                                                                                                  chars)
    network = build_within_limit(lambda: build_classifier(len(labels), model, vocab_size=len(vocab),
                                                         pad_id=vocab.pad_id, **chars.model_arguments(char_vocab)))
    found = load_pretrained_all(network, vocab, vectors)
    network = network.to(run.device)
    vocabularies = {"vocab.json": vocab, **({CHARS_FILE: char_vocab} if char_vocab is not None else {})}
    run.start({"text": text, "model": model, "train": train, "pretrain": pretrain, "vectors": vectors,
               "subword": subword, "chars": chars, "labels": labels}, vocabularies=vocabularies,
              derived={"labels": labels},
              data_extra={"examples": example_counts(train_data, valid_data, test_data),
                          **({"embeddings": found} if found else {})})
    if segmenter is not None and run.is_main and not run.resume:
        segmenter.save(run.out / SEGMENTER_FILE)
    hint = long_text_hint(train_data, text)
    if hint and run.is_main and not train.quiet:
        print(hint, file=sys.stderr)
    pretrained = pretrained_first(run, network, vocab, train_data, valid_data)
    batches, steps_per_epoch = training_batches(train_data, train.batch_size, train.seed, vocab.pad_id)
    results = run.fit(network, batch_loss, batches, evaluate=validation(valid_data, vocab.pad_id),
                      monitor="valid_error", steps_per_epoch=steps_per_epoch)  # the best epoch on validation
    results.update(pretrained)
    results.update(final_metrics(run, network, labels, vocab.pad_id, {"valid": valid_data, "test": test_data}))
    if found:
        results["embeddings_found"] = found["found_share"]
    return finish_run(run, results, title=f"{model.cell} classifier")


def _train_prepared(run: Run) -> dict[str, Any]:
    """:func:`train_classifier` on a prepared directory (see :mod:`.prepared`): the directory's vocabulary, labels
    and text settings; each rank reads its own part of the texts, a bounded buffer at a time."""
    texts = PreparedTexts(prepared_dir(run.data), verify=run.is_main)  # rank 0 recomputes the checksums
    text = run.settings["text"] = prepared_text_settings(run.settings["text"], texts, run.resume)
    model, train, pretrain, vectors, subword, chars = (run.settings[name] for name in ("model", "train", "pretrain",
                                                                                        "vectors", "subword", "chars"))
    if pretrain.pretrain_epochs or subword.subword != "none" or chars.enabled:
        raise ValueError(f"--data {run.data}: a prepared directory holds word or character ids; language-model "
                         "pretraining, subword pieces and character features need the text files")
    if run.valid is None:
        raise ValueError(f"--valid: missing; training on a prepared directory ({run.data}) needs validation data "
                         "(a labelled file, or a directory prepared with --vocab-from the training one)")
    labels, vocab, local = texts.label_names, texts.vocab, check_batch_size(train.batch_size, run.distributed)
    valid_data = prepared_split(run.valid, "--valid", texts, text)
    test_data = prepared_split(run.test, "--test", texts, text) if run.test is not None else None
    network = build_within_limit(lambda: build_classifier(len(labels), model, vocab_size=len(vocab),
                                                         pad_id=vocab.pad_id))
    found = load_pretrained_all(network, vocab, vectors)
    network = network.to(run.device)
    examples = {"train": len(texts), "valid": len(valid_data), "test": None if test_data is None else len(test_data)}
    run.start({"text": text, "model": model, "train": train, "pretrain": pretrain, "vectors": vectors,
               "subword": subword, "chars": chars, "labels": labels}, vocabularies={"vocab.json": vocab},
              derived={"labels": labels},
              data_extra={"examples": examples, "source": f"{run.data} (prepared: {len(texts)} texts)",
                          **({"embeddings": found} if found else {})})
    batches = texts.batches(local, train.seed, run.distributed.rank, run.distributed.world_size, pad_id=vocab.pad_id)
    results = run.fit(network, batch_loss, batches, evaluate=validation(valid_data, vocab.pad_id),
                      monitor="valid_error", shard=None,  # each rank reads its own texts already
                      steps_per_epoch=steps_per_epoch(len(texts), local, run.distributed.world_size))
    results.update(final_metrics(run, network, labels, vocab.pad_id, {"valid": valid_data, "test": test_data}))
    if found:
        results["embeddings_found"] = found["found_share"]
    return finish_run(run, results, title=f"{model.cell} classifier")


def read_classify_data(run: Run, text: TextDataConfig, subword: SubwordConfig,
                       chars: CharFeaturesConfig | None = None) -> tuple[list[str], Vocab, Splits,
                                                                         SubwordTokenizer | None, Vocab | None]:
    """``(labels, vocab, (train, valid, test), segmenter, char_vocab)``: every split read and checked, words
    replaced by subword pieces when asked (the segmenter learnt from the training split, or a resumed run's own),
    and with character features each token's character ids (the character vocabulary of the training split, or
    a resumed run's own)."""
    labels, train_examples, valid_examples, test_examples = read_splits(run.data, run.valid, run.test, text,
                                                                        run.train.seed)
    segmenter = (load_segmenter(run.out, subword) if run.resume else train_segmenter(train_examples, subword, text))
    train_examples, valid_examples = segment(train_examples, segmenter, text), segment(valid_examples, segmenter, text)
    test_examples = segment(test_examples, segmenter, text) if test_examples is not None else None
    vocab = build_vocab(train_examples, text)
    splits = encode_splits(vocab, labels, train_examples, valid_examples, test_examples)
    chars = chars if chars is not None else CharFeaturesConfig()
    char_vocab = (load_char_vocab(run.out, chars) if run.resume and chars.enabled
                  else char_vocab_of(train_examples, chars, text))
    for encoded, examples in zip(splits, (train_examples, valid_examples, test_examples), strict=True):
        add_chars(encoded, examples, char_vocab)
    return labels, vocab, splits, segmenter, char_vocab


def pretrained_first(run: Run, network: nn.Module, vocab: Vocab, train_data: Encoded,
                     valid_data: Encoded) -> dict[str, Any]:
    """The language-model pretraining (in ``out/pretrain``) when the run has one and is not yet past it (a resumed
    run with a classification checkpoint is); its figures (``pretrain_*``), else {}."""
    pretrain: PretrainConfig = run.settings["pretrain"]
    if not pretrain.pretrain_epochs or (run.resume and has_checkpoint(run.out / "checkpoint")):
        return {}
    return pretrain_classifier(network, train_data, valid_data, pad_id=vocab.pad_id, unk_id=vocab.unk_id,
                               config=pretrain, train=run.train, out=run.out / "pretrain", resume=run.resume,
                               distributed=run.distributed)


def probabilities_of(network: nn.Module, split: Encoded | PreparedTexts, pad_id: int) -> Any:
    """Class probabilities ``(N, C)`` of a split in memory or prepared on disk."""
    if isinstance(split, PreparedTexts):
        return split.probabilities(network, pad_id)
    return predict_probabilities(network, split, pad_id)


def validation(valid_data: Encoded | PreparedTexts, pad_id: int):
    """The end-of-epoch evaluation: loss, accuracy and error (what the best epoch is chosen on) of ``valid``."""

    def evaluate(net: nn.Module) -> dict[str, float]:
        metrics = metrics_of(probabilities_of(net, valid_data, pad_id), valid_data.labels, "valid")
        return {"valid_loss": metrics["valid_loss"], "valid_accuracy": metrics["valid_accuracy"],
                "valid_error": 1.0 - metrics["valid_accuracy"]}

    return evaluate


def final_metrics(run: Run, network: nn.Module, labels: list[str], pad_id: int,
                  splits: dict[str, Encoded | PreparedTexts | None]) -> dict[str, Any]:
    """The best weights' metrics on each split given (``valid_*``, ``test_*``); the confusion matrices drawn to
    ``confusion_valid.png`` and ``confusion_test.png`` by rank 0."""
    results: dict[str, Any] = {}
    for prefix, split in splits.items():
        if split is None:
            continue
        results.update(metrics_of(probabilities_of(network, split, pad_id), split.labels, prefix))
        if run.is_main:
            plot_confusion_matrix(results[f"{prefix}_confusion_matrix"], labels, run.out / f"confusion_{prefix}.png",
                                  title=f"{prefix}: accuracy {results[f'{prefix}_accuracy']:.3f}")
    return results
