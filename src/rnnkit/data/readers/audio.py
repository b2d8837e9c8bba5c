"""Audio for classification: WAV files to samples, and labelled WAV files from folders or file names.

Reading uses the standard library's :mod:`wave` (PCM, 8/16/24/32-bit, any channel count, averaged to mono),
so no audio library is needed. Labels come from one of two layouts, chosen by name or by ``"auto"``:

* ``"folders"``: a folder per class (``digits/seven/a.wav``): the label is the name of the folder holding the file.
* ``"names"``: the label is part of the file name, the ``label`` group of a regular expression matched at the start
  of the name without its suffix; the default ``(?P<label>[^_]+)_`` fits the Free Spoken Digit Dataset's
  ``{digit}_{speaker}_{index}.wav``.

Each path given is a WAV file, a directory (searched recursively for ``*.wav``), or a glob pattern
(``recordings/*_[0-4].wav``), expanded here so a quoted pattern works the same from Python and the shell.
``"auto"`` reads a directory with sub-folders holding WAV files as ``"folders"``, and anything else as ``"names"``.
"""

from __future__ import annotations

import glob
import os
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..limits import check_symlink

__all__ = ["AUDIO_FORMATS", "DEFAULT_LABEL_PATTERN", "LabelledAudio", "audio_paths", "read_labelled_audio",
           "read_wav"]

AUDIO_FORMATS = ("auto", "folders", "names")
DEFAULT_LABEL_PATTERN = r"(?P<label>[^_]+)_"
_GLOB_CHARACTERS = "*?["
WAV_HEADER_BYTES = 44  # RIFF (12) + fmt chunk (24) + data chunk header (8)


@dataclass(frozen=True)
class LabelledAudio:
    """One example: the WAV file and its label (None where only files are listed)."""

    path: Path
    label: str | None


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The samples of a PCM WAV file as float32 in [-1, 1] (channels averaged to mono) and its sample rate.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        ValueError: For a directory, a file that is not a PCM WAV file, a truncated one, or one without samples
            (one line naming the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a WAV file")
    size = path.stat().st_size
    if size < WAV_HEADER_BYTES:  # wave's own error for these is an empty EOFError message
        raise ValueError(f"{path}: not a readable PCM WAV file: {size} bytes, too short (its header alone is "
                         f"{WAV_HEADER_BYTES} bytes); expected a RIFF/WAVE recording")
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.getnframes()
            claimed = frames * width * channels
            if claimed > size:  # a header claiming 1 GB of samples in a small file: refused before reading
                raise ValueError(f"{path}: the header claims {claimed:,} bytes of samples but the file holds "
                                 f"{size:,} bytes; truncated or damaged WAV file")
            data = handle.readframes(frames)
    except (wave.Error, EOFError, OSError, RuntimeError) as error:  # RuntimeError: wave's chunk reader, bad sizes
        raise ValueError(f"{path}: not a readable PCM WAV file ({error or type(error).__name__}); expected a "
                         "RIFF/WAVE file of integer PCM samples") from None
    if frames == 0 or not data:
        raise ValueError(f"{path}: the WAV file holds no samples; expected a recording")
    if len(data) < claimed:
        raise ValueError(f"{path}: truncated WAV file: the header claims {claimed:,} bytes of samples, the file holds "
                         f"{len(data):,}")
    if len(data) % (width * channels):
        raise ValueError(f"{path}: truncated WAV data ({len(data)} bytes is not a whole number of {channels}-channel "
                         f"{8 * width}-bit frames)")
    samples = _decode_pcm(data, width).reshape(-1, channels).mean(axis=1)  # (N,)
    return samples.astype(np.float32), rate


def _decode_pcm(data: bytes, width: int) -> np.ndarray:
    """Little-endian PCM bytes to float64 in [-1, 1]: 8-bit is unsigned, wider samples are signed."""
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:  # no 24-bit dtype: sign-extend each 3-byte sample into an int32
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float64) / float(1 << 23)
    dtype = {2: "<i2", 4: "<i4"}[width]  # wave accepts only widths 1-4
    return np.frombuffer(data, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))


def audio_paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The WAV files named by ``paths``: files as given, directories searched for ``*.wav``, globs expanded.

    Raises:
        FileNotFoundError: For a path that does not exist, or a glob pattern that matches nothing.
        ValueError: For a directory without WAV files.
    """
    found: list[Path] = []
    for path in _as_list(paths):
        found.extend(_expand(path))
    return found


def _as_list(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    return [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(path) for path in paths]


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(file for file in path.rglob("*") if file.suffix.lower() == ".wav"
                       and (file.is_file() or file.is_symlink())
                       and not any(part.startswith(".") for part in file.relative_to(path).parts))
        for file in files:  # a link inside the data folder would read outside it
            check_symlink(file, path)
        if not files:
            raise ValueError(f"{path}: the directory holds no .wav files; expected WAV recordings")
        return files
    if path.exists():
        return [path]
    if any(character in str(path) for character in _GLOB_CHARACTERS):
        files = sorted(Path(name) for name in glob.glob(str(path)) if Path(name).is_file())
        if not files:
            raise FileNotFoundError(f"{path}: the pattern matches no files; expected WAV recordings")
        return files
    raise FileNotFoundError(f"{path}: no such file or directory")


def read_labelled_audio(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], format: str = "auto",
                        label_pattern: str = DEFAULT_LABEL_PATTERN) -> list[LabelledAudio]:
    """Every WAV file of ``paths`` with its label from its folder or its name (see the module docstring).

    The files are listed, not read: reading (and its errors) happens when the features are computed.

    Raises:
        FileNotFoundError: For a missing path or a pattern that matches nothing.
        ValueError: For an unknown format, a pattern without a ``label`` group, or a file name the pattern does
            not match (naming the file).
    """
    if format not in AUDIO_FORMATS:
        raise ValueError(f"format: got {format!r}; expected one of {', '.join(map(repr, AUDIO_FORMATS))}")
    pattern = compile_label_pattern(label_pattern)
    examples: list[LabelledAudio] = []
    for path in _as_list(paths):
        layout = format if format != "auto" else ("folders" if _has_class_folders(path) else "names")
        for file in _expand(path):
            label = file.parent.name if layout == "folders" else _label_from_name(file, pattern, label_pattern)
            examples.append(LabelledAudio(file, label))
    return examples


def compile_label_pattern(label_pattern: str) -> re.Pattern[str]:
    """The compiled pattern; it must be a valid regular expression with a ``label`` group."""
    try:
        pattern = re.compile(label_pattern)
    except re.error as error:
        raise ValueError(f"label_pattern: {label_pattern!r} is not a valid regular expression ({error})") from None
    if "label" not in pattern.groupindex:
        raise ValueError(f"label_pattern: got {label_pattern!r}; expected a regular expression with a (?P<label>...) "
                         "group")
    return pattern


def _label_from_name(file: Path, pattern: re.Pattern[str], label_pattern: str) -> str:
    match = pattern.match(file.stem)
    if match is None or not match.group("label"):
        raise ValueError(f"{file}: the file name does not match the label pattern {label_pattern!r}; expected e.g. "
                         "'7_jackson_0.wav' for the default, or pass --format folders for a folder per class")
    return match.group("label")


def _has_class_folders(path: Path) -> bool:
    """A directory with at least one visible sub-folder that holds a WAV file (at any depth)."""
    if not path.is_dir():
        return False
    return any(child.is_dir() and not child.name.startswith(".")
               and any(file.suffix.lower() == ".wav" for file in child.rglob("*"))
               for child in path.iterdir())
