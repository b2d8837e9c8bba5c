"""A classifier of biological sequences: one-hot letters or k-mer tokens, an optional convolution, a recurrent core.

::

    letter ids (B, T) ──one-hot table──▶ (B, T, K)   (or one-hot features (B, T, K) given directly)
    k-mer ids (B, T)  ──Embedding─────▶ (B, T, E)
        ──[Conv1d(width w, C channels, zero padding w // 2) ─▶ ReLU ─▶ MaxPool(p)]──▶ (B, T // p, C)
        ──▶ SequenceClassifier on numeric features (rk.nn recurrent stack ─▶ pooling ─▶ head) ─▶ logits (B, C)

The convolution is the optional front-end of DanQ (Quang & Xie 2016) and deepRAM's ECBLSTM (Trabelsi et al.
2019): its filters act as motif detectors (position weight matrices) and the pooling shortens the sequence the
recurrent layer reads by ``p``. ``conv_channels=0`` leaves it out (a pure RNN on the letters).

Padding stays out: padded positions are all-zero inputs, the same zeros the convolution pads a lone sequence with,
so the first ``length // p`` pooled steps of a padded sequence equal those of the sequence alone, and the
recurrent core only reads those (the lengths are divided by ``p``, rounding down).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.exportable import is_exporting
from ..train.config import setting
from .classifier import ClassifierConfig, SequenceClassifier

INPUTS = ("onehot", "kmer")


@dataclass(frozen=True)
class ConvFrontEndConfig:
    """The optional convolution before the recurrent layers.

    Attributes:
        conv_channels: filters (motif detectors), C; 0 means no convolution.
        conv_width: filter width in positions, w (odd, so the output lines up with the input).
        pool_size: max-pool window and stride, p; the recurrent layers read ``T // p`` steps.
    """

    conv_channels: int = setting(0, help="filters of a Conv1d front-end (0: none)")
    conv_width: int = setting(11, help="filter width, odd")
    pool_size: int = setting(4, help="max-pool window after the convolution")

    def __post_init__(self) -> None:
        for name, minimum in (("conv_channels", 0), ("conv_width", 1), ("pool_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}: got {value!r}; expected an integer >= {minimum}")
        if self.conv_width % 2 == 0:
            raise ValueError(f"conv_width: got {self.conv_width!r}; expected an odd width")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def shortening(self) -> int:
        """How many input positions make one recurrent step (1 without the convolution)."""
        return self.pool_size if self.conv_channels else 1


def letter_table(size: int) -> Tensor:
    """``(K + 2, K)`` one-hot rows of letter ids, as :func:`rnnkit.data.sequence_encoding.one_hot_table`: row 0
    (padding) zeros, rows 1..K the identity, row K+1 (the unknown letter, N) all 1/K."""
    return torch.cat([torch.zeros(1, size), torch.eye(size), torch.full((1, size), 1.0 / size)])


class BindingSiteClassifier(nn.Module):
    """Sequence classifier for DNA/protein: ``model(ids or one-hot, lengths) -> logits (B, num_classes)``.

    Args:
        num_classes: number of classes (>= 2).
        model: the recurrent core and head (see :class:`~rnnkit.models.ClassifierConfig`).
        frontend: the optional convolution (see :class:`ConvFrontEndConfig`).
        inputs: ``"onehot"`` (letter ids, or one-hot features) or ``"kmer"`` (token ids).
        alphabet_size: letters of the alphabet, K (4 for DNA, 20 for protein): the one-hot width.
        vocab_size: number of k-mer token types (``inputs="kmer"`` only); id ``pad_id`` is padding.
    """

    def __init__(self, num_classes: int, model: ClassifierConfig, frontend: ConvFrontEndConfig,
                 inputs: str = "onehot", alphabet_size: int = 4, vocab_size: int | None = None,
                 pad_id: int = 0) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs: got {inputs!r}; expected one of {', '.join(map(repr, INPUTS))}")
        if (inputs == "kmer") != (vocab_size is not None):
            raise ValueError(f"vocab_size: got {vocab_size!r}; expected a size for k-mer inputs and None for one-hot")
        self.inputs, self.frontend_config = inputs, frontend
        if inputs == "onehot":
            self.register_buffer("one_hot_table", letter_table(alphabet_size), persistent=False)
            self.embedding = None
            features = alphabet_size
        else:
            self.embedding = nn.Embedding(vocab_size, model.embedding_size, padding_idx=pad_id)
            features = model.embedding_size
        self.input_size = features
        self.conv = (nn.Conv1d(features, frontend.conv_channels, frontend.conv_width,
                               padding=frontend.conv_width // 2) if frontend.conv_channels else None)
        self.classifier = SequenceClassifier(num_classes, model,
                                             input_size=frontend.conv_channels if self.conv else features)

    def features(self, inputs: Tensor) -> Tensor:
        """``(B, T, K or E)`` inputs of the front-end from ids ``(B, T)`` (or one-hot features as they are)."""
        if inputs.is_floating_point():
            if self.embedding is not None or inputs.dim() != 3 or inputs.shape[2] != self.input_size:
                raise ValueError(f"inputs: got a float tensor of shape {tuple(inputs.shape)}; expected one-hot "
                                 f"features (B, T, {self.input_size}) or integer ids (B, T)")
            return inputs
        if inputs.dim() != 2:
            raise ValueError(f"inputs: got ids of shape {tuple(inputs.shape)}; expected (B, T)")
        table_size = self.one_hot_table.shape[0] if self.embedding is None else self.embedding.num_embeddings
        if not is_exporting() and inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= table_size):
            raise ValueError(f"inputs: got an id outside [0, {table_size})")
        return self.one_hot_table[inputs] if self.embedding is None else self.embedding(inputs)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class logits ``(B, num_classes)``."""
        x = self.features(inputs)  # (B, T, K or E)
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long)
        if self.conv is not None:
            pool = self.frontend_config.pool_size
            if not is_exporting() and int(lengths.min()) < pool:  # no host reads in an exported graph
                raise ValueError(f"lengths: got a sequence of {int(lengths.min())} steps; the front-end pools "
                                 f"{pool} steps into one, so expected at least {pool}")
            x = F.max_pool1d(F.relu(self.conv(x.transpose(1, 2))), pool).transpose(1, 2)  # (B, T // p, C)
            lengths = lengths // pool
        return self.classifier(x, lengths)
