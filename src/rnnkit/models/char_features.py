"""A word's spelling as a vector: a character BiLSTM or CNN over its characters (character features).

::

    chars (B, T, C) ──real words only, each distinct word once──▶ (N, C) ──char Embedding──▶ (N, C, S)
        lstm: BiLSTM (S per direction), last forward state ++ first-step backward state ──▶ (N, 2S)
        cnn:  Conv1d (width 3, S filters, tanh) ──max over the word's characters──▶ (N, S)
    ──scattered back to the word positions, zero at padding──▶ (B, T, F)

A tagger or classifier concatenates these features with the word embedding, so a rare or unseen word (an
``<unk>`` to the word vocabulary) still gets a representation from its prefixes, suffixes and capitals
(Plank et al. 2016; Ma & Hovy 2016 for the CNN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn import LSTM

__all__ = ["CHAR_FEATURES", "CharEncoder"]

CHAR_FEATURES = ("none", "lstm", "cnn")
KERNEL_WIDTH = 3


class CharEncoder(nn.Module):
    """Character features of words.

    Args:
        num_chars: size of the character vocabulary (id 0 is ``<pad>``).
        kind: ``"lstm"`` (a bidirectional LSTM, output 2S) or ``"cnn"`` (a width-3 convolution, output S).
        char_size: S: the character embedding size and the LSTM's hidden size per direction / the CNN's filters.
        pad_id: the padding character id.

    Call: ``encoder(chars (B, T, C), mask (B, T)) -> (B, T, output_size)``, zero where ``mask`` is False.
    """

    def __init__(self, num_chars: int, kind: str, char_size: int, pad_id: int = 0) -> None:
        super().__init__()
        if kind not in CHAR_FEATURES[1:]:
            raise ValueError(f"char_features: got {kind!r}; expected one of {', '.join(map(repr, CHAR_FEATURES))}")
        self.kind, self.pad_id = kind, pad_id
        self.embedding = nn.Embedding(num_chars, char_size, padding_idx=pad_id)
        if kind == "lstm":
            self.lstm = LSTM(char_size, char_size, bidirectional=True, batch_first=True)
            self.output_size = 2 * char_size
        else:
            self.convolution = nn.Conv1d(char_size, char_size, KERNEL_WIDTH, padding=KERNEL_WIDTH // 2)
            self.output_size = char_size

    def encode_words(self, words: Tensor) -> Tensor:
        """``(N, C)`` character ids of N words (each at least one real character) -> ``(N, output_size)``."""
        lengths = (words != self.pad_id).sum(1).clamp_min(1)  # (N,)
        x = self.embedding(words)  # (N, C, S)
        if self.kind == "lstm":
            _, (h, _) = self.lstm(x, lengths=lengths)  # h (2, N, S): forward at the last char, backward at the first
            return torch.cat([h[0], h[1]], dim=1)  # (N, 2S)
        y = torch.tanh(self.convolution(x.transpose(1, 2)))  # (N, S, C)
        real = (words != self.pad_id).unsqueeze(1)  # (N, 1, C)
        return y.masked_fill(~real, float("-inf")).amax(2)  # (N, S)

    def forward(self, chars: Tensor, mask: Tensor) -> Tensor:
        words = chars[mask]  # (N, C): the real word positions
        unique, inverse = torch.unique(words, dim=0, return_inverse=True)  # a repeated word is encoded once
        features = self.encode_words(unique)[inverse]  # (N, F)
        out = features.new_zeros(*mask.shape, self.output_size)  # (B, T, F)
        out[mask] = features
        return out
