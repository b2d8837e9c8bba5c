"""The --max-length hint: shown for very long training texts with nothing cutting them, never otherwise."""

from __future__ import annotations

import torch

from rnnkit.tasks.common import Encoded
from rnnkit.tasks.text_data import TextDataConfig, long_text_hint


def encoded(lengths: list[int]) -> Encoded:
    return Encoded([torch.zeros(length, dtype=torch.long) for length in lengths], [0] * len(lengths),
                   [f"line {n}" for n in range(len(lengths))])


def test_hint_for_long_documents_says_how_many_fewer_tokens():
    hint = long_text_hint(encoded([1200, 800, 1600, 400]), TextDataConfig())
    assert hint is not None and "--max-length 400" in hint
    assert "longest 1,600" in hint and "2.5x fewer tokens" in hint  # 4000 tokens read, 1600 kept


def test_no_hint_for_short_texts_a_set_max_length_or_a_small_saving():
    assert long_text_hint(encoded([300, 200, 900]), TextDataConfig()) is None  # nothing reaches 1000 tokens
    assert long_text_hint(encoded([1200, 800, 1600]), TextDataConfig(max_length=2000)) is None
    assert long_text_hint(encoded([1000] + [300] * 50), TextDataConfig()) is None  # saves under a quarter
