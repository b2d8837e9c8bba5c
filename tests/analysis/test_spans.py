"""Span (entity-level) precision, recall and F1: worked examples by hand, conlleval's reading of ill-formed
sequences, and agreement with seqeval (a port of conlleval) on many random sequences when it is installed."""

from __future__ import annotations

import random

import pytest

from rnnkit.analysis.spans import is_chunk_tagset, span_scores, spans


def test_spans_of_bio_iobes_and_iob1():
    assert spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    assert spans(["B-PER", "B-PER", "I-PER"]) == [("PER", 0, 0), ("PER", 1, 2)]  # B starts a new chunk
    assert spans(["S-LOC", "B-ORG", "I-ORG", "E-ORG", "O", "S-PER"]) == [("LOC", 0, 0), ("ORG", 1, 3),
                                                                         ("PER", 5, 5)]
    assert spans(["I-ORG", "I-ORG", "O", "I-PER"]) == [("ORG", 0, 1), ("PER", 3, 3)]  # IOB1: I may begin
    assert spans(["O", "O"]) == [] and spans([]) == []


def test_ill_formed_sequences_read_as_conlleval_reads_them():
    assert spans(["O", "I-PER", "I-PER"]) == [("PER", 1, 2)]  # I after O starts a chunk
    assert spans(["B-PER", "I-LOC"]) == [("PER", 0, 0), ("LOC", 1, 1)]  # a type change ends and starts one
    assert spans(["B-PER", "E-PER", "I-PER"]) == [("PER", 0, 1), ("PER", 2, 2)]  # E ends a chunk


def test_worked_example_by_hand():
    # gold:      [PER John Smith] visited [LOC New York] and [LOC Paris]        3 spans
    # predicted: [PER John] Smith visited [LOC New York] and [ORG Paris]        3 spans, 1 correct (New York)
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-LOC"]]
    guess = [["B-PER", "O", "O", "B-LOC", "I-LOC", "O", "B-ORG"]]
    scores = span_scores(gold, guess)
    assert (scores["gold_spans"], scores["predicted_spans"], scores["correct_spans"]) == (3, 3, 1)
    assert scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(1 / 3)
    assert scores["per_type"]["LOC"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert scores["per_type"]["PER"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})
    assert scores["per_type"]["ORG"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0})


def test_worked_example_over_sentences_precision_differs_from_recall():
    # sentence 1: gold PER(0,0) LOC(2,2); predicted PER(0,0)              -> 1 correct
    # sentence 2: gold none; predicted MISC(1,1)                          -> a false positive
    # sentence 3: gold ORG(0,1); predicted ORG(0,1)                      -> 1 correct
    # gold 3 spans, predicted 3, correct 2: P = R = 2/3. Without the MISC guess: predicted 2, so P = 1, R = 2/3.
    gold = [["B-PER", "O", "B-LOC"], ["O", "O"], ["B-ORG", "I-ORG"]]
    guess = [["B-PER", "O", "O"], ["O", "B-MISC"], ["B-ORG", "I-ORG"]]
    scores = span_scores(gold, guess)
    assert (scores["precision"], scores["recall"]) == pytest.approx((2 / 3, 2 / 3))
    guess[1] = ["O", "O"]
    scores = span_scores(gold, guess)
    assert scores["precision"] == pytest.approx(1.0) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 1.0 * (2 / 3) / (1.0 + 2 / 3))  # 0.8


def test_a_chunk_never_crosses_a_sentence_boundary():
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    assert span_scores(gold, gold)["gold_spans"] == 2


def test_nothing_predicted_and_nothing_to_find_give_zero_not_an_error():
    scores = span_scores([["B-PER"]], [["O"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)
    assert span_scores([["O"]], [["O"]])["f1"] == 0.0


def test_mismatched_lengths_are_errors():
    with pytest.raises(ValueError, match="sentence 0 has 2 gold and 1 predicted"):
        span_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 gold and 2 predicted sentences"):
        span_scores([["O"]], [["O"], ["O"]])


def test_chunk_tagsets_are_recognised():
    assert is_chunk_tagset(["B-PER", "I-PER", "O"]) and is_chunk_tagset(["S-X", "E-X", "O"])
    assert not is_chunk_tagset(["NN", "VB", "DT"])  # POS tags
    assert not is_chunk_tagset(["O"]) and not is_chunk_tagset(["B-PER", "NN"]) and not is_chunk_tagset(["B-"])


def test_agrees_with_seqeval_on_random_sequences():
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = random.Random(0)
    tags = ["O", "O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "I-ORG"]
    for _ in range(50):
        gold = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 8))]
        guess = [[tag if rng.random() < 0.7 else rng.choice(tags) for tag in sentence] for sentence in gold]
        ours = span_scores(gold, guess)
        assert ours["precision"] == pytest.approx(seqeval.precision_score(gold, guess))
        assert ours["recall"] == pytest.approx(seqeval.recall_score(gold, guess))
        assert ours["f1"] == pytest.approx(seqeval.f1_score(gold, guess))
