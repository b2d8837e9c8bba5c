"""Classifiers from a prepared directory (``rnnkit prepare classify``): the ids, offsets, labels and vocabulary equal
the in-memory encoding, an epoch's batches cover every text once with a bounded buffer, two ranks read disjoint
parts that cover the texts, training from the directory matches training in memory where the batches can be the
same, and bad inputs are one-line errors naming the file."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.models import ClassifierConfig, build_classifier
from rnnkit.tasks.classify.prepare import prepare_classify
from rnnkit.tasks.classify.prepared import PreparedTexts, epoch_buffers, rank_ranges, steps_per_epoch
from rnnkit.tasks.common import predict_probabilities
from rnnkit.tasks.text_data import TextDataConfig, build_vocab, check_training_labels, encode_examples, read_examples
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke
from tests.tasks.prepared_helpers import prepare_pair, train_both_ways

WORDS = "good bad fine awful great poor nice ugly the a movie film plot Sun ok".split()
TINY = ["--cell", "lstm", "--hidden-size", "12", "--embedding-size", "8", "--num-layers", "1", "--dropout", "0",
        "--quiet"]


def _write_csv(path: Path, count: int, seed: int, labels: tuple[str, ...] = ("pos", "neg", "meh")) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(count):
            label = rng.choice(labels)
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 9))]
            writer.writerow([" ".join(words) + f" {label}!", label])
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("labelled")
    _write_csv(folder / "train.csv", 150, 0)
    _write_csv(folder / "valid.csv", 30, 1)
    return folder


def _in_memory(path: Path, text: TextDataConfig):
    examples = read_examples(str(path), text, "--data")
    labels = check_training_labels(examples, path)
    vocab = build_vocab(examples, text)
    return labels, vocab, encode_examples(examples, vocab, labels)


@pytest.mark.parametrize("text", [TextDataConfig(), TextDataConfig(level="char", lower=False),
                                  TextDataConfig(min_freq=2, max_vocab=12, max_length=4, truncate="head+tail")],
                         ids=["word", "char", "limits"])
def test_round_trip_equals_the_in_memory_encoding(files, tmp_path, text):
    index = prepare_classify([files / "train.csv"], tmp_path / "prep", text, shard_tokens=64)
    labels, vocab, encoded = _in_memory(files / "train.csv", text)
    prepared = PreparedTexts(tmp_path / "prep", verify=True)
    assert len(index["shards"]) > 1  # texts read across shard boundaries
    assert prepared.vocab == vocab and prepared.label_names == labels and len(prepared) == len(encoded) == 150
    ids, label_ids = prepared.read(0, len(prepared))
    assert [t.tolist() for t in ids] == [t.tolist() for t in encoded.ids]
    assert label_ids.tolist() == encoded.labels
    assert np.asarray(prepared.offsets).tolist() == np.cumsum([0] + [len(t) for t in encoded.ids]).tolist()
    part, part_labels = prepared.read(37, 41)  # a slice in the middle
    assert [t.tolist() for t in part] == [t.tolist() for t in encoded.ids[37:41]]
    assert part_labels.tolist() == encoded.labels[37:41]
    assert index["dtype"] == "<u2" and index["texts"] == 150 and index["tokens"] == sum(len(t) for t in encoded.ids)


def test_an_epoch_covers_every_text_once_within_the_buffer_bound():
    lengths = np.random.default_rng(0).integers(1, 30, size=1000)
    length_of = lambda begin, end: lengths[begin:end]  # noqa: E731
    seen, orders = [], []
    for epoch in range(2):
        order = []
        buffers = list(epoch_buffers(1000, length_of, 16, seed=3, epoch=epoch, buffer_texts=100, chunk_texts=32))
        for ranges, batches in buffers:
            texts = np.concatenate([np.arange(begin, end) for begin, end in ranges])
            assert len(texts) <= 100  # the buffer bound: texts held at once
            for batch in batches:
                assert 1 <= len(batch) <= 16
                chosen = texts[batch]
                order.extend(chosen.tolist())
            # bucketing: the batches of a buffer do not overlap in length (sorted within the buffer)
            spans = sorted((lengths[texts[b]].min(), lengths[texts[b]].max()) for b in batches)
            assert all(high <= low_next for (_, high), (low_next, _) in zip(spans, spans[1:], strict=False))
        assert sorted(order) == list(range(1000))  # every text exactly once
        assert sum(len(batches) for _, batches in buffers) == steps_per_epoch(1000, 16, buffer_texts=100)
        seen.append(order)
        orders.append(list(epoch_buffers(1000, length_of, 16, seed=3, epoch=epoch, buffer_texts=100,
                                         chunk_texts=32)))
    assert seen[0] != seen[1]  # reshuffled per epoch
    again = list(epoch_buffers(1000, length_of, 16, seed=3, epoch=1, buffer_texts=100, chunk_texts=32))
    assert all(a[0] == b[0] and all((x == y).all() for x, y in zip(a[1], b[1], strict=True))
               for a, b in zip(again, orders[1], strict=True))  # the same for the same (seed, epoch)


@pytest.mark.parametrize("count", [1000, 1001])
def test_two_ranks_read_disjoint_parts_that_cover_the_texts(count):
    parts = [np.concatenate([np.arange(b, e) for b, e in rank_ranges(count, 5, 0, rank, 2, chunk_texts=64)])
             for rank in range(2)]
    assert len(parts[0]) == len(parts[1]) == -(-count // 2)  # the same number of texts (and so of steps)
    assert set(parts[0]) | set(parts[1]) == set(range(count))
    overlap = set(parts[0]) & set(parts[1])
    assert len(overlap) == (0 if count % 2 == 0 else 1)  # disjoint; an odd count wraps one text round
    lengths = np.ones(count, dtype=np.int64)
    steps = [sum(len(b) for _, b in epoch_buffers(count, lambda s, e: lengths[s:e], 8, 5, 0, rank, 2, 100, 64))
             for rank in range(2)]
    assert steps[0] == steps[1] == steps_per_epoch(count, 8, 2, 100)


def test_batches_pair_each_text_with_its_label(files, tmp_path):
    text = TextDataConfig()
    prepare_classify([files / "train.csv"], tmp_path / "prep", text)
    _, vocab, encoded = _in_memory(files / "train.csv", text)
    prepared = PreparedTexts(tmp_path / "prep")
    got = Counter()
    for ids, lengths, labels in prepared.batches(8, seed=0, buffer_texts=40, chunk_texts=16, pad_id=vocab.pad_id)(0):
        for row, length, label in zip(ids, lengths, labels, strict=True):
            got[(tuple(row[:length].tolist()), int(label))] += 1
    assert got == Counter((tuple(t.tolist()), label) for t, label in zip(encoded.ids, encoded.labels, strict=True))


def test_probabilities_of_a_prepared_split_equal_the_in_memory_ones(files, tmp_path):
    text = TextDataConfig()
    prepare_classify([files / "train.csv"], tmp_path / "prep", text)
    labels, vocab, encoded = _in_memory(files / "train.csv", text)
    torch.manual_seed(0)
    model = build_classifier(len(labels), ClassifierConfig(cell="gru", hidden_size=8, embedding_size=4,
                                                           num_layers=1), vocab_size=len(vocab), pad_id=vocab.pad_id)
    expected = predict_probabilities(model, encoded, vocab.pad_id)
    actual = PreparedTexts(tmp_path / "prep").probabilities(model, vocab.pad_id, batch_size=7, buffer_texts=50)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-5)


def test_training_from_the_directory_matches_training_in_memory(files, tmp_path):
    """With one batch of every text per epoch (and no dropout, whose masks follow the rows), the two runs take the
    same steps: the weights agree (to float rounding: the rows of the batch come in another order), and the
    prepared --valid gives the metrics of the same file read in memory (--test)."""
    assert prepare_pair(tmp_path, "classify", files / "train.csv", files / "valid.csv") == 30
    metrics_memory, metrics_disk = train_both_ways(
        tmp_path, "classify", ["--data", files / "train.csv", "--valid", files / "valid.csv"],
        ["--data", tmp_path / "prep", "--valid", tmp_path / "prep-valid"],
        [*TINY, "--epochs", "2", "--batch-size", "200", "--test", files / "valid.csv"])
    assert metrics_disk.keys() == metrics_memory.keys()
    assert metrics_disk["valid_confusion_matrix"] == metrics_disk["test_confusion_matrix"]
    assert metrics_disk["valid_loss"] == pytest.approx(metrics_disk["test_loss"], abs=1e-6)
    assert metrics_disk["valid_loss"] == pytest.approx(metrics_memory["valid_loss"], abs=1e-4)
    config = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert config["labels"] == ["meh", "neg", "pos"] and config["data"]["examples"]["train"] == 150
    # the run predicts like any other
    code, out, err = invoke("predict", tmp_path / "disk", "--input", files / "valid.csv")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 30
    # and its vocabulary and labels prepare further files (--vocab-from RUN)
    code, _, err = invoke("prepare", "classify", "--data", files / "valid.csv", "--out", tmp_path / "from-run",
                          "--vocab-from", tmp_path / "disk")
    assert code == 0, err
    from_run, from_dir = PreparedTexts(tmp_path / "from-run"), PreparedTexts(tmp_path / "prep-valid")
    assert from_run.vocab == from_dir.vocab and from_run.label_names == from_dir.label_names
    assert np.array_equal(from_run.offsets, from_dir.offsets) and np.array_equal(from_run.label_ids, from_dir.label_ids)


def test_bad_inputs_are_one_line_errors_naming_the_file(files, tmp_path):
    prepare = ("prepare", "classify", "--out")
    assert_user_error(invoke(*prepare, tmp_path / "a", "--data", tmp_path / "missing.csv"), "missing.csv",
                      "no such file")
    (tmp_path / "one.csv").write_text("text,label\nhello,x\nworld,x\n")
    assert_user_error(invoke(*prepare, tmp_path / "b", "--data", tmp_path / "one.csv"), "one.csv", "2 classes")
    (tmp_path / "broken.csv").write_text("text,label\nhello,x\nworld\n")
    assert_user_error(invoke(*prepare, tmp_path / "c", "--data", tmp_path / "broken.csv"), "broken.csv", "line 3")
    good = tmp_path / "good"
    assert invoke(*prepare, good, "--data", files / "train.csv")[0] == 0
    assert invoke(*prepare, good, "--data", files / "train.csv")[0] == 0  # finished already: nothing to do
    assert_user_error(invoke(*prepare, good, "--data", files / "valid.csv"), str(good), "other files or settings")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "note.txt").write_text("mine")
    assert_user_error(invoke(*prepare, tmp_path / "full", "--data", files / "train.csv"), "full", "not empty")
    (tmp_path / "other.csv").write_text("text,label\nhello,new\n")
    assert_user_error(invoke(*prepare, tmp_path / "d", "--data", tmp_path / "other.csv", "--vocab-from", good),
                      "other.csv line 2", "'new'")
    assert_user_error(invoke(*prepare, tmp_path / "e", "--data", tmp_path / "other.csv", "--vocab-from",
                             tmp_path / "nowhere"), "nowhere", "no such directory")
    train = ("train", "classify", *TINY, "--epochs", "1", "--out")
    other = tmp_path / "other-vocab"
    assert invoke(*prepare, other, "--data", files / "valid.csv", "--level", "char")[0] == 0
    assert_user_error(invoke(*train, tmp_path / "r0", "--data", good, "--valid", other), str(other),
                      "another vocabulary")
    assert_user_error(invoke(*train, tmp_path / "r1", "--data", good, "--valid", files / "valid.csv", "--level",
                             "char"), "--level char", str(good))
    assert_user_error(invoke(*train, tmp_path / "r2", "--data", good), "--valid: missing")
    assert_user_error(invoke(*train, tmp_path / "r2c", "--data", good, "--valid", files / "valid.csv",
                             "--char-features", "cnn"), str(good), "character features need the text files")
    corrupt = tmp_path / "corrupt"
    assert invoke(*prepare, corrupt, "--data", files / "train.csv")[0] == 0
    shard = corrupt / "shard-00000-00000.bin"
    data = bytearray(shard.read_bytes())
    data[0] ^= 1
    shard.write_bytes(bytes(data))
    assert_user_error(invoke(*train, tmp_path / "r3", "--data", corrupt, "--valid", files / "valid.csv"), str(shard),
                      "SHA-256")
    shard.write_bytes(bytes(data[:-2]))
    assert_user_error(invoke(*train, tmp_path / "r4", "--data", corrupt, "--valid", files / "valid.csv"), str(shard),
                      "truncated")
    (corrupt / "offsets.bin").write_bytes(b"\0" * 8)
    shard.unlink()
    assert_user_error(invoke(*train, tmp_path / "r5", "--data", corrupt, "--valid", files / "valid.csv"), str(shard),
                      "missing")
    index = good / "index.json"
    index.write_text(index.read_text()[:-5])
    assert_user_error(invoke(*train, tmp_path / "r6", "--data", good, "--valid", files / "valid.csv"), str(index),
                      "not JSON")
    lm_index = json.loads((other / "index.json").read_text()) | {"kind": "lm"}
    (other / "index.json").write_text(json.dumps(lm_index))
    assert_user_error(invoke(*train, tmp_path / "r7", "--data", other, "--valid", files / "valid.csv"),
                      str(other / "index.json"), "'classify'")
    offsets = good.parent / "offsets-check"
    assert invoke(*prepare, offsets, "--data", files / "train.csv")[0] == 0
    (offsets / "offsets.bin").write_bytes((offsets / "offsets.bin").read_bytes()[:-8])
    assert_user_error(invoke(*train, tmp_path / "r8", "--data", offsets, "--valid", files / "valid.csv"),
                      str(offsets / "offsets.bin"), "truncated")


@pytest.mark.slow
def test_resume_from_a_prepared_directory_is_exact(files, tmp_path):
    assert invoke("prepare", "classify", "--data", files / "train.csv", "--out", tmp_path / "prep")[0] == 0
    assert_resume_is_exact(tmp_path, "classify", "--data", tmp_path / "prep", "--valid", files / "valid.csv",
                           *TINY, "--batch-size", "16")
