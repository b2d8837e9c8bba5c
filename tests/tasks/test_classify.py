"""The classification task's pieces: stratified split, batches by (seed, epoch), labels checks, and a run
loaded back by rk.load predicting what the trained model predicted."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
import torch

import rnnkit as rk
from rnnkit.data.readers import LabelledText
from rnnkit.models import ClassifierConfig
from rnnkit.tasks import PREDICTORS, ClassifierPredictor, train_classifier
from rnnkit.tasks.base import IN_MEMORY
from rnnkit.tasks.common import stratified_split, training_batches
from rnnkit.tasks.text_data import (
    TextDataConfig,
    build_vocab,
    check_training_labels,
    encode_examples,
    tokens_of,
    truncate_tokens,
)
from rnnkit.train.config import TrainConfig


def test_stratified_split_holds_out_each_class_in_proportion_and_is_seeded():
    labels = [0] * 50 + [1] * 20 + [2] * 1
    kept, held_out = stratified_split(labels, 0.1, seed=7)
    assert sorted(kept + held_out) == list(range(71)) and not set(kept) & set(held_out)
    assert Counter(labels[i] for i in held_out) == {0: 5, 1: 2}  # a class of one stays in training
    assert stratified_split(labels, 0.1, seed=7) == (kept, held_out)
    assert stratified_split(labels, 0.1, seed=8) != (kept, held_out)


def examples(count: int) -> list[tuple[list[str], str, str]]:
    return [(["w"] * (1 + index % 7), "ab"[index % 2], f"f line {index + 1}") for index in range(count)]


def test_training_batches_depend_only_on_seed_and_epoch():
    data = encode_examples(examples(40), build_vocab(examples(40), TextDataConfig()), ["a", "b"])
    batches, steps = training_batches(data, 8, seed=3, pad_id=0)
    first, again = list(batches(0)), list(batches(0))
    assert steps == 5 and len(first) == 5
    assert all(torch.equal(x, y) for a, b in zip(first, again, strict=True) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(a[2], b[2]) for a, b in zip(first, list(batches(1)), strict=True))
    assert sorted(int(n) for batch in first for n in batch[1]) == sorted(1 + i % 7 for i in range(40))


def test_label_checks_name_file_and_line():
    with pytest.raises(ValueError, match="every one of the 2 examples has the label 'a'; expected at least 2"):
        check_training_labels([(["x"], "a", "f line 1"), (["y"], "a", "f line 2")], "f")
    vocab = build_vocab(examples(4), TextDataConfig())
    with pytest.raises(ValueError, match=r"g line 9: label 'c' was not seen in the training data; .* 'a', 'b'"):
        encode_examples([(["w"], "c", "g line 9")], vocab, ["a", "b"])


def test_tokens_of_levels_lowering_cutting_and_empty_texts():
    record = LabelledText("Great FILM, really!", "pos", "f line 1")
    assert tokens_of(record, TextDataConfig()) == ["great", "film", ",", "really", "!"]
    assert tokens_of(record, TextDataConfig(max_length=2)) == ["great", "film"]
    assert tokens_of(record, TextDataConfig(level="char", lower=False))[:3] == ["G", "r", "e"]
    with pytest.raises(ValueError, match="f line 3: the text '  ' has no tokens"):
        tokens_of(LabelledText("  ", "pos", "f line 3"), TextDataConfig())


def test_truncate_keeps_the_head_the_tail_or_both():
    tokens = list("abcdefgh")
    assert truncate_tokens(tokens, 5, "head") == list("abcde")
    assert truncate_tokens(tokens, 5, "tail") == list("defgh")
    assert truncate_tokens(tokens, 5, "head+tail") == list("abcgh")  # ceil(5/2) first, floor(5/2) last
    assert truncate_tokens(tokens, 4, "head+tail") == list("abgh")
    assert truncate_tokens(tokens, 1, "head+tail") == list("a")
    for mode in ("head", "tail", "head+tail"):
        assert truncate_tokens(tokens, 8, mode) == tokens and truncate_tokens(tokens, None, mode) == tokens
    with pytest.raises(ValueError, match="truncate: got 'middle'"):
        truncate_tokens(tokens, 5, "middle")


def test_tokens_of_strips_html_and_truncates_head_and_tail_when_asked():
    record = LabelledText("Dull start.<br /><br />But a GREAT ending!", "pos", "f line 1")
    assert tokens_of(record, TextDataConfig())[2:6] == [".", "<", "br", "/"]  # off by default: read as written
    cleaned = TextDataConfig(strip_html=True)
    assert tokens_of(record, cleaned) == ["dull", "start", ".", "but", "a", "great", "ending", "!"]
    assert tokens_of(record, TextDataConfig(strip_html=True, max_length=4, truncate="head+tail")) == [
        "dull", "start", "ending", "!"]
    char_record = LabelledText("A<br />b", "pos", "f line 2")
    assert tokens_of(char_record, TextDataConfig(level="char", strip_html=True)) == ["a", " ", "b"]


@pytest.mark.parametrize(("options", "words"), [({"truncate": "middle"}, "truncate: got 'middle'"),
                                                ({"strip_html": "yes"}, "strip_html"),
                                                ({"level": "byte"}, "level"), ({"valid_fraction": 1.0}, "valid"),
                                                ({"max_length": 0}, "max_length"), ({"format": "xml"}, "format"),
                                                ({"min_freq": "2"}, "min_freq")])
def test_text_config_errors(options, words):
    with pytest.raises(ValueError, match=words):
        TextDataConfig(**options)


def test_a_trained_run_loads_back_with_the_same_predictions(tmp_path):
    torch.set_num_threads(1)
    rows = [{"text": f"{word} {filler}", "label": label} for index in range(30)
            for word, label in (("good", "pos"), ("bad", "neg")) for filler in ["film", "plot story"][index % 2:][:1]]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    results = train_classifier(tmp_path / "run", data=data, model=ClassifierConfig(embedding_size=8, hidden_size=8),
                               train=TrainConfig(epochs=2, batch_size=8, quiet=True, lr=0.01))
    assert {"valid_accuracy", "valid_macro_f1", "valid_roc_auc", "valid_pr_auc", "best_epoch"} <= set(results)
    predictor = rk.load(tmp_path / "run")
    assert isinstance(predictor, ClassifierPredictor) and PREDICTORS["classify"] is ClassifierPredictor
    again = rk.load(tmp_path / "run").predict(["good film", "bad plot story"])
    assert predictor.predict(["good film", "bad plot story"]) == again
    evaluation = predictor.evaluate(data, confusion_png=tmp_path / "confusion.png")
    assert evaluation["examples"] == 60 and (tmp_path / "confusion.png").is_file()
    with pytest.raises(ValueError, match="already holds a run"):
        train_classifier(tmp_path / "run", data=data, train=TrainConfig(epochs=1, quiet=True))


def test_a_broken_run_config_is_a_user_error(tmp_path):
    run = tmp_path / "broken"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"format": "rnnkit.run", "task": "classify"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken/config.json: not a valid 'classify' run config"):
        rk.load(run)


def test_test_data_changes_nothing_that_training_chooses(tmp_path):
    torch.set_num_threads(1)
    rows = [{"text": f"{word} {filler}", "label": label} for filler in ("film", "plot", "story", "music", "cast")
            for word, label in (("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg"))]
    data, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    test.write_text('{"text": "good cast", "label": "pos"}\n{"text": "awful", "label": "neg"}\n', encoding="utf-8")
    settings = dict(model=ClassifierConfig(embedding_size=6, hidden_size=6),
                    train=TrainConfig(epochs=3, batch_size=4, quiet=True, lr=0.01, seed=5))
    without = train_classifier(tmp_path / "without", data=data, **settings)
    with_test = train_classifier(tmp_path / "with", data=data, test=test, **settings)
    assert with_test["test_examples"] == 2 and "test_accuracy" in with_test

    def timeless(run: str) -> list[dict]:
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "tokens_per_second"} for line in lines]

    assert timeless("without") == timeless("with")
    assert without["best_epoch"] == with_test["best_epoch"]
    assert (tmp_path / "without" / "model.safetensors").read_bytes() == (tmp_path / "with" / "model.safetensors"
                                                                         ).read_bytes()


PAIRS = [(f"{word} {filler}", label) for filler in ("film", "plot", "story", "cast")
         for word, label in (("good", "pos"), ("great", "pos"), ("bad", "neg"), ("awful", "neg"))]


def test_in_memory_pairs_train_load_and_resume_when_given_again(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    settings = dict(data=PAIRS, valid=PAIRS[:8], test=[list(pair) for pair in PAIRS[8:12]],
                    model=ClassifierConfig(embedding_size=6, hidden_size=6))
    train_classifier(run, **settings, train=TrainConfig(epochs=1, batch_size=4, quiet=True, lr=0.01))
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["train"] == config["data"]["valid"] == config["data"]["test"] == IN_MEMORY
    assert config["data"]["examples"] == {"train": 16, "valid": 8, "test": 4}
    with pytest.raises(ValueError, match="in-memory data; pass the same data again"):
        train_classifier(run, resume=True, epochs=2)
    results = train_classifier(run, **settings, resume=True, epochs=2)
    assert results["epoch"] == 2 and results["test_examples"] == 4
    predictor = rk.load(run)
    assert predictor.evaluate(PAIRS[:4])["examples"] == 4
    inputs = tmp_path / "inputs.txt"  # what `rnnkit predict RUN --input ...` reads
    inputs.write_text("good film\n\nawful plot\n", encoding="utf-8")
    assert [(r.text, r.where) for r in predictor.read_inputs(str(inputs))] == [
        ("good film", f"{inputs} line 1"), ("awful plot", f"{inputs} line 3")]
    table = tmp_path / "inputs.csv"
    table.write_text("id,review\n1,bad story\n", encoding="utf-8")
    assert [r.text for r in predictor.read_inputs(str(table), text_column="review")] == ["bad story"]
    monkeypatch.setattr("sys.stdin", io.StringIO("great cast\n \nbad\n"))
    assert [(r.text, r.where) for r in predictor.read_inputs("-")] == [("great cast", "stdin line 1"),
                                                                      ("bad", "stdin line 3")]


@pytest.mark.parametrize(("keywords", "message"), [
    ({"data": [("good film", "pos"), ("bad", 3)]}, r"data item 2: expected a \(text, label\) pair"),
    ({"data": [("good film", "pos"), ("bad film",)]}, r"data item 2: expected a \(text, label\) pair"),
    ({"data": [("good film", "pos"), ("bad film", " ")]}, "data item 2: the label is empty"),
    ({"data": [("good film", "pos"), "bad film"]}, r"data item 2: expected a \(text, label\) pair"),
    ({"data": []}, "data: holds no examples"),
    ({"data": 5}, "data: got int; expected a path, a list of paths, or a sequence of"),
    ({"data": [("good film", "pos"), ("fine", "pos")]}, "data: every one of the 2 examples has the label 'pos'"),
    ({"data": PAIRS, "valid": [("good film", "meh")]}, "valid item 1: label 'meh' was not seen"),
    ({"data": PAIRS, "test": [("good film", "pos"), ("  ", "neg")]}, "test item 2: the text '  ' has no tokens"),
])
def test_in_memory_mistakes_name_the_argument_and_item(tmp_path, keywords, message):
    with pytest.raises(ValueError, match=message):
        train_classifier(tmp_path / "run", **keywords, train=TrainConfig(epochs=1, quiet=True))
    assert not (tmp_path / "run").exists()  # checked before any run directory is made
