"""Language models over subword pieces: --tokenizer bpe|unigram (with --level word) learns the pieces from the
training text only, keeps them in the run, scores and generates detokenised text; bad values are one line."""

from __future__ import annotations

import json

import pytest

import rnnkit as rk
from rnnkit.text.subword import MARK
from tests.cli_helpers import assert_user_error, invoke

TINY = ["--embedding-size", "8", "--hidden-size", "8", "--epochs", "1", "--batch-size", "2", "--bptt", "8",
        "--quiet", "--vocab-size", "40", "--level", "word"]
LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 10


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_a_subword_language_model_round_trips(tmp_path, kind):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    test.write_text("the zebra sat\n", encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "lm", "--data", train, "--test", test, "--tokenizer", kind, "--out", out,
                               *TINY)
    assert code == 0, err
    assert "test_ppl" in json.loads(stdout) or "test_loss" in json.loads(stdout)
    assert json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["kind"] == kind
    pieces = json.loads((out / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    assert any(piece.startswith(MARK) for piece in pieces) and "<eos>" in pieces
    predictor = rk.load(out)
    scored = predictor.score("the dog sat")
    assert scored["tokens"][-1] == "<eos>" and predictor.segmenter.detokenize(scored["tokens"][:-1]) == "the dog sat"
    text = predictor.generate("the", length=12, seed=0)
    assert text.startswith("the") and MARK not in text


def test_subword_needs_word_level(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    assert_user_error(invoke("train", "lm", "--data", train, "--tokenizer", "bpe", "--level", "char", "--out",
                             tmp_path / "r"), "tokenizer: got 'bpe' with level 'char'")
    assert_user_error(invoke("train", "lm", "--data", train, "--tokenizer", "sentencepiece", "--out", tmp_path / "r"),
                      "--tokenizer")


def test_probes_read_a_subword_run_with_its_own_pieces(tmp_path):
    from rnnkit.analysis.probes import continuation_logprob

    train = tmp_path / "train.txt"
    train.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code, _, err = invoke("train", "lm", "--data", train, "--tokenizer", "bpe", "--out", out, *TINY)
    assert code == 0, err
    predictor = rk.load(out)
    whole = predictor.score("the zebra sat")  # an unseen word: several pieces
    pieces_of_prefix = len(predictor.segmenter.tokenize("the zebra"))
    assert pieces_of_prefix > len("the zebra".split())
    expected = sum(whole["token_logprobs"][pieces_of_prefix:len(whole["tokens"]) - 1])
    assert continuation_logprob(predictor, "the zebra", "sat") == pytest.approx(expected, abs=1e-6)
