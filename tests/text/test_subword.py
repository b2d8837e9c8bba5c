"""Subword segmenters: trained on given texts only, exact detokenisation, unseen words spelled by pieces, JSON
round trip, and one-line errors for bad settings and files."""

from __future__ import annotations

import json

import pytest

from rnnkit.text.subword import MARK, SubwordTokenizer

TEXTS = ["the cat sat on the mat", "the cats sat on the mats", "a dog sat", "dogs and cats", "او کیست؟",
         "من اینجا هستم"]


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_pieces_detokenise_exactly_and_spell_unseen_words(kind, tmp_path):
    tokenizer = SubwordTokenizer.train(TEXTS, kind, 60)
    for text in [*TEXTS, "the mat sat on a dog"]:
        pieces = tokenizer.tokenize(text)
        assert pieces[0].startswith(MARK) and tokenizer.detokenize(pieces) == text
    unseen = tokenizer.tokenize("catsdog")  # never seen as a word: pieces, not <unk>
    assert "<unk>" not in unseen and tokenizer.detokenize(unseen) == "catsdog"
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["kind"] == kind
    again = SubwordTokenizer.load(path)
    assert again.tokenize("the dogs sat") == tokenizer.tokenize("the dogs sat")


def test_lower_case_and_the_size_is_respected():
    tokenizer = SubwordTokenizer.train(TEXTS, "bpe", 40, lower=True)
    assert tokenizer.detokenize(tokenizer.tokenize("The CAT")) == "the cat"
    assert tokenizer._tokenizer.get_vocab_size() <= 40


def test_bad_settings_and_files_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="tokenizer: got 'wordpiece'; expected one of 'word', 'bpe', 'unigram'"):
        SubwordTokenizer.train(TEXTS, "wordpiece", 100)
    with pytest.raises(ValueError, match="vocab_size: got 5"):
        SubwordTokenizer.train(TEXTS, "bpe", 5)
    bad = tmp_path / "t.json"
    bad.write_text('{"format": "rnnkit.vocab"}', encoding="utf-8")
    with pytest.raises(ValueError, match="not an rnnkit subword tokenizer"):
        SubwordTokenizer.load(bad)
    with pytest.raises(FileNotFoundError):
        SubwordTokenizer.load(tmp_path / "none.json")
