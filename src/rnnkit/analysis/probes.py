"""Minimal-pair probes: does a language model give the grammatical variant the higher probability?

A probe file holds one pair per line, tab-separated, in one of two forms (blank lines are skipped)::

    the writer of the books<TAB>is<TAB>are[<TAB>group]        prefix, correct and wrong continuation
    the keys are here<TAB>the keys is here[<TAB>group]         good and bad sentence (--format sentence)

With ``format="auto"`` the first line decides: two columns are sentences, three or four are continuations
(a sentence file with a group column needs ``format="sentence"``). A continuation is scored by the
log-probability of its own tokens after the prefix (``prefix + " " + continuation``, the line's end not
counted); a sentence by the model's log P of the whole line (:meth:`LanguageModelPredictor.score`). A pair is
right when the correct side scores higher. A pair with a token outside the model's vocabulary is not scored: it
is counted under ``oov_pairs`` and its words listed, so that an <unk> never decides a pair silently.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.corpus import EOS, tokens_of
from ..data.readers.text import read_lines

FORMATS = ("auto", "continuation", "sentence")


@dataclass(frozen=True)
class MinimalPair:
    """One probe: ``prefix`` (None for sentence pairs), the correct and the wrong side, an optional group."""

    line: int
    prefix: str | None
    correct: str
    wrong: str
    group: str | None = None


def read_minimal_pairs(path: Path, format: str = "auto") -> list[MinimalPair]:
    """The pairs of a probe file; a malformed line is a ValueError naming the file and line."""
    if format not in FORMATS:
        raise ValueError(f"format: got {format!r}; expected one of {', '.join(FORMATS)}")
    pairs = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if format == "auto":
            format = "sentence" if len(columns) == 2 else "continuation"
        expected = (2, 3) if format == "sentence" else (3, 4)
        if len(columns) not in expected or not all(column.strip() for column in columns):
            shape = ("good<TAB>bad[<TAB>group]" if format == "sentence"
                     else "prefix<TAB>correct<TAB>wrong[<TAB>group]")
            found = "no tab" if len(columns) == 1 else f"{len(columns)} columns"
            if len(columns) in expected:
                found += ", one of them empty"
            raise ValueError(f"{path} line {number}: got {found}; expected {shape}")
        if format == "sentence":
            pairs.append(MinimalPair(number, None, columns[0], columns[1], columns[2] if len(columns) == 3 else None))
        else:
            pairs.append(MinimalPair(number, *columns[:3], columns[3] if len(columns) == 4 else None))
    if not pairs:
        raise ValueError(f"{path}: holds no minimal pairs; expected lines like prefix<TAB>correct<TAB>wrong")
    return pairs


def _join(prefix: str, continuation: str) -> str:
    return prefix + continuation if prefix[-1:].isspace() or continuation[:1].isspace() else f"{prefix} {continuation}"


def _content_tokens(text: str, predictor: Any) -> list[str]:
    """The tokens of ``text`` as the model reads them (a subword run's own pieces), without the ``<eos>`` that
    closes each line at word level."""
    segmenter = getattr(predictor, "segmenter", None)
    return [token for token in tokens_of(text, predictor.corpus, segmenter) if token != EOS]


def continuation_logprob(predictor: Any, prefix: str, continuation: str) -> float:
    """log P(continuation | prefix): the continuation's token log-probabilities in the model's score."""
    record = predictor.score(_join(prefix, continuation))
    start = len(_content_tokens(prefix, predictor))
    end = len(_content_tokens(_join(prefix, continuation), predictor))
    return math.fsum(record["token_logprobs"][start:end])


def sentence_logprob(predictor: Any, sentence: str) -> float:
    """log P(sentence), as :meth:`LanguageModelPredictor.score` reports it."""
    return predictor.score(sentence)["logprob"]


def _unknown_words(predictor: Any, pair: MinimalPair) -> list[str]:
    texts = [pair.correct, pair.wrong] + ([pair.prefix] if pair.prefix is not None else [])
    return sorted({token for text in texts for token in _content_tokens(text, predictor)
                   if token not in predictor.vocab})


def run_probes(predictor: Any, pairs: list[MinimalPair]) -> dict[str, Any]:
    """Accuracy overall and per group; OOV pairs are left out of the accuracy and reported.

    Returns ``{"pairs", "scored", "correct", "accuracy", "oov_pairs", "oov_lines", "oov_words", "groups"}``
    (accuracy None when nothing could be scored; ``oov_words`` counts each word once per pair it spoiled).
    """
    totals: dict[str | None, Counter] = {}
    oov_words: Counter = Counter()
    oov_lines: list[int] = []
    for pair in pairs:
        counts = totals.setdefault(pair.group, Counter())
        counts["pairs"] += 1
        unknown = _unknown_words(predictor, pair)
        if unknown:
            counts["oov_pairs"] += 1
            oov_words.update(unknown)
            oov_lines.append(pair.line)
            continue
        if pair.prefix is None:
            good, bad = sentence_logprob(predictor, pair.correct), sentence_logprob(predictor, pair.wrong)
        else:
            good = continuation_logprob(predictor, pair.prefix, pair.correct)
            bad = continuation_logprob(predictor, pair.prefix, pair.wrong)
        counts["scored"] += 1
        counts["correct"] += good > bad
    overall = sum(totals.values(), Counter())
    report = _summary(overall) | {"oov_lines": oov_lines, "oov_words": dict(oov_words.most_common())}
    groups = {group: _summary(counts) for group, counts in totals.items() if group is not None}
    if groups:
        report["groups"] = groups
    return report


def _summary(counts: Counter) -> dict[str, Any]:
    scored = counts["scored"]
    return {"pairs": counts["pairs"], "scored": scored, "correct": counts["correct"],
            "accuracy": counts["correct"] / scored if scored else None, "oov_pairs": counts["oov_pairs"]}
