"""Prepared corpora: the shards hold exactly the ids of the in-memory encoding (vocabulary included), the counts
spilled to disk give Vocab.build's vocabulary, the streams over the shards are the in-memory streams window for
window, two ranks read disjoint rows that cover the corpus, and an interrupted prepare resumes without redoing or
taking a half-written shard."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.data import prepare as prepare_module
from rnnkit.data import vocab_count
from rnnkit.data.corpus import CorpusConfig, build_vocab, encode_text
from rnnkit.data.prepare import prepare_lm
from rnnkit.data.readers.text import read_text
from rnnkit.data.shard_streams import ShardStreams
from rnnkit.data.shards import ShardedCorpus
from rnnkit.data.streams import batchify, bptt_windows
from rnnkit.text import Vocab
from rnnkit.train.distributed import DistributedContext, shard_rows

WORDS = "the cat Sat on a mat ΑΣ éx dog ran <unk> İy".split()


def _write_files(folder: Path, count: int = 3, lines: int = 200) -> list[Path]:
    rng = random.Random(0)
    paths = []
    for number in range(count):
        rows = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 7))) for _ in range(lines)]
        path = folder / f"part-{number}.txt"
        newline = "\r\n" if number == 1 else "\n"  # line endings normalised as read_text does
        path.write_bytes(("\ufeff" if number == 2 else "").encode() + (newline.join(rows) + newline).encode())
        paths.append(path)
    return paths


def _in_memory(paths: list[Path], corpus: CorpusConfig) -> tuple[Vocab, torch.Tensor]:
    texts = [read_text(path) for path in paths]
    whole = "".join(texts) if corpus.level == "char" else "\n".join(texts)  # the same tokens either way
    vocab = build_vocab(whole, corpus)
    return vocab, torch.cat([encode_text(text, vocab, corpus) for text in texts])


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("lower", [False, True])
def test_shards_hold_exactly_the_in_memory_ids_and_vocabulary(tmp_path, monkeypatch, level, lower):
    paths = _write_files(tmp_path)
    monkeypatch.setattr(vocab_count, "SPILL_DISTINCT", 4)  # many runs merged: the exact counts still
    corpus = CorpusConfig(level=level, lower=lower)
    index = prepare_lm([str(tmp_path / "part-*.txt")], tmp_path / "out", corpus, shard_tokens=300, chunk_bytes=256,
                       quiet=True)
    prepared = ShardedCorpus(tmp_path / "out", verify=True)
    vocab, ids = _in_memory(paths, corpus)
    assert prepared.vocab == vocab and prepared.vocab.itos == vocab.itos
    assert len(index["shards"]) > 3 and index["dtype"] == "<u2"
    assert index["tokens"] == len(ids) == len(prepared)
    assert np.array_equal(prepared.read(0, len(prepared)), ids.numpy())
    assert np.array_equal(prepared.read(5, 700), ids[5:700].numpy())  # across shard boundaries
    released = ShardedCorpus(tmp_path / "out", release_bytes=64)  # pages dropped after every few reads
    assert all(np.array_equal(released.read(start, start + 50), ids[start:start + 50].numpy())
               for start in range(0, len(ids) - 50, 37))


def test_two_workers_write_the_same_shards_as_one(tmp_path):
    _write_files(tmp_path)
    corpus = CorpusConfig(level="word", min_freq=2, max_vocab=8)
    one = prepare_lm([str(tmp_path / "*.txt")], tmp_path / "one", corpus, shard_tokens=200, chunk_bytes=200,
                     quiet=True)
    two = prepare_lm([str(tmp_path / "*.txt")], tmp_path / "two", corpus, workers=2, shard_tokens=200,
                     chunk_bytes=200, quiet=True)
    assert one["shards"] == two["shards"]
    vocab, ids = _in_memory(sorted(tmp_path.glob("*.txt")), corpus)
    assert ShardedCorpus(tmp_path / "two").vocab == vocab and len(vocab) == 8
    assert np.array_equal(ShardedCorpus(tmp_path / "two").read(0, len(ids)), ids.numpy())


def test_spilled_counts_give_vocab_build_vocabulary(tmp_path):
    rng = random.Random(1)
    token_lists = [[rng.choice("abcdefghijklmnop") * rng.randint(1, 2) for _ in range(50)] for _ in range(6)]
    runs = []
    for number, tokens in enumerate(token_lists):
        spiller = vocab_count.CountSpiller(tmp_path / f"c{number}", spill_distinct=3)
        for start in range(0, len(tokens), 7):
            spiller.add(tokens[start:start + 7])
        runs += spiller.finish()
    for min_freq, max_size in ((1, None), (3, None), (1, 10), (5, 6)):
        expected = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
        assert vocab_count.vocab_from_runs(runs, ("<pad>", "<unk>"), min_freq, max_size).itos == expected.itos


def test_the_largest_vocabularies_get_uint32(tmp_path):
    text = "".join(chr(0x20000 + n) for n in range(70_000)) + "\n"  # CJK extension planes
    (tmp_path / "wide.txt").write_text(text, encoding="utf-8")
    index = prepare_lm([tmp_path / "wide.txt"], tmp_path / "out", CorpusConfig(level="char"), quiet=True)
    assert index["dtype"] == "<u4" and index["vocab_size"] == 70_003
    prepared = ShardedCorpus(tmp_path / "out")
    vocab, ids = _in_memory([tmp_path / "wide.txt"], CorpusConfig(level="char"))
    assert np.array_equal(prepared.read(0, len(prepared)), ids.numpy())


@pytest.mark.parametrize("k1", [None, 3])
def test_shard_streams_give_the_in_memory_windows(tmp_path, k1):
    _write_files(tmp_path)
    corpus = CorpusConfig(level="char")
    prepare_lm([str(tmp_path / "*.txt")], tmp_path / "out", corpus, shard_tokens=100, chunk_bytes=64, quiet=True)
    prepared = ShardedCorpus(tmp_path / "out")
    ids = torch.from_numpy(prepared.read(0, len(prepared)))
    expected = list(bptt_windows(batchify(ids[:1000], 4), 7, k1))
    actual = list(ShardStreams(prepared, 0, 1000, 4).windows(7, k1))
    assert len(actual) == len(expected)
    for one, two in zip(expected, actual, strict=True):
        assert torch.equal(one.inputs, two.inputs) and torch.equal(one.targets, two.targets)
        assert (one.loss_start, one.carry_steps) == (two.loss_start, two.carry_steps)


def test_two_ranks_read_disjoint_rows_that_cover_the_corpus(tmp_path):
    _write_files(tmp_path)
    prepare_lm([str(tmp_path / "*.txt")], tmp_path / "out", CorpusConfig(level="char"), shard_tokens=100,
               chunk_bytes=64, quiet=True)
    prepared = ShardedCorpus(tmp_path / "out")
    batch_size, world = 4, 2
    length = len(prepared) // batch_size
    covered = []
    for rank in range(world):
        context = DistributedContext(rank=rank, world_size=world)
        streams = ShardStreams(prepared, 0, len(prepared), batch_size, rank * 2, 2)
        in_memory = shard_rows(batchify(torch.from_numpy(prepared.read(0, len(prepared))), batch_size), context)
        rows = torch.cat([w.inputs[:, w.loss_start:] for w in streams.windows(5)], dim=1)
        last = next(iter(reversed(list(streams.windows(5))))).targets[:, -1:]
        assert torch.equal(torch.cat([rows, last], dim=1), in_memory)  # the rank's rows, all of them, in order
        covered += [range(start, start + length) for start in streams.row_starts]
    positions = sorted(position for row in covered for position in row)
    assert positions == list(range(length * batch_size))  # disjoint, and together the whole corpus (less the rest)


class _Stop(Exception):
    pass


def test_an_interrupted_prepare_resumes_keeping_finished_shards(tmp_path, monkeypatch):
    _write_files(tmp_path, count=2, lines=300)
    corpus = CorpusConfig(level="word")
    arguments = ([str(tmp_path / "*.txt")], tmp_path / "out", corpus)
    options = {"shard_tokens": 150, "chunk_bytes": 128, "quiet": True}
    clean = prepare_lm(*arguments[:1], tmp_path / "clean", corpus, **options)
    write_shard = prepare_module.write_shard
    written = []

    def failing(out, number, part, pieces, dtype, end):
        if len(written) == 5:
            (out / ".work" / f"shard-{number:05d}-{part:05d}.bin.tmp").write_bytes(b"\x01\x02\x03")  # half-written
            raise _Stop
        written.append(write_shard(out, number, part, pieces, dtype, end))
        return written[-1]

    monkeypatch.setattr(prepare_module, "write_shard", failing)
    with pytest.raises(_Stop):
        prepare_lm(*arguments, **options)
    assert not (tmp_path / "out" / "index.json").exists()
    last = tmp_path / "out" / written[-1]["name"]
    (tmp_path / "out" / ".work" / f"{last.name}.json").unlink()  # stopped between the shard and its record
    kept = {record["name"]: (tmp_path / "out" / record["name"]).stat().st_mtime_ns for record in written[:-1]}
    monkeypatch.setattr(prepare_module, "write_shard", write_shard)
    again = []
    monkeypatch.setattr(prepare_module, "write_shard", lambda *a: again.append(a[2]) or write_shard(*a))
    resumed = prepare_lm(*arguments, **options)
    assert resumed["shards"] == clean["shards"]  # names, token counts and checksums
    assert len(again) == len(clean["shards"]) - len(kept)  # the finished shards were not written again
    assert all((tmp_path / "out" / name).stat().st_mtime_ns == mtime for name, mtime in kept.items())
    assert not (tmp_path / "out" / ".work").exists()
    assert prepare_lm(*arguments, **options)["shards"] == clean["shards"]  # done: nothing to do
