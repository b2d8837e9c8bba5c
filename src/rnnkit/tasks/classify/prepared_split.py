"""The settings and evaluation splits of a classifier run whose ``--data`` is a prepared directory."""

from __future__ import annotations

from typing import Any

from ...data.prepared_records import prepared_dir, prepared_settings
from ..common import Encoded
from ..text_data import TextDataConfig, encode_examples, read_examples
from .prepare import SETTING_NAMES
from .prepared import PreparedTexts

__all__ = ["prepared_dir", "prepared_split", "prepared_text_settings"]


def prepared_text_settings(text: TextDataConfig, texts: PreparedTexts, resume: bool) -> TextDataConfig:
    """The run's text settings: the prepared directory's; a setting given otherwise (not left at its default)
    is an error naming both."""
    return prepared_settings(text, SETTING_NAMES, texts, resume)


def prepared_split(path: Any, flag: str, train: PreparedTexts, text: TextDataConfig) -> PreparedTexts | Encoded:
    """A validation or test split: a prepared directory (same vocabulary and labels as the training one), or
    labelled files read and encoded in memory with the training directory's vocabulary."""
    if prepared_dir(path) is not None:
        path = prepared_dir(path)
        split = PreparedTexts(path)
        if split.vocab != train.vocab or split.label_names != train.label_names:
            raise ValueError(f"{flag} {path}: prepared with another vocabulary or labels than --data "
                             f"{train.directory}; prepare it with --vocab-from {train.directory}")
        return split
    return encode_examples(read_examples(path, text, flag), train.vocab, train.label_names)
