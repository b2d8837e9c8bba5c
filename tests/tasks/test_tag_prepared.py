"""Taggers from a prepared directory (``rnnkit prepare tag``): the word ids, tag ids, offsets and vocabularies equal
the in-memory encoding (CoNLL columns and CoNLL-U), the batches pair each sentence with its tags, two ranks read
disjoint parts that cover the sentences, training from the directory matches training in memory where the batches
can be the same, and bad inputs are one-line errors naming the file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rnnkit.data.prepared_records import PreparedRecords
from rnnkit.models.tagger import IGNORE_INDEX
from rnnkit.tasks.tag import TaggerConfig, TrainConfig, train_tagger
from rnnkit.tasks.tag.data import TagDataConfig, build_tag_vocab, build_vocab, encode_sentences, read_sentences
from rnnkit.tasks.tag.prepare import prepare_tag
from rnnkit.train.checkpoint import latest_checkpoint
from rnnkit.train.trainer import TrainingInterrupted
from tests.cli_helpers import assert_resume_is_exact, invoke
from tests.tasks.prepared_helpers import (
    assert_damage_refused,
    assert_each_refused,
    prepare_pair,
    train_both_ways,
    write_files,
)
from tests.tasks.test_lm_prepared import _CtrlC
from tests.test_cli_tag import write_conll

TINY = ["--embedding-size", "8", "--hidden-size", "8", "--dropout", "0", "--quiet"]
CONLLU = """# sent_id = 1
1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tdo\tdo\tAUX\tVBP\t_\t_\t_\t_\t_
2\tn't\tnot\tPART\tRB\t_\t_\t_\t_\t_
3\tGo\tgo\tVERB\tVB\t_\t_\t_\t_\t_

# sent_id = 2
1\tThe\tthe\tDET\tDT\t_\t_\t_\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t_\t_\t_\t_
2.1\tate\teat\tVERB\tVBD\t_\t_\t_\t_\t_
3\tbarks\tbark\tVERB\tVBZ\t_\t_\t_\t_\t_

"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("conll")
    write_conll(folder / "train.txt", 90, seed=0)
    write_conll(folder / "valid.txt", 20, seed=1)
    (folder / "tiny.conllu").write_text(CONLLU * 3, encoding="utf-8")
    return folder


def _in_memory(path: Path, text: TagDataConfig):
    sentences = read_sentences(path, text, "--data")
    tag_vocab = build_tag_vocab(sentences, path)
    vocab = build_vocab(sentences, text)
    return vocab, tag_vocab, encode_sentences(sentences, vocab, tag_vocab, text)


@pytest.mark.parametrize(("name", "text"), [
    ("train.txt", TagDataConfig()),
    ("train.txt", TagDataConfig(tag_column=1, lower=True, min_freq=2, max_vocab=9)),
    ("tiny.conllu", TagDataConfig(tag_column="xpos")),
], ids=["ner", "pos-limits", "conllu-xpos"])
def test_round_trip_equals_the_in_memory_encoding(files, tmp_path, name, text):
    index = prepare_tag([files / name], tmp_path / "prep", text, shard_tokens=40)
    vocab, tag_vocab, encoded = _in_memory(files / name, text)
    prepared = PreparedRecords(tmp_path / "prep", "tag", verify=True)
    assert prepared.vocab == vocab and prepared.vocab.itos == vocab.itos
    assert prepared.label_names == list(tag_vocab.itos) and len(prepared) == len(encoded)
    ids, tags = prepared.everything()
    assert [t.tolist() for t in ids] == [t.tolist() for t in encoded.ids]
    assert [t.tolist() for t in tags] == [t.tolist() for t in encoded.tags]
    part_ids, part_tags = prepared.read(2, 5)  # a slice in the middle
    assert [t.tolist() for t in part_tags] == [t.tolist() for t in encoded.tags[2:5]]
    assert [t.tolist() for t in part_ids] == [t.tolist() for t in encoded.ids[2:5]]
    assert index["label_ids"]["per"] == "token" and index["label_ids"]["count"] == index["tokens"]
    if name == "train.txt":
        assert len(index["shards"]) > 1  # sentences read across shard boundaries


def test_batches_pair_each_sentence_with_its_tags_and_ranks_cover_the_sentences(files, tmp_path):
    text = TagDataConfig()
    prepare_tag([files / "train.txt"], tmp_path / "prep", text, shard_tokens=40)
    vocab, _, encoded = _in_memory(files / "train.txt", text)
    prepared = PreparedRecords(tmp_path / "prep", "tag")
    expected = Counter((tuple(i.tolist()), tuple(t.tolist())) for i, t in zip(encoded.ids, encoded.tags, strict=True))
    parts = []
    for rank in range(2):
        got = Counter()
        for ids, lengths, tags in prepared.batches(7, seed=1, rank=rank, world_size=2, buffer_texts=20,
                                                   chunk_texts=8, pad_id=vocab.pad_id, tag_pad=IGNORE_INDEX)(0):
            assert ids.shape == tags.shape
            for row, length, tag_row in zip(ids, lengths, tags, strict=True):
                assert (tag_row[length:] == IGNORE_INDEX).all() and (row[length:] == vocab.pad_id).all()
                got[(tuple(row[:length].tolist()), tuple(tag_row[:length].tolist()))] += 1
        parts.append(got)
    assert sum(parts[0].values()) == sum(parts[1].values()) == 45  # 90 sentences, half each
    assert parts[0] + parts[1] == expected  # disjoint (an even count) and together every sentence once


def test_training_from_the_directory_matches_training_in_memory(files, tmp_path):
    """One batch of every sentence per epoch and no dropout: the two runs take the same steps, so the weights agree
    (to float rounding: the rows come in another order); the prepared --valid gives the in-memory file's metrics."""
    assert prepare_pair(tmp_path, "tag", files / "train.txt", files / "valid.txt") == 20
    metrics_memory, metrics_disk = train_both_ways(
        tmp_path, "tag", ["--data", files / "train.txt", "--valid", files / "valid.txt"],
        ["--data", tmp_path / "prep", "--valid", tmp_path / "prep-valid"],
        [*TINY, "--epochs", "2", "--batch-size", "200", "--test", files / "valid.txt"])
    assert metrics_disk["valid_loss"] == pytest.approx(metrics_disk["test_loss"], abs=1e-6)
    assert metrics_disk["valid_accuracy"] == metrics_memory["valid_accuracy"]
    assert metrics_disk["valid_loss"] == pytest.approx(metrics_memory["valid_loss"], abs=1e-4)
    config = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert config["data"]["sentences"]["train"] == 90
    code, out, err = invoke("predict", tmp_path / "disk", "--input", files / "valid.txt")  # a run like any other
    assert code == 0, err
    # and its vocabulary and tags prepare further files (--vocab-from RUN), the same as from the directory
    assert invoke("prepare", "tag", "--data", files / "valid.txt", "--out", tmp_path / "from-run", "--vocab-from",
                  tmp_path / "disk")[0] == 0
    for name in ("offsets.bin", "labels.bin", "shard-00000-00000.bin"):
        assert (tmp_path / "from-run" / name).read_bytes() == (tmp_path / "prep-valid" / name).read_bytes()


def test_bad_inputs_are_one_line_errors_naming_the_file(files, tmp_path):
    write_files(tmp_path, {"broken.txt": "John NNP B-PER\nSmith\n\n", "one.txt": "a O\nb O\n",
                           "new-tag.txt": "John B-PER\nsaw B-MISC\n"})
    good, pos, valid = tmp_path / "good", tmp_path / "pos", files / "valid.txt"
    assert invoke("prepare", "tag", "--out", good, "--data", files / "train.txt")[0] == 0
    assert invoke("prepare", "tag", "--out", pos, "--data", valid, "--tag-column", "1")[0] == 0
    prepare_cases = [  # (--data and flags, what the error names)
        ([tmp_path / "missing.txt"], ["missing.txt", "no such file"]),
        ([tmp_path / "broken.txt", "--tag-column", "2"], ["broken.txt", "line 2"]),
        ([tmp_path / "one.txt"], ["one.txt", "2 tags"]),
        ([tmp_path / "new-tag.txt", "--vocab-from", good], ["new-tag.txt line 2", "'B-MISC'"]),
        ([valid, "--vocab-from", good, "--lower"], ["--lower", str(good)]),
    ]
    assert_each_refused(("prepare", "tag", "--out"), tmp_path, "p", prepare_cases)
    train_cases = [  # (--data and flags, what the error names)
        ([tmp_path / "nowhere", "--valid", valid], ["nowhere"]),
        ([good], ["--valid: missing"]),
        ([good, "--valid", valid, "--char-features", "cnn"], [str(good), "character features need the text files"]),
        ([good, "--valid", valid, "--tag-column", "1"], ["--tag-column 1", str(good)]),
        ([good, "--valid", tmp_path / "new-tag.txt"], ["new-tag.txt line 2", "'B-MISC'"]),
        ([good, "--valid", pos], [str(pos), "another vocabulary or tags"]),
    ]
    train = ("train", "tag", *TINY, "--epochs", "1", "--out")
    assert_each_refused(train, tmp_path, "r", train_cases)
    assert_damage_refused(train, tmp_path, valid, "tag", pos / "labels.bin")


def test_word_counts_from_the_shards_equal_the_in_memory_ones(files, tmp_path):
    from rnnkit.tasks.tag.train import word_counts

    text = TagDataConfig()
    prepare_tag([files / "train.txt"], tmp_path / "prep", text, shard_tokens=40)
    vocab, _, encoded = _in_memory(files / "train.txt", text)
    assert torch.equal(PreparedRecords(tmp_path / "prep", "tag").token_counts(), word_counts(encoded, len(vocab)))
    assert np.asarray(PreparedRecords(tmp_path / "prep", "tag").offsets).tolist() == \
        np.cumsum([0] + [len(t) for t in encoded.ids]).tolist()


def test_resume_from_a_prepared_directory_is_exact(files, tmp_path):
    assert invoke("prepare", "tag", "--data", files / "train.txt", "--out", tmp_path / "prep")[0] == 0
    assert_resume_is_exact(tmp_path, "tag", "--data", tmp_path / "prep", "--valid", files / "valid.txt",
                           *TINY, "--batch-size", "16")


def test_a_run_stopped_mid_epoch_resumes_at_the_exact_batch(files, tmp_path):
    """Stopped (Ctrl-C) five batches into epoch 2, resumed: the same weights as a straight run (the epoch's batches
    are a function of the seed and epoch, so the ones done are skipped and the rest come in the same order)."""
    prepare_tag([files / "train.txt"], tmp_path / "prep", TagDataConfig(), shard_tokens=40)
    settings = {"valid": files / "valid.txt", "model": TaggerConfig(embedding_size=8, hidden_size=8, dropout=0.0),
                "train": TrainConfig(epochs=2, batch_size=8, quiet=True, seed=3)}
    train_tagger(tmp_path / "straight", data=tmp_path / "prep", **settings)
    steps = json.loads((tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()[0])["step"]  # per epoch
    with pytest.raises(TrainingInterrupted, match="epoch 2 after 5 batches"):
        train_tagger(tmp_path / "stopped", data=tmp_path / "prep", callbacks=[_CtrlC(steps + 5)], **settings)
    train_tagger(tmp_path / "stopped", resume=True)
    expected, actual = (load_file(latest_checkpoint(tmp_path / name / "checkpoint") / "model.safetensors")
                        for name in ("straight", "stopped"))
    assert all(torch.equal(expected[key], actual[key]) for key in expected)
