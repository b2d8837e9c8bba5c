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
from rnnkit.tasks.tag.data import TagDataConfig, build_tag_vocab, build_vocab, encode_sentences, read_sentences
from rnnkit.tasks.tag.prepare import prepare_tag
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke
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
    assert invoke("prepare", "tag", "--data", files / "train.txt", "--out", tmp_path / "prep")[0] == 0
    code, out, err = invoke("prepare", "tag", "--data", files / "valid.txt", "--out", tmp_path / "prep-valid",
                            "--vocab-from", tmp_path / "prep")
    assert code == 0, err
    assert json.loads(out)["texts"] == 20
    common = [*TINY, "--epochs", "2", "--batch-size", "200", "--test", files / "valid.txt"]
    memory = invoke("train", "tag", "--data", files / "train.txt", "--valid", files / "valid.txt",
                    "--out", tmp_path / "memory", *common)
    disk = invoke("train", "tag", "--data", tmp_path / "prep", "--valid", tmp_path / "prep-valid",
                  "--out", tmp_path / "disk", *common)
    assert memory[0] == 0 and disk[0] == 0, (memory[2], disk[2])
    expected, actual = (load_file(tmp_path / name / "model.safetensors") for name in ("memory", "disk"))
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], atol=1e-5, rtol=1e-4)
    metrics_memory, metrics_disk = (json.loads(result[1].strip().splitlines()[-1]) for result in (memory, disk))
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
    prepare = ("prepare", "tag", "--out")
    assert_user_error(invoke(*prepare, tmp_path / "a", "--data", tmp_path / "missing.txt"), "missing.txt",
                      "no such file")
    (tmp_path / "broken.txt").write_text("John NNP B-PER\nSmith\n\n")
    assert_user_error(invoke(*prepare, tmp_path / "b", "--data", tmp_path / "broken.txt", "--tag-column", "2"),
                      "broken.txt", "line 2")
    (tmp_path / "one.txt").write_text("a O\nb O\n")
    assert_user_error(invoke(*prepare, tmp_path / "c", "--data", tmp_path / "one.txt"), "one.txt", "2 tags")
    good = tmp_path / "good"
    assert invoke(*prepare, good, "--data", files / "train.txt")[0] == 0
    (tmp_path / "new-tag.txt").write_text("John B-PER\nsaw B-MISC\n")
    assert_user_error(invoke(*prepare, tmp_path / "d", "--data", tmp_path / "new-tag.txt", "--vocab-from", good),
                      "new-tag.txt line 2", "'B-MISC'")
    assert_user_error(invoke(*prepare, tmp_path / "e", "--data", files / "valid.txt", "--vocab-from", good,
                             "--lower"), "--lower", str(good))
    train = ("train", "tag", *TINY, "--epochs", "1", "--out")
    assert_user_error(invoke(*train, tmp_path / "r0", "--data", tmp_path / "nowhere", "--valid", files / "valid.txt"),
                      "nowhere")
    assert_user_error(invoke(*train, tmp_path / "r1", "--data", good), "--valid: missing")
    assert_user_error(invoke(*train, tmp_path / "r2", "--data", good, "--valid", files / "valid.txt",
                             "--char-features", "cnn"), str(good), "character features need the text files")
    assert_user_error(invoke(*train, tmp_path / "r3", "--data", good, "--valid", files / "valid.txt",
                             "--tag-column", "1"), "--tag-column 1", str(good))
    assert_user_error(invoke(*train, tmp_path / "r4", "--data", good, "--valid", tmp_path / "new-tag.txt"),
                      "new-tag.txt line 2", "'B-MISC'")
    other = tmp_path / "pos"
    assert invoke(*prepare, other, "--data", files / "valid.txt", "--tag-column", "1")[0] == 0
    assert_user_error(invoke(*train, tmp_path / "r5", "--data", good, "--valid", other), str(other),
                      "another vocabulary or tags")
    classify = tmp_path / "classify"
    (tmp_path / "texts.csv").write_text("text,label\ngood film,pos\nbad film,neg\n")
    assert invoke("prepare", "classify", "--data", tmp_path / "texts.csv", "--out", classify)[0] == 0
    assert_user_error(invoke(*train, tmp_path / "r6", "--data", classify, "--valid", files / "valid.txt"),
                      str(classify / "index.json"), "'tag'")
    shard = good / "shard-00000-00000.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    assert_user_error(invoke(*train, tmp_path / "r7", "--data", good, "--valid", files / "valid.txt"), str(shard),
                      "truncated")
    tags = other / "labels.bin"
    tags.write_bytes(tags.read_bytes()[:-2])
    assert_user_error(invoke(*train, tmp_path / "r8", "--data", other, "--valid", files / "valid.txt"), str(tags),
                      "truncated")


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
