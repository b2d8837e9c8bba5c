"""The translation task from Python: in-memory sentence pairs, their checks, and resuming such a run."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

import rnnkit as rk
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.tasks.seq2seq import TranslationCorpusConfig, train_seq2seq
from rnnkit.tasks.seq2seq.data import pairs_in_memory
from tests.contract.tiny_seq2seq import pairs, tiny


def test_in_memory_pairs_train_record_in_memory_and_resume(tmp_path):
    keywords = tiny(tmp_path, in_memory=True)
    keywords["train"] = dataclasses.replace(keywords["train"], epochs=1)
    results = train_seq2seq(tmp_path / "run", **keywords)
    assert {"valid_loss", "test_bleu", "test_chrf"} <= set(results)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"] == {"train": IN_MEMORY, "valid": IN_MEMORY, "test": IN_MEMORY}
    with pytest.raises(ValueError, match="trained on in-memory data; pass the same data again"):
        train_seq2seq(tmp_path / "run", resume=True, epochs=2)
    resumed = train_seq2seq(tmp_path / "run", data=keywords["data"], valid=keywords["valid"], resume=True, epochs=2)
    assert resumed["epoch"] == 2
    predictor = rk.load(tmp_path / "run")
    scores = predictor.evaluate(pairs(4, 5), beam_size=1)
    assert scores["sentences"] == 4
    # an error names the sentence as the caller gave it: an item in memory, a file line, a text argument
    long_pair = ("I see a big cat, I see a dog", "x")  # 10 tokens; the run's max_length is 8
    with pytest.raises(ValueError, match="^data item 2: 10 tokens; the model takes at most 8"):
        predictor.evaluate([pairs(1, 5)[0], long_pair], beam_size=1)
    tsv = tmp_path / "long.tsv"
    tsv.write_text("\t".join(long_pair) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(str(tsv))} line 1: 10 tokens"):
        predictor.evaluate(tsv, beam_size=1)
    with pytest.raises(ValueError, match="^text 2: 10 tokens"):
        predictor.translate(["A cat.", long_pair[0]], beam_size=1)


def test_in_memory_pairs_are_checked():
    corpus = TranslationCorpusConfig()
    with pytest.raises(ValueError, match=r"^data item 2: expected a \(source, target\) pair of strings; got 'oops'"):
        pairs_in_memory([("a", "b"), "oops"], corpus, "data")
    with pytest.raises(ValueError, match=r"^valid item 1: expected a \(source, target\) pair"):
        pairs_in_memory([("a", "b", "c")], corpus, "valid")
    with pytest.raises(ValueError, match="^data item 2: empty target sentence"):
        pairs_in_memory([("a", "b"), ("c", " ")], corpus, "data")
    assert len(pairs_in_memory([("a", "b"), ("c", " ")], TranslationCorpusConfig(skip_empty=True), "data")) == 1
    with pytest.raises(ValueError, match="^data: got int; expected a path"):
        pairs_in_memory(3, corpus, "data")
    reversed_pairs = pairs_in_memory([("a", "b")], TranslationCorpusConfig(reverse=True), "data")
    assert (reversed_pairs[0].source, reversed_pairs[0].target) == ("b", "a")

