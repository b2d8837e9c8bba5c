"""The language-modelling task: P(x_{t+1} | x_t, ..., x_1), trained with truncated BPTT on text streams.

This is the one place that knows which reader, model, loss and metrics go together for language models:
text files (or the built-in CPython documentation corpus) -> tokens -> vocabulary -> B parallel streams ->
windows of ``bptt`` steps -> :class:`~rnnkit.models.LanguageModel` -> cross-entropy summed over the window.
Metrics: loss in nats per token, perplexity exp(loss), and bits per token (bits per character at char level).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.builtin import builtin_splits, pydoc_corpus
from ..data.readers.text import read_text
from ..data.streams import Window, batchify, bptt_windows, num_windows
from ..models import LanguageModel, LanguageModelConfig
from ..text import Vocab
from ..train.config import TrainConfig
from ..train.distributed import (
    barrier,
    check_batch_size,
    setup_distributed,
    shard_rows,
    teardown_distributed,
    wrap_model,
)
from ..train.plots import plot_learning_curves
from ..train.trainer import StepResult, Trainer
from .corpus import CorpusConfig, build_vocab, encode_text
from .run_dir import absolute_paths, create_run_dir, read_run_config, write_run_config

TASK = "lm"
EVAL_BATCH_SIZE = 10


def load_texts(data: Path | None, valid: Path | None, test: Path | None,
               encoding: str) -> tuple[str, str, str | None, str]:
    """Training, validation and (optional) test text, and a description of where they came from.

    Without ``data``, the built-in corpus; without ``valid``, the last 10% of the training text (at a line
    boundary) is held out for validation.
    """
    if data is None:
        train_text, valid_text, test_text = builtin_splits(pydoc_corpus())
        return train_text, valid_text, test_text, "built-in: CPython's pydoc_data.topics"
    train_text = read_text(data, encoding)
    test_text = read_text(test, encoding) if test is not None else None
    if valid is not None:
        return train_text, read_text(valid, encoding), test_text, str(data)
    try:
        train_text, valid_text, _ = builtin_splits(train_text, valid_fraction=0.1, test_fraction=0.0)
    except ValueError:
        raise ValueError(f"--data {data}: too short to hold out 10% for validation; pass --valid FILE") from None
    return train_text, valid_text, test_text, f"{data} (last 10% held out for validation)"


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)


def window_loss(model: nn.Module, window: Window, state: Any) -> StepResult:
    """Summed cross-entropy of one window, and the state to carry into the next (see data.streams)."""
    inputs, targets, start, carry_steps = window
    steps = inputs.shape[1]
    if 0 < carry_steps < steps:
        first_logits, middle = model(inputs[:, :carry_steps], state)
        rest_logits, _ = model(inputs[:, carry_steps:], middle)
        logits, carried = torch.cat([first_logits, rest_logits], dim=1), middle  # (B, t, V)
    else:
        logits, final = model(inputs, state)
        carried = final if carry_steps else state
    logits, targets = logits[:, start:], targets[:, start:]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), reduction="sum")
    return StepResult(loss, targets.numel(), carried, tokens=inputs[:, start:].numel())


def stream_loss(model: nn.Module, streams: Tensor, bptt: int) -> tuple[float, int]:
    """Summed loss and token count over whole streams ``(B, L)``, the state carried throughout (eval mode)."""
    total, count, state = 0.0, 0, None
    for window in bptt_windows(streams, bptt):
        result = window_loss(model, window, state)
        total, count, state = total + float(result.loss_sum), count + result.count, result.state
    return total, count


def text_metrics(loss: float, count: int, prefix: str, level: str) -> dict[str, float]:
    """loss (nats/token), perplexity and bits per token (``bpc`` at char level)."""
    mean = loss / max(count, 1)
    bits = "bpc" if level == "char" else "bits_per_token"
    return {f"{prefix}_loss": mean, f"{prefix}_ppl": math.exp(min(mean, 700.0)), f"{prefix}_{bits}": mean / math.log(2)}


def eval_streams(ids: Tensor, name: str, batch_size: int = EVAL_BATCH_SIZE) -> Tensor:
    """Evaluation streams: up to ``batch_size`` rows, fewer for a short text."""
    if len(ids) < 2:
        raise ValueError(f"{name}: {len(ids)} token(s); expected at least 2 to evaluate on")
    return batchify(ids, max(1, min(batch_size, len(ids) // 2)))


def check_device(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this torch has no CUDA device available; expected --device cpu")


def train_language_model(out: Path, *, data: Path | None = None, valid: Path | None = None,
                         test: Path | None = None, corpus: CorpusConfig | None = None,
                         model: LanguageModelConfig | None = None, train: TrainConfig | None = None,
                         resume: bool = False, epochs: int | None = None, demo: bool = False) -> dict[str, Any]:
    """Train (or resume) a language model into the run directory ``out``; return the final metrics.

    With ``resume``, the settings saved in ``out/config.json`` are used and the run continues from its last
    checkpoint, ending with exactly the weights an uninterrupted run would have; ``epochs`` may extend a run
    that has finished.
    """
    out = Path(out)
    corpus, model, train = corpus or CorpusConfig(), model or LanguageModelConfig(), train or TrainConfig()
    if resume:
        saved = read_run_config(out, TASK)
        corpus, model, train = (CorpusConfig(**saved["corpus"]), LanguageModelConfig(**saved["model"]),
                                TrainConfig(**saved["train"]))
        data, valid, test = (Path(p) if p else None for p in (saved["data"]["train"], saved["data"]["valid"],
                                                                saved["data"]["test"]))
    train_text, valid_text, test_text, source = load_texts(data, valid, test, corpus.encoding)
    vocab = Vocab.load(out / "vocab.json") if resume else build_vocab(train_text, corpus)
    if epochs is not None:
        train = replace(train, epochs=epochs)
    check_device(train.device)
    ctx = setup_distributed(train.device)  # under torchrun: one process per device; rank 0 alone writes files
    check_batch_size(train.batch_size, ctx)  # the global batch is split over ranks
    seed_everything(train.seed, train.deterministic)
    device = torch.device(train.device)
    network = LanguageModel(len(vocab), model).to(device)
    train_ids = encode_text(train_text, vocab, corpus)
    if len(train_ids) // train.batch_size < 2:
        raise ValueError(f"--data {data or 'built-in'}: {len(train_ids)} tokens are too few for --batch-size "
                         f"{train.batch_size}; expected at least {2 * train.batch_size}")
    train_streams = shard_rows(batchify(train_ids, train.batch_size), ctx).to(device)
    valid_streams = eval_streams(encode_text(valid_text, vocab, corpus), f"--valid {valid or data}").to(device)
    windows = list(bptt_windows(train_streams, train.bptt, train.bptt_k1))
    if resume and epochs is not None and ctx.is_main:
        saved["train"] = asdict(train)
        write_run_config(out, TASK, {key: value for key, value in saved.items() if key not in ("format", "task",
                                                                                             "versions")})
    if not resume and ctx.is_main:  # only now, with everything checked: never a half-made run directory
        create_run_dir(out)
        vocab.save(out / "vocab.json")
        write_run_config(out, TASK, {
            "corpus": asdict(corpus), "model": asdict(model), "train": asdict(train),
            "data": {"train": absolute_paths(data), "valid": absolute_paths(valid), "test": absolute_paths(test),
                     "source": source},
            "demo": demo,
        })

    def evaluate(net: nn.Module) -> dict[str, float]:
        return text_metrics(*stream_loss(net, valid_streams, train.bptt), "valid", corpus.level)

    trainer = Trainer(wrap_model(network, ctx), train, window_loss, lambda epoch: windows, evaluate=evaluate,
                      monitor="valid_loss", run_dir=out, is_main=ctx.is_main,
                      steps_per_epoch=num_windows(train_streams.shape[1], train.bptt, train.bptt_k1))
    if resume:
        trainer.resume()
    trainer.fit()
    results = dict(trainer.state.history[-1]) if trainer.state.history else {}
    from ..train.checkpoint import load_model_weights

    barrier(ctx)  # rank 0 has written model.safetensors
    load_model_weights(out / "model.safetensors", network)  # the best model on validation
    network.eval()
    with torch.no_grad():
        results.update(evaluate(network))
        if test_text is not None:
            # one stream, the state carried through the whole test text: how published perplexities are measured
            test_streams = eval_streams(encode_text(test_text, vocab, corpus), f"--test {test}", 1).to(device)
            results.update(text_metrics(*stream_loss(network, test_streams, train.bptt), "test", corpus.level))
    if ctx.is_main:
        plot_learning_curves(out / "metrics.jsonl", out / "curves.png", title=f"{model.cell} language model")
    teardown_distributed(ctx)
    return results
