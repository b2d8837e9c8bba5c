r"""Attention over a memory of encoder states: additive (Bahdanau) and multiplicative (Luong dot, general).

A decoder asks with a query ``q`` (its state, ``(B, Q)``); the memory holds the encoder's states
``k_1 .. k_S`` (``(B, S, K)``), some of them padding. Every mode scores each position, normalises the scores
over the real positions only, and returns the weighted sum of the states::

    e_s = v^T tanh(W_q q + W_k k_s)     additive (Bahdanau et al. 2015)
    e_s = q^T k_s                       dot      (Luong et al. 2015; needs Q == K)
    e_s = q^T W_a k_s                   general  (Luong et al. 2015)

    a_s = exp(e_s) / sum_{s' real} exp(e_s')    (a_s = 0 exactly on padding)
    c   = sum_s a_s k_s                          context vector, (B, K)

The key side of every score (``W_k k_s``, ``W_a k_s``) does not depend on the query, so :meth:`Attention.prepare`
computes it once per source sentence and each decoder step reuses it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

ATTENTION_MODES = ("none", "additive", "dot", "general")


class Memory(NamedTuple):
    """The encoder states a decoder attends to, with what every step reuses."""

    values: Tensor  # (B, S, K): the encoder states k_s, summed into the context
    keys: Tensor  # (B, S, K'): their query-independent part of the score (W_k k_s, W_a k_s or k_s)
    mask: Tensor  # (B, S) bool: True at real source positions


def check_attention_mode(mode: str) -> str:
    """``mode`` if it is a known attention mode, else a ValueError listing them."""
    if mode not in ATTENTION_MODES:
        raise ValueError(f"attention: got {mode!r}; expected one of {', '.join(map(repr, ATTENTION_MODES))}")
    return mode


class Attention(nn.Module):
    """Score a query against a memory, softmax over the real positions, return the context and the weights.

    Args:
        mode: ``"additive"``, ``"dot"`` or ``"general"`` (see the module docstring).
        query_size: Q, the size of the decoder state that asks.
        key_size: K, the size of each encoder state.
        attention_size: the hidden size of the additive score (default ``query_size``); unused otherwise.

    Call: ``attention(query (B, Q), memory) -> (context (B, K), weights (B, S))``.
    """

    def __init__(self, mode: str, query_size: int, key_size: int, attention_size: int | None = None) -> None:
        super().__init__()
        check_attention_mode(mode)
        if mode == "none":
            raise ValueError("attention: 'none' has no attention module; the decoder reads a fixed context instead")
        if mode == "dot" and query_size != key_size:
            raise ValueError(f"attention 'dot': the decoder state has {query_size} units but each encoder state "
                             f"{key_size}; expected equal sizes (use 'general', which learns a map between them)")
        self.mode, self.query_size, self.key_size = mode, query_size, key_size
        if mode == "additive":
            size = attention_size or query_size
            self.query_projection = nn.Linear(query_size, size, bias=False)  # W_q
            self.key_projection = nn.Linear(key_size, size, bias=True)  # W_k (and the score's bias)
            self.score = nn.Linear(size, 1, bias=False)  # v
        elif mode == "general":
            self.key_projection = nn.Linear(key_size, query_size, bias=False)  # W_a

    def prepare(self, values: Tensor, mask: Tensor) -> Memory:
        """The memory of encoder states ``values (B, S, K)`` with real positions ``mask (B, S)``."""
        keys = values if self.mode == "dot" else self.key_projection(values)  # (B, S, K')
        return Memory(values, keys, mask)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Context ``(B, K)`` and attention weights ``(B, S)`` (zero on padding) for ``query (B, Q)``."""
        if self.mode == "additive":
            hidden = torch.tanh(memory.keys + self.query_projection(query).unsqueeze(1))  # (B, S, A)
            scores = self.score(hidden).squeeze(2)  # (B, S)
        else:
            scores = torch.bmm(memory.keys, query.unsqueeze(2)).squeeze(2)  # (B, S)
        scores = scores.masked_fill(~memory.mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)  # (B, S): exp(-inf) = 0 on padding
        context = torch.bmm(weights.unsqueeze(1), memory.values).squeeze(1)  # (B, K)
        return context, weights

    def extra_repr(self) -> str:
        return f"{self.mode!r}, query_size={self.query_size}, key_size={self.key_size}"
