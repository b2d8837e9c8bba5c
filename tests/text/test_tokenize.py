"""Tokenizers: words and punctuation, case, scripts other than Latin, and character round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.text import CharTokenizer, WordTokenizer


def test_word_tokenizer_splits_punctuation_from_words():
    tokens = WordTokenizer().tokenize("The sun is shining, the weather is sweet.")
    assert tokens == ["The", "sun", "is", "shining", ",", "the", "weather", "is", "sweet", "."]


def test_word_tokenizer_lower():
    assert WordTokenizer(lower=True)("The SUN, Ünïcode") == ["the", "sun", ",", "ünïcode"]
    assert WordTokenizer()("The SUN") == ["The", "SUN"]


def test_word_tokenizer_whitespace_and_empty():
    assert WordTokenizer()("  a\tb\n\nc  ") == ["a", "b", "c"]
    assert WordTokenizer()("") == []
    assert WordTokenizer()("x_1 42!?") == ["x_1", "42", "!", "?"]


def test_persian_sentence():
    assert WordTokenizer()("من به خانه رفتم.") == ["من", "به", "خانه", "رفتم", "."]


def test_zero_width_non_joiner_stays_inside_persian_words():
    # "می‌خواهم کتاب‌ها": both words hold a ZWNJ (U+200C) that Python's \w does not match.
    text = "می\u200cخواهم کتاب\u200cها"
    assert WordTokenizer()(text) == ["می\u200cخواهم", "کتاب\u200cها"]


def test_combining_marks_stay_inside_words():
    assert WordTokenizer()("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # Devanagari vowel signs and virama
    assert WordTokenizer()("كَتَبَ،") == ["كَتَبَ", "،"]  # Arabic vowel marks; Arabic comma stays apart
    assert WordTokenizer()("cafe\u0301!") == ["cafe\u0301", "!"]  # decomposed e-acute


def test_word_detokenize():
    tokenizer = WordTokenizer()
    tokens = tokenizer("The sun is shining, the weather is sweet.")
    assert tokenizer.detokenize(tokens) == "The sun is shining, the weather is sweet."
    assert tokenizer.detokenize([]) == ""


def test_char_tokenizer():
    assert CharTokenizer().tokenize("hi, yo\n") == ["h", "i", ",", " ", "y", "o", "\n"]
    assert CharTokenizer()("") == []


@given(st.text())
def test_char_tokenizer_round_trip(text):
    tokenizer = CharTokenizer()
    assert tokenizer.detokenize(tokenizer(text)) == text


@given(st.text())
def test_word_tokens_hold_no_whitespace_and_cover_all_other_characters(text):
    tokens = WordTokenizer()(text)
    assert all(token and not any(character.isspace() for character in token) for token in tokens)
    assert "".join(tokens) == "".join(character for character in text if not character.isspace())


@pytest.mark.parametrize("tokenizer", [CharTokenizer(), WordTokenizer()])
def test_non_string_input_is_an_error(tokenizer):
    with pytest.raises(ValueError, match="must be a str"):
        tokenizer.tokenize(["not", "a", "string"])


def test_equality_and_repr():
    assert WordTokenizer(lower=True) == WordTokenizer(lower=True) != WordTokenizer()
    assert CharTokenizer() == CharTokenizer()
    assert repr(WordTokenizer(lower=True)) == "WordTokenizer(lower=True)"
