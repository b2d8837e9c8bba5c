"""Dropout for recurrent models: one mask per sequence (locked) and per word type (embedding dropout).

Plain dropout draws a fresh mask at every time step, which lets the recurrence average the noise away and
disturbs the hidden-to-hidden path. The two forms here are those of AWD-LSTM (Merity et al. 2018):

* :class:`LockedDropout` (variational dropout, Gal & Ghahramani 2016) draws one mask per sequence and feature
  and applies it at every time step;
* :func:`embedding_dropout` drops whole rows of the embedding matrix, so a dropped word type is zero wherever it
  occurs in the batch.

Both scale the kept units by ``1 / (1 - p)`` so that expectations are unchanged, and both are the identity in
evaluation mode or with ``p = 0``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def check_probability(name: str, p: float) -> float:
    """Return ``p`` as a float after checking it is a dropout probability in ``[0, 1)``.

    Raises:
        ValueError: If ``p`` is not a real number in ``[0, 1)``; the message names ``name``.
    """
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{name}: got {p!r}; expected a probability in [0, 1)")
    return float(p)


class LockedDropout(nn.Module):
    r"""Variational (locked) dropout: one mask per sequence, shared by all time steps.

    For an input :math:`x \in \mathbb{R}^{B \times T \times F}` a mask :math:`m \in \{0, 1\}^{B \times F}` is
    drawn with :math:`P(m_{bf} = 1) = 1 - p`, and

    .. math::
        y_{btf} = \frac{m_{bf}}{1 - p} \, x_{btf} \quad \text{for every } t.

    Args:
        p: probability of dropping a unit, in ``[0, 1)``.

    Call: ``dropout(x) -> y`` with ``x (B, T, ...)`` batch-first (the mask has shape ``(B, 1, ...)``); the
    identity in evaluation mode or with ``p = 0``. Zeros (padding) stay zeros.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_probability("p", p)

    def forward(self, x: Tensor) -> Tensor:
        """Apply one mask per sequence of ``x (B, T, ...)``."""
        if not self.training or self.p == 0.0:
            return x
        if x.dim() < 2:
            raise ValueError(f"x: got shape {tuple(x.shape)}; expected at least (B, T), batch first")
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0], 1, *x.shape[2:])).bernoulli_(keep) / keep  # (B, 1, F)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, ids: Tensor, p: float, training: bool) -> Tensor:
    r"""Look up ``ids`` in ``embedding`` with whole word types dropped (embedded dropout of AWD-LSTM).

    A mask :math:`m \in \{0, 1\}^{V}` over the vocabulary is drawn with :math:`P(m_v = 1) = 1 - p`, and the
    lookup uses the weight

    .. math::
        \tilde{E}_{v} = \frac{m_v}{1 - p} E_{v},

    so a dropped word type is zero at every position where it occurs. ``padding_idx`` and the other options of
    ``embedding`` are kept (no gradient flows into the padding row).

    Args:
        embedding: the embedding table, ``weight (V, E)``.
        ids: token ids of any shape, typically ``(B, T)``.
        p: probability of dropping a word type, in ``[0, 1)``.
        training: draw a mask only when True; otherwise this is ``embedding(ids)``.

    Returns:
        The embedded ids, shape ``ids.shape + (E,)``: ``(B, T, E)`` for ``(B, T)`` ids.
    """
    p = check_probability("p", p)
    if not training or p == 0.0:
        return embedding(ids)
    weight = embedding.weight  # (V, E)
    keep = 1.0 - p
    mask = weight.new_empty((weight.shape[0], 1)).bernoulli_(keep) / keep  # (V, 1): one draw per word type
    return F.embedding(
        ids,
        weight * mask,
        embedding.padding_idx,
        embedding.max_norm,
        embedding.norm_type,
        embedding.scale_grad_by_freq,
        embedding.sparse,
    )
