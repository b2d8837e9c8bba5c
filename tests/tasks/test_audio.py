"""The audio classification task: a tiny model learns two tones apart, the run rebuilds identical frames for
prediction, the normalisation is fitted on the training part only, and bad data fails before training."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.data.audio_features import FeatureConfig, FeatureExtractor, fit_normalization
from rnnkit.data.readers.audio import read_labelled_audio, read_wav
from rnnkit.models import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.audio.data import AudioDataConfig, examples_from, extract_frames
from rnnkit.tasks.audio.train import train_audio_classifier
from rnnkit.tasks.common import stratified_split
from rnnkit.train.config import TrainConfig
from tests.audio_helpers import tone, write_two_tone_set, write_wav

TINY_MODEL = ClassifierConfig(cell="gru", hidden_size=8, bidirectional=False, pooling="mean", dropout=0.0)
FEATURES = FeatureConfig(kind="mfcc", n_mels=16, n_mfcc=8, window_ms=32.0, hop_ms=16.0)


@pytest.fixture(scope="module")
def two_tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    write_two_tone_set(folder / "train", per_class=20, seed=0)
    write_two_tone_set(folder / "test", per_class=6, seed=1)
    return folder


@pytest.fixture(scope="module")
def trained(two_tones, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tones"
    results = train_audio_classifier(out, data=two_tones / "train", test=two_tones / "test",
                                     audio=AudioDataConfig(valid_fraction=0.2), features=FEATURES, model=TINY_MODEL,
                                     train=TrainConfig(epochs=8, batch_size=8, lr=0.03, quiet=True, seed=0))
    return out, results


def test_a_tiny_model_learns_the_two_tones(trained):
    out, results = trained
    assert results["test_accuracy"] == 1.0 and results["test_examples"] == 12
    assert results["valid_examples"] == 8  # 20% of each class of 20
    assert (out / "confusion_test.png").stat().st_size > 0


def test_the_run_records_the_features_and_training_only_statistics(trained, two_tones):
    out, _ = trained
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "audio" and config["labels"] == ["high", "low"]
    assert config["features"] == {**FEATURES.__dict__, "sample_rate": 8000}  # the rate found in the files
    files = read_labelled_audio(two_tones / "train")
    extractor = FeatureExtractor(FeatureConfig(**config["features"]))
    frames = [extractor(*read_wav(example.path)) for example in files]
    kept, _ = stratified_split([["high", "low"].index(example.label) for example in files], 0.2, seed=0)
    expected = fit_normalization([frames[index] for index in kept])  # the training part, without validation
    np.testing.assert_allclose(config["normalization"]["mean"], expected["mean"], rtol=1e-6)
    np.testing.assert_allclose(config["normalization"]["std"], expected["std"], rtol=1e-6)
    everything = fit_normalization(frames)
    assert not np.allclose(config["normalization"]["mean"], everything["mean"], rtol=1e-6)


def test_load_predicts_wav_files_and_resamples_other_rates(trained, tmp_path):
    out, _ = trained
    predictor = rk.load(out)
    assert predictor.task == "audio"
    low8 = write_wav(tmp_path / "a.wav", tone(300.0, 0.2, 8000, seed=5), 8000)
    high16 = write_wav(tmp_path / "b.wav", tone(1200.0, 0.2, 16000, seed=6), 16000)  # another rate
    records = predictor.predict([low8, high16])
    assert [record["label"] for record in records] == ["low", "high"]
    assert records[0]["file"] == str(low8)
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0)
    alone = predictor.predict(low8)[0]  # one path alone (no padding in its batch)
    assert alone["label"] == "low" and alone["probabilities"] == pytest.approx(records[0]["probabilities"], abs=1e-6)


def test_prediction_recomputes_the_training_frames(trained, two_tones):
    out, _ = trained
    predictor = rk.load(out)
    config = json.loads((out / "config.json").read_text())
    model = SequenceClassifier(2, TINY_MODEL, input_size=8)
    model.load_state_dict(predictor.model.state_dict())
    path = sorted((two_tones / "test").glob("*.wav"))[0]
    frames = FeatureExtractor(FeatureConfig(**config["features"]))(*read_wav(path))
    statistics = config["normalization"]
    normalized = (frames - torch.tensor(statistics["mean"])) / torch.tensor(statistics["std"])
    expected = torch.softmax(model.eval()(normalized.unsqueeze(0)), dim=1)[0]
    got = predictor.predict(path)[0]["probabilities"]
    np.testing.assert_allclose([got["high"], got["low"]], expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_evaluate_on_labelled_files(trained, two_tones):
    out, results = trained
    metrics = rk.load(out).evaluate(two_tones / "test")
    assert metrics["accuracy"] == results["test_accuracy"] and metrics["labels"] == ["high", "low"]
    assert metrics["confusion_matrix"] == results["test_confusion_matrix"]


def test_a_label_unseen_in_training_is_an_error_naming_the_file(trained, tmp_path):
    out, _ = trained
    odd = write_wav(tmp_path / "mid_s_0.wav", tone(600.0, 0.2, 8000), 8000)
    with pytest.raises(ValueError, match=r"mid_s_0\.wav: label 'mid' was not seen in the training data"):
        rk.load(out).evaluate(odd)


def test_bad_files_and_one_class_fail_before_a_run_directory_exists(two_tones, tmp_path):
    (tmp_path / "bad").mkdir()
    write_two_tone_set(tmp_path / "bad", per_class=3)
    (tmp_path / "bad" / "low_s_9.wav").write_bytes(b"RIFF....not really")
    with pytest.raises(ValueError, match=r"low_s_9\.wav: not a readable PCM WAV file"):
        train_audio_classifier(tmp_path / "run", data=tmp_path / "bad", features=FEATURES, model=TINY_MODEL)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="every one of the 20 recordings has the label 'low'"):
        train_audio_classifier(tmp_path / "run", data=str(two_tones / "train" / "low_*.wav"), model=TINY_MODEL)
    assert not (tmp_path / "run").exists()


def test_in_memory_triples_are_checked_and_named_by_item():
    config = AudioDataConfig()
    (example,) = examples_from([([0.0, 0.5, -0.5], 8000, "low")], config, "data")
    assert example.samples.dtype == np.float32 and example.rate == 8000 and example.where == "data item 1"
    with pytest.raises(ValueError, match=r"^valid item 2: a waveform of shape \(2, 2\); expected a \(waveform"):
        examples_from([([0.1], 8000, "a"), (np.zeros((2, 2)), 8000, "b")], config, "valid")
    with pytest.raises(ValueError, match=r"^test item 1: sample rate 0; expected"):
        examples_from([([0.1], 0, "a")], config, "test")
    with pytest.raises(ValueError, match=r"^data item 1: expected a \(waveform, sample_rate, label\) triple"):
        examples_from([([0.1], 8000)], config, "data")


def test_in_memory_waveforms_give_the_frames_of_their_wav_files(two_tones, tmp_path):
    """A run trained on the samples of WAV files (as read_wav gives them) equals the run trained on the files."""
    files = read_labelled_audio(two_tones / "train")
    triples = [(*read_wav(example.path), example.label) for example in files]
    extractor = FeatureExtractor(replace(FEATURES, sample_rate=8000))
    file_frames = extract_frames(files, extractor, ["high", "low"])
    memory_frames = extract_frames(examples_from(triples, AudioDataConfig(), "data"), extractor, ["high", "low"])
    assert memory_frames.labels == file_frames.labels
    assert all(torch.equal(memory, file) for memory, file in zip(memory_frames.frames, file_frames.frames, strict=True))
    settings = {"features": FEATURES, "model": TINY_MODEL, "audio": AudioDataConfig(valid_fraction=0.2),
                "train": TrainConfig(epochs=1, batch_size=8, quiet=True, seed=0)}
    from_files = train_audio_classifier(tmp_path / "files", data=two_tones / "train", **settings)
    in_memory = train_audio_classifier(tmp_path / "memory", data=triples, **settings)
    assert in_memory["valid_loss"] == pytest.approx(from_files["valid_loss"], abs=1e-6)
    saved = [json.loads((tmp_path / name / "config.json").read_text()) for name in ("files", "memory")]
    assert saved[0]["normalization"] == saved[1]["normalization"] and saved[1]["features"]["sample_rate"] == 8000
    assert saved[1]["data"]["train"] == "<in memory>"


def test_read_inputs_takes_the_source_or_paths_on_stdin(trained, monkeypatch):
    predictor = rk.load(trained[0])
    assert predictor.read_inputs("some/dir") == ["some/dir"]
    monkeypatch.setattr("sys.stdin", io.StringIO(" a.wav \n\nb.wav\n"))
    assert predictor.read_inputs("-") == ["a.wav", "b.wav"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(ValueError, match=r"^--input -: stdin holds no paths; expected one WAV file path per line$"):
        predictor.read_inputs("-")


def test_a_run_on_a_glob_pattern_resumes_from_its_saved_pattern(two_tones, tmp_path):
    settings = {"features": FEATURES, "model": TINY_MODEL, "audio": AudioDataConfig(valid_fraction=0.2),
                "train": TrainConfig(epochs=1, batch_size=8, quiet=True, seed=0)}
    pattern = str(two_tones / "train" / "*_s_1*.wav")
    train_audio_classifier(tmp_path / "run", data=pattern, **settings)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["train"] == pattern
    assert train_audio_classifier(tmp_path / "run", resume=True, epochs=2)["epoch"] == 2
