"""Log-mel and MFCC frames against librosa's (where installed) and against their defining properties; resampling;
the per-feature normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data.audio_features import (
    FeatureConfig,
    FeatureExtractor,
    apply_normalization,
    dct_matrix,
    fit_normalization,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    resample,
)
from tests.audio_helpers import tone


def signal(rate: int, seconds: float = 0.37) -> np.ndarray:
    return (tone(440.0, seconds, rate, seed=3) + tone(1700.0, seconds, rate, seed=4)).astype(np.float32)


@pytest.mark.parametrize("rate, window_ms, hop_ms, n_mels, f_min, f_max",
                         [(8000, 25.0, 10.0, 40, 0.0, None), (16000, 32.0, 12.5, 64, 60.0, 7000.0)])
def test_frames_equal_librosa(rate, window_ms, hop_ms, n_mels, f_min, f_max):
    librosa = pytest.importorskip("librosa")
    x = signal(rate)
    config = FeatureConfig(kind="logmel", sample_rate=rate, window_ms=window_ms, hop_ms=hop_ms, n_mels=n_mels,
                           n_mfcc=20, f_min=f_min, f_max=f_max)
    window, hop, n_fft = config.frame_sizes()
    power = librosa.feature.melspectrogram(y=x.astype(np.float64), sr=rate, n_fft=n_fft, hop_length=hop,
                                           win_length=window, window="hann", center=True, pad_mode="constant",
                                           power=2.0, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=True, norm=None)
    log_mel = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)  # (M, T)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20, dct_type=2, norm="ortho")  # (20, T)
    ours = FeatureExtractor(config)(x, rate)
    assert ours.dtype == torch.float32 and ours.shape == (1 + len(x) // hop, n_mels)
    np.testing.assert_allclose(ours.numpy(), log_mel.T, atol=1e-3)
    ours_mfcc = FeatureExtractor(FeatureConfig(**{**config.__dict__, "kind": "mfcc"}))(x, rate)
    assert ours_mfcc.shape == (1 + len(x) // hop, 20)
    np.testing.assert_allclose(ours_mfcc.numpy(), mfcc.T, atol=1e-3)
    np.testing.assert_allclose(mel_filterbank(rate, n_fft, n_mels, f_min, f_max),
                               librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max,
                                                   htk=True, norm=None), atol=1e-6)


def test_mel_scale_and_filterbank_shape():
    np.testing.assert_allclose(hz_to_mel(700.0), 2595.0 * np.log10(2.0))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(np.array([0.0, 123.0, 4000.0]))), [0.0, 123.0, 4000.0])
    bank = mel_filterbank(8000, 256, 20)
    assert bank.shape == (20, 129) and bank.min() >= 0 and bank.max() <= 1
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) > 0).all()  # one triangle per band, centres rising with the band


def test_dct_is_orthonormal_and_mfcc_zero_is_the_scaled_mean():
    matrix = dct_matrix(40, 40)
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(40), atol=1e-12)
    x = signal(8000)
    log_mel = FeatureExtractor(FeatureConfig(kind="logmel", sample_rate=8000))(x, 8000)
    mfcc = FeatureExtractor(FeatureConfig(kind="mfcc", sample_rate=8000, n_mfcc=13))(x, 8000)
    np.testing.assert_allclose(mfcc[:, 0].numpy(), log_mel.double().mean(1).numpy() * np.sqrt(40), rtol=1e-5)


def test_a_tone_lights_the_mel_band_of_its_frequency():
    config = FeatureConfig(kind="logmel", sample_rate=8000, n_mels=40)
    frames = FeatureExtractor(config)(tone(1000.0, 0.3, 8000, noise=0.0).astype(np.float32), 8000)  # (T, 40)
    _, _, n_fft = config.frame_sizes()
    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(4000.0), 42))[1:-1]
    assert int(frames[5:-5].mean(0).argmax()) == int(np.abs(centres - 1000.0).argmin())


def test_frame_count_and_window_sizes():
    config = FeatureConfig(sample_rate=16000, window_ms=25.0, hop_ms=10.0)
    assert config.frame_sizes() == (400, 160, 512)
    frames = FeatureExtractor(config)(np.zeros(1000, dtype=np.float32), 16000)
    assert frames.shape == (1 + 1000 // 160, 40)
    assert torch.all(frames == -100.0)  # silence sits on the 1e-10 floor
    short = FeatureExtractor(config)(np.ones(3, dtype=np.float32), 16000)  # shorter than a window: one frame
    assert short.shape == (1, 40)


def test_resampling_a_tone_gives_the_tone_at_the_new_rate():
    high = tone(500.0, 0.5, 16000, seed=7, noise=0.0)
    low = resample(high.astype(np.float32), 16000, 8000)
    assert low.dtype == np.float32 and len(low) == len(high) // 2
    # the same sine sampled at 8 kHz (same phase, amplitude): equal away from the filter's edge effects
    reference = tone(500.0, 0.5, 8000, seed=7, noise=0.0)
    np.testing.assert_allclose(low[200:-200], reference[200:-200], atol=2e-3)
    up = resample(low, 8000, 22050)
    assert len(up) == int(np.ceil(len(low) * 22050 / 8000))
    assert resample(high, 16000, 16000) is high


def test_a_file_at_another_rate_gives_nearly_the_same_frames():
    x8, x16 = tone(700.0, 0.4, 8000, seed=2, noise=0.0), tone(700.0, 0.4, 16000, seed=2, noise=0.0)
    extractor = FeatureExtractor(FeatureConfig(sample_rate=8000, n_mels=20, f_max=3500.0))
    direct, converted = extractor(x8.astype(np.float32), 8000), extractor(x16.astype(np.float32), 16000)
    assert direct.shape == converted.shape
    direct, converted = direct[3:-3], converted[3:-3]  # away from the resampling filter's edge effects
    strong = direct > direct.max() - 30  # bands within 30 dB of the peak
    np.testing.assert_allclose(converted[strong].numpy(), direct[strong].numpy(), atol=0.5)


def test_normalization_uses_the_given_frames_only():
    first, second = torch.randn(30, 4) * 3 + 5, torch.randn(10, 4) * 2 - 1
    statistics = fit_normalization([first, second])
    stacked = torch.cat([first, second]).double()
    np.testing.assert_allclose(statistics["mean"], stacked.mean(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(statistics["std"], stacked.std(0, correction=0).numpy(), rtol=1e-6)
    normalized = torch.cat([apply_normalization(first, statistics), apply_normalization(second, statistics)])
    np.testing.assert_allclose(normalized.mean(0).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(normalized.std(0, correction=0).numpy(), 1.0, atol=1e-5)
    constant = fit_normalization([torch.ones(5, 2)])
    assert constant["std"] == [1e-5, 1e-5] and torch.all(apply_normalization(torch.ones(3, 2), constant) == 0)
    assert apply_normalization(first, None) is first
    with pytest.raises(ValueError, match="statistics for 4 features; the frames have 3"):
        apply_normalization(torch.zeros(2, 3), statistics)


@pytest.mark.parametrize("settings, needle", [
    ({"kind": "spectrogram"}, "kind: got 'spectrogram'"),
    ({"n_mels": 0}, "n_mels: got 0"),
    ({"kind": "mfcc", "n_mfcc": 41}, "n_mfcc: got 41; expected at most n_mels"),
    ({"hop_ms": 0.0}, "hop_ms: got 0.0"),
    ({"sample_rate": 8000, "n_fft": 128}, "n_fft: got 128; expected at least the window of 200 samples"),
    ({"sample_rate": 8000, "f_max": 5000.0}, "f_max: got 5000.0; expected at most half the sample rate"),
    ({"window_ms": "25"}, "window_ms: got '25' (str); expected a number"),
    ({"n_mels": 40.0}, "n_mels: got 40.0 (float); expected an integer"),
])
def test_bad_feature_settings_are_one_line_errors(settings, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        FeatureConfig(**settings)
