"""Audio classification data: labelled WAV files -> feature frames -> normalised sequences -> batches.

::

    read_labelled_audio(paths) ─▶ (path, label) ─▶ read_wav ─▶ resample ─▶ log-mel / MFCC frames (T, F)
    [(waveform, rate, label), ...] from Python ─▶ MemoryAudio ──────┘
                                                   └▶ label id (labels sorted)
    normalisation: mean and std per feature over the training frames only, saved with the run
    batches(epoch): BucketBatchSampler (similar lengths together) ─▶ (frames (B, T, F), lengths (B,), labels (B,))
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ...data.audio_features import FeatureConfig, FeatureExtractor, apply_normalization
from ...data.batching import bucketed_epochs, length_ordered_batches
from ...data.readers.audio import (
    AUDIO_FORMATS,
    DEFAULT_LABEL_PATTERN,
    LabelledAudio,
    compile_label_pattern,
    read_labelled_audio,
    read_wav,
)
from ...train.config import setting, validate_field_types
from ..base import is_path_like, short_repr

NAME = "audio"


@dataclass(frozen=True)
class AudioDataConfig:
    """Where the labels of WAV files come from, and the validation share.

    Attributes:
        format: ``"auto"``, ``"folders"`` (a folder per class) or ``"names"`` (the label in the file name); see
            :mod:`rnnkit.data.readers.audio`.
        label_pattern: regular expression with a ``label`` group, matched at the start of a file name (without
            its suffix) for ``"names"``; the default reads FSDD's ``{digit}_{speaker}_{index}.wav``.
        valid_fraction: without validation data, hold out this share of each class of the training data.
    """

    format: str = setting("auto", help="auto, folders (a folder per class) or names (the label in the file name)",
                          choices=AUDIO_FORMATS)
    label_pattern: str = setting(DEFAULT_LABEL_PATTERN, help="regular expression with a (?P<label>...) group matched "
                                                             "at the start of a file name (e.g. '7' of FSDD's "
                                                             "'7_jackson_0')")
    valid_fraction: float = setting(0.1, help="share of each class held out without --valid")

    def __post_init__(self) -> None:
        validate_field_types(self)
        if self.format not in AUDIO_FORMATS:
            raise ValueError(f"format: got {self.format!r}; expected one of {', '.join(map(repr, AUDIO_FORMATS))}")
        compile_label_pattern(self.label_pattern)
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a fraction in (0, 1)")


@dataclass
class FrameSet:
    """Examples as frames: ``frames[n]`` a float tensor ``(T_n, F)``, ``labels[n]`` a class id, ``where[n]`` a path."""

    frames: list[Tensor]
    labels: list[int]
    where: list[str]

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, indices: Sequence[int]) -> FrameSet:
        return FrameSet([self.frames[i] for i in indices], [self.labels[i] for i in indices],
                        [self.where[i] for i in indices])

    def normalized(self, statistics: dict[str, Any] | None) -> FrameSet:
        return FrameSet([apply_normalization(frames, statistics) for frames in self.frames], self.labels, self.where)


@dataclass(frozen=True)
class MemoryAudio:
    """One recording handed over from Python: mono float32 samples (as :func:`read_wav` gives them), their rate,
    the label and what names it in errors (``"data item 3"``)."""

    samples: np.ndarray
    rate: int
    label: str | None
    where: str


Example = LabelledAudio | MemoryAudio


def examples_from(source: Any, config: AudioDataConfig, argument: str) -> list[Example]:
    """The labelled recordings of ``source``: WAV paths, directories or glob patterns, or a sequence of
    ``(waveform, sample_rate, label)`` triples; ``argument`` is ``"data"``, ``"valid"`` or ``"test"``."""
    if is_path_like(source):
        return list(read_labelled_audio(source, config.format, config.label_pattern))
    if isinstance(source, str | bytes) or not isinstance(source, Sequence) or not source:
        raise ValueError(f"{argument}: got {short_repr(source)}; expected WAV paths or a non-empty sequence of "
                         "(waveform, sample_rate, label) triples")
    return [memory_audio(item, f"{argument} item {number}") for number, item in enumerate(source, 1)]


def memory_audio(item: Any, where: str) -> MemoryAudio:
    """One ``(waveform, sample_rate, label)`` triple: a 1-D array or list of finite floats (mono), a positive int
    rate and a non-empty string label."""
    expected = ("expected a (waveform, sample_rate, label) triple: a 1-D array or list of floats (mono), a positive "
                "integer rate and a string label")
    if not (isinstance(item, tuple | list) and len(item) == 3):
        raise ValueError(f"{where}: {expected}; got {short_repr(item)}")
    waveform, rate, label = item
    try:
        samples = np.asarray(waveform, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: the waveform is not numbers; {expected}") from None
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError(f"{where}: a waveform of shape {samples.shape}; {expected}")
    if not np.isfinite(samples).all():
        raise ValueError(f"{where}: the waveform holds NaN or infinite values; {expected}")
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate < 1:
        raise ValueError(f"{where}: sample rate {rate!r}; {expected}")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{where}: label {label!r}; {expected}")
    return MemoryAudio(samples, int(rate), label, where)


def where_of(example: Example) -> str:
    """The file (or the in-memory item) an example came from."""
    return str(example.path) if isinstance(example, LabelledAudio) else example.where


def samples_of(example: Example) -> tuple[np.ndarray, int]:
    """``(samples, rate)`` of an example: the WAV file read, or the samples handed over."""
    return read_wav(example.path) if isinstance(example, LabelledAudio) else (example.samples, example.rate)


def resolve_sample_rate(config: FeatureConfig, examples: Sequence[Example]) -> FeatureConfig:
    """``config`` with ``sample_rate`` set: as given, or the most common rate of the files (ties: the highest)."""
    if config.sample_rate is not None:
        return config
    rates = Counter(_header_rate(example.path) if isinstance(example, LabelledAudio) else example.rate
                    for example in examples)
    rate = max(rates, key=lambda value: (rates[value], value))
    return replace(config, sample_rate=rate)


def _header_rate(path: os.PathLike[str]) -> int:
    return read_wav(path)[1]


def check_training_labels(examples: Sequence[Example], name: str) -> list[str]:
    """The sorted class labels of the training files; at least two classes."""
    if not examples:
        raise ValueError(f"{name}: holds no WAV files; expected labelled recordings")
    counts = Counter(example.label for example in examples)
    if len(counts) < 2:
        (label,) = counts
        raise ValueError(f"{name}: every one of the {len(examples)} recordings has the label {label!r}; expected at "
                         "least 2 classes")
    return sorted(counts)


def extract_frames(examples: Sequence[Example], extractor: FeatureExtractor, labels: Sequence[str] | None
                   ) -> FrameSet:
    """The frames of every file (not normalised); with ``labels``, a label the model does not know is an error."""
    label_ids = {label: index for index, label in enumerate(labels or [])}
    result = FrameSet([], [], [])
    for example in examples:
        if labels is not None and example.label not in label_ids:
            known = ", ".join(map(repr, labels))
            raise ValueError(f"{where_of(example)}: label {example.label!r} was not seen in the training data; the "
                             f"model knows {known}")
        result.frames.append(extractor(*samples_of(example)))
        result.labels.append(label_ids.get(example.label, 0))
        result.where.append(where_of(example))
    return result


def collate(data: FrameSet, indices: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
    """``(frames (B, T, F) zero-padded, lengths (B,), labels (B,))`` of the examples ``indices``."""
    frames = [data.frames[i] for i in indices]
    lengths = torch.tensor([len(item) for item in frames], dtype=torch.long)
    labels = torch.tensor([data.labels[i] for i in indices], dtype=torch.long)
    return pad_sequence(frames, batch_first=True), lengths, labels


def training_batches(data: FrameSet, batch_size: int, seed: int):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(frames) for frames in data.frames], batch_size, seed,
                           lambda indices: collate(data, indices))


def evaluation_batches(data: FrameSet, batch_size: int) -> Iterator[tuple[list[int], tuple]]:
    """``(indices, batch)`` in length order (little padding), every example once."""
    return length_ordered_batches([len(frames) for frames in data.frames], batch_size,
                                  lambda indices: collate(data, indices))
