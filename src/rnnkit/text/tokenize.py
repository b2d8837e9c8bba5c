"""Tokenizers: turn a string into a list of tokens and back.

Two tokenizers cover the course's needs:

- ``CharTokenizer`` splits a string into its characters (every character, spaces and newlines included), so
  ``detokenize(tokenize(text)) == text`` for any text.
- ``WordTokenizer`` splits a string into words and punctuation marks with the pattern ``\\w+|[^\\w\\s]``:
  a word is a run of letters, digits or underscores in any script (Latin, Persian, ...), and every other
  non-space character stands alone. Whitespace only separates tokens and is dropped. Python's ``\\w`` does
  not match combining marks (Arabic vowel signs, Devanagari matras) nor the zero-width (non-)joiner that
  Persian writes inside words (``کتاب`` + ZWNJ + ``ها``), so those glue to the word around them instead of
  becoming tokens of their own.

Both tokenizers are callable: ``tokenizer(text)`` is ``tokenizer.tokenize(text)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["CharTokenizer", "WordTokenizer"]

# A word (letters, digits, underscore in any script), or one mark that is neither a word character nor space.
_WORD_PATTERN = re.compile(r"\w+|[^\w\s]")

_JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner


def _is_glue(piece: str) -> bool:
    """True for a one-character match that belongs inside a word: a combining mark or a joiner."""
    return len(piece) == 1 and (piece in _JOINERS or unicodedata.category(piece).startswith("M"))


def _is_word_start(piece: str) -> bool:
    """True if ``piece`` starts with a word character (letter, digit, underscore) or a glue character."""
    return piece[0] == "_" or piece[0].isalnum() or _is_glue(piece[0])


def _split_words(text: str) -> list[str]:
    if text.isascii():  # the fast path: no combining marks or joiners possible
        return _WORD_PATTERN.findall(text)
    tokens: list[str] = []
    previous_end, previous_is_glue = -1, False
    for match in _WORD_PATTERN.finditer(text):
        piece = match.group()
        is_glue = _is_glue(piece)
        adjacent = bool(tokens) and match.start() == previous_end
        # A mark or joiner attaches to what precedes it; a word attaches to a mark or joiner ending a word.
        continues_word = previous_is_glue and _is_word_start(tokens[-1]) and _is_word_start(piece)
        if adjacent and (is_glue or continues_word):
            tokens[-1] += piece
        else:
            tokens.append(piece)
        previous_end, previous_is_glue = match.end(), is_glue
    return tokens


# Punctuation that, when detokenizing, attaches to the token before it ("shining ," -> "shining,").
_CLOSING_PUNCTUATION = frozenset(".,;:!?)]}%\u060c\u061b\u061f\u06d4")  # includes Arabic-script comma, ; ? .


def _check_text(text: object, owner: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{owner}.tokenize: text must be a str; got {type(text).__name__}")
    return text


class CharTokenizer:
    """Split text into single characters.

    Example:
        >>> CharTokenizer().tokenize("hi!")
        ['h', 'i', '!']
    """

    def tokenize(self, text: str) -> list[str]:
        """Return the characters of ``text``, whitespace included.

        Args:
            text: The string to split.

        Returns:
            One token per character.

        Raises:
            ValueError: If ``text`` is not a string.
        """
        return list(_check_text(text, "CharTokenizer"))

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Join character tokens back into a string (the exact inverse of :meth:`tokenize`).

        Args:
            tokens: Character tokens.

        Returns:
            The tokens concatenated with no separator.
        """
        return "".join(tokens)

    def __call__(self, text: str) -> list[str]:
        """Same as :meth:`tokenize`."""
        return self.tokenize(text)

    def __repr__(self) -> str:
        return "CharTokenizer()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer)

    def __hash__(self) -> int:
        return hash(CharTokenizer)


class WordTokenizer:
    """Split text into words and punctuation marks.

    Args:
        lower: Lower-case the text before splitting (``str.lower``, so it works for any script).

    Example:
        >>> WordTokenizer(lower=True).tokenize("The sun is shining, isn't it?")
        ['the', 'sun', 'is', 'shining', ',', 'isn', "'", 't', 'it', '?']
    """

    def __init__(self, lower: bool = False) -> None:
        self.lower = bool(lower)

    def tokenize(self, text: str) -> list[str]:
        """Return the words and punctuation marks of ``text``; whitespace is dropped.

        Args:
            text: The string to split.

        Returns:
            Tokens in reading order.

        Raises:
            ValueError: If ``text`` is not a string.
        """
        text = _check_text(text, "WordTokenizer")
        if self.lower:
            text = text.lower()
        return _split_words(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Join tokens with single spaces, with no space before closing punctuation.

        This is a readable approximation, not an exact inverse: the original spacing (and case, when
        ``lower=True``) is lost. Closing punctuation is ``. , ; : ! ? ) ] } %`` and the Arabic-script
        comma, semicolon, question mark and full stop.

        Args:
            tokens: Word and punctuation tokens.

        Returns:
            The tokens joined into one line of text.
        """
        pieces: list[str] = []
        for token in tokens:
            if pieces and token not in _CLOSING_PUNCTUATION:
                pieces.append(" ")
            pieces.append(token)
        return "".join(pieces)

    def __call__(self, text: str) -> list[str]:
        """Same as :meth:`tokenize`."""
        return self.tokenize(text)

    def __repr__(self) -> str:
        return f"WordTokenizer(lower={self.lower})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordTokenizer) and other.lower == self.lower

    def __hash__(self) -> int:
        return hash((WordTokenizer, self.lower))
