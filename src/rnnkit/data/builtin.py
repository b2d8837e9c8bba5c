"""The built-in demo corpus: CPython's own documentation text, so a first run needs no download.

Every CPython ships ``pydoc_data.topics.topics``, the text ``help("assert")`` or ``help("FORMATTING")`` prints:
English reference prose about the language with embedded grammar and code. Joined in sorted topic order it
makes a character-level language-model corpus of a useful size. On Python 3.11.7 it holds 79 topics,
465,048 characters and 11,452 lines (466,195 bytes in UTF-8); other Python versions give somewhat different text,
so results on it are comparable only within one Python version. The text is under the PSF licence, as Python is.
"""

from __future__ import annotations

__all__ = ["builtin_splits", "pydoc_corpus"]


def pydoc_corpus() -> str:
    """The documentation topics of this Python as one text, the same on every call.

    Returns:
        Each topic's text (line endings normalised to ``"\\n"``, leading and trailing newlines removed) in sorted
        topic order, separated by one blank line, ending with a newline.
    """
    from pydoc_data.topics import topics  # 0.5 MB of strings: imported only when asked for

    pieces = []
    for name in sorted(topics):
        text = topics[name].replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if text.strip():
            pieces.append(text)
    return "\n\n".join(pieces) + "\n"


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"builtin_splits: {name} must be a number in [0, 1); got {value!r}")
    return float(value)


def _nearest_line_start(text: str, position: int) -> int:
    """The line start (0, a position just after a newline, or ``len(text)``) nearest ``position``; ties go back."""
    if position <= 0:
        return 0
    before = text.rfind("\n", 0, position) + 1  # the last line start <= position
    newline = text.find("\n", position - 1)
    after = len(text) if newline < 0 else newline + 1
    return before if position - before <= after - position else after


def builtin_splits(
    text: str, valid_fraction: float = 0.05, test_fraction: float = 0.05
) -> tuple[str, str, str]:
    """Split a text into train, validation and test parts: contiguous character ranges cut at line boundaries.

    The train part comes first, then validation, then test. Each cut is moved to the nearest line start, so
    no line is split and ``train + valid + test == text`` exactly; the sizes are the fractions of the characters
    up to the length of a line.

    Args:
        text: The corpus, e.g. :func:`pydoc_corpus`.
        valid_fraction: Share of the characters for validation, in ``[0, 1)``.
        test_fraction: Share of the characters for test, in ``[0, 1)``.

    Returns:
        ``(train, valid, test)``.

    Raises:
        ValueError: If ``text`` is not a non-empty str, a fraction is outside ``[0, 1)``, the fractions sum to 1
            or more, or a part asked for (fraction > 0, or train) comes out empty because the text has too few lines.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"builtin_splits: text must be a non-empty str; got {type(text).__name__} of length "
                         f"{len(text) if isinstance(text, str) else 'n/a'}")
    valid_fraction = _check_fraction(valid_fraction, "valid_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(f"builtin_splits: valid_fraction + test_fraction must be < 1 (train needs a share); got "
                         f"{valid_fraction} + {test_fraction}")
    size = len(text)
    train_end = _nearest_line_start(text, round(size * (1.0 - valid_fraction - test_fraction)))
    valid_end = _nearest_line_start(text, max(train_end, round(size * (1.0 - test_fraction))))
    parts = (text[:train_end], text[train_end:valid_end], text[valid_end:])
    names, fractions = ("train", "valid", "test"), (1.0, valid_fraction, test_fraction)
    for name, fraction, part in zip(names, fractions, parts, strict=True):
        if fraction > 0 and not part:
            lines = text.count("\n") + (not text.endswith("\n"))
            raise ValueError(f"builtin_splits: the {name} part came out empty: the text has {lines} line(s), too few "
                             f"to cut at line boundaries with valid_fraction={valid_fraction}, "
                             f"test_fraction={test_fraction}")
    return parts
