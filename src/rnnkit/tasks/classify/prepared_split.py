"""The settings and evaluation splits of a classifier run whose ``--data`` is a prepared directory."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...data.shards import is_prepared
from ..common import Encoded
from ..text_data import TextDataConfig, encode_examples, read_examples
from .prepare import SETTING_NAMES
from .prepared import PreparedTexts

__all__ = ["prepared_dir", "prepared_split", "prepared_text_settings"]


def prepared_dir(data: Any) -> Any:
    """The prepared directory ``data`` names (a path, or a list of one path as the command line gives), else None."""
    if isinstance(data, list | tuple) and len(data) == 1:
        data = data[0]
    return data if is_prepared(data) else None


def prepared_text_settings(text: TextDataConfig, texts: PreparedTexts, resume: bool) -> TextDataConfig:
    """The run's text settings: the prepared directory's; a setting given otherwise (not left at its default)
    is an error naming both."""
    default = TextDataConfig()
    for name in SETTING_NAMES:
        given, saved = getattr(text, name), texts.settings.get(name)
        if not resume and given != getattr(default, name) and given != saved:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {given}: --data {texts.directory} was prepared with {name} {saved!r}; "
                             f"leave {flag} out (the prepared settings are used) or prepare the data again")
    return dataclasses.replace(text, **{name: texts.settings[name] for name in SETTING_NAMES})


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
