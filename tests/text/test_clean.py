"""HTML tag stripping before tokenizing: tags become spaces, other angle brackets stay text."""

from __future__ import annotations

import pytest

from rnnkit.text import WordTokenizer
from rnnkit.text.clean import strip_html_tags


def test_line_breaks_and_tags_become_spaces():
    assert strip_html_tags("Great.<br /><br />See it") == "Great.  See it"
    assert strip_html_tags("a<br>b<BR/>c<br\t/>d") == "a b c d"
    assert strip_html_tags("<i>Vertigo</i> and <SPOILER>it ends</SPOILER>") == " Vertigo  and  it ends "
    assert strip_html_tags('<a href="x.html">link</a>') == " link "


def test_angle_brackets_that_are_not_tags_stay():
    for text in ("I <3 it", "a < b > c", "rated <=8 by me", "=> yes", "<<< sigh", "x<1>"):
        assert strip_html_tags(text) == text


def test_no_markup_reaches_the_tokens():
    tokens = WordTokenizer(lower=True).tokenize(strip_html_tags("Fine film.<br /><br />10/10"))
    assert tokens == ["fine", "film", ".", "10", "/", "10"]


def test_only_strings():
    with pytest.raises(ValueError, match="must be a str; got bytes"):
        strip_html_tags(b"<br />")
