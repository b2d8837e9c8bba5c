"""Entity-level (span) precision, recall and F1 of BIO-style tag sequences, as the CoNLL ``conlleval`` script.

A tag is ``O`` or ``P-TYPE`` with a prefix ``P`` in B (begin), I (inside), E (end), S (single): IOB1, IOB2
(BIO) and IOBES all read the same way. Chunks follow conlleval's rules (and seqeval's default mode, which
ports them), so an ill-formed sequence is read as conlleval reads it: ``I-X`` after ``O`` or after another
type starts a chunk, and a type change ends one. Each sentence ends its open chunk. With ``G`` the gold spans
and ``P`` the predicted ones, as sets of ``(sentence, type, start, end)``::

    precision = |G ∩ P| / |P|        recall = |G ∩ P| / |G|        F1 = 2 precision recall / (precision + recall)

(0 where a denominator is 0). Per type the same with the spans of that type; ``support`` is ``|G|`` of the type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["PREFIXES", "is_chunk_tagset", "span_scores", "spans"]

PREFIXES = ("B", "I", "E", "S")


def is_chunk_tagset(tags: Sequence[str]) -> bool:
    """True if every tag is ``O`` or ``P-TYPE`` (P in B, I, E, S; TYPE not empty) and one at least is not ``O``."""
    chunk_tags = [tag for tag in tags if tag != "O"]
    return bool(chunk_tags) and all(len(tag) > 2 and tag[0] in PREFIXES and tag[1] == "-" for tag in chunk_tags)


def _split(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``."""
    prefix, _, kind = tag.partition("-")
    return (prefix, kind) if kind else (tag, "")


def _ends(previous: str, previous_type: str, prefix: str, kind: str) -> bool:
    """Does a chunk end between the previous tag and this one? (conlleval's endOfChunk)"""
    if previous in ("E", "S"):
        return True
    if previous in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return previous != "O" and previous_type != kind


def _starts(previous: str, previous_type: str, prefix: str, kind: str) -> bool:
    """Does a chunk start at this tag? (conlleval's startOfChunk)"""
    if prefix in ("B", "S"):
        return True
    if previous in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix != "O" and previous_type != kind


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The chunks ``(type, start, end)`` of one sentence's tags, ``end`` inclusive, in order.

    >>> spans(["B-PER", "I-PER", "O", "B-LOC"])
    [('PER', 0, 1), ('LOC', 3, 3)]
    """
    found: list[tuple[str, int, int]] = []
    previous, previous_type, start = "O", "", 0
    for index, tag in enumerate([*tags, "O"]):  # the trailing O closes the last chunk
        prefix, kind = _split(tag)
        if _ends(previous, previous_type, prefix, kind):
            found.append((previous_type, start, index - 1))
        if _starts(previous, previous_type, prefix, kind):
            start = index
        previous, previous_type = prefix, kind
    return found


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def span_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Micro precision, recall and F1 over all chunks, and the same per type.

    Args:
        gold: the true tags, one sequence per sentence.
        predicted: the predicted tags, one sequence per sentence, each as long as its gold one.

    Returns:
        ``{"precision", "recall", "f1", "gold_spans", "predicted_spans", "correct_spans",
        "per_type": {type: {"precision", "recall", "f1", "support"}}}`` (types sorted).

    Raises:
        ValueError: If the sentence counts or a sentence's lengths differ.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"span_scores: got {len(gold)} gold and {len(predicted)} predicted sentences; expected "
                         "as many")
    gold_counts: Counter[str] = Counter()
    predicted_counts: Counter[str] = Counter()
    correct_counts: Counter[str] = Counter()
    for number, (truth, guess) in enumerate(zip(gold, predicted, strict=True)):
        if len(truth) != len(guess):
            raise ValueError(f"span_scores: sentence {number} has {len(truth)} gold and {len(guess)} predicted "
                             "tags; expected as many")
        truth_spans, guess_spans = set(spans(truth)), set(spans(guess))
        gold_counts.update(kind for kind, _, _ in truth_spans)
        predicted_counts.update(kind for kind, _, _ in guess_spans)
        correct_counts.update(kind for kind, _, _ in truth_spans & guess_spans)
    correct, guessed, true = (sum(counts.values()) for counts in (correct_counts, predicted_counts, gold_counts))
    per_type = {kind: {**_prf(correct_counts[kind], predicted_counts[kind], gold_counts[kind]),
                       "support": gold_counts[kind]}
                for kind in sorted(set(gold_counts) | set(predicted_counts))}
    return {**_prf(correct, guessed, true), "gold_spans": true, "predicted_spans": guessed,
            "correct_spans": correct, "per_type": per_type}
