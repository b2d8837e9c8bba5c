"""Streaming (``predictor.stream()``): a sequence fed in pieces of random sizes gives the whole sequence's results.

Each task's stream is checked against its own whole-sequence verb on the same model: lm against ``score`` (and the
model's logits), forecast against ``forecast`` of every prefix of the history, tag against ``predict`` and the
model's logits, classify against ``predict`` of every prefix. Then reset, the state, and errors for bad pieces.
Models are tiny and untrained (random weights make no difference to the equalities); one test goes through a
trained run and ``rk.load``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit as rk
from rnnkit.data.corpus import CorpusConfig, build_vocab
from rnnkit.models import ClassifierConfig, LanguageModel, LanguageModelConfig, build_classifier
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.tasks.classify.predict import ClassifierPredictor
from rnnkit.tasks.forecast import SeriesConfig
from rnnkit.tasks.forecast.predict import ForecastPredictor
from rnnkit.tasks.lm.predict import LanguageModelPredictor
from rnnkit.tasks.tag import TagDataConfig
from rnnkit.tasks.tag.predict import TaggerPredictor
from rnnkit.tasks.text_data import TextDataConfig, tokenizer_of
from rnnkit.text import Vocab
from tests.contract.tiny_forecast import columns
from tests.contract.tiny_tag import sentences

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUNS = FIXTURES / "runs"
TEXT = "the cat sat on the mat. a big red dog ran.\nthe dog sat on a red mat.\n"


def pieces(items, seed: int, largest: int):
    """``items`` cut into consecutive pieces of random sizes 0..largest (empty pieces included)."""
    rng, start = random.Random(seed), 0
    while start < len(items):
        size = rng.randint(0, largest)
        yield items[start : start + size]
        start += size


# ---- language model --------------------------------------------------------------------------------------------
def lm_predictor(level: str, cell: str = "lstm", num_layers: int = 2) -> LanguageModelPredictor:
    corpus = CorpusConfig(level=level)
    vocab = build_vocab(TEXT, corpus)
    torch.manual_seed(0)
    config = LanguageModelConfig(cell=cell, embedding_size=8, hidden_size=16, num_layers=num_layers, dropout=0.0)
    return LanguageModelPredictor(LanguageModel(len(vocab), config), vocab, corpus)


@pytest.mark.parametrize(("level", "cell", "seed"), [("char", "lstm", 0), ("char", "gru", 1), ("word", "rnn", 2)])
def test_lm_pieces_equal_score_of_the_whole_text(level, cell, seed):
    predictor = lm_predictor(level, cell)
    whole = predictor.score(TEXT)
    stream = predictor.stream(top_k=4, log_probs=True)
    # char level: any cut (pieces up to 40 characters reach the long-piece path); word level: cuts between words
    items = TEXT if level == "char" else [w + " " if w != "\n" else w for w in TEXT.replace("\n", " \n ").split(" ")]
    steps = []
    for piece in pieces(items, seed, 40 if level == "char" else 20):
        steps += stream.feed(piece if level == "char" else "".join(piece))
    assert stream.tokens == whole["tokens"] == [step["token"] for step in steps]
    assert np.allclose([step["logprob"] for step in steps], whole["token_logprobs"], atol=1e-5, rtol=0)
    assert abs(stream.logprob - whole["logprob"]) < 1e-5 and abs(steps[-1]["total_logprob"] - whole["logprob"]) < 1e-5
    assert math.isclose(stream.perplexity, whole["perplexity"], rel_tol=1e-5)
    assert math.isclose(steps[4]["perplexity"], math.exp(-sum(whole["token_logprobs"][:5]) / 5), rel_tol=1e-5)
    # the full next-token distributions equal the model's whole pass, and top-k is their largest entries
    ids = torch.tensor([predictor.vocab.encode(["\n" if level == "char" else "<eos>", *whole["tokens"]])])
    with torch.no_grad():
        expected = F.log_softmax(predictor.model(ids)[0][0, 1:], dim=-1)  # (T, V): after each fed token
    assert torch.allclose(torch.tensor([step["log_probs"] for step in steps]), expected, atol=1e-5)
    assert torch.allclose(stream.log_probs, expected[-1], atol=1e-5)
    best = expected[7].topk(4)
    assert [entry["token"] for entry in steps[7]["next"]] == predictor.vocab.decode(best.indices.tolist())
    assert np.allclose([entry["prob"] for entry in steps[7]["next"]], best.values.exp().tolist(), atol=1e-6)


def test_lm_token_lists_reset_and_state():
    predictor = lm_predictor("word", num_layers=1)
    stream = predictor.stream(top_k=0)
    fresh_state = [tuple(part.clone() for part in entry) for entry in stream.state]
    assert len(fresh_state) == 1 and fresh_state[0][0].shape == (1, 1, 16)  # per layer (h, c), (1, 1, H)
    first = stream.feed(["the", "cat", "sat", "<eos>"])
    assert [step["token"] for step in first] == ["the", "cat", "sat", "<eos>"] and first[0]["next"] == []
    assert stream.steps == 4 and not torch.equal(stream.state[0][0], fresh_state[0][0])
    expected = predictor.score("the cat sat")["logprob"]
    assert abs(stream.logprob - expected) < 1e-5
    stream.reset()
    assert stream.steps == 0 and stream.tokens == [] and stream.logprob == 0.0 and stream.perplexity is None
    assert torch.equal(stream.state[0][0], fresh_state[0][0]) and torch.equal(stream.state[0][1], fresh_state[0][1])
    assert stream.feed("") == [] and stream.feed("   ") == []
    assert [step["logprob"] for step in stream.feed("the cat sat\n")] == [step["logprob"] for step in first]


@pytest.mark.parametrize(("piece", "message"), [
    (3, "piece: got int; expected a text"), (b"the", "piece: got bytes"), (["the", ""], r"piece\[1\]: got ''"),
    (["the", 4], r"piece\[1\]: got 4")])
def test_lm_bad_pieces_are_one_line_errors(piece, message):
    stream = lm_predictor("char", num_layers=1).stream()
    with pytest.raises(ValueError, match=message):
        stream.feed(piece)
    assert stream.steps == 0


def test_lm_bad_top_k():
    with pytest.raises(ValueError, match="top_k: got -1"):
        lm_predictor("char", num_layers=1).stream(top_k=-1)


def test_trained_runs_stream_through_rk_load(tmp_path):
    """The fixture runs (tests/fixtures/runs, trained by rnnkit): lm and forecast stream; the tagger and the
    classifier there are bidirectional, so asking them for a stream is the one-line error."""
    lm = rk.load(RUNS / "lm")
    text = (FIXTURES / "data" / "lm" / "test.txt").read_text(encoding="utf-8")[:300]
    stream = lm.stream()
    for piece in pieces(text, 5, 50):
        stream.feed(piece)
    assert stream.tokens == lm.score(text)["tokens"] and abs(stream.logprob - lm.score(text)["logprob"]) < 1e-5
    forecaster = rk.load(RUNS / "forecast")
    series = forecaster.read(FIXTURES / "data" / "forecast" / "series.csv")
    steps = forecaster.stream().feed(series.values[:30])
    head = tmp_path / "head.csv"  # the file's first 30 rows
    lines = (FIXTURES / "data" / "forecast" / "series.csv").read_text(encoding="utf-8").splitlines()[:31]
    head.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = forecaster.forecast(head)
    assert len(series) > 30 and len(steps) == 30
    for key in ("forecast", "lower", "upper"):
        assert np.allclose(steps[-1][key], whole[key], rtol=1e-5), key
    for name in ("tag", "classify"):
        with pytest.raises(ValueError, match="is bidirectional; streaming needs a unidirectional model"):
            rk.load(RUNS / name).stream()


# ---- forecast --------------------------------------------------------------------------------------------------
SERIES = SeriesConfig(targets=["sales"], date_column="date", features=["weekday"], window=8, seasonal_period=7)


def forecast_predictor(strategy: str, gaussian: bool, relative: bool = True) -> ForecastPredictor:
    torch.manual_seed(0)
    model = Forecaster(ForecasterConfig(input_size=2, num_targets=1, horizon=3, strategy=strategy, gaussian=gaussian,
                                        hidden_size=8, relative=relative))
    predictor = ForecastPredictor(model, SERIES)
    model.fit_scaler(predictor.read(columns(40)).values)
    return predictor


@pytest.mark.parametrize(("strategy", "gaussian", "seed"), [
    ("direct", False, 0), ("direct", True, 1), ("autoregressive", True, 2), ("autoregressive", False, 3)])
def test_forecast_after_each_new_row_equals_forecast_of_the_history(strategy, gaussian, seed):
    predictor = forecast_predictor(strategy, gaussian, relative=seed % 2 == 0)
    data = columns(24, seed=4)
    values = predictor.read(data).values  # (24, 2): sales, weekday
    stream = predictor.stream()
    steps = []
    for piece in pieces(values, seed, 6):
        steps += stream.feed(piece)
    assert [step["step"] for step in steps] == list(range(1, 25))
    assert all(step["forecast"] is None for step in steps[:7])  # fewer rows than the window
    for rows, step in enumerate(steps[7:], 8):
        whole = predictor.forecast({name: column[:rows] for name, column in data.items()})
        assert np.allclose(step["forecast"], whole["forecast"], rtol=1e-5, atol=1e-6), rows
        assert ("lower" in step) == gaussian == ("lower" in whole)
        if gaussian:
            assert np.allclose(step["lower"], whole["lower"], rtol=1e-5, atol=1e-6)
            assert np.allclose(step["upper"], whole["upper"], rtol=1e-5, atol=1e-6)
            assert step["level"] == whole["level"]
    assert np.array_equal(stream.state, values[-8:])  # the state is the window: the last rows seen


def test_forecast_one_column_numbers_reset_and_horizon():
    torch.manual_seed(0)
    model = Forecaster(ForecasterConfig(input_size=1, num_targets=1, horizon=2, hidden_size=8))
    predictor = ForecastPredictor(model, SeriesConfig(targets=["sales"], window=4))
    model.fit_scaler(np.arange(1.0, 21.0).reshape(-1, 1))
    stream = predictor.stream(horizon=1)
    assert stream.feed([1.0, 2.0, 3.0]) == [{"step": n, "forecast": None} for n in (1, 2, 3)]
    step = stream.feed(4)[0]  # one number: one row
    expected = predictor.forecast({"sales": [1.0, 2.0, 3.0, 4.0]}, horizon=1)["forecast"]
    assert step["step"] == 4 and np.allclose(step["forecast"], expected, rtol=1e-6)
    stream.reset()
    assert stream.steps == 0 and stream.state.shape == (0, 1) and stream.feed([]) == []
    assert stream.feed(5.0) == [{"step": 1, "forecast": None}]
    with pytest.raises(ValueError, match="horizon: got 3; this direct model was trained for at most 2"):
        predictor.stream(horizon=3)
    logged = Forecaster(ForecasterConfig(input_size=1, num_targets=1, horizon=1, hidden_size=4, transform="log"))
    logged.fit_scaler(np.arange(1.0, 21.0).reshape(-1, 1))
    stream = ForecastPredictor(logged, SeriesConfig(targets=["sales"], window=4)).stream()
    with pytest.raises(ValueError, match="piece: got a value <= 0; this run's transform 'log' needs positive"):
        stream.feed([3.0, 0.0])  # refused at once, though no window is full yet
    assert stream.steps == 0 and len(stream.state) == 0


@pytest.mark.parametrize(("piece", "message"), [
    ("1.5", "piece: got str"), ([[1.0, 2.0, 3.0]], r"piece: got shape \(1, 3\); expected .*sales, weekday"),
    ([1.0, float("nan")], "not finite"), ({"sales": [1.0]}, "piece: got dict"), ([["a", "b"]], "piece: got")])
def test_forecast_bad_pieces_are_one_line_errors(piece, message):
    stream = forecast_predictor("direct", False).stream()
    with pytest.raises(ValueError, match=message):
        stream.feed(piece)
    assert stream.steps == 0 and len(stream.state) == 0


# ---- tag -------------------------------------------------------------------------------------------------------
PAIRS = sentences(20, 0)
SENTENCE = "John Smith saw Mary Smith in Rome today and Paris we met Jane".split()  # "and", "Jane": unknown


def tag_predictor(bidirectional: bool = False, char_features: str = "none", crf: bool = False,
                  num_layers: int = 1) -> TaggerPredictor:
    vocab = Vocab.build([tokens for tokens, _ in PAIRS])
    tags = Vocab.build([tags for _, tags in PAIRS], specials=())
    chars = Vocab.build([list(word) for tokens, _ in PAIRS for word in tokens]) if char_features != "none" else None
    torch.manual_seed(0)
    config = TaggerConfig(cell="lstm", embedding_size=8, hidden_size=12, num_layers=num_layers, dropout=0.0,
                          bidirectional=bidirectional, char_features=char_features, crf=crf)
    model = SequenceTagger(len(tags), len(vocab), config, pad_id=vocab.pad_id, unk_id=vocab.unk_id,
                           tag_names=list(tags.itos), num_chars=len(chars) if chars is not None else None)
    return TaggerPredictor(model, vocab, tags, TagDataConfig(), chars)


@pytest.mark.parametrize(("char_features", "crf", "num_layers", "seed"), [
    ("none", False, 1, 0), ("lstm", False, 2, 1), ("cnn", True, 1, 2), ("none", True, 0, 3)])
def test_tags_as_tokens_arrive_equal_the_whole_sentence(char_features, crf, num_layers, seed):
    predictor = tag_predictor(char_features=char_features, crf=crf, num_layers=num_layers)
    stream = predictor.stream()
    steps = []
    for piece in pieces(SENTENCE, seed, 4):
        steps += stream.feed(piece if seed % 2 else " ".join(piece))  # lists of tokens, or texts
    assert [step["token"] for step in steps] == SENTENCE == stream.tokens
    whole = predictor.predict([SENTENCE])[0]["tags"]
    assert stream.tags == whole
    model = predictor.model
    ids = torch.tensor([predictor.vocab.encode(SENTENCE)])
    chars = None
    if predictor.char_vocab is not None:
        from rnnkit.text.char_ids import pad_char_ids, word_char_ids
        chars = pad_char_ids([word_char_ids(SENTENCE, predictor.char_vocab)], 0)
    with torch.no_grad():
        assert torch.allclose(stream.logits, model(ids, chars=chars)[0], atol=1e-5)
    for count, step in enumerate(steps, 1):  # each step: what the sentence's first tokens are tagged
        prefix = predictor.predict([SENTENCE[:count]])[0]["tags"]
        assert step["tag"] == prefix[-1] and step.get("tags", prefix) == prefix
    stream.reset()
    assert stream.tokens == [] and stream.state is None and stream.tags == [] and stream.logits.shape == (0, 4)
    assert [step["tag"] for step in stream.feed(SENTENCE)] == [step["tag"] for step in steps]


def test_a_bidirectional_tagger_cannot_stream():
    with pytest.raises(ValueError, match="^stream: this tagger is bidirectional; streaming needs a unidirectional "
                                         "model .*--no-bidirectional$"):
        tag_predictor(bidirectional=True).stream()


def test_tag_bad_pieces():
    stream = tag_predictor().stream()
    with pytest.raises(ValueError, match="piece: got int"):
        stream.feed(7)
    with pytest.raises(ValueError, match=r"piece\[0\]: got None"):
        stream.feed([None])
    assert stream.feed("") == [] and stream.feed([]) == [] and stream.steps == 0


# ---- classify --------------------------------------------------------------------------------------------------
REVIEW = "good film with a great plot and nice music but the cast was dull and poor"


def classify_predictor(level: str, pooling: str, ensemble: int = 1, bidirectional: bool = False
                       ) -> ClassifierPredictor:
    text = TextDataConfig(level=level)
    vocab = Vocab.build([tokenizer_of(text).tokenize(REVIEW)])
    torch.manual_seed(0)
    config = ClassifierConfig(cell="gru", embedding_size=8, hidden_size=12, num_layers=2, dropout=0.0,
                              bidirectional=bidirectional, pooling=pooling, ensemble=ensemble)
    model = build_classifier(3, config, vocab_size=len(vocab), pad_id=vocab.pad_id)
    return ClassifierPredictor(model, vocab, ["neg", "neu", "pos"], text)


@pytest.mark.parametrize(("level", "pooling", "ensemble", "seed"), [
    ("word", "last", 1, 0), ("word", "mean", 1, 1), ("char", "max", 2, 2), ("word", "attention", 1, 3),
    ("char", "attention", 1, 4)])
def test_running_label_probabilities_equal_predict_of_each_prefix(level, pooling, ensemble, seed):
    predictor = classify_predictor(level, pooling, ensemble)
    stream = predictor.stream()
    items = REVIEW if level == "char" else REVIEW.split()
    steps = []
    for piece in pieces(items, seed, 7):
        steps += stream.feed(piece if level == "char" else " ".join(piece))
    prefixes = [REVIEW[:n] if level == "char" else " ".join(items[:n]) for n in range(1, len(items) + 1)]
    assert len(steps) == len(prefixes) and [step["token"] for step in steps] == list(items)
    for prefix, step, whole in zip(prefixes, steps, predictor.predict(prefixes), strict=True):
        assert step["label"] == whole["label"], prefix
        for label, probability in whole["probabilities"].items():
            assert abs(step["probabilities"][label] - probability) < 1e-5, (prefix, label)
    assert len(stream.state) == ensemble
    stream.reset()
    assert stream.steps == 0 and stream.state == [None] * ensemble
    again = stream.feed(items[:3] if level == "word" else list(REVIEW[:3]))[-1]["probabilities"]
    # one 3-step call against the random pieces above: other kernel calls, so equal to rounding, not bit for bit
    assert again == pytest.approx(steps[2]["probabilities"], abs=1e-6)


def test_a_bidirectional_classifier_cannot_stream_and_bad_pieces():
    with pytest.raises(ValueError, match="^stream: this classifier is bidirectional"):
        classify_predictor("word", "max", bidirectional=True).stream()
    stream = classify_predictor("word", "max").stream()
    with pytest.raises(ValueError, match="piece: got float"):
        stream.feed(1.5)
    assert stream.feed("  ") == [] and stream.steps == 0
