r"""An encoder-decoder (sequence-to-sequence) model: the lecture's delayed many-to-many shape.

::

    source ids (B, S) ─Embedding─▶ encoder: stacked, optionally bidirectional RNN/GRU/LSTM (with lengths)
                                      │ states k_1..k_S (B, S, D*H)        │ final states, per layer
                                      ▼                                    ▼
                            context c_t (attention over k,         bridge: s_0 = tanh(W_b [h_fwd; h_bwd] + b_b)
                            or the last state, fixed)                      │
                                      │                                    ▼
    y_{t-1} ─Embedding─ e_t ─────▶ [e_t; c_t] ──▶ decoder cells (s_{t-1} -> s_t) ──▶ [s_t; c_t; e_t] ─Linear─▶ logits

At step t the context is

* ``attention="none"``: the encoder's last state (top layer, both directions), the same at every step: the
  fixed-length "context vector" of the early encoder-decoder work (Cho et al. 2014; Sutskever et al. 2014);
* otherwise the attention-weighted sum of all encoder states, queried with the decoder's previous top state
  s_{t-1} (as Bahdanau et al. 2015) and scored by the chosen function (additive, or Luong's dot / general),
  padding masked out.

Everything else is shared, so the modes differ only in what the decoder may look at. The decoder runs one
step at a time (its input depends on the context, which depends on its state); each step is a batched call of
torch's fused one-step kernel (``torch.gru_cell`` ...) on the decoder layer's own weights, or of rnnkit's cells
with ``backend="explicit"``. The output layer is applied to all steps at once after the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn import GRU, LSTM, RNN, Recurrent
from ..nn.attention import ATTENTION_MODES, Attention, Memory, check_attention_mode
from ..nn.recurrent import BACKENDS
from ..train.config import setting
from .config_fields import BACKEND_HELP, DictConfig, check_choice, check_integer, check_probability

CELLS = ("rnn", "gru", "lstm")
State = Tensor | tuple[Tensor, Tensor]  # (L, B, H), or (h, c) for LSTM
_LAYERS: dict[str, type[Recurrent]] = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
_FUSED_STEPS: dict[str, Callable[..., Any]] = {"rnn": torch.rnn_tanh_cell, "gru": torch.gru_cell,
                                               "lstm": torch.lstm_cell}


@dataclass(frozen=True)
class Seq2SeqConfig(DictConfig):
    """Hyperparameters of :class:`Seq2Seq`.

    Attributes:
        cell: ``"rnn"`` (Elman, tanh), ``"gru"`` or ``"lstm"``, for the encoder and the decoder.
        embedding_size: size of the source and target token embeddings, E.
        hidden_size: hidden units of every encoder layer and direction, and of every decoder layer, H.
        num_layers: stacked layers of the encoder, and of the decoder, L.
        bidirectional: a bidirectional encoder (its states have 2H units).
        attention: ``"none"`` (the last encoder state as a fixed context), ``"additive"``, ``"dot"`` or
            ``"general"``.
        attention_size: hidden units of the additive score (default ``hidden_size``).
        dropout: dropout on the embeddings, between stacked layers and before the output layer.
        backend: ``"auto"``/``"fused"`` use torch's kernels (encoder: cuDNN/oneDNN; decoder: one fused step per
            call), ``"explicit"`` rnnkit's cells.
    """

    cell: str = setting("gru", help="recurrent cell", choices=CELLS)
    embedding_size: int = setting(256, help="token embedding size")
    hidden_size: int = setting(512, help="hidden units per layer (and per encoder direction)")
    num_layers: int = setting(1, help="stacked layers of the encoder and of the decoder")
    bidirectional: bool = setting(True, help="bidirectional encoder", switches={"--unidirectional": False})
    attention: str = setting("additive", help="none (the last encoder state only), additive, dot or general",
                             choices=ATTENTION_MODES)
    attention_size: int | None = setting(None, help="hidden units of the additive score (unset: --hidden-size)")
    dropout: float = setting(0.3, help="dropout on embeddings, between layers, before the output")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELLS)
        for name in ("embedding_size", "hidden_size", "num_layers"):
            check_integer(name, getattr(self, name))
        if self.attention_size is not None and (not isinstance(self.attention_size, int) or self.attention_size < 1):
            raise ValueError(f"attention_size: got {self.attention_size!r}; expected a positive integer or none")
        check_attention_mode(self.attention)
        check_probability("dropout", self.dropout)
        check_choice("backend", self.backend, BACKENDS)
        if self.attention == "dot" and self.bidirectional:
            raise ValueError("attention 'dot' scores s^T k, which needs encoder states (2H with bidirectional) of "
                             "the decoder's size H; expected bidirectional false, or attention 'general'")

    @property
    def context_size(self) -> int:
        """Units of an encoder state, and so of the context vector: D*H."""
        return self.hidden_size * (2 if self.bidirectional else 1)


@dataclass
class Encoded:
    """What the decoder reads from an encoded batch: the attention memory, or the fixed context."""

    memory: Memory | None  # attention modes: encoder states (B, S, D*H), keys, mask (B, S)
    context: Tensor | None  # attention "none": the last encoder state (B, D*H)
    lengths: Tensor  # (B,) source lengths

    def select(self, index: Tensor) -> Encoded:
        """Rows ``index`` of every tensor (to repeat sentences for a beam, or drop finished ones)."""
        memory = None if self.memory is None else Memory(*(part.index_select(0, index) for part in self.memory))
        context = None if self.context is None else self.context.index_select(0, index)
        return Encoded(memory, context, self.lengths.index_select(0, index))


def select_state(state: State, index: Tensor) -> State:
    """Rows ``index`` (batch axis 1) of a decoder state ``(L, B, H)`` or ``(h, c)``."""
    if isinstance(state, tuple):
        return tuple(part.index_select(1, index) for part in state)
    return state.index_select(1, index)


class Seq2Seq(nn.Module):
    """Encoder-decoder with a bridge, and attention or a fixed context vector (see the module docstring).

    Args:
        source_vocab_size: source vocabulary size.
        target_vocab_size: target vocabulary size, V.
        config: the hyperparameters.
        source_pad_id: the source padding id (its embedding is zero and receives no gradient).
        target_pad_id: the target padding id.

    Call: ``model(source (B, S), source_lengths (B,), target_inputs (B, T))`` returns the logits ``(B, T, V)``
    and the attention weights ``(B, T, S)`` (None for ``attention="none"``); see :meth:`forward`.
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, config: Seq2SeqConfig | None = None,
                 source_pad_id: int = 0, target_pad_id: int = 0) -> None:
        super().__init__()
        config = config or Seq2SeqConfig()
        self.config = config
        E, H, L, C = config.embedding_size, config.hidden_size, config.num_layers, config.context_size
        layer = _LAYERS[config.cell]
        self.source_embedding = nn.Embedding(source_vocab_size, E, padding_idx=source_pad_id)
        self.target_embedding = nn.Embedding(target_vocab_size, E, padding_idx=target_pad_id)
        between_layers = config.dropout if L > 1 else 0.0
        self.encoder = layer(E, H, num_layers=L, bidirectional=config.bidirectional, dropout=between_layers,
                             backend=config.backend)
        self.bridge = nn.Linear(C, H)  # W_b: per layer, [h_fwd; h_bwd] -> s_0
        self.cell_bridge = nn.Linear(C, H) if config.cell == "lstm" else None  # the same for the LSTM cell state
        # the decoder layer holds the weights; its steps (and the dropout between them) run in _step_layers
        self.decoder = layer(E + C, H, num_layers=L, backend=config.backend)
        self.attention = (None if config.attention == "none"
                          else Attention(config.attention, H, C, config.attention_size))
        self.output = nn.Linear(H + C + E, target_vocab_size)  # logits from [s_t; c_t; e_t]
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Encoded, State]:
        """Run the encoder over ``source (B, S)``; return what the decoder reads and its initial state."""
        config = self.config
        embedded = self.dropout(self.source_embedding(source))  # (B, S, E)
        # lengths as given (best on the CPU: packing reads them there, so no device sync)
        states, final = self.encoder(embedded, lengths)  # (B, S, D*H); h (L*D, B, H) or (h, c)
        lengths = torch.as_tensor(lengths).to(source.device, non_blocking=True)
        finals = final if isinstance(final, tuple) else (final,)
        D = 2 if config.bidirectional else 1
        # (L*D, B, H) -> (L, B, D*H): each layer's last forward state beside its last backward state
        joined = [part.view(config.num_layers, D, *part.shape[1:]).permute(0, 2, 1, 3).flatten(2) for part in finals]
        initial: State = torch.tanh(self.bridge(joined[0]))  # (L, B, H)
        if self.cell_bridge is not None:
            initial = (initial, torch.tanh(self.cell_bridge(joined[1])))
        if self.attention is None:
            return Encoded(None, joined[0][-1], lengths), initial  # context: the top layer's last state (B, D*H)
        mask = torch.arange(source.shape[1], device=source.device) < lengths.unsqueeze(1)  # (B, S)
        return Encoded(self.attention.prepare(states, mask), None, lengths), initial

    def _step_layers(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step of the stacked decoder: ``x (N, E+C)`` -> top output ``(N, H)`` and the new state."""
        decoder, cell = self.decoder, self.config.cell
        hs, cs = (state if isinstance(state, tuple) else (state, None))
        new_h, new_c = [], []
        explicit_cells = None if decoder.uses_fused else decoder.cells
        for layer in range(decoder.num_layers):
            layer_state = hs[layer] if cs is None else (hs[layer], cs[layer])
            if explicit_cells is None:  # torch's fused one-step kernel on this layer's weights
                weights = [getattr(decoder, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih",
                                                                              "bias_hh")]
                result = _FUSED_STEPS[cell](x, layer_state, *weights)
                h, layer_state = (result[0], result) if cell == "lstm" else (result, result)
            else:
                step_cell = explicit_cells[layer]
                h, layer_state = step_cell.step(step_cell.input_projection(x), layer_state)
            if cs is None:
                new_h.append(layer_state)
            else:
                new_h.append(layer_state[0])
                new_c.append(layer_state[1])
            x = self.dropout(h) if layer < decoder.num_layers - 1 else h
        if cs is None:
            return x, torch.stack(new_h)
        return x, (torch.stack(new_h), torch.stack(new_c))

    def step(self, tokens: Tensor, state: State, encoded: Encoded) -> tuple[Tensor, State, Tensor | None]:
        """One decoder step from the previous tokens ``(N,)``: features ``[s_t; c_t; e_t]`` ``(N, H+C+E)``, the
        new state, and the attention weights ``(N, S)`` (None without attention). ``logits(features)`` scores them.
        """
        embedded = self.dropout(self.target_embedding(tokens))  # e_t: (N, E)
        top = state[0][-1] if isinstance(state, tuple) else state[-1]  # s_{t-1}: (N, H)
        if self.attention is None:
            context, weights = encoded.context, None  # (N, C)
        else:
            context, weights = self.attention(top, encoded.memory)  # (N, C), (N, S)
        output, state = self._step_layers(torch.cat([embedded, context], dim=1), state)  # (N, H)
        return torch.cat([output, context, embedded], dim=1), state, weights

    def logits(self, features: Tensor) -> Tensor:
        """Output scores ``(..., V)`` from decoder features ``(..., H+C+E)``."""
        return self.output(self.dropout(features))

    def forward(self, source: Tensor, source_lengths: Tensor, target_inputs: Tensor, teacher_forcing: float = 1.0,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits ``(B, T, V)`` for every target position, and attention weights ``(B, T, S)`` or None.

        Args:
            source: source ids ``(B, S)``, padded.
            source_lengths: real source lengths ``(B,)``, each >= 1.
            target_inputs: decoder inputs ``(B, T)``: ``<bos> y_1 .. y_{T-1}`` (the targets shifted right).
            teacher_forcing: the probability that step t reads the true previous token rather than the model's
                own prediction (its argmax), drawn per sentence and step; 1.0 is plain teacher forcing, lower
                values give scheduled sampling (Bengio et al. 2015) when lowered over training.
            generator: random numbers for the teacher-forcing draws.
        """
        encoded, state = self.encode(source, source_lengths)
        steps = target_inputs.shape[1]
        sampling = self.training and teacher_forcing < 1.0
        if sampling:
            coins = torch.rand(target_inputs.shape, device=target_inputs.device, generator=generator)
            use_truth = coins < teacher_forcing  # (B, T)
        tokens = target_inputs[:, 0]
        features, weights, step_logits = [], [], []
        for t in range(steps):
            step_features, state, step_weights = self.step(tokens, state, encoded)
            features.append(step_features)
            weights.append(step_weights)
            if t + 1 < steps:
                tokens = target_inputs[:, t + 1]
                if sampling:  # the step's logits are needed now, to feed the prediction back
                    logits_t = self.logits(step_features)  # (B, V)
                    step_logits.append(logits_t)
                    tokens = torch.where(use_truth[:, t + 1], tokens, logits_t.detach().argmax(dim=1))
        if sampling:
            step_logits.append(self.logits(features[-1]))
            logits = torch.stack(step_logits, dim=1)  # (B, T, V)
        else:
            logits = self.logits(torch.stack(features, dim=1))  # (B, T, V): one matrix product for all steps
        return logits, (None if self.attention is None else torch.stack(weights, dim=1))  # (B, T, S)


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int, label_smoothing: float = 0.0) -> Tensor:
    """Summed cross-entropy over the non-padding target positions of ``logits (B, T, V)``, ``targets (B, T)``."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=pad_id,
                           reduction="sum", label_smoothing=label_smoothing)


__all__ = ["ATTENTION_MODES", "CELLS", "Encoded", "Seq2Seq", "Seq2SeqConfig", "select_state", "sequence_loss"]
