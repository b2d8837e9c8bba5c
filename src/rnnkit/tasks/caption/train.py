"""Training an image captioner through the task contract (:mod:`rnnkit.tasks.base`); see :mod:`rnnkit.tasks.caption`.

::

    prepare_run ─▶ caption rows per split ─▶ images read once (uint8) ─▶ vocab (min_freq) ─▶ run.start
        ─▶ run.fit (teacher forcing; best epoch on validation) ─▶ test BLEU-1..4 beside the two baselines
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...models.captioner import Captioner, CaptionerConfig, caption_loss
from ...models.resnet import load_pretrained_resnet
from ...text import Vocab
from ...train.config import TrainConfig
from ...train.trainer import StepResult
from ..base import finish_run, prepare_run
from .data import (
    NAME,
    SETTINGS,
    Batch,
    CaptionSplit,
    build_vocab,
    encode_split,
    evaluation_batches,
    group_by_image,
    images_folder,
    split_rows,
    training_batches,
)
from .images import CaptionDataConfig
from .metrics import bleu_scores, caption_scores, image_features, nearest_captions, prior_caption
from .search import search_captions

EVAL_BATCH_SIZE = 64
MONITORS = {"loss": "valid_loss", "bleu4": "valid_bleu4_error"}  # the latter: 100 - validation BLEU-4 (greedy)
Data = str | os.PathLike[str] | Sequence[Any] | None  # caption files / image lists, or (image, caption) pairs


def train_caption(out: str | os.PathLike[str], *, data: Data = None, valid: Data = None, test: Data = None,
                  images: str | os.PathLike[str] | None = None, captions: Data = None,
                  caption: CaptionDataConfig | None = None, model: CaptionerConfig | None = None,
                  train: TrainConfig | None = None, resume: bool = False, epochs: int | None = None,
                  callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train (or resume) an image captioner into the run directory ``out``; return the final metrics.

    Args:
        data: the training captions (``captions`` is the same; see :mod:`.data` for the formats and splits), or
            in-memory ``(image, caption[, split])`` tuples.
        valid, test: caption files or image lists (default: the split column of ``data``, or a held-out share).
        images: the folder the image names are relative to (default: the caption file's folder).
        caption, model, train: the settings sections.
        resume, epochs, callbacks: as every task's ``train``.

    Returns:
        The last epoch's record, ``best_epoch``, and ``valid_*`` / ``test_*`` loss and BLEU-1..4, with the test
        split's ``test_nearest_bleu*`` and ``test_prior_bleu*`` baselines.

    Raises:
        ValueError, FileNotFoundError: unreadable caption files or images, naming the file and line.
    """
    data = data if data is not None else captions
    run = prepare_run(NAME, out, SETTINGS, data=data, valid=valid, test=test, resume=resume, epochs=epochs,
                      settings={"caption": caption, "model": model, "train": train}, callbacks=callbacks)
    config, model_config, train_config = (run.settings[name] for name in SETTINGS)
    images = run.saved_data.get("images") if run.resume else images
    folder = images_folder(images, run.data)
    rows = split_rows(run.data, run.valid, run.test, config.valid_fraction, train_config.seed)
    read = [None if split is None else group_by_image(split, folder, config, name)
            for split, name in zip(rows, ("--data", "--valid", "--test"), strict=True)]
    vocab = build_vocab(read[0][2], config)
    splits = [None if part is None else encode_split(part[0], part[1], part[2], vocab, config) for part in read]
    train_split, valid_split, test_split = splits
    network = Captioner(len(vocab), model_config, pad_id=vocab.pad_id)
    weights = None
    if model_config.pretrained and not run.resume:  # a resumed run's checkpoint holds the encoder's weights
        weights = str(load_pretrained_resnet(network.encoder.backbone))
    network = network.to(run.device)
    longest = max(len(ids) for per_image in train_split.ids for ids in per_image)
    prior = prior_caption(train_split.references)
    run.start({"caption": config, "model": model_config, "train": train_config,
               "generation": {"max_length": longest + 5}, "baseline": {"prior_caption": prior}},
              vocabularies={"vocab.json": vocab},
              data_extra={"images": None if folder is None else str(folder.resolve()),
                          "examples": {name: None if split is None else {"images": len(split), "captions": sum(
                              len(ids) for ids in split.ids)} for name, split in zip(("train", "valid", "test"),
                                                                                       splits, strict=True)},
                          "skipped_captions": sum(0 if part is None else part[3] for part in read),
                          **({"pretrained_weights": weights} if weights else {})})
    pad_id, weight = vocab.pad_id, model_config.doubly_stochastic
    batches, steps = training_batches(train_split, train_config.batch_size, train_config.seed, vocab, config)
    evaluate = validation(valid_split, vocab, config, longest + 5)
    results = run.fit(network, lambda net, batch, state: batch_loss(net, batch, pad_id, weight), batches,
                      evaluate=evaluate, monitor=MONITORS[config.select_on], steps_per_epoch=steps,
                      show_perplexity=True)
    if test_split is not None:  # scored once, with the weights of the epoch chosen on validation
        results.update({f"test_{key}": value for key, value in
                        split_scores(network, test_split, vocab, config, longest + 5).items()})
        results.update(baseline_scores(network, train_split, test_split, vocab, config, prior, "test_"))
    return finish_run(run, results, title=f"captioner{' with attention' if model_config.attention else ''}")


def batch_loss(model: nn.Module, batch: Batch, pad_id: int, doubly_stochastic: float) -> StepResult:
    """Cross-entropy summed over the real words of every caption of the batch, plus the attention regulariser;
    counted per word (``<eos>`` included)."""
    device = next(model.parameters()).device
    images, inputs, targets = (part.to(device) for part in batch)
    B, K, T = inputs.shape
    owner = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,): the image of each caption
    logits, weights = model(images, inputs.reshape(B * K, T), owner)  # (B*K, T, V)
    targets = targets.reshape(B * K, T)
    count = int((targets != pad_id).sum())
    loss = caption_loss(logits, weights, targets, pad_id, doubly_stochastic)
    return StepResult(loss, count, None, tokens=count)


@torch.no_grad()
def corpus_loss(model: nn.Module, split: CaptionSplit, vocab: Vocab, config: CaptionDataConfig) -> float:
    """Cross-entropy per word (nats, no regulariser) of every caption of ``split``."""
    total, count = 0.0, 0
    for _, batch in evaluation_batches(split, EVAL_BATCH_SIZE, vocab, config):
        result = batch_loss(model, batch, vocab.pad_id, 0.0)
        total, count = total + float(result.loss_sum), count + result.count
    return total / max(count, 1)


@torch.no_grad()
def generate(model: nn.Module, split: CaptionSplit, vocab: Vocab, config: CaptionDataConfig, max_length: int,
             beam_size: int) -> list[str]:
    """The model's caption of every image of ``split`` (space-joined words), in order."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    stoi = vocab.stoi
    banned = (vocab.pad_id, stoi["<bos>"], vocab.unk_id)
    captions: list[str] = [""] * len(split)
    for indices, (images, _, _) in evaluation_batches(split, EVAL_BATCH_SIZE, vocab, config):
        decoded = search_captions(model, images.to(device), stoi["<bos>"], stoi["<eos>"], max_length, beam_size,
                                  banned)
        for index, tokens in zip(indices, decoded.tokens, strict=True):
            captions[index] = " ".join(vocab.decode(tokens))
    model.train(was_training)
    return captions


def validation(split: CaptionSplit, vocab: Vocab, config: CaptionDataConfig, max_length: int):
    """The end-of-epoch evaluation: loss per word and greedy BLEU-4 (the epoch is chosen on one of them)."""

    def evaluate(net: nn.Module) -> dict[str, float]:
        loss = corpus_loss(net, split, vocab, config)
        bleu4 = bleu_scores(generate(net, split, vocab, config, max_length, 1), split.references)["bleu4"]
        return {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 700.0)), "valid_bleu4": bleu4,
                "valid_bleu4_error": 100.0 - bleu4}

    return evaluate


def split_scores(model: nn.Module, split: CaptionSplit, vocab: Vocab, config: CaptionDataConfig,
                 max_length: int) -> dict[str, Any]:
    """Loss per word, BLEU-1..4 and CIDEr-D (with pycocoevalcap) of the run's beam search on ``split``."""
    captions = generate(model, split, vocab, config, max_length, config.beam_size)
    return {"loss": corpus_loss(model, split, vocab, config), **caption_scores(captions, split.references),
            "images": len(split)}


def baseline_scores(model: nn.Module, train_split: CaptionSplit, split: CaptionSplit, vocab: Vocab,
                    config: CaptionDataConfig, prior: str, prefix: str) -> dict[str, float]:
    """BLEU-1..4 (and CIDEr-D) on ``split`` of the nearest-training-image caption and of the one prior caption."""
    features = [image_features(model, evaluation_batches(part, EVAL_BATCH_SIZE, vocab, config))
                for part in (train_split, split)]
    nearest = nearest_captions(features[0], train_split.references, features[1])
    return {**caption_scores(nearest, split.references, f"{prefix}nearest_"),
            **caption_scores([prior] * len(split), split.references, f"{prefix}prior_")}


__all__ = ["baseline_scores", "batch_loss", "corpus_loss", "generate", "split_scores", "train_caption"]
