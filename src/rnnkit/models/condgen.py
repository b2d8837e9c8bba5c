r"""A conditional generator (one-to-many): a condition in, a token sequence out.

::

    class label ──Embedding──▶ ┐
    or features (B, F) ─Linear─┴▶ condition vector q (B, C) ──Linear, tanh──▶ h_0 (and c_0) of every layer (L, B, H)
                                                        │
    <bos> y_1 .. y_{T-1} ─Embedding─▶ e_t ─[e_t; q]?─▶ stacked rk.nn decoder (lengths) ─▶ s_t ─Linear─▶ logits (B, T, V)

The condition sets the initial state of every decoder layer (as an image sets the caption decoder's state in
Vinyals et al. 2015, or an encoder's summary the decoder's in Cho et al. 2014)::

    q = E_c[label]  or  q = W_f x + b_f      h_0^(l) = tanh(W_h^(l) q + b_h^(l))    c_0^(l) = tanh(W_c^(l) q + b_c^(l))

With ``condition_input`` (the default) q is also concatenated to every input step, ``[e_t; q]``. We default to
it because the condition is a few bits against a state of hundreds of units: a decoder that only starts from it
has to carry it through every step, and on long sentences it fades (the model drifts to the unconditional
language model); read at every step it cannot be forgotten, for C extra inputs per step. Turn it off to study
the pure initial-state form (the lecture's one-to-many picture).

Training is teacher-forced: the inputs are ``<bos> y_1 .. y_{T-1}``, the targets ``y_1 .. y_T`` with ``y_T =
<eos>``; :func:`sequence_loss` ignores padding. Generation steps the same layers one token at a time
(:meth:`ConditionalGenerator.step`); the sampling loop is :func:`rnnkit.decode.condgen.generate_conditional`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import Recurrent
from ..nn.exportable import is_exporting
from ..nn.recurrent import BACKENDS
from ..train.config import setting
from .config_fields import (
    BACKEND_HELP,
    CELLS,
    DictConfig,
    check_cell_and_backend,
    check_flag,
    check_integer,
    check_probability,
    recurrent_layer,
)

__all__ = ["CELLS", "ConditionalGenerator", "ConditionalGeneratorConfig"]
State = Tensor | tuple[Tensor, Tensor]  # h (L, B, H), or (h, c) for LSTM cells
_SIZES = ("embedding_size", "hidden_size", "num_layers", "condition_size")


@dataclass(frozen=True)
class ConditionalGeneratorConfig(DictConfig):
    """Hyperparameters of :class:`ConditionalGenerator`.

    Attributes:
        cell: ``"rnn"`` (Elman, tanh), ``"gru"``, ``"lstm"`` or ``"lnlstm"`` (layer-normalised LSTM).
        embedding_size: size of the token embeddings, E.
        hidden_size: hidden units of every decoder layer, H.
        num_layers: stacked decoder layers, L.
        condition_size: size of the condition vector q, C (a label's embedding, or the features' projection).
        condition_input: also concatenate q to every input step (see the module docstring for why it is on).
        dropout: dropout on the embeddings, between stacked layers and before the output layer.
        tie_weights: share the embedding matrix with the output layer (Press & Wolf 2017; Inan et al. 2017):
            ``logits = E proj(s_t) + b`` with ``proj`` a linear map from H to E units. Fewer parameters, and
            cheaper when the vocabulary is large and E < H (the output product is E x V, not H x V).
        backend: ``"auto"``, ``"explicit"`` or ``"fused"`` for the decoder layers.
    """

    cell: str = setting("lstm", help="recurrent cell (lnlstm: layer-normalised LSTM)", choices=CELLS)
    embedding_size: int = setting(128, help="token embedding size")
    hidden_size: int = setting(256, help="hidden units per decoder layer")
    num_layers: int = setting(1, help="stacked decoder layers")
    condition_size: int = setting(32, help="size of the label's embedding")
    condition_input: bool = setting(True, help="also feed the label's embedding at every step (off: initial state "
                                                "only)")
    dropout: float = setting(0.3, help="dropout on embeddings, between layers and before the output")
    tie_weights: bool = setting(False, help="share the embedding and output matrices")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)

    def __post_init__(self) -> None:
        check_cell_and_backend(self.cell, self.backend)
        for name in _SIZES:
            check_integer(name, getattr(self, name))
        for name in ("condition_input", "tie_weights"):
            check_flag(name, getattr(self, name))
        check_probability("dropout", self.dropout)


def _build_decoder(config: ConditionalGeneratorConfig, input_size: int) -> Recurrent:
    return recurrent_layer(config.cell, input_size, config.hidden_size, num_layers=config.num_layers,
                           dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True,
                           backend=config.backend)


class ConditionalGenerator(nn.Module):
    """Recurrent decoder whose initial state (and, optionally, every input) comes from a condition.

    Args:
        vocab_size: number of token types, V.
        config: the hyperparameters (see :class:`ConditionalGeneratorConfig`).
        num_classes: for class-label conditions: the number of labels (ids ``0 .. num_classes-1``). Give
            exactly one of ``num_classes`` and ``condition_features``.
        condition_features: for numeric conditions: the length F of the feature vector.
        pad_id: id of the padding token: its embedding is zero and receives no gradient.

    Call: ``model(condition, inputs (B, T), lengths=None) -> logits (B, T, V)``; ``condition`` is a LongTensor of
    label ids ``(B,)`` or a float tensor ``(B, F)``. Position t scores the token after ``inputs[:, t]``.
    """

    def __init__(self, vocab_size: int, config: ConditionalGeneratorConfig, num_classes: int | None = None,
                 condition_features: int | None = None, pad_id: int | None = None) -> None:
        super().__init__()
        if not isinstance(config, ConditionalGeneratorConfig):
            raise ValueError(f"config: got {type(config).__name__}; expected a ConditionalGeneratorConfig")
        if (num_classes is None) == (condition_features is None):
            raise ValueError(f"got num_classes={num_classes!r} and condition_features={condition_features!r}; "
                             "expected exactly one: num_classes for label conditions, condition_features for "
                             "feature vectors")
        for name, value in (("vocab_size", vocab_size), ("num_classes", num_classes),
                            ("condition_features", condition_features)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        if pad_id is not None and not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id: got {pad_id!r}; expected None or an id in [0, {vocab_size})")
        self.vocab_size, self.config, self.pad_id = vocab_size, config, pad_id
        self.num_classes, self.condition_features = num_classes, condition_features
        E, H, L, C = config.embedding_size, config.hidden_size, config.num_layers, config.condition_size
        self.condition_encoder: nn.Module = (nn.Embedding(num_classes, C) if num_classes is not None
                                             else nn.Linear(condition_features, C))
        self.initial_hidden = nn.Linear(C, L * H)  # W_h, b_h of every layer at once
        self.initial_cell = nn.Linear(C, L * H) if config.cell in ("lstm", "lnlstm") else None  # W_c, b_c
        self.embedding = nn.Embedding(vocab_size, E, padding_idx=pad_id)
        self.decoder = _build_decoder(config, E + C if config.condition_input else E)
        self.dropout = nn.Dropout(config.dropout)
        self.projection = nn.Linear(H, E) if config.tie_weights else None  # H -> E before the tied output
        self.output = nn.Linear(E if config.tie_weights else H, vocab_size)
        if config.tie_weights:
            self.output.weight = self.embedding.weight  # one Parameter (V, E)

    def encode_condition(self, condition: Tensor) -> Tensor:
        """The condition vector ``q (B, C)`` of label ids ``(B,)`` or features ``(B, F)``."""
        if not isinstance(condition, Tensor):
            raise ValueError(f"condition: got {type(condition).__name__}; expected a tensor")
        if self.num_classes is not None:
            if condition.is_floating_point() or condition.dim() != 1:
                raise ValueError(f"condition: got a {condition.dtype} tensor of shape {tuple(condition.shape)}; "
                                 "expected label ids (B,)")
            if not is_exporting() and condition.numel() and not (
                    0 <= int(condition.min()) and int(condition.max()) < self.num_classes):
                raise ValueError(f"condition: got label ids in [{int(condition.min())}, {int(condition.max())}]; "
                                 f"expected ids in [0, {self.num_classes})")
        elif not condition.is_floating_point() or condition.dim() != 2 or \
                condition.shape[1] != self.condition_features:
            raise ValueError(f"condition: got a {condition.dtype} tensor of shape {tuple(condition.shape)}; "
                             f"expected float features (B, {self.condition_features})")
        return self.condition_encoder(condition)  # (B, C)

    def initial_state(self, q: Tensor) -> State:
        """``h_0`` (and ``c_0``) of every layer, ``(L, B, H)``, from the condition vector ``q (B, C)``."""
        L, H = self.config.num_layers, self.config.hidden_size
        batch_size = q.shape[0]

        def per_layer(projection: nn.Linear) -> Tensor:
            return torch.tanh(projection(q)).view(batch_size, L, H).transpose(0, 1).contiguous()  # (L, B, H)

        h = per_layer(self.initial_hidden)
        return h if self.initial_cell is None else (h, per_layer(self.initial_cell))

    def _inputs(self, ids: Tensor, q: Tensor) -> Tensor:
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        if not self.config.condition_input:
            return embedded
        return torch.cat([embedded, q.unsqueeze(1).expand(-1, ids.shape[1], -1)], dim=2)  # (B, T, E+C)

    def forward(self, condition: Tensor, inputs: Tensor, lengths: Tensor | Sequence[int] | None = None) -> Tensor:
        """Next-token logits ``(B, T, V)``, teacher forced; see the class docstring."""
        if not isinstance(inputs, Tensor) or inputs.is_floating_point() or inputs.dim() != 2:
            raise ValueError(f"inputs: got {getattr(inputs, 'shape', type(inputs).__name__)}; expected token ids "
                             "(B, T)")
        q = self.encode_condition(condition)  # (B, C)
        outputs, _ = self.decoder(self._inputs(inputs, q), lengths=lengths, state=self.initial_state(q))  # (B, T, H)
        return self.logits(outputs)  # (B, T, V)

    def logits(self, outputs: Tensor) -> Tensor:
        """Next-token logits ``(..., V)`` from the top layer's outputs ``(..., H)``."""
        if self.projection is not None:
            outputs = self.projection(outputs)  # (..., E)
        return self.output(self.dropout(outputs))

    def step(self, tokens: Tensor, q: Tensor, state: State) -> tuple[Tensor, State]:
        """One decoding step: the previous tokens ``(N,)`` -> next-token logits ``(N, V)`` and the new state."""
        outputs, state = self.decoder(self._inputs(tokens.unsqueeze(1), q), state=state)  # (N, 1, H)
        return self.logits(outputs[:, 0]), state


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int) -> Tensor:
    """Cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)`` summed over the non-padding positions."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=pad_id,
                           reduction="sum")


__all__ = ["CELLS", "ConditionalGenerator", "ConditionalGeneratorConfig", "sequence_loss"]
