"""A recurrent language model: next-token logits from token ids, with the regularisers of AWD-LSTM.

::

    ids (B, T) ──Embedding──▶ (B, T, E) ──input dropout──▶ layer 0 ──hidden dropout──▶ layer 1 ─ … ─▶ layer L-1
                 (word-type dropout)                        (each: one rk.nn layer, weight drop on W_hh)       │
    logits (B, T, V) ◀──Linear (tied to the embedding if asked)◀──output dropout◀──────────────────────────────┘

The layers are separate single-layer modules so that locked (variational) dropout can sit between them, as in
Merity et al. (2018), "Regularizing and Optimizing LSTM Language Models".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..nn import LockedDropout, Recurrent, embedding_dropout
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

__all__ = ["CELLS", "LanguageModel", "LanguageModelConfig"]
LayerState = Tensor | tuple[Tensor, Tensor]  # h (1, B, H), or (h, c) for LSTM cells
_SIZES = ("embedding_size", "hidden_size", "num_layers")
_PROBABILITIES = ("dropout", "embedding_dropout", "input_dropout", "hidden_dropout", "weight_dropout")


@dataclass(frozen=True)
class LanguageModelConfig(DictConfig):
    """Hyperparameters of :class:`LanguageModel`.

    Attributes:
        cell: ``"rnn"`` (Elman, tanh), ``"gru"``, ``"lstm"``, or ``"lnlstm"`` (layer-normalised LSTM, explicit
            backend only).
        embedding_size: size of the token embeddings, E.
        hidden_size: hidden units of each recurrent layer, H (but see ``tie_weights``).
        num_layers: recurrent layers, L.
        dropout: locked dropout on the last layer's output, before the decoder.
        embedding_dropout: probability of dropping a whole word type (a row of the embedding matrix).
        input_dropout: locked dropout on the embeddings.
        hidden_dropout: locked dropout between recurrent layers.
        weight_dropout: DropConnect on every layer's hidden-to-hidden weights (weight drop).
        tie_weights: share one matrix between the embedding and the decoder (Press & Wolf 2017; Inan et al.
            2017). The decoder reads the last layer's output, so with tying the LAST layer has
            ``embedding_size`` hidden units, as in AWD-LSTM; the other layers keep ``hidden_size`` (with
            ``num_layers=1``, ``hidden_size`` is unused).
        backend: ``"auto"``, ``"explicit"`` or ``"fused"``, passed to every layer.
    """

    cell: str = setting("lstm", help="recurrent cell (lnlstm: layer-normalised LSTM)", choices=CELLS)
    embedding_size: int = setting(128, help="token embedding size")
    hidden_size: int = setting(256, help="hidden units per layer")
    num_layers: int = setting(2, help="stacked recurrent layers")
    dropout: float = setting(0.2, help="dropout on the last layer's output")
    embedding_dropout: float = setting(0.0, help="drop whole word types (AWD-LSTM)")
    input_dropout: float = setting(0.0, help="locked dropout on the embeddings")
    hidden_dropout: float = setting(0.0, help="locked dropout between layers")
    weight_dropout: float = setting(0.0, help="DropConnect on hidden-to-hidden weights")
    tie_weights: bool = setting(False, help="share the embedding and output weights")
    backend: str = setting("auto", choices=BACKENDS, help=BACKEND_HELP)

    def __post_init__(self) -> None:
        check_cell_and_backend(self.cell, self.backend)
        for name in _SIZES:
            check_integer(name, getattr(self, name))
        for name in _PROBABILITIES:
            check_probability(name, getattr(self, name))
        check_flag("tie_weights", self.tie_weights)

    @property
    def layer_sizes(self) -> list[int]:
        """Hidden units of each layer: ``hidden_size``, except the last with ``tie_weights`` (``embedding_size``)."""
        sizes = [self.hidden_size] * self.num_layers
        if self.tie_weights:
            sizes[-1] = self.embedding_size
        return sizes


def _build_layer(config: LanguageModelConfig, input_size: int, hidden_size: int) -> Recurrent:
    """One single-layer, batch-first recurrent layer of the configured cell."""
    return recurrent_layer(config.cell, input_size, hidden_size, batch_first=True, backend=config.backend,
                           weight_dropout=config.weight_dropout)


class LanguageModel(nn.Module):
    r"""Recurrent language model: :math:`p(w_{t+1} \mid w_{\le t}) = \mathrm{softmax}(W_d h^{(L)}_t + b_d)`.

    Args:
        vocab_size: number of token types, V.
        config: the hyperparameters (see :class:`LanguageModelConfig`).
        pad_id: id of the padding token, if any: its embedding is zero and receives no gradient.

    Call: ``model(ids, state=None, lengths=None) -> (logits, state)`` with ``ids (B, T)`` integer token ids,
    ``logits (B, T, V)`` (unnormalised; position t scores token t+1), and ``state`` a list with one entry per
    layer, each as the layer returns it: ``h (1, B, H_l)``, or ``(h, c)`` for LSTM cells. Pass the returned
    state (detached, see :meth:`detach_state`) to the next call for truncated BPTT. With ``lengths``, each
    layer stops at a sequence's last real step; logits at padded positions are the decoder bias only.
    """

    def __init__(self, vocab_size: int, config: LanguageModelConfig, pad_id: int | None = None) -> None:
        super().__init__()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size: got {vocab_size!r}; expected a positive integer")
        if not isinstance(config, LanguageModelConfig):
            raise ValueError(f"config: got {type(config).__name__}; expected a LanguageModelConfig")
        if pad_id is not None and (isinstance(pad_id, bool) or not isinstance(pad_id, int)
                                   or not 0 <= pad_id < vocab_size):
            raise ValueError(f"pad_id: got {pad_id!r}; expected None or an id in [0, {vocab_size})")
        self.vocab_size, self.config, self.pad_id = vocab_size, config, pad_id
        sizes = config.layer_sizes
        input_sizes = [config.embedding_size, *sizes[:-1]]

        self.embedding = nn.Embedding(vocab_size, config.embedding_size, padding_idx=pad_id)
        self.input_dropout = LockedDropout(config.input_dropout)
        self.layers = nn.ModuleList(_build_layer(config, i, h) for i, h in zip(input_sizes, sizes, strict=True))
        self.hidden_dropout = LockedDropout(config.hidden_dropout)
        self.output_dropout = LockedDropout(config.dropout)
        self.decoder = nn.Linear(sizes[-1], vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight  # one Parameter (V, E), listed once by parameters()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Embedding and decoder uniform(-0.1, 0.1), decoder bias zero (Zaremba et al. 2014); padding row zero."""
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if not self.config.tie_weights:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if self.pad_id is not None:
            with torch.no_grad():
                self.embedding.weight[self.pad_id].zero_()

    def forward(
        self, ids: Tensor, state: Sequence[LayerState] | None = None, lengths: Tensor | Sequence[int] | None = None
    ) -> tuple[Tensor, list[LayerState]]:
        """Next-token logits for ``ids (B, T)``; see the class docstring for shapes and semantics."""
        self._check_ids(ids)
        if state is not None and (not isinstance(state, list | tuple) or len(state) != len(self.layers)):
            given = f"{len(state)} entries" if isinstance(state, list | tuple) else type(state).__name__
            raise ValueError(f"state: got {given}; expected a list with one entry per layer ({len(self.layers)})")
        x = embedding_dropout(self.embedding, ids, self.config.embedding_dropout, self.training)  # (B, T, E)
        x = self.input_dropout(x)
        final_states = []
        for index, layer in enumerate(self.layers):
            x, layer_state = layer(x, lengths=lengths, state=None if state is None else state[index])  # (B, T, H_l)
            final_states.append(layer_state)
            if index < len(self.layers) - 1:
                x = self.hidden_dropout(x)
        x = self.output_dropout(x)
        return self.decoder(x), final_states  # (B, T, V)

    def _check_ids(self, ids: Tensor) -> None:
        if not isinstance(ids, Tensor):
            raise ValueError(f"ids: got {type(ids).__name__}; expected a LongTensor of token ids (B, T)")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"ids: got a {ids.dtype} tensor; expected integer token ids")
        if ids.dim() != 2 or ids.numel() == 0:
            raise ValueError(f"ids: got shape {tuple(ids.shape)}; expected (B, T) with B, T >= 1")
        if is_exporting():  # a host read of the data: not in an exported graph (its clients check)
            return
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= self.vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"ids: got token id {bad}; expected ids in [0, {self.vocab_size}) "
                             f"(vocab_size {self.vocab_size})")

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> list[LayerState]:
        """Zero state for ``batch_size`` sequences: per layer ``h (1, B, H_l)`` or ``(h, c)`` for LSTM cells."""
        weight = self.embedding.weight
        device = weight.device if device is None else device
        states: list[LayerState] = []
        for layer in self.layers:
            h = torch.zeros(1, batch_size, layer.hidden_size, device=device, dtype=weight.dtype)
            states.append((h, torch.zeros_like(h)) if layer.has_cell_state else h)
        return states

    @staticmethod
    def detach_state(state: Sequence[LayerState]) -> list[LayerState]:
        """The state cut from its graph, for truncated BPTT: gradients stop at the window's start."""
        return [tuple(s.detach() for s in entry) if isinstance(entry, tuple | list) else entry.detach()
                for entry in state]
