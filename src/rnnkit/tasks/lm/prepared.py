"""Language models trained from a prepared directory (``rnnkit prepare lm``): windows read from memory-mapped
shards, never the whole corpus in memory.

The run takes the directory's vocabulary and corpus settings (level, lower-casing, ...). The training streams are
those ``train lm`` makes in memory from the same ids (:class:`~rnnkit.data.shard_streams.ShardStreams`), each
torchrun rank reading its own rows; the trainer gets each window's columns and the loss reads its ids, so a resumed
run skips the windows it has done without reading them and continues at the exact window. Validation and test
data may be prepared directories (with the same vocabulary) or text files (encoded in memory); without
``--valid`` the last 10% of the prepared ids are held out (the vocabulary was counted over all of them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...data.corpus import CorpusConfig, encode_text
from ...data.prepared_records import prepared_settings
from ...data.readers.text import read_text
from ...data.shard_streams import ShardStreams
from ...data.shards import ShardedCorpus, is_prepared
from ...data.streams import Span, bptt_windows
from ...train.distributed import check_batch_size
from ...train.trainer import StepResult
from .data import EVAL_BATCH_SIZE, eval_streams, text_metrics, window_loss

__all__ = ["PreparedData", "prepared_corpus", "prepared_data"]
SETTING_NAMES = ("level", "lower", "min_freq", "max_vocab", "encoding")


def prepared_corpus(corpus: CorpusConfig, directory: ShardedCorpus, resume: bool) -> CorpusConfig:
    """The run's corpus settings: the prepared directory's; a setting given otherwise (not left at its default)
    is an error naming both."""
    if corpus.subword != "none":
        raise ValueError(f"--tokenizer {corpus.subword}: --data {directory.directory} holds prepared word or "
                         "character ids; subword pieces are not supported with a prepared directory")
    return prepared_settings(corpus, SETTING_NAMES, directory, resume)


class PreparedData:
    """The training streams, and the validation and test evaluations, of a run on a prepared directory."""

    def __init__(self, train: ShardStreams, valid: Any, test: Any, device: torch.device) -> None:
        self.train, self.valid, self.test, self.device = train, valid, test, device

    def batches(self, bptt: int, k1: int | None) -> Any:
        """``batches(epoch)`` for the trainer: the windows' columns (read by :meth:`loss`)."""
        return lambda epoch: self.train.spans(bptt, k1)

    def loss(self, model: nn.Module, span: Span, state: Any) -> StepResult:
        """:func:`~rnnkit.tasks.lm.data.window_loss` of the window at ``span``, read from the shards."""
        return window_loss(model, self.train.window(span, self.device), state)

    def evaluate(self, model: nn.Module, which: str, bptt: int, level: str) -> dict[str, float]:
        """Loss, perplexity and bits of the validation (``which="valid"``) or test data, the state carried."""
        streams = self.valid if which == "valid" else self.test
        windows = (streams.windows(bptt, device=self.device) if isinstance(streams, ShardStreams)
                   else bptt_windows(streams, bptt))
        total, count, state = 0.0, 0, None
        for window in windows:
            result = window_loss(model, window, state)
            total, count, state = total + float(result.loss_sum), count + result.count, result.state
        return text_metrics(total, count, which, level)


def prepared_data(run: Any, corpus_dir: ShardedCorpus, corpus: CorpusConfig) -> PreparedData:
    """This rank's training streams and the evaluation data of a run whose ``--data`` is a prepared directory."""
    batch_size = run.train.batch_size
    local = check_batch_size(batch_size, run.distributed)
    total = len(corpus_dir)
    train_end = total if run.valid is not None else total - total // 10
    name = f"--data {corpus_dir.directory}"
    train = ShardStreams(corpus_dir, 0, train_end, batch_size, run.distributed.rank * local, local, name)
    if run.valid is None:
        valid: Any = _eval_streams(corpus_dir, train_end, total, EVAL_BATCH_SIZE, f"{name} (last 10% held out)")
    else:
        valid = _evaluation(run.valid, "--valid", corpus_dir, corpus, EVAL_BATCH_SIZE)
    test = None if run.test is None else _evaluation(run.test, "--test", corpus_dir, corpus, 1)
    if isinstance(valid, torch.Tensor):
        valid = valid.to(run.device)
    if isinstance(test, torch.Tensor):
        test = test.to(run.device)
    return PreparedData(train, valid, test, run.device)


def _eval_streams(corpus_dir: ShardedCorpus, begin: int, end: int, batch_size: int, name: str) -> ShardStreams:
    if end - begin < 2:
        raise ValueError(f"{name}: {end - begin} token(s); expected at least 2 to evaluate on")
    return ShardStreams(corpus_dir, begin, end, max(1, min(batch_size, (end - begin) // 2)), name=name)


def _evaluation(path: Any, flag: str, corpus_dir: ShardedCorpus, corpus: CorpusConfig, batch_size: int) -> Any:
    """Evaluation streams of a prepared directory (same vocabulary required) or a text file (encoded in memory)."""
    if is_prepared(path):
        other = ShardedCorpus(path)
        if other.vocab != corpus_dir.vocab:
            raise ValueError(f"{flag} {path}: prepared with another vocabulary than --data {corpus_dir.directory}; "
                             f"prepare it with --vocab-from {corpus_dir.directory}")
        return _eval_streams(other, 0, len(other), batch_size, f"{flag} {path}")
    ids = encode_text(read_text(path, corpus.encoding), corpus_dir.vocab, corpus)
    return eval_streams(ids, f"{flag} {path}", batch_size)
