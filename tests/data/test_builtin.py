"""The built-in corpus: big, deterministic, plain text; the splits are contiguous and sized as asked."""

import pytest

from rnnkit.data import builtin_splits, pydoc_corpus


@pytest.fixture(scope="module")
def corpus():
    return pydoc_corpus()


def test_corpus_is_big_deterministic_text(corpus):
    assert isinstance(corpus, str) and len(corpus) > 100_000
    assert corpus == pydoc_corpus()
    assert "\r" not in corpus and corpus.endswith("\n") and not corpus.endswith("\n\n")
    assert "assert" in corpus[:1000]  # topics in sorted order: "assert" comes first


def test_splits_are_contiguous_at_line_boundaries(corpus):
    train, valid, test = builtin_splits(corpus)
    assert train + valid + test == corpus
    assert train.endswith("\n") and valid.endswith("\n")
    assert len(valid) == pytest.approx(0.05 * len(corpus), rel=0.1)
    assert len(test) == pytest.approx(0.05 * len(corpus), rel=0.1)
    assert builtin_splits(corpus) == (train, valid, test)


def test_other_fractions(corpus):
    train, valid, test = builtin_splits(corpus, valid_fraction=0.2, test_fraction=0.0)
    assert test == "" and train + valid == corpus
    assert len(valid) == pytest.approx(0.2 * len(corpus), rel=0.05)


def test_small_text_cuts_whole_lines():
    text = "".join(f"line {index:02d}\n" for index in range(20))  # 20 lines of 8 characters
    train, valid, test = builtin_splits(text, valid_fraction=0.1, test_fraction=0.1)
    assert train + valid + test == text
    assert (train.count("\n"), valid.count("\n"), test.count("\n")) == (16, 2, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(valid_fraction=-0.1), "valid_fraction must be a number in"),
    (dict(test_fraction=1.0), "test_fraction must be a number in"),
    (dict(valid_fraction=0.5, test_fraction=0.5), "must be < 1"),
])
def test_bad_fractions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        builtin_splits("a\nb\nc\n", **kwargs)


def test_too_few_lines():
    with pytest.raises(ValueError, match="part came out empty"):
        builtin_splits("one line only\n")



def test_cuts_go_to_the_nearest_line_start():
    text = ("x" * 9 + "\n") * 10  # line starts every 10 characters
    train, valid, test = builtin_splits(text, valid_fraction=0.14, test_fraction=0.13)  # cuts at 73 and 87
    assert (len(train), len(valid), len(test)) == (70, 20, 10)
