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
<eos>``; :func:`sequence_loss` ignores padding. Generation steps the same layers one token at a time and samples
with :func:`rnnkit.decode.sampling.sample_next` (temperature, top-k, top-p).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..decode.sampling import sample_next
from ..nn import Recurrent
from .config_fields import (
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

    cell: str = "lstm"
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    condition_size: int = 32
    condition_input: bool = True
    dropout: float = 0.3
    tie_weights: bool = False
    backend: str = "auto"

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
            if condition.numel() and not (0 <= int(condition.min()) and int(condition.max()) < self.num_classes):
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

    @torch.no_grad()
    def generate(self, condition: Tensor, bos_id: int, eos_id: int, max_length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, banned: Sequence[int] = (),
                 generator: torch.Generator | None = None, min_length: int = 1,
                 guidance: float = 0.0) -> list[list[int]]:
        r"""Sample one sequence per condition (a batch, all decoded together).

        Each sequence starts from ``<bos>`` and ends at ``<eos>`` (not included) or after ``max_length`` tokens;
        ``<eos>`` cannot come before ``min_length`` tokens (default 1: no empty texts, which training never has).
        ``banned`` ids (``<pad>``, ``<unk>``, ``<bos>``) are never produced. Call in eval mode for no dropout.

        ``guidance`` w > 0 (label conditions only) samples from scores that push away from the other labels, as
        classifier-free guidance (Ho & Salimans 2022; for language models Sanchez et al. 2023)::

            s_t(y) = log p(y | y_<t, c) + w [log p(y | y_<t, c) - log (1/K sum_k p(y | y_<t, k))]

        The bracket is the generator's own log-odds that the next token belongs to c rather than to a label
        drawn at random; the K decoders (one per label) read the same tokens. w = 0 is plain sampling.
        """
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length: got {max_length!r}; expected a positive integer")
        if isinstance(min_length, bool) or not isinstance(min_length, int) or not 0 <= min_length <= max_length:
            raise ValueError(f"min_length: got {min_length!r}; expected an integer in [0, max_length={max_length}]")
        if isinstance(guidance, bool) or not isinstance(guidance, int | float) or not 0 <= guidance < math.inf:
            raise ValueError(f"guidance: got {guidance!r}; expected a finite number >= 0")
        if guidance and self.num_classes is None:
            raise ValueError("guidance: needs label conditions (it contrasts the labels); got feature conditions")
        count = condition.shape[0]
        guided = bool(guidance) and self.num_classes > 1
        classes = self.num_classes if guided else 1
        # with guidance, row n * K + k decodes sequence n under label k; otherwise row n under its own condition
        decoded = torch.arange(classes, device=condition.device).repeat(count) if guided else condition
        q = self.encode_condition(decoded)  # (N*K, C)
        state = self.initial_state(q)
        tokens = torch.full((count,), bos_id, dtype=torch.long, device=q.device)  # (N,)
        finished = torch.zeros(count, dtype=torch.bool, device=q.device)
        sequences: list[list[int]] = [[] for _ in range(count)]
        for position in range(max_length):
            logits, state = self.step(tokens.repeat_interleave(classes), q, state)  # (N*K, V)
            logits = logits.float()
            if guided:
                log_probs = torch.log_softmax(logits, dim=1).view(count, classes, -1)  # (N, K, V)
                own = log_probs[torch.arange(count), condition]  # (N, V)
                marginal = torch.logsumexp(log_probs, dim=1) - math.log(classes)  # (N, V)
                logits = own + guidance * (own - marginal)
            if banned:
                logits[:, list(banned)] = -math.inf
            if position < min_length:
                logits[:, eos_id] = -math.inf
            tokens = sample_next(logits, temperature, top_k, top_p, generator)  # (N,)
            for index in (~finished & (tokens != eos_id)).nonzero().flatten().tolist():
                sequences[index].append(int(tokens[index]))
            finished |= tokens == eos_id
            if bool(finished.all()):
                break
        return sequences


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int) -> Tensor:
    """Cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)`` summed over the non-padding positions."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=pad_id,
                           reduction="sum")


__all__ = ["CELLS", "ConditionalGenerator", "ConditionalGeneratorConfig", "sequence_loss"]
