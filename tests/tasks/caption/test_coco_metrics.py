"""CIDEr-D and METEOR of captions through pycocoevalcap, on cases worked out by hand."""

from __future__ import annotations

import importlib
import math
import shutil

import pytest

from rnnkit.tasks.caption import metrics
from rnnkit.tasks.caption.metrics import caption_scores, cider_scores, meteor_scores

pytest.importorskip("pycocoevalcap")


def test_cider_d_of_exact_captions_is_ten_halves_per_matched_order():
    # Two images with disjoint words: every n-gram has document frequency 1, so each weight is log(2) and each
    # order with n-grams has cosine 1; "a b" has unigrams and a bigram only: (1 + 1 + 0 + 0) / 4 * 10 = 5.
    scores = cider_scores(["a b .", "c d"], [["a b"], ["c d ."]])
    assert scores == {"cider": pytest.approx(500.0)}


def test_cider_d_clips_and_penalises_a_short_caption_by_hand():
    # Image 1: "a" against "a b": unigram cosine log2^2 / (log2 * sqrt(2) log2) = 1/sqrt(2); no bigram; the
    # toolkit's length is the bigram count, 0 vs 1: penalty exp(-1 / (2 * 6^2)). Image 2 as above: 5.
    first = 10 * (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4
    assert cider_scores(["a", "c d"], [["a b"], ["c d"]], prefix="test_") == {
        "test_cider": pytest.approx(100 * (first + 5) / 2)}


def test_caption_scores_hold_bleu_and_cider_and_check_their_inputs():
    scores = caption_scores(["a b", "c d"], [["a b"], ["c d"]])
    assert set(scores) == {"bleu1", "bleu2", "bleu3", "bleu4", "cider"}
    with pytest.raises(ValueError, match="got 1 captions for 2 images"):
        cider_scores(["a b"], [["a b"], ["c d"]])
    with pytest.raises(ValueError, match="an image has no reference caption"):
        cider_scores(["a b", "c"], [["a b"], []])


def test_a_missing_library_or_java_is_a_one_line_error(monkeypatch):
    real = importlib.import_module

    def no_coco(name, *args):
        if name.startswith("pycocoevalcap"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(metrics.importlib, "import_module", no_coco)
    with pytest.raises(ValueError, match=r"needs pycocoevalcap: pip install 'rnnkit\[caption-metrics\]'"):
        cider_scores(["a"], [["a"]])
    monkeypatch.setattr(metrics.importlib, "import_module", real)
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="METEOR: no 'java' on the PATH"):
        meteor_scores(["a"], [["a"]])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR's jar needs java")
def test_meteor_is_100_for_exact_captions_and_less_for_others():
    exact = meteor_scores(["a dog runs on the grass", "a man rides a bike"],
                          [["a dog runs on the grass", "a brown dog"], ["a man rides a bike"]])
    assert exact == {"meteor": pytest.approx(100.0)}
    partial = caption_scores(["a dog sits", "a man rides a bike"],
                             [["a dog runs on the grass"], ["a man rides a bike"]], meteor=True)
    assert 0 < partial["meteor"] < 100 and "cider" in partial
