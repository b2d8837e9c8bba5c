"""What the translation task's training and prediction sides share: its name, the decoding settings, and the
settings sections of a run (``corpus``, ``model``, ``train``, ``seq2seq``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...models.seq2seq import Seq2SeqConfig
from ...train.config import TrainConfig, setting
from .data import TranslationCorpusConfig

TASK_NAME = "seq2seq"
SCHEDULES = ("constant", "linear", "inverse_sigmoid")


@dataclass(frozen=True)
class Seq2SeqTaskConfig:
    """Teacher forcing while training, and the decoding used to evaluate.

    Attributes:
        teacher_forcing: the probability that a decoder step reads the true previous token (1.0: always).
        teacher_forcing_final: where the schedule ends (scheduled sampling, Bengio et al. 2015).
        teacher_forcing_schedule: ``"constant"`` (``teacher_forcing`` throughout), ``"linear"`` or
            ``"inverse_sigmoid"`` (from ``teacher_forcing`` to ``teacher_forcing_final`` over the run's steps;
            the inverse sigmoid has its midpoint at half the run).
        label_smoothing: label smoothing of the cross-entropy (0 for none).
        beam_size: beam used to evaluate the test set (1: greedy).
        length_penalty: alpha in ``log P / |y|^alpha`` when ranking finished beam hypotheses.
        max_length_ratio: a translation has at most ``floor(ratio * |source|) + max_length_offset`` tokens.
        max_length_offset: see ``max_length_ratio``.
    """

    teacher_forcing: float = setting(1.0, help="probability of feeding the true previous token")
    teacher_forcing_final: float = setting(1.0, help="where a schedule ends")
    teacher_forcing_schedule: str = setting("constant", flag="--scheduled-sampling", choices=SCHEDULES,
                                            help="teacher-forcing schedule from --teacher-forcing to "
                                                 "--teacher-forcing-final")
    label_smoothing: float = setting(0.0, help="label smoothing of the loss")
    beam_size: int = setting(5, flag="--beam", help="beam size for the test set and the run's default (1: greedy)")
    length_penalty: float = setting(1.0, help="alpha of log P / length^alpha in beam search")
    max_length_ratio: float = setting(2.0, help="translations have at most ratio * source length")
    max_length_offset: int = setting(5, help="... + this many tokens")

    def __post_init__(self) -> None:
        for name in ("teacher_forcing", "teacher_forcing_final"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}; expected a probability in [0, 1]")
        if self.teacher_forcing_schedule not in SCHEDULES:
            raise ValueError(f"teacher_forcing_schedule: got {self.teacher_forcing_schedule!r}; expected one of "
                             f"{', '.join(map(repr, SCHEDULES))}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: got {self.label_smoothing!r}; expected a number in [0, 1)")
        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, int) or self.beam_size < 1:
            raise ValueError(f"beam_size: got {self.beam_size!r}; expected a positive integer")
        if not (self.length_penalty >= 0 and self.max_length_ratio >= 0 and self.max_length_offset >= 0):
            raise ValueError(f"length_penalty, max_length_ratio, max_length_offset: got {self.length_penalty!r}, "
                             f"{self.max_length_ratio!r}, {self.max_length_offset!r}; expected numbers >= 0")

    def teacher_forcing_at(self, progress: float) -> float:
        """The teacher-forcing ratio at ``progress`` in [0, 1] of the run."""
        start, end = self.teacher_forcing, self.teacher_forcing_final
        progress = min(max(progress, 0.0), 1.0)
        if self.teacher_forcing_schedule == "linear":
            return start + (end - start) * progress
        if self.teacher_forcing_schedule == "inverse_sigmoid":
            return end + (start - end) / (1.0 + math.exp(10.0 * (progress - 0.5)))
        return start


# the settings dataclasses of a run, one per config.json section (also the CLI's sections)
SETTINGS = {"corpus": TranslationCorpusConfig, "model": Seq2SeqConfig, "train": TrainConfig,
            "seq2seq": Seq2SeqTaskConfig}

__all__ = ["SCHEDULES", "SETTINGS", "TASK_NAME", "Seq2SeqTaskConfig"]
