"""Translation with subword pieces: --tokenizer bpe|unigram trains one segmenter per side on the training pairs
only, keeps them in the run (JSON), detokenises translations, scores detokenised text; resume keeps them; bad
values are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rnnkit as rk
from rnnkit.tasks.seq2seq import train as seq2seq_train
from rnnkit.tasks.seq2seq.data import EncodedPairs, sample_pieces
from rnnkit.tasks.seq2seq.subword import SideTokenizers
from rnnkit.text.subword import MARK, SubwordTokenizer
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke
from tests.test_cli_seq2seq import _pairs

TINY = ["--embedding-size", "8", "--hidden-size", "8", "--epochs", "1", "--batch-size", "8",
        "--max-steps-per-epoch", "2", "--quiet", "--vocab-size", "40"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    (folder / "train.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(60, 0)), encoding="utf-8")
    (folder / "test.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(10, 1)) + "Zebra.\tگورخر.\n",
                                     encoding="utf-8")
    return folder


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_a_subword_run_saves_its_segmenters_and_translates_into_text(data, tmp_path, kind):
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "seq2seq", "--data", data / "train.tsv", "--test", data / "test.tsv",
                               "--tokenizer", kind, "--beam", "1", "--out", out, *TINY)
    assert code == 0, err
    result = json.loads(stdout)
    assert {"test_bleu", "test_chrf", "test_detok_bleu", "test_detok_chrf"} <= set(result)
    for side in ("source", "target"):
        document = json.loads((out / f"{side}_tokenizer.json").read_text(encoding="utf-8"))
        assert document["format"] == "rnnkit.subword" and document["kind"] == kind
    source_pieces = json.loads((out / "source_vocab.json").read_text(encoding="utf-8"))["tokens"]
    assert any(piece.startswith(MARK) for piece in source_pieces)
    assert "zebra" not in "".join(source_pieces).replace(MARK, " ").split()  # test pairs never train a segmenter
    predictor = rk.load(out)
    record = predictor.translate("Tacos cat.", beam_size=1)
    assert predictor.source_tokens("Tacos cat.") == predictor.tokenizers.source.tokenize("Tacos cat.")
    assert "<unk>" not in predictor.source_tokens("Tacos cat.")  # an unseen word of seen letters: spelled by pieces
    assert record["translation"] == predictor.tokenizers.target.detokenize(record["tokens"])
    assert MARK not in record["translation"]
    scores = predictor.evaluate(data / "test.tsv", beam_size=1)
    assert scores["bleu"] == pytest.approx(result["test_bleu"]) and 0 <= scores["detok_chrf"] <= 100


def test_resume_keeps_the_saved_segmenters(data, tmp_path):
    assert_resume_is_exact(tmp_path, "seq2seq", "--data", data / "train.tsv", "--tokenizer", "bpe", "--embedding-size",
                           "8", "--hidden-size", "8", "--batch-size", "8", "--max-steps-per-epoch", "2",
                           "--vocab-size", "40")


def test_bpe_dropout_resegments_each_epoch_from_known_pieces_and_resumes_exactly(data, tmp_path, monkeypatch):
    sampled_epochs = []

    def recording(*args, **keywords):
        sampled_epochs.append(args[-1])
        return sample_pieces(*args, **keywords)

    monkeypatch.setattr(seq2seq_train, "sample_pieces", recording)
    out = tmp_path / "run"
    code, _, err = invoke("train", "seq2seq", "--data", data / "train.tsv", "--tokenizer", "bpe",
                          "--subword-dropout", "0.2", "--min-freq", "2", "--out", out, *TINY, "--epochs", "2")
    assert code == 0, err
    assert sampled_epochs == [0, 1]  # the training batches of each epoch come from a new sample
    monkeypatch.undo()
    assert json.loads((out / "config.json").read_text(encoding="utf-8"))["corpus"]["subword_dropout"] == 0.2
    tokenizers = SideTokenizers(*(SubwordTokenizer.load(out / f"{side}_tokenizer.json") for side in ("source",
                                                                                                    "target")))
    vocabularies = [rk.Vocab.load(out / f"{side}_vocab.json") for side in ("source", "target")]
    for vocab, segmenter in zip(vocabularies, (tokenizers.source, tokenizers.target), strict=True):
        assert set(segmenter.pieces()) <= set(vocab.stoi)  # sampled pieces never become <unk>
    texts = [line.split("\t") for line in (data / "train.tsv").read_text(encoding="utf-8").splitlines()]
    plain = EncodedPairs([], [], [source for source, _ in texts], [target for _, target in texts])
    epochs = [sample_pieces(plain, tokenizers, 0.2, *vocabularies, seed=0, epoch=epoch) for epoch in (0, 0, 1)]
    assert epochs[0].sources == epochs[1].sources and epochs[0].targets == epochs[1].targets
    assert epochs[0].sources != epochs[2].sources  # a new segmentation each epoch
    assert_resume_is_exact(tmp_path / "resume", "seq2seq", "--data", data / "train.tsv", "--tokenizer", "bpe",
                           "--subword-dropout", "0.2", "--embedding-size", "8", "--hidden-size", "8",
                           "--batch-size", "8", "--max-steps-per-epoch", "2", "--vocab-size", "40")


def test_bad_values_are_one_line_errors(data, tmp_path):
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--tokenizer", "wordpiece",
                             "--out", tmp_path / "r"), "--tokenizer")
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--tokenizer", "bpe", "--vocab-size",
                             "3", "--out", tmp_path / "r"), "vocab_size: got 3; expected an integer >= 10")
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--subword-dropout", "0.1",
                             "--out", tmp_path / "r"), "subword_dropout: got 0.1 with tokenizer 'word'; expected 0")
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--tokenizer", "bpe",
                             "--subword-dropout", "1.5", "--out", tmp_path / "r"),
                      "subword_dropout: got 1.5; expected a probability in [0, 1)")
