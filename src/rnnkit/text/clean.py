"""Text clean-up before tokenizing: markup that is layout, not words.

Web reviews (IMDB's ``aclImdb``) keep the site's line breaks as ``<br />``; a word tokenizer would turn each into
four tokens (``<``, ``br``, ``/``, ``>``) that carry no meaning and fill the length budget. :func:`strip_html_tags`
replaces every tag by a space and leaves other uses of ``<`` and ``>`` alone (``<3``, ``a < b``, ``=>``).
"""

from __future__ import annotations

import re

__all__ = ["strip_html_tags"]

# <name ...>, </name>, <name/>: a letter right after "<" (or "</"), no "<" or ">" inside
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def strip_html_tags(text: str) -> str:
    """``text`` with each HTML tag replaced by one space: ``"Great.<br /><br />See it"`` -> ``"Great.  See it"``.

    Raises:
        ValueError: If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"strip_html_tags: text must be a str; got {type(text).__name__}")
    return _TAG.sub(" ", text)
