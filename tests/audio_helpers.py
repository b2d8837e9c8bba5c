"""Tiny WAV files for the audio tests, written with the standard library's ``wave`` module."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

TONES = {"low": 300.0, "high": 1200.0}  # the two classes of the two-tone task (Hz)


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> Path:
    """Write float samples in [-1, 1] (``(N,)``, or ``(N, channels)``) as little-endian PCM of ``width`` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(samples, dtype=np.float64)
    data = data.reshape(len(data), -1 if data.size else 1)
    data = np.repeat(data, channels, axis=1) if data.shape[1] == 1 and channels > 1 else data
    if width == 1:
        raw = np.clip(np.round(data * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    elif width == 3:
        values = np.clip(np.round(data * (1 << 23)), -(1 << 23), (1 << 23) - 1).astype("<i4")
        raw = values.reshape(-1, 1).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        scale = float(1 << (8 * width - 1))
        raw = np.clip(np.round(data * scale), -scale, scale - 1).astype({2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(data.shape[1])
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(raw)
    return path


def tone(frequency: float, seconds: float, rate: int, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """A sine of ``frequency`` Hz with a random phase, amplitude 0.3-0.6 and a little white noise."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    amplitude = rng.uniform(0.3, 0.6)
    return amplitude * np.sin(2 * np.pi * frequency * time + rng.uniform(0, 2 * np.pi)) + noise * rng.standard_normal(
        len(time))


def write_two_tone_set(folder: Path, per_class: int, rate: int = 8000, seed: int = 0, layout: str = "names",
                       first_index: int = 0) -> Path:
    """``per_class`` recordings of each tone (0.1-0.3 s): ``LABEL_s_INDEX.wav`` (names) or ``LABEL/INDEX.wav``."""
    rng = np.random.default_rng(seed)
    for label, frequency in TONES.items():
        for index in range(first_index, first_index + per_class):
            samples = tone(frequency * rng.uniform(0.9, 1.1), rng.uniform(0.1, 0.3), rate, int(rng.integers(1 << 30)))
            name = f"{label}_s_{index}.wav" if layout == "names" else f"{label}/{index}.wav"
            write_wav(folder / name, samples, rate)
    return folder
