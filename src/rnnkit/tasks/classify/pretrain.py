"""Language-model pretraining of a text classifier on its own training text (no labels, nothing from outside).

Dai & Le (2015) start a sequence classifier from a recurrent language model trained on the same text. Here the
classifier's own embedding and recurrent layer are trained as a language model before the classification
training starts; the forward direction predicts the next word and, in a bidirectional layer, the backward
direction predicts the previous one (the biLM of Peters et al. 2018, one softmax shared by both directions)::

    p(x_{t+1} | x_1..x_t) = softmax(W dropout(h_fwd_t) + b)        t = 1 .. T-1
    p(x_{t-1} | x_t..x_T) = softmax(W dropout(h_bwd_t) + b)        t = 2 .. T
    loss = - sum of the log-probabilities of the real targets (padding is never a target)

Only the first ``pretrain_words`` ids of the vocabulary (the specials and the most frequent words) are predicted; a
rarer target counts as ``<unk>``, which keeps the softmax small. The classifier's word and input dropout act as
in its own training. The best epoch is the one of lowest validation loss (on the validation texts, labels
unused); its embedding and recurrent weights then start every ensemble member, each with its own fresh head.

A stacked bidirectional layer cannot be pretrained this way: its second layer reads both directions of the first,
so the forward state would already have seen the word it is to predict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...models import ClassifierConfig, ClassifierEnsemble, SequenceClassifier
from ...train.checkpoint import load_model_weights
from ...train.config import TrainConfig, setting
from ...train.distributed import DistributedContext, barrier
from ...train.trainer import StepResult, Trainer
from ..common import EVAL_BATCH_SIZE, Encoded, evaluation_batches, training_batches
from ..run_dir import best_epoch

__all__ = ["BidirectionalLanguageModel", "PretrainConfig", "check_pretrainable", "pretrain_classifier"]


@dataclass(frozen=True)
class PretrainConfig:
    """Language-model pretraining before classification training (see the module docstring). The field names
    carry ``pretrain_`` so that a flat settings file's ``epochs`` and ``lr`` stay the training's.

    Attributes:
        pretrain_epochs: passes of language-model training over the training texts; 0 turns pretraining off.
        pretrain_words: the vocabulary ids ``[0, pretrain_words)`` the language model predicts; rarer words are
            predicted as ``<unk>``.
        pretrain_lr: learning rate of the pretraining; None takes the classification training's.
    """

    pretrain_epochs: int = setting(0, help="first train the embedding and recurrent layer as a language model on "
                                           "the training texts for N epochs (0: off)")
    pretrain_words: int = setting(10000, help="words the pretraining language model predicts (the most frequent; the "
                                              "rest as <unk>)")
    pretrain_lr: float | None = setting(None, help="learning rate of the pretraining (unset: --lr)")

    def __post_init__(self) -> None:
        for name, low in (("pretrain_epochs", 0), ("pretrain_words", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: got {value!r}; expected an integer >= {low}")
        lr = self.pretrain_lr
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0):
            raise ValueError(f"pretrain_lr: got {lr!r}; expected a positive number or None")


def check_pretrainable(config: ClassifierConfig) -> None:
    """A ValueError for a classifier that cannot be pretrained as a language model (stacked and bidirectional)."""
    if config.bidirectional and config.num_layers > 1:
        raise ValueError(f"pretrain_epochs: a bidirectional classifier with num_layers={config.num_layers} cannot "
                         "be pretrained as a language model (its second layer sees the next word through the "
                         "backward direction); expected num_layers=1 or a unidirectional classifier")


class BidirectionalLanguageModel(nn.Module):
    """The language model over a :class:`SequenceClassifier`'s embedding and recurrent layer (shared, not copied).

    Args:
        classifier: a token-input classifier; its embedding and recurrent layer are trained through this module.
        output_words: K, the number of vocabulary ids predicted (the first K).
        unk_id: the id that rarer targets become.

    Call: ``model(ids (B, T), lengths (B,)) -> (loss_sum, targets)``: the summed negative log-likelihood of the
    next word (forward direction) and of the previous word (backward direction) and the number of targets.
    """

    def __init__(self, classifier: SequenceClassifier, output_words: int, unk_id: int) -> None:
        super().__init__()
        if classifier.embedding is None:
            raise ValueError("classifier: takes numeric features; language-model pretraining needs token ids")
        check_pretrainable(classifier.config)
        self.classifier, self.unk_id = classifier, unk_id
        self.output_words = min(output_words, classifier.vocab_size)
        self.hidden_size = classifier.config.hidden_size
        self.dropout = nn.Dropout(classifier.config.dropout)
        self.output = nn.Linear(self.hidden_size, self.output_words)  # W, b: shared by both directions

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        outputs, _, lengths = self.classifier.encode(ids, lengths)  # (B, T, D*H), zero past each length
        ids = ids.to(outputs.device)
        targets = ids.masked_fill(ids >= self.output_words, self.unk_id)  # (B, T)
        steps = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)  # (1, T)
        real = steps < lengths.unsqueeze(1)  # (B, T)
        hidden = self.hidden_size
        # forward state at t predicts x_{t+1} (both real steps); backward state at t predicts x_{t-1} (t real)
        pairs = [(outputs[:, :-1, :hidden], targets[:, 1:], real[:, 1:])]  # (B, T-1, H), (B, T-1), (B, T-1)
        if self.classifier.config.bidirectional:
            pairs.append((outputs[:, 1:, hidden:], targets[:, :-1], real[:, 1:]))
        states = torch.cat([state[mask] for state, _, mask in pairs])  # (N, H): real targets only
        wanted = torch.cat([target[mask] for _, target, mask in pairs])  # (N,)
        logits = self.output(self.dropout(states))  # (N, K)
        loss = F.cross_entropy(logits.float(), wanted, reduction="sum")
        count = int(wanted.numel())
        return loss, count


def _lm_loss(model: nn.Module, batch: tuple, state: Any) -> StepResult:
    ids, lengths, _ = batch
    loss, count = model(ids, lengths)
    return StepResult(loss, count, None, tokens=int(lengths.sum()), padded_tokens=ids.numel())


def _wrapped(language_model: nn.Module, distributed: DistributedContext) -> nn.Module:
    """DDP over the language model under torchrun; the classifier's head is part of it but unused here."""
    if not distributed.enabled:
        return language_model
    on_cuda = next(language_model.parameters()).device.type == "cuda"
    return nn.parallel.DistributedDataParallel(language_model, device_ids=[distributed.local_rank] if on_cuda else None,
                                               find_unused_parameters=True)


def pretrain_classifier(network: nn.Module, train_data: Encoded, valid_data: Encoded, *, pad_id: int, unk_id: int,
                        config: PretrainConfig, train: TrainConfig, out: Path, resume: bool = False,
                        distributed: DistributedContext | None = None) -> dict[str, Any]:
    """Pretrain ``network``'s embedding and recurrent layer as a language model (see the module docstring).

    For a :class:`ClassifierEnsemble` the first member is pretrained and its embedding and recurrent weights are
    copied into the others. The language model's run (weights, metrics.jsonl, checkpoint) goes to ``out``; with
    ``resume`` it continues from the checkpoint there. Under ``torchrun`` (``distributed``) each rank trains on
    its share of every batch, as the classification training does.

    Returns:
        ``pretrain_best_epoch``, ``pretrain_valid_ppl`` (per predicted word, rarer words as <unk>) and
        ``pretrain_seconds``.
    """
    members = list(network.members) if isinstance(network, ClassifierEnsemble) else [network]
    language_model = BidirectionalLanguageModel(members[0], config.pretrain_words, unk_id)
    language_model.to(next(network.parameters()).device)
    settings = dataclasses.replace(train, epochs=config.pretrain_epochs, lr=config.pretrain_lr or train.lr,
                                   early_stopping_patience=None, max_seconds=None)

    def evaluate(model: nn.Module) -> dict[str, float]:
        loss, count = 0.0, 0
        for _, (ids, lengths, _) in evaluation_batches(valid_data, EVAL_BATCH_SIZE, pad_id):
            batch_loss, batch_count = model(ids, lengths)
            loss, count = loss + float(batch_loss), count + batch_count
        mean = loss / max(count, 1)
        return {"valid_loss": mean, "valid_ppl": float(torch.exp(torch.tensor(min(mean, 700.0))))}

    batches, steps_per_epoch = training_batches(train_data, settings.batch_size, settings.seed, pad_id)
    distributed = distributed or DistributedContext()
    trainer = Trainer(_wrapped(language_model, distributed), settings, _lm_loss, batches, evaluate=evaluate,
                      monitor="valid_loss", run_dir=out, steps_per_epoch=steps_per_epoch, distributed=distributed)
    if resume:
        trainer.resume()
    trainer.fit()
    barrier(distributed)  # rank 0 has written out/model.safetensors: the best epoch's weights
    load_model_weights(out / "model.safetensors", language_model)
    for member in members[1:]:
        member.embedding.load_state_dict(members[0].embedding.state_dict())
        member.recurrent.load_state_dict(members[0].recurrent.state_dict())
    best = best_epoch(trainer.state.history, trainer.monitor)
    return {"pretrain_best_epoch": best, "pretrain_seconds": trainer.state.seconds,
            "pretrain_valid_ppl": trainer.state.history[best - 1]["valid_ppl"] if best else None}
