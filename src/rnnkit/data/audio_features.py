"""Spectral frames of a recording: log-mel energies or MFCCs, and a per-feature normalisation.

For a signal ``x`` at ``sample_rate`` (resampled first where the file's rate differs), with window length ``W``
(``window_ms``), hop ``S`` (``hop_ms``) and FFT size ``N`` (the next power of two >= W unless given)::

    X[t, k] = sum_n x[tS + n - N/2] w[n] exp(-2 pi i k n / N)         periodic Hann w of W samples, centred
                                                                       in N; x zero-padded by N/2 at both ends
    P[t, k] = |X[t, k]|^2                                              power spectrum, k = 0 .. N/2
    M[t, m] = sum_k H[m, k] P[t, k]                                    H: n_mels triangles on the mel scale
    L[t, m] = 10 log10(max(M[t, m], 1e-10))                            log-mel energies (dB)
    C[t, j] = sum_m L[t, m] D[j, m],  j < n_mfcc                       MFCCs: D the orthonormal DCT-II

    mel(f) = 2595 log10(1 + f / 700)   (HTK)
    H[m, k] = max(0, min((f_k - f_{m-1}) / (f_m - f_{m-1}), (f_{m+1} - f_k) / (f_{m+1} - f_m)))
    D[j, m] = sqrt((2 - [j = 0]) / M) cos(pi j (m + 1/2) / M)

with ``f_0 < ... < f_{M+1}`` equally spaced in mel from ``f_min`` to ``f_max`` and ``f_k = k sample_rate / N``.
These equal librosa's ``melspectrogram(..., center=True, pad_mode="constant", htk=True, norm=None)``,
``power_to_db(ref=1, amin=1e-10, top_db=None)`` and ``mfcc(dct_type=2, norm="ortho")`` (a test compares them).
Normalisation: ``(frame - mean) / std`` per feature, the statistics fitted on the training frames only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..train.config import setting

FEATURE_KINDS = ("logmel", "mfcc")
AMIN = 1e-10  # power floor of the logarithm: -100 dB
STD_FLOOR = 1e-5  # a constant feature (an empty mel band) is centred, not blown up


@dataclass(frozen=True)
class FeatureConfig:
    """How a recording becomes a sequence of feature frames.

    Attributes:
        kind: ``"logmel"`` (``n_mels`` log-mel energies per frame) or ``"mfcc"`` (the first ``n_mfcc`` cepstral
            coefficients of those).
        sample_rate: every recording is resampled to this rate (Hz) first; None: the most common rate of the
            training files (the rate chosen is saved with the run).
        window_ms: analysis window length in milliseconds (25 ms is the speech default).
        hop_ms: step between frames in milliseconds.
        n_fft: FFT size in samples; None: the next power of two >= the window length.
        n_mels: mel bands.
        n_mfcc: cepstral coefficients kept (``kind="mfcc"``; then at most ``n_mels``).
        f_min: lowest frequency of the mel bands (Hz).
        f_max: highest frequency of the mel bands (Hz); None: half the sample rate.
        normalize: scale each feature to zero mean and unit variance with statistics of the training frames.
    """

    kind: str = setting("logmel", flag="--features", choices=FEATURE_KINDS,
                        help="frame features: log-mel energies or MFCCs")
    sample_rate: int | None = setting(None, help="resample every recording to this rate (unset: the most common "
                                                 "rate of the training files)")
    window_ms: float = setting(25.0, help="analysis window in milliseconds")
    hop_ms: float = setting(10.0, help="step between frames in milliseconds")
    n_fft: int | None = setting(None, help="FFT size (unset: next power of two >= the window)")
    n_mels: int = setting(40, help="mel bands")
    n_mfcc: int = setting(13, help="cepstral coefficients kept with --features mfcc")
    f_min: float = setting(0.0, help="lowest mel frequency in Hz")
    f_max: float | None = setting(None, help="highest mel frequency in Hz (unset: half the sample rate)")
    normalize: bool = setting(True, help="zero mean, unit variance per feature, fitted on the training frames")

    def __post_init__(self) -> None:
        _check_types(self)
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"kind: got {self.kind!r}; expected one of {', '.join(map(repr, FEATURE_KINDS))}")
        for name in ("sample_rate", "n_fft", "n_mels", "n_mfcc"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        for name in ("window_ms", "hop_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}; expected a positive number of milliseconds")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc: got {self.n_mfcc}; expected at most n_mels ({self.n_mels})")
        if self.f_min < 0 or (self.f_max is not None and self.f_max <= self.f_min):
            raise ValueError(f"f_min, f_max: got {self.f_min!r}, {self.f_max!r}; expected 0 <= f_min < f_max")
        if self.sample_rate is not None:
            self.frame_sizes()  # the window must fit the FFT and the band edges the rate

    @property
    def size(self) -> int:
        """Features per frame, the model's input size."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def frame_sizes(self) -> tuple[int, int, int]:
        """``(window, hop, n_fft)`` in samples at ``sample_rate``."""
        if self.sample_rate is None:
            raise ValueError("sample_rate: not set; expected the rate in Hz")
        window = max(1, round(self.window_ms * self.sample_rate / 1000))
        hop = max(1, round(self.hop_ms * self.sample_rate / 1000))
        n_fft = self.n_fft if self.n_fft is not None else 1 << (window - 1).bit_length()
        if window > n_fft:
            raise ValueError(f"n_fft: got {n_fft}; expected at least the window of {window} samples "
                             f"({self.window_ms} ms at {self.sample_rate} Hz)")
        if (self.f_max or 0) > self.sample_rate / 2:
            raise ValueError(f"f_max: got {self.f_max}; expected at most half the sample rate ({self.sample_rate / 2})")
        return window, hop, n_fft


_INTEGER_FIELDS = ("sample_rate", "n_fft", "n_mels", "n_mfcc")
_NUMBER_FIELDS = ("window_ms", "hop_ms", "f_min", "f_max")


def _check_types(config: FeatureConfig) -> None:
    """Integers where integers belong, numbers (stored as floats) where numbers do; None where allowed."""
    optional = ("sample_rate", "n_fft", "f_max")
    for name in (*_INTEGER_FIELDS, *_NUMBER_FIELDS, "kind", "normalize"):
        value = getattr(config, name)
        if value is None and name in optional:
            continue
        if name == "kind":
            fits = isinstance(value, str)
        elif name == "normalize":
            fits = isinstance(value, bool)
        elif name in _INTEGER_FIELDS:
            fits = isinstance(value, int) and not isinstance(value, bool)
        else:
            fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            if fits:
                object.__setattr__(config, name, float(value))
        if not fits:
            expected = {"kind": "a string", "normalize": "true or false"}.get(
                name, "an integer" if name in _INTEGER_FIELDS else "a number")
            raise ValueError(f"{name}: got {value!r} ({type(value).__name__}); expected {expected}"
                             + (" or null" if name in optional else ""))


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``samples`` at ``rate`` Hz resampled to ``target_rate`` Hz (polyphase filter, scipy.signal.resample_poly).

    The output has ``ceil(len * target_rate / rate)`` samples; the same rate returns the input unchanged.
    """
    if rate == target_rate:
        return samples
    try:
        from scipy.signal import resample_poly
    except ImportError:  # pragma: no cover - scipy comes with the 'audio' and 'dev' extras
        raise ValueError(f"resampling {rate} Hz to {target_rate} Hz needs scipy; pip install 'rnnkit[audio]'") from None
    divisor = math.gcd(rate, target_rate)
    return resample_poly(samples, target_rate // divisor, rate // divisor).astype(samples.dtype)


def hz_to_mel(frequency: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular filters ``H (n_mels, n_fft // 2 + 1)`` on the HTK mel scale, peak 1, no area normalisation."""
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)  # f_k
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # f_0 .. f_{M+1}
    widths = np.diff(edges)  # (M + 1,)
    distances = edges[:, None] - bins[None, :]  # (M + 2, K): f_m - f_k
    rising = -distances[:-2] / widths[:-1, None]  # (f_k - f_{m-1}) / (f_m - f_{m-1})
    falling = distances[2:] / widths[1:, None]  # (f_{m+1} - f_k) / (f_{m+1} - f_m)
    return np.maximum(0.0, np.minimum(rising, falling))


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``D (n_out, n_in)``: ``D[j, m] = sqrt((2 - [j=0]) / M) cos(pi j (m + 1/2) / M)``."""
    j = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    matrix = np.sqrt(2.0 / n_in) * np.cos(np.pi * j * (m + 0.5) / n_in)
    matrix[0] /= np.sqrt(2.0)
    return matrix


class FeatureExtractor:
    """Turns samples into frames ``(T, F)`` as :class:`FeatureConfig` says (its ``sample_rate`` must be set)."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.window, self.hop, self.n_fft = config.frame_sizes()
        self.filters = torch.from_numpy(mel_filterbank(config.sample_rate, self.n_fft, config.n_mels, config.f_min,
                                                       config.f_max))  # (M, K) float64
        self.dct = (torch.from_numpy(dct_matrix(config.n_mfcc, config.n_mels))  # (n_mfcc, M) float64
                    if config.kind == "mfcc" else None)
        self.hann = torch.hann_window(self.window, periodic=True, dtype=torch.float64)

    def __call__(self, samples: np.ndarray, rate: int) -> Tensor:
        """Frames ``(T, F)`` float32 of ``samples`` recorded at ``rate`` Hz; ``T = 1 + len // hop`` after resampling."""
        x = torch.from_numpy(np.asarray(resample(samples, rate, self.config.sample_rate), dtype=np.float64))
        spectrum = torch.stft(x, self.n_fft, hop_length=self.hop, win_length=self.window, window=self.hann,
                              center=True, pad_mode="constant", return_complex=True)  # (K, T)
        power = spectrum.abs().square()  # P (K, T)
        log_mel = 10.0 * torch.log10(torch.clamp(self.filters @ power, min=AMIN))  # L (M, T)
        frames = self.dct @ log_mel if self.config.kind == "mfcc" else log_mel  # (F, T)
        return frames.T.contiguous().float()  # (T, F)


def fit_normalization(frames: Sequence[Tensor]) -> dict[str, list[float]]:
    """Per-feature mean and standard deviation (floored at 1e-5) over every frame of ``frames`` (training only)."""
    stacked = torch.cat(list(frames)).double()  # (sum T, F)
    return {"mean": stacked.mean(0).tolist(), "std": stacked.std(0, correction=0).clamp_min(STD_FLOOR).tolist()}


def apply_normalization(frames: Tensor, statistics: dict[str, Any] | None) -> Tensor:
    """``(frames - mean) / std`` per feature; None leaves the frames as they are."""
    if statistics is None:
        return frames
    mean = torch.tensor(statistics["mean"], dtype=frames.dtype)
    std = torch.tensor(statistics["std"], dtype=frames.dtype)
    if mean.shape != frames.shape[1:] or std.shape != frames.shape[1:]:
        raise ValueError(f"normalization: statistics for {mean.numel()} features; the frames have {frames.shape[1]}")
    return (frames - mean) / std
