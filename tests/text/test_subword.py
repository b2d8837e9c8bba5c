"""Subword segmenters: trained on given texts only, exact detokenisation, unseen words spelled by pieces, JSON
round trip, and one-line errors for bad settings and files."""

from __future__ import annotations

import json
import random

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


def test_bpe_dropout_zero_is_the_library_segmentation():
    tokenizer = SubwordTokenizer.train(TEXTS, "bpe", 60)
    rng = random.Random(0)
    for text in [*TEXTS, "the mat sat on a dog", "catsdog", "Zebra xylophone!", "  two  spaces ", ""]:
        assert tokenizer.sample(text, 0.0, rng) == tokenizer.tokenize(text)


def test_bpe_dropout_samples_known_pieces_of_the_same_text_reproducibly():
    tokenizer = SubwordTokenizer.train(TEXTS * 3, "bpe", 60)
    known = set(tokenizer.pieces())
    text = "the cats sat on the mats"
    samples = [tokenizer.sample(text, 0.3, random.Random(seed)) for seed in range(40)]
    assert all(tokenizer.detokenize(pieces) == text for pieces in samples)
    assert all(set(pieces) <= known for pieces in samples)
    assert len({tuple(pieces) for pieces in samples}) > 5  # different segmentations of one text
    plain = len(tokenizer.tokenize(text))
    assert sum(map(len, samples)) / len(samples) > plain  # skipped merges leave more, smaller pieces
    assert tokenizer.sample(text, 0.3, random.Random(7)) == tokenizer.sample(text, 0.3, random.Random(7))
    every_merge_skipped = tokenizer.sample(text, 0.999999, random.Random(0))
    assert every_merge_skipped == [character if character != " " else MARK for character in MARK + text]


def test_bpe_dropout_needs_bpe_and_a_probability():
    unigram = SubwordTokenizer.train(TEXTS, "unigram", 60)
    with pytest.raises(ValueError, match="subword dropout: got a unigram segmenter; expected bpe"):
        unigram.sample("the cat", 0.1, random.Random(0))
    bpe = SubwordTokenizer.train(TEXTS, "bpe", 60)
    for bad in (1.0, -0.1, "0.1"):
        with pytest.raises(ValueError, match=r"subword dropout: got .*; expected a probability in \[0, 1\)"):
            bpe.sample("the cat", bad, random.Random(0))
