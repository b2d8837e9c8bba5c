"""Translation end to end: train seq2seq (TSV and parallel files), rk.load, translate (with a heatmap),
evaluate (BLEU, chrF), and the user mistakes of the issue, each one line on stderr with exit code 2."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

import rnnkit as rk
from rnnkit.tasks import Seq2SeqPredictor, Seq2SeqTaskConfig
from tests.cli_helpers import assert_resume_is_exact, assert_user_error, invoke

TINY = ["--embedding-size", "8", "--hidden-size", "8", "--epochs", "1", "--batch-size", "8",
        "--max-steps-per-epoch", "2", "--quiet"]
WORDS = {"i": "من", "see": "می\u200cبینم", "a": "یک", "cat": "گربه", "dog": "سگ", "big": "بزرگ", "you": "تو"}


def _pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    keys = list(WORDS)
    pairs = []
    for _ in range(count):
        words = [rng.choice(keys) for _ in range(rng.randint(1, 4))]
        pairs.append((" ".join(words).capitalize() + ".", " ".join(WORDS[w] for w in words) + "."))
    return pairs


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    (folder / "train.tsv").write_text("".join(f"{s}\t{t}\tCC-BY\n" for s, t in _pairs(60, 0)), encoding="utf-8")
    (folder / "test.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(10, 1)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(data: Path) -> Path:
    out = data / "run"
    code, stdout, stderr = invoke("train", "seq2seq", "--data", data / "train.tsv", "--test", data / "test.tsv",
                                  "--out", out, "--attention", "additive", "--max-length", "6", "--beam", "2", *TINY)
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert {"valid_loss", "valid_ppl", "test_bleu", "test_chrf"} <= set(result)
    return out


def test_run_directory_and_rk_load(run: Path):
    for name in ("config.json", "source_vocab.json", "target_vocab.json", "model.safetensors", "metrics.jsonl",
                 "curves.png"):
        assert (run / name).exists(), name
    predictor = rk.load(run)
    assert isinstance(predictor, Seq2SeqPredictor)
    assert "می\u200cبینم" in predictor.target_vocab  # the Persian word with its zero-width non-joiner is one token
    one = predictor.translate("I see a cat.", beam_size=1)
    assert set(one) >= {"source", "translation", "tokens", "score", "complete"}
    many = predictor.translate(["I see a cat.", "You."], beam_size=3)
    assert [record["source"] for record in many] == ["I see a cat.", "You."]
    source, target, weights = predictor.attention("I see a cat.")
    assert weights.shape == (len(target), len(source))
    assert weights.sum(dim=1).sub(1).abs().max() < 1e-5


def test_translate_and_plot(run: Path, tmp_path: Path):
    inputs = tmp_path / "in.txt"
    inputs.write_text("A dog.\nI see you.\n", encoding="utf-8")
    plot = tmp_path / "attention.png"
    code, out, err = invoke("translate", run, "I see a big dog.", "--input", inputs, "--beam", "3", "--plot", plot)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in records] == ["I see a big dog.", "A dog.", "I see you."]
    assert records[0]["plot"] == str(plot) and plot.stat().st_size > 1000


def test_evaluate_dispatches_by_task(run: Path, data: Path):
    code, out, err = invoke("evaluate", run, "--data", data / "test.tsv", "--beam", "1")
    assert code == 0, err
    record = json.loads(out)
    assert record["sentences"] == 10 and record["beam"] == 1
    assert 0.0 <= record["bleu"] <= 100.0 and 0.0 <= record["chrf"] <= 100.0


def test_long_source_is_an_error_unless_truncated(run: Path):
    long_text = " ".join(["cat"] * 9)
    assert_user_error(invoke("translate", run, long_text), "TEXT argument 1: 9 tokens", "at most 6",
                      "--truncate")
    code, out, err = invoke("translate", run, long_text, "--truncate", "--beam", "1")
    assert code == 0, err


def test_user_mistakes(run: Path, data: Path, tmp_path: Path):
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--out", tmp_path / "r1",
                             "--attention", "luong", *TINY), "--attention: invalid choice: 'luong'",
                      "'additive'")
    (tmp_path / "p.de").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "p.en.gz").write_bytes(gzip.compress(b"a\nb\n"))
    assert_user_error(invoke("train", "seq2seq", "--data", tmp_path / "p", "--source-lang", "de", "--target-lang",
                             "en", "--out", tmp_path / "r2", *TINY), "has 3 lines", "has 2")
    (tmp_path / "e.tsv").write_text("a\tb\n\tc\n", encoding="utf-8")
    assert_user_error(invoke("train", "seq2seq", "--data", tmp_path / "e.tsv", "--out", tmp_path / "r3", *TINY),
                      "e.tsv line 2: empty source sentence")
    assert_user_error(invoke("translate", run, "   "), "TEXT argument 1", "no tokens")
    assert_user_error(invoke("translate", run), "got no text")
    assert_user_error(invoke("translate", run, "a cat", "--plot", tmp_path / "x.bmp"), "unknown image type")
    assert_user_error(invoke("train", "seq2seq", "--data", data / "train.tsv", "--out", run, *TINY),
                      "already holds a run")
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_context_vector_model_from_parallel_files(tmp_path: Path):
    pairs = _pairs(40, 2)
    (tmp_path / "train.en.gz").write_bytes(gzip.compress("".join(s + "\n" for s, _ in pairs).encode()))
    (tmp_path / "train.fa").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = invoke("train", "seq2seq", "--data", tmp_path / "train", "--source-lang", "en",
                               "--target-lang", "fa", "--out", out, "--attention", "none", "--cell", "lstm",
                               "--num-layers", "2", "--scheduled-sampling", "linear", "--teacher-forcing-final",
                               "0.5", *TINY)
    assert code == 0, err
    assert json.loads(out.joinpath("config.json").read_text())["model"]["attention"] == "none"
    assert_user_error(invoke("translate", out, "I see a cat.", "--plot", tmp_path / "a.png"), "no attention")
    code, stdout, err = invoke("evaluate", out, "--data", tmp_path / "train", "--beam", "2")
    assert code == 0, err
    assert json.loads(stdout)["sentences"] == 40


def test_teacher_forcing_schedules():
    linear = Seq2SeqTaskConfig(teacher_forcing=1.0, teacher_forcing_final=0.5, teacher_forcing_schedule="linear")
    assert [linear.teacher_forcing_at(p) for p in (0.0, 0.5, 1.0)] == pytest.approx([1.0, 0.75, 0.5])
    curve = Seq2SeqTaskConfig(teacher_forcing=1.0, teacher_forcing_final=0.0,
                              teacher_forcing_schedule="inverse_sigmoid")
    values = [curve.teacher_forcing_at(p) for p in (0.0, 0.5, 1.0)]
    assert values[0] > 0.99 and values[1] == pytest.approx(0.5) and values[2] < 0.01
    assert Seq2SeqTaskConfig(teacher_forcing=0.7).teacher_forcing_at(0.9) == 0.7
    with pytest.raises(ValueError, match="teacher_forcing_schedule: got 'cosine'"):
        Seq2SeqTaskConfig(teacher_forcing_schedule="cosine")


def test_resume_continues_a_seq2seq_run_exactly(data, tmp_path):
    assert_resume_is_exact(tmp_path, "seq2seq", "--data", data / "train.tsv", *TINY)
