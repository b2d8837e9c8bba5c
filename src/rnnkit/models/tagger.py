"""A sequence tagger (many-to-many, synchronous): one tag's logits per token.

::

    ids (B, T) ──[word dropout]──Embedding──▶ (B, T, E) ──dropout──▶ rk.nn layer stack (lengths) ──▶ (B, T, D*H)
    [chars (B, T, C) ──CharEncoder──▶ (B, T, F) ┘ concatenated]                                          │
    logits (B, T, K) ◀── Linear ◀── dropout ◀──┘        (num_layers = 0: no recurrent layer, a per-token baseline)
    [crf: the logits are a linear-chain CRF's emissions: loss by the forward algorithm, tags by Viterbi]

The recurrent layers stop at each sentence's last real token and the reverse direction starts there, so the
logits at the real positions of a padded sentence equal those of the sentence alone; the logits at padding
positions mean nothing and :func:`tagging_loss` never counts them::

    loss = - sum_{b, t < length_b} log softmax(logits[b, t])[tags[b, t]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.crf import CONSTRAINTS, CRF, chunk_constraints
from ..nn.exportable import is_exporting
from ..nn.recurrent import BACKENDS
from ..train.config import setting
from .char_features import CHAR_FEATURES, CharEncoder
from .classifier import build_recurrent
from .config_fields import (
    BACKEND_HELP,
    CELLS,
    DictConfig,
    check_cell_and_backend,
    check_choice,
    check_flag,
    check_integer,
    check_probability,
)

IGNORE_INDEX = -100  # the tag of a padding position: cross-entropy skips it


@dataclass(frozen=True)
class TaggerConfig(DictConfig):
    """Hyperparameters of :class:`SequenceTagger`.

    Attributes:
        cell: ``"rnn"`` (Elman, tanh), ``"gru"``, ``"lstm"`` or ``"lnlstm"`` (layer-normalised LSTM).
        embedding_size: size of the token embeddings, E.
        hidden_size: hidden units per direction, H.
        num_layers: stacked recurrent layers, L; 0 tags each token from its embedding alone (a baseline).
        bidirectional: read each sentence both ways (D = 2) and concatenate: a tag may depend on later words.
        dropout: dropout on the embeddings, between stacked layers and before the output layer.
        word_dropout: in training, replace each real token by ``<unk>`` with this probability, so the ``<unk>``
            embedding learns what unseen words look like (needs a vocabulary with ``<unk>``).
        word_dropout_alpha: frequency-aware word dropout (Kiperwasser & Goldberg 2016): in training, a token seen
            n times in the training data becomes ``<unk>`` with probability alpha / (alpha + n), so rare words are
            dropped often (the model learns to tag them from their spelling and context, as it must for unseen
            words) and frequent ones almost never; 0 turns it off. Needs the counts
            (:meth:`SequenceTagger.set_word_counts`); combines with ``word_dropout`` (either drops a token).
        backend: ``"auto"``, ``"explicit"`` or ``"fused"`` for the recurrent layers.
        char_features: ``"none"``, ``"lstm"`` or ``"cnn"``: a character encoder per word whose output (2S for the
            BiLSTM, S for the CNN) is concatenated with the word embedding.
        char_size: S, the character embedding size and the encoder's size.
        crf: a linear-chain CRF output layer (forward-algorithm loss, Viterbi decoding) instead of per-token
            softmax.
        crf_constraints: the CRF's forbidden transitions: ``"auto"`` (from the tag names: IOBES or BIO), ``"bio"``,
            ``"iobes"`` or ``"none"`` (IOB1 data).
    """

    cell: str = setting("lstm", help="recurrent cell (lnlstm: layer-normalised LSTM)", choices=CELLS)
    embedding_size: int = setting(100, help="token embedding size")
    hidden_size: int = setting(100, help="hidden units per direction")
    num_layers: int = setting(1, help="stacked recurrent layers (0: tag from the embedding alone)")
    bidirectional: bool = setting(True, help="read both ways")
    dropout: float = setting(0.5, help="dropout on embeddings, between layers and before the output")
    word_dropout: float = setting(0.0, help="in training, replace tokens by <unk> with this probability")
    word_dropout_alpha: float = setting(0.0, help="in training, replace a token seen n times in training by <unk> "
                                                  "with probability alpha/(alpha+n) (0: off)")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)
    char_features: str = setting("none", choices=CHAR_FEATURES,
                                 help="character features per word: a char BiLSTM or CNN, concatenated with the word "
                                      "embedding")
    char_size: int = setting(50, help="character embedding size and char encoder size")
    crf: bool = setting(False, help="a linear-chain CRF output layer (Viterbi decoding)")
    crf_constraints: str = setting("auto", choices=CONSTRAINTS,
                                   help="forbidden CRF transitions: auto (from the tag names), bio, iobes or none")

    def __post_init__(self) -> None:
        check_cell_and_backend(self.cell, self.backend)
        check_choice("char_features", self.char_features, CHAR_FEATURES)
        check_choice("crf_constraints", self.crf_constraints, CONSTRAINTS)
        check_flag("crf", self.crf)
        for name, minimum in (("embedding_size", 1), ("hidden_size", 1), ("num_layers", 0), ("char_size", 1)):
            check_integer(name, getattr(self, name), minimum)
        for name in ("dropout", "word_dropout"):
            check_probability(name, getattr(self, name))
        if (isinstance(self.word_dropout_alpha, bool) or not isinstance(self.word_dropout_alpha, int | float)
                or not 0 <= self.word_dropout_alpha < float("inf")):
            raise ValueError(f"word_dropout_alpha: got {self.word_dropout_alpha!r}; expected a number >= 0")
        check_flag("bidirectional", self.bidirectional)

class SequenceTagger(nn.Module):
    """Recurrent tagger: token ids ``(B, T)`` -> tag logits ``(B, T, K)``.

    Args:
        num_tags: number of tags, K (>= 2).
        vocab_size: number of token types, V.
        config: the hyperparameters (see :class:`TaggerConfig`).
        pad_id: id of the padding token: its embedding is zero and receives no gradient.
        unk_id: id of ``<unk>``, what word dropout puts in; required when ``config.word_dropout > 0``.
        num_chars: size of the character vocabulary (``<pad>`` = 0); required with ``config.char_features``.
        tag_names: the tags in id order, for the CRF's constraints (``crf_constraints="auto"``, ``"bio"``, ...).

    Call: ``model(ids, lengths=None, chars=None) -> logits (B, T, K)`` with ``lengths (B,)`` the real lengths
    (None: all ``T`` steps are real) and ``chars (B, T, C)`` the character ids of each word (character features).
    """

    def __init__(self, num_tags: int, vocab_size: int, config: TaggerConfig, pad_id: int | None = None,
                 unk_id: int | None = None, num_chars: int | None = None,
                 tag_names: Sequence[str] | None = None) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 2:
            raise ValueError(f"num_tags: got {num_tags!r}; expected an integer >= 2")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size: got {vocab_size!r}; expected a positive integer")
        if not isinstance(config, TaggerConfig):
            raise ValueError(f"config: got {type(config).__name__}; expected a TaggerConfig")
        for name, value in (("pad_id", pad_id), ("unk_id", unk_id)):
            if value is not None and not 0 <= value < vocab_size:
                raise ValueError(f"{name}: got {value!r}; expected None or an id in [0, {vocab_size})")
        for name in ("word_dropout", "word_dropout_alpha"):
            if getattr(config, name) > 0 and unk_id is None:
                raise ValueError(f"{name}: got {getattr(config, name)}; needs unk_id (a vocabulary with <unk>)")
        self.num_tags, self.vocab_size, self.config = num_tags, vocab_size, config
        self.pad_id, self.unk_id = pad_id, unk_id
        self.embedding = nn.Embedding(vocab_size, config.embedding_size, padding_idx=pad_id)
        # per word id: the probability alpha / (alpha + n) of frequency-aware word dropout; not saved (training
        # recomputes it from the training data, inference never uses it)
        self.register_buffer("word_drop_probability", torch.zeros(vocab_size), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.chars = None
        input_size = config.embedding_size
        if config.char_features != "none":
            if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 2:
                raise ValueError(f"num_chars: got {num_chars!r}; expected the character vocabulary's size (>= 2) "
                                 f"with char_features {config.char_features!r}")
            self.chars = CharEncoder(num_chars, config.char_features, config.char_size)
            input_size += self.chars.output_size
        self.recurrent = build_recurrent(config, input_size) if config.num_layers else None
        features = config.hidden_size * (2 if config.bidirectional else 1) if config.num_layers else input_size
        self.output = nn.Linear(features, num_tags)
        self.crf = None
        if config.crf:
            if config.crf_constraints != "none" and tag_names is None:
                raise ValueError(f"crf_constraints: got {config.crf_constraints!r}; needs tag_names")
            constraints = chunk_constraints(tag_names, config.crf_constraints) if tag_names is not None else None
            self.crf = CRF(num_tags, constraints)

    def forward(self, ids: Tensor, lengths: Tensor | Sequence[int] | None = None,
                chars: Tensor | None = None) -> Tensor:
        """Tag logits ``(B, T, K)``; see the class docstring."""
        if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.dim() != 2 or ids.numel() == 0:
            shape = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
            raise ValueError(f"ids: got {shape}; expected integer token ids (B, T)")
        low, high = (0, 0) if is_exporting() else (int(ids.min()), int(ids.max()))  # no host reads in export
        if low < 0 or high >= self.vocab_size:
            raise ValueError(f"ids: got token id {low if low < 0 else high}; expected ids in [0, {self.vocab_size})")
        batch_size, steps = ids.shape
        if lengths is None:
            lengths = torch.full((batch_size,), steps, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.training and self.config.word_dropout > 0:
            dropped = torch.rand(ids.shape, device=ids.device) < self.config.word_dropout
            if self.pad_id is not None:
                dropped &= ids != self.pad_id
            ids = ids.masked_fill(dropped, self.unk_id)
        if self.training and self.config.word_dropout_alpha > 0:
            dropped = torch.rand(ids.shape, device=ids.device) < self.word_drop_probability[ids]  # (B, T)
            if self.pad_id is not None:
                dropped &= ids != self.pad_id
            ids = ids.masked_fill(dropped, self.unk_id)
        x = self.embedding(ids)  # (B, T, E)
        if self.chars is not None:
            if chars is None or chars.dim() != 3 or chars.shape[:2] != ids.shape:
                shape = None if chars is None else tuple(chars.shape)
                raise ValueError(f"chars: got {shape}; expected character ids {(batch_size, steps)} + (C,)")
            x = torch.cat([x, self.chars(chars, padding_mask(lengths.to(ids.device), steps))], dim=2)  # (B, T, E+F)
        x = self.dropout(x)
        if self.recurrent is not None:
            x, _ = self.recurrent(x, lengths=lengths, final_state=False)  # (B, T, D*H), zero past each length
            x = self.dropout(x)
        return self.output(x)  # (B, T, K)

    def set_word_counts(self, counts: Tensor | Sequence[int]) -> None:
        """Give frequency-aware word dropout the training count n of each word id ``(V,)``: p = alpha / (alpha + n).

        A word never counted (n = 0, e.g. ``<unk>`` itself) gets p = 1 (it is ``<unk>`` to the model anyway).
        """
        counts = torch.as_tensor(counts, dtype=torch.float32)
        if counts.shape != (self.vocab_size,) or bool((counts < 0).any()):
            raise ValueError(f"counts: got shape {tuple(counts.shape)}; expected {self.vocab_size} counts >= 0, "
                             "one per word id")
        alpha = self.config.word_dropout_alpha
        probability = alpha / (alpha + counts) if alpha > 0 else torch.zeros_like(counts)
        self.word_drop_probability.copy_(probability.nan_to_num(0.0))

    def loss(self, logits: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """The summed loss of a batch: the CRF's negative log-likelihood, or :func:`tagging_loss`."""
        if self.crf is None:
            return tagging_loss(logits, tags, lengths)
        lengths = lengths.to(tags.device)
        return self.crf(logits.float(), tags.masked_fill(tags < 0, 0), lengths).sum()

    def decode(self, logits: Tensor, lengths: Tensor) -> list[list[int]]:
        """The tag ids of each sentence: Viterbi with a CRF, else the argmax of each token's logits."""
        if self.crf is not None:
            return self.crf.viterbi(logits.float(), lengths.to(logits.device))
        best = logits.argmax(2).cpu()  # (B, T)
        return [best[row, : int(length)].tolist() for row, length in enumerate(lengths)]


def padding_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)``: True at the real positions ``t < length``."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def tagging_loss(logits: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
    """Cross-entropy summed over the real tokens only (see the module docstring).

    Args:
        logits: ``(B, T, K)``.
        tags: ``(B, T)`` tag ids; what stands at padding positions does not matter.
        lengths: ``(B,)`` real lengths.
    """
    mask = padding_mask(lengths.to(tags.device), tags.shape[1])  # (B, T)
    targets = tags.masked_fill(~mask, IGNORE_INDEX)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX,
                           reduction="sum")
