"""The language-modelling task: P(x_{t+1} | x_t, ..., x_1), trained with truncated BPTT on text streams.

This is the one place that knows which reader, model, loss and metrics go together for language models:
text files (or the built-in CPython documentation corpus) -> tokens -> vocabulary -> B parallel streams ->
windows of ``bptt`` steps -> :class:`~rnnkit.models.LanguageModel` -> cross-entropy summed over the window.
Metrics: loss in nats per token, perplexity exp(loss), and bits per token (bits per character at char level).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...data.corpus import CorpusConfig, build_vocab, encode_text, train_segmenter
from ...data.shards import ShardedCorpus, is_prepared
from ...data.streams import batchify, bptt_windows, num_windows
from ...models import LanguageModel, LanguageModelConfig
from ...text import Vocab
from ...text.subword import SubwordTokenizer
from ...train.config import TrainConfig
from ...train.distributed import check_batch_size, shard_rows
from ..base import IN_MEMORY, Run, finish_run, prepare_run
from ..model_size import build_within_limit
from ..run_dir import read_run_config
from .data import NAME, Texts, described, eval_streams, is_in_memory, load_texts, stream_loss, text_metrics, window_loss
from .prepared import prepared_corpus, prepared_data

__all__ = ["SETTINGS", "demo_settings", "train_language_model"]
SEGMENTER_FILE = "tokenizer.json"  # a subword run's segmenter
SETTINGS = {"corpus": CorpusConfig, "model": LanguageModelConfig, "train": TrainConfig}
TextData = str | os.PathLike[str] | Sequence[str]  # a text file, or a list of texts (documents)


def demo_settings(seconds: float, quiet: bool) -> dict[str, Any]:
    """The settings of ``rnnkit demo``: a char-level LSTM trained for ``seconds`` on the built-in corpus."""
    return {"corpus": CorpusConfig(level="char"),
            "model": LanguageModelConfig(cell="lstm", embedding_size=64, hidden_size=256, num_layers=1, dropout=0.1),
            "train": TrainConfig(epochs=1000, batch_size=64, bptt=100, lr=3e-3, optimizer="adamw", clip_norm=1.0,
                                 schedule="none", seed=0, quiet=quiet, max_seconds=seconds, log_every=20)}


def train_language_model(out: str | os.PathLike[str], *, data: TextData | None = None, valid: TextData | None = None,
                         test: TextData | None = None, corpus: CorpusConfig | None = None,
                         model: LanguageModelConfig | None = None, train: TrainConfig | None = None,
                         resume: bool = False, epochs: int | None = None, callbacks: Sequence[Any] = (),
                         demo: bool = False) -> dict[str, Any]:
    """Train (or resume) a language model into the run directory ``out``; return the final metrics.

    ``data``, ``valid`` and ``test`` are text files or lists of texts (documents, joined with newlines); without
    ``data`` the built-in corpus, without ``valid`` the last 10% of the training text. With ``resume``, the settings
    saved in ``out/config.json`` are used and the run continues from its last checkpoint, ending with exactly the
    weights an uninterrupted run would have; ``epochs`` may extend a run that has finished.
    """
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"corpus": corpus, "model": model, "train": train}, callbacks=callbacks,
                      data_required=False)
    corpus, model, train = run.settings["corpus"], run.settings["model"], run.train
    if is_prepared(run.data):  # ids on disk (rnnkit prepare lm): read window by window through memory maps
        return _train_prepared(run, demo)
    texts = load_texts(run.data, run.valid, run.test, corpus.encoding)
    segmenter = (SubwordTokenizer.load(run.out / SEGMENTER_FILE) if run.resume and corpus.subword != "none"
                 else train_segmenter(texts.train, corpus))  # the training text's pieces only
    vocab = build_vocab(texts.train, corpus, segmenter)
    check_batch_size(train.batch_size, run.distributed)  # the global batch is split over ranks
    network = build_within_limit(lambda: LanguageModel(len(vocab), model)).to(run.device)
    train_streams = _training_streams(run, encode_text(texts.train, vocab, corpus, segmenter))
    valid_name = f"--valid {described(run.valid if run.valid is not None else run.data)}"
    valid_streams = eval_streams(encode_text(texts.valid, vocab, corpus, segmenter), valid_name).to(run.device)
    windows = list(bptt_windows(train_streams, train.bptt, train.bptt_k1))
    run.start({"corpus": corpus, "model": model, "train": train, "demo": _is_demo(run, demo)},
              vocabularies={"vocab.json": vocab}, data_extra=_data_extra(run, texts.source))
    if segmenter is not None and run.is_main and not run.resume:
        segmenter.save(run.out / SEGMENTER_FILE)

    def evaluate(net: nn.Module) -> dict[str, float]:
        return text_metrics(*stream_loss(net, valid_streams, train.bptt), "valid", corpus.level)

    results = run.fit(network, window_loss, lambda epoch: windows, evaluate=evaluate, monitor="valid_loss",
                      steps_per_epoch=num_windows(train_streams.shape[1], train.bptt, train.bptt_k1),
                      show_perplexity=True, shard=None)  # the streams are this rank's rows already
    results.update(_final_metrics(run, network, evaluate, texts, vocab, segmenter))
    return finish_run(run, results, title=f"{model.cell} language model")


def _train_prepared(run: Run, demo: bool) -> dict[str, Any]:
    """:func:`train_language_model` on a prepared directory (see :mod:`rnnkit.tasks.lm.prepared`)."""
    corpus_dir = ShardedCorpus(run.data, verify=run.is_main)  # rank 0 recomputes the shards' checksums
    corpus = run.settings["corpus"] = prepared_corpus(run.settings["corpus"], corpus_dir, run.resume)
    model, train = run.settings["model"], run.train
    data = prepared_data(run, corpus_dir, corpus)
    network = build_within_limit(lambda: LanguageModel(len(corpus_dir.vocab), model)).to(run.device)
    run.start({"corpus": corpus, "model": model, "train": train, "demo": _is_demo(run, demo)},
              vocabularies={"vocab.json": corpus_dir.vocab},
              data_extra={"source": f"{run.data} (prepared: {len(corpus_dir)} tokens in "
                                    f"{len(corpus_dir.index['shards'])} shards)"})

    def evaluate(net: nn.Module) -> dict[str, float]:
        return data.evaluate(net, "valid", train.bptt, corpus.level)

    results = run.fit(network, data.loss, data.batches(train.bptt, train.bptt_k1), evaluate=evaluate,
                      monitor="valid_loss", steps_per_epoch=num_windows(data.train.length, train.bptt, train.bptt_k1),
                      show_perplexity=True, shard=None)  # each rank reads its own rows already
    with torch.no_grad():
        results.update(evaluate(network))
        if data.test is not None:
            results.update(data.evaluate(network, "test", train.bptt, corpus.level))
    return finish_run(run, results, title=f"{model.cell} language model")


def _training_streams(run: Run, ids: Tensor) -> Tensor:
    """This rank's rows of the ``batch_size`` training streams (split per rank before windowing)."""
    batch_size = run.train.batch_size
    if len(ids) // batch_size < 2:
        raise ValueError(f"--data {described(run.data) if run.data is not None else 'built-in'}: {len(ids)} tokens are "
                         f"too few for --batch-size {batch_size}; expected at least {2 * batch_size}")
    return shard_rows(batchify(ids, batch_size), run.distributed).to(run.device)


def _is_demo(run: Run, demo: bool) -> bool:
    """Whether the run is ``rnnkit demo``'s (a resumed run stays what it was)."""
    return bool(read_run_config(run.out).get("demo")) if run.resume else demo


def _data_extra(run: Run, source: str) -> dict[str, Any]:
    """config.json's ``data`` entries besides the paths: the source, and :data:`IN_MEMORY` for lists of texts."""
    extra: dict[str, Any] = {name: IN_MEMORY for name, value in
                             (("train", run.data), ("valid", run.valid), ("test", run.test)) if is_in_memory(value)}
    return extra | {"source": source}


def _final_metrics(run: Run, network: nn.Module, evaluate: Any, texts: Texts, vocab: Vocab,
                   segmenter: SubwordTokenizer | None = None) -> dict[str, float]:
    """Validation metrics of the best weights, and test metrics when there is a test text."""
    corpus = run.settings["corpus"]
    with torch.no_grad():
        metrics = evaluate(network)
        if texts.test is not None:
            # one stream, the state carried through the whole test text: how published perplexities are measured
            ids = encode_text(texts.test, vocab, corpus, segmenter)
            streams = eval_streams(ids, f"--test {described(run.test)}", 1)
            metrics.update(text_metrics(*stream_loss(network, streams.to(run.device), run.train.bptt), "test",
                                        corpus.level))
    return metrics
