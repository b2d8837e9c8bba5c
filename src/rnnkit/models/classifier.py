"""A sequence classifier (many-to-one): a whole sequence in, one label's logits out.

::

    ids (B, T) ──Embedding──▶ (B, T, E) [++ chars (B, T, C) ──CharEncoder──▶ (B, T, F)] ─┐
    or features (B, T, I) ───────────────────────────────────────────────────────────────┴─▶ word dropout
    ─▶ input dropout ─▶ rk.nn layer stack (lengths)
    ─▶ outputs (B, T, D*H)
    pooled (B, D*H): last (final states) | mean, max (over real steps) | attention (sum_t a_t h_t)
    logits (B, C) ◀── Linear ◀── [ReLU ◀── Linear ◀── dropout] ◀── dropout ◀── pooled

Padding never reaches the pooled vector: the recurrent layers stop at each sequence's last real step (and the
reverse direction starts there), mean and max pool over real steps only, and attention gives padding weight 0.
So a sequence gives the same logits alone and padded inside a batch.

Character features (``char_features="lstm"|"cnn"``, :class:`~rnnkit.models.char_features.CharEncoder`): each
word's spelling as a vector, concatenated with its embedding, so a rare or unseen word (``<unk>``) still says
something through its prefixes, suffixes and capitals.

Word dropout (training only; Iyyer et al. 2015, Gal & Ghahramani 2016) zeroes whole steps rather than single
features: with probability ``p`` a step's vector ``x_t`` (E or I values) becomes 0, and the kept ones are scaled::

    x'_t = x_t * m_t / (1 - p),        m_t ~ Bernoulli(1 - p), one draw per step and sequence

Additive attention pooling (Bahdanau et al. 2015, with a learned query as in Yang et al. 2016)::

    e_t = v^T tanh(W h_t + b)        a = softmax(e) over t < length        pooled = sum_t a_t h_t
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..nn import Recurrent
from ..nn.exportable import is_exporting
from ..nn.recurrent import BACKENDS
from ..train.config import setting
from .char_features import CHAR_FEATURES, CharEncoder
from .config_fields import (
    BACKEND_HELP,
    CELLS,
    DictConfig,
    check_cell_and_backend,
    check_choice,
    check_flag,
    check_integer,
    check_probability,
    recurrent_layer,
)

__all__ = ["CELLS", "POOLINGS", "ClassifierConfig", "SequenceClassifier", "build_recurrent"]
POOLINGS = ("last", "mean", "max", "attention")
_SIZES = ("embedding_size", "hidden_size", "num_layers")


@dataclass(frozen=True)
class ClassifierConfig(DictConfig):
    """Hyperparameters of :class:`SequenceClassifier`.

    Attributes:
        cell: ``"rnn"`` (Elman, tanh), ``"gru"``, ``"lstm"`` or ``"lnlstm"`` (layer-normalised LSTM).
        embedding_size: size of the token embeddings, E (unused when the inputs are numeric features).
        hidden_size: hidden units per direction, H.
        num_layers: stacked recurrent layers, L.
        bidirectional: read each sequence both ways (D = 2) and concatenate.
        pooling: ``"last"`` (the final states: the last real step forwards, the first step backwards),
            ``"mean"`` or ``"max"`` over the real steps, or ``"attention"`` (additive, learned query).
        attention_size: units of the attention's hidden layer (``W``), used by ``pooling="attention"``.
        mlp_size: units of the hidden layer of the output MLP; 0 makes the head a single linear layer.
        dropout: dropout between stacked layers and before each layer of the head.
        input_dropout: dropout on the embeddings (or features). Random embeddings learn slowly under heavy input
            dropout: on BBC Sport, 0.5 here kept a BiLSTM at the majority class for 3 epochs where 0 learned.
        word_dropout: probability of zeroing a whole step's input vector in training (see the module docstring).
        ensemble: members, K: independently initialised copies of the model trained side by side on the same
            batches (each on its own loss); the prediction is the mean of their class probabilities (see
            :class:`~rnnkit.models.classifier_ensemble.ClassifierEnsemble`). 1: a single model.
        backend: ``"auto"``, ``"explicit"`` or ``"fused"`` for the recurrent layers.
    """

    cell: str = setting("lstm", help="recurrent cell (lnlstm: layer-normalised LSTM)", choices=CELLS)
    embedding_size: int = setting(128, help="token embedding size")
    hidden_size: int = setting(128, help="hidden units per direction")
    num_layers: int = setting(1, help="stacked recurrent layers")
    bidirectional: bool = setting(True, help="read both ways")
    pooling: str = setting("max", choices=POOLINGS,
                           help="how the outputs become one vector: the last step's, their mean, their max, or "
                                "attention-weighted")
    attention_size: int = setting(64, help="hidden units of attention pooling")
    mlp_size: int = setting(0, help="hidden units of the output MLP (0: linear)")
    dropout: float = setting(0.5, help="dropout between layers and in the head")
    input_dropout: float = setting(0.0, help="dropout on the embeddings")
    word_dropout: float = setting(0.0, help="zero a whole token's embedding with this probability")
    ensemble: int = setting(1, help="train K models side by side; predict their mean probability")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)

    def __post_init__(self) -> None:
        check_cell_and_backend(self.cell, self.backend)
        check_choice("pooling", self.pooling, POOLINGS)
        for name in (*_SIZES, "attention_size", "ensemble"):
            check_integer(name, getattr(self, name))
        if isinstance(self.mlp_size, bool) or not isinstance(self.mlp_size, int) or self.mlp_size < 0:
            raise ValueError(f"mlp_size: got {self.mlp_size!r}; expected an integer >= 0 (0: a linear head)")
        for name in ("dropout", "input_dropout", "word_dropout"):
            check_probability(name, getattr(self, name))
        check_flag("bidirectional", self.bidirectional)

def build_recurrent(config: ClassifierConfig, input_size: int) -> Recurrent:
    """The stacked (bi)directional batch-first layer of the configured cell."""
    return recurrent_layer(config.cell, input_size, config.hidden_size, num_layers=config.num_layers,
                           bidirectional=config.bidirectional, batch_first=True, backend=config.backend,
                           dropout=config.dropout if config.num_layers > 1 else 0.0)

def build_char_encoder(kind: str, char_size: int, num_chars: int | None, token_inputs: bool) -> CharEncoder | None:
    """The character encoder of ``char_features=kind`` (None for ``"none"``); its arguments checked."""
    check_choice("char_features", kind, CHAR_FEATURES)
    if kind == "none":
        return None
    check_integer("char_size", char_size)
    if not token_inputs:
        raise ValueError(f"char_features: got {kind!r}; character features need token inputs (vocab_size), not "
                         "numeric features")
    if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 2:
        raise ValueError(f"num_chars: got {num_chars!r}; expected the character vocabulary's size (>= 2) with "
                         f"char_features {kind!r}")
    return CharEncoder(num_chars, kind, char_size)


class AdditiveAttentionPooling(nn.Module):
    """``pooled = sum_t a_t h_t`` with ``a = softmax_t(v^T tanh(W h_t + b))`` over the real steps only."""

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__()
        self.projection = nn.Linear(input_size, attention_size)  # W, b
        self.query = nn.Linear(attention_size, 1, bias=False)  # v

    def weights(self, outputs: Tensor, mask: Tensor) -> Tensor:
        """Attention weights ``a (B, T)``: zero on padding, summing to 1 over each sequence's real steps."""
        scores = self.query(torch.tanh(self.projection(outputs))).squeeze(2)  # (B, T)
        scores = scores.float().masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=1).to(outputs.dtype)

    def forward(self, outputs: Tensor, mask: Tensor) -> Tensor:
        return torch.einsum("bt,btf->bf", self.weights(outputs, mask), outputs)  # (B, D*H)


class SequenceClassifier(nn.Module):
    """Recurrent sequence classifier: token ids or numeric features ``(B, T[, I])`` -> logits ``(B, C)``.

    Args:
        num_classes: number of classes, C (>= 2).
        config: the hyperparameters (see :class:`ClassifierConfig`).
        vocab_size: for token inputs: number of token types, V. Give exactly one of ``vocab_size`` and
            ``input_size``.
        input_size: for numeric inputs: features per step, I.
        pad_id: id of the padding token (token inputs): its embedding is zero and receives no gradient.
        char_features: ``"none"``, ``"lstm"`` or ``"cnn"``: character features of each word (token inputs only),
            concatenated with its embedding.
        char_size: S, the character embedding size and the char encoder's size (output 2S for the BiLSTM, S for
            the CNN).
        num_chars: the character vocabulary's size (``<pad>`` = 0), required with ``char_features``.

    Call: ``model(inputs, lengths=None, chars=None) -> logits (B, C)`` with ``inputs`` a LongTensor of ids
    ``(B, T)`` or a float tensor ``(B, T, I)``, ``lengths (B,)`` the real lengths (None: all ``T`` steps are real)
    and ``chars (B, T, W)`` the character ids of each word (with ``char_features``).
    """

    def __init__(self, num_classes: int, config: ClassifierConfig, vocab_size: int | None = None,
                 input_size: int | None = None, pad_id: int | None = None, char_features: str = "none",
                 char_size: int = 50, num_chars: int | None = None) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes: got {num_classes!r}; expected an integer >= 2")
        if not isinstance(config, ClassifierConfig):
            raise ValueError(f"config: got {type(config).__name__}; expected a ClassifierConfig")
        if (vocab_size is None) == (input_size is None):
            raise ValueError(f"got vocab_size={vocab_size!r} and input_size={input_size!r}; expected exactly one: "
                             "vocab_size for token ids, input_size for numeric features")
        for name, value in (("vocab_size", vocab_size), ("input_size", input_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        if pad_id is not None and (vocab_size is None or not 0 <= pad_id < vocab_size):
            raise ValueError(f"pad_id: got {pad_id!r}; expected None or an id in [0, vocab_size) with vocab_size")
        self.num_classes, self.config, self.pad_id = num_classes, config, pad_id
        self.vocab_size, self.input_size = vocab_size, input_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_size, padding_idx=pad_id) if vocab_size else None
        self.chars = build_char_encoder(char_features, char_size, num_chars, token_inputs=vocab_size is not None)
        self.input_dropout = nn.Dropout(config.input_dropout)
        step_size = config.embedding_size + (self.chars.output_size if self.chars else 0) if vocab_size else input_size
        self.recurrent = build_recurrent(config, step_size)
        features = config.hidden_size * (2 if config.bidirectional else 1)  # D*H
        self.attention = (AdditiveAttentionPooling(features, config.attention_size)
                          if config.pooling == "attention" else None)
        head: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.mlp_size:
            head += [nn.Linear(features, config.mlp_size), nn.ReLU(), nn.Dropout(config.dropout)]
            features = config.mlp_size
        head.append(nn.Linear(features, num_classes))
        self.head = nn.Sequential(*head)

    def forward(self, inputs: Tensor, lengths: Tensor | Sequence[int] | None = None,
                chars: Tensor | None = None) -> Tensor:
        """Class logits ``(B, C)``; see the class docstring."""
        outputs, state, lengths = self.encode(inputs, lengths, chars)  # (B, T, D*H)
        return self.head(self.pool(outputs, state, lengths))  # (B, C)

    def encode(self, inputs: Tensor, lengths: Tensor | Sequence[int] | None = None,
               chars: Tensor | None = None) -> tuple[Tensor, Any, Tensor]:
        """The recurrent layers' outputs ``(B, T, D*H)`` (zero past each length), their final state (None unless
        ``pooling="last"``, the one pooling that reads it: the layers then skip work only the state needs), and
        the lengths ``(B,)`` as a LongTensor on the outputs' device: everything before pooling."""
        x = self._embed(inputs)  # (B, T, E or I)
        batch_size, steps = x.shape[:2]
        if lengths is None:
            lengths = torch.full((batch_size,), steps, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.chars is not None:
            if chars is None or chars.dim() != 3 or chars.shape[:2] != inputs.shape:
                shape = None if chars is None else tuple(chars.shape)
                raise ValueError(f"chars: got {shape}; expected character ids {(batch_size, steps)} + (W,)")
            mask = torch.arange(steps, device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)  # (B, T)
            x = torch.cat([x, self.chars(chars.to(x.device), mask)], dim=2)  # (B, T, E+F)
        outputs, state = self.recurrent(self.input_dropout(self._drop_words(x)), lengths=lengths,
                                        final_state=self.config.pooling == "last")  # (B, T, D*H)
        return outputs, state, lengths.to(outputs.device)

    def pool(self, outputs: Tensor, state: Any, lengths: Tensor) -> Tensor:
        """One vector ``(B, D*H)`` per sequence from the outputs ``(B, T, D*H)``, ignoring padding."""
        pooling = self.config.pooling
        if pooling == "last":
            h = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            directions = 2 if self.config.bidirectional else 1
            return torch.cat(list(h[-directions:]), dim=1)  # forward at its last real step, backward at step 0
        mask = torch.arange(outputs.shape[1], device=outputs.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        if pooling == "mean":
            return (outputs * mask.unsqueeze(2)).sum(1) / lengths.unsqueeze(1).to(outputs.dtype)
        if pooling == "max":
            return outputs.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(dim=1)
        return self.attention(outputs, mask)

    def _drop_words(self, x: Tensor) -> Tensor:
        """Word dropout on ``x (B, T, E)``: whole steps zeroed with probability p in training, the rest scaled."""
        p = self.config.word_dropout
        if not self.training or p == 0:
            return x
        keep = torch.empty(x.shape[0], x.shape[1], 1, device=x.device).bernoulli_(1 - p)  # (B, T, 1)
        return x * keep.to(x.dtype) / (1 - p)

    def _embed(self, inputs: Tensor) -> Tensor:
        if not isinstance(inputs, Tensor):
            raise ValueError(f"inputs: got {type(inputs).__name__}; expected a tensor")
        if self.embedding is not None:
            if inputs.is_floating_point() or inputs.dim() != 2 or inputs.numel() == 0:
                raise ValueError(f"inputs: got a {inputs.dtype} tensor of shape {tuple(inputs.shape)}; expected "
                                 "integer token ids (B, T)")
            if not is_exporting():  # a host read of the data: not in an exported graph (its clients check)
                low, high = int(inputs.min()), int(inputs.max())
                if low < 0 or high >= self.vocab_size:
                    raise ValueError(f"inputs: got token id {low if low < 0 else high}; expected ids in "
                                     f"[0, {self.vocab_size})")
            return self.embedding(inputs)
        if not inputs.is_floating_point() or inputs.dim() != 3 or inputs.shape[2] != self.input_size:
            raise ValueError(f"inputs: got a {inputs.dtype} tensor of shape {tuple(inputs.shape)}; expected float "
                             f"features (B, T, {self.input_size})")
        return inputs
