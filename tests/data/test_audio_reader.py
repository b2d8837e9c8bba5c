"""The WAV reader: samples of every PCM width and channel count, labels from folders and from file names, and
one-line errors for files that are not WAV, are empty or truncated, or whose names carry no label."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.readers.audio import audio_paths, read_labelled_audio, read_wav
from tests.audio_helpers import tone, write_two_tone_set, write_wav


@pytest.mark.parametrize("width, tolerance", [(1, 1 / 128), (2, 1 / 32768), (3, 2.0 ** -23), (4, 2.0 ** -31)])
def test_read_wav_returns_the_samples_of_each_pcm_width(tmp_path, width, tolerance):
    samples = tone(440.0, 0.05, 8000, seed=1)
    path = write_wav(tmp_path / f"w{width}.wav", samples, 8000, width=width)
    read, rate = read_wav(path)
    assert rate == 8000 and read.dtype == np.float32 and read.shape == samples.shape
    np.testing.assert_allclose(read, samples, atol=tolerance + 1e-7)


def test_read_wav_averages_channels_to_mono(tmp_path):
    left, right = tone(300.0, 0.05, 16000, seed=1), tone(500.0, 0.05, 16000, seed=2)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 16000)
    read, rate = read_wav(path)
    assert rate == 16000
    np.testing.assert_allclose(read, (left + right) / 2, atol=2 / 32768)


def test_labels_from_file_names_with_the_default_pattern(tmp_path):
    write_two_tone_set(tmp_path, per_class=3)
    examples = read_labelled_audio(tmp_path, "names")
    assert len(examples) == 6
    assert all(example.label == example.path.name.split("_")[0] for example in examples)
    assert read_labelled_audio(tmp_path) == examples  # auto: no class folders -> names


def test_labels_from_folders_and_auto_detection(tmp_path):
    write_two_tone_set(tmp_path, per_class=2, layout="folders")
    examples = read_labelled_audio(tmp_path)
    assert sorted(example.label for example in examples) == ["high", "high", "low", "low"]
    assert all(example.path.parent.name == example.label for example in examples)


def test_custom_label_pattern_and_glob_selection(tmp_path):
    for index in range(6):
        write_wav(tmp_path / f"spk1-{'yes' if index % 2 else 'no'}-{index}.wav", tone(400.0, 0.02, 8000), 8000)
    examples = read_labelled_audio(str(tmp_path / "*-[0-2].wav"), "names", r"spk\d-(?P<label>[a-z]+)-")
    assert [(example.path.name, example.label) for example in examples] == [
        ("spk1-no-0.wav", "no"), ("spk1-no-2.wav", "no"), ("spk1-yes-1.wav", "yes")]  # sorted by name


def test_a_name_without_a_label_is_an_error_naming_the_file(tmp_path):
    write_wav(tmp_path / "nolabel.wav", tone(400.0, 0.02, 8000), 8000)
    with pytest.raises(ValueError, match=r"nolabel\.wav: the file name does not match the label pattern"):
        read_labelled_audio(tmp_path, "names")


def test_a_pattern_without_a_label_group_is_refused():
    with pytest.raises(ValueError, match=r"label_pattern: .*\(\?P<label>"):
        read_labelled_audio([], "names", r"(\d+)_")
    with pytest.raises(ValueError, match="format: got 'csv'"):
        read_labelled_audio([], "csv")


@pytest.mark.parametrize("content, needle", [
    (b"this is plain text, not audio", "not a readable PCM WAV file: 29 bytes, too short"),
    (b"", "not a readable PCM WAV file: 0 bytes, too short"),
    (b"this is plain text, not audio, long enough to pass for a header", "not a readable PCM WAV file"),
])
def test_a_file_that_is_not_wav_is_a_one_line_error_naming_it(tmp_path, content, needle):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=needle) as caught:
        read_wav(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_wav_without_samples_and_a_truncated_one_are_errors(tmp_path):
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0), 8000)
    with pytest.raises(ValueError, match=r"empty\.wav: the WAV file holds no samples"):
        read_wav(empty)
    whole = write_wav(tmp_path / "cut.wav", tone(400.0, 0.05, 8000), 8000).read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[:-1])  # half a sample missing at the end
    with pytest.raises(ValueError, match=r"cut\.wav"):
        read_wav(tmp_path / "cut.wav")


def test_a_float_wav_is_refused_with_the_expected_format(tmp_path):
    import struct

    payload = np.zeros(10, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    path = tmp_path / "float.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(ValueError, match=r"float\.wav: not a readable PCM WAV file .*integer PCM"):
        read_wav(path)


def test_missing_paths_and_empty_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_wav(tmp_path / "absent.wav")
    with pytest.raises(FileNotFoundError, match="matches no files"):
        audio_paths(str(tmp_path / "*.wav"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .wav files"):
        audio_paths(tmp_path / "empty")
    with pytest.raises(ValueError, match="is a directory"):
        read_wav(tmp_path / "empty")
