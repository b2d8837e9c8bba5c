"""Readers that never guess: no reading through symbolic links, every date parsed, extra fields and absurd values
refused, byte-order marks stripped, WAV sizes checked against the header, labels checked against their set."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.readers.audio import read_labelled_audio, read_wav
from rnnkit.data.readers.labelled import read_class_folders
from rnnkit.data.readers.parallel import read_pairs
from rnnkit.data.readers.timeseries import read_timeseries, timeseries_from_columns
from tests.audio_helpers import write_wav
from tests.cli_helpers import assert_user_error, invoke


def class_folders(root: Path) -> Path:
    for label in ("pos", "neg"):
        (root / label).mkdir(parents=True)
        for index in range(3):
            (root / label / f"{index}.txt").write_text(f"{label} words {index}\n")
    return root


def test_a_symlinked_file_inside_a_class_folder_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret-token\n")
    root = class_folders(tmp_path / "data")
    (root / "pos" / "x.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=r"pos/x\.txt: a symbolic link inside the data folder .*FOLLOW_SYMLINKS"):
        list(read_class_folders(root))
    result = invoke("train", "classify", "--data", root, "--out", tmp_path / "run", "--quiet")
    assert_user_error(result, "symbolic link")
    assert not (tmp_path / "run").exists()  # nothing of the secret reached a vocab.json


def test_a_symlinked_class_folder_is_refused_and_the_flag_follows_links(tmp_path, monkeypatch):
    outside = class_folders(tmp_path / "outside")
    root = class_folders(tmp_path / "data")
    (root / "extra").symlink_to(outside / "pos", target_is_directory=True)
    (root / "neg" / "link.txt").symlink_to(outside / "neg" / "0.txt")
    with pytest.raises(ValueError, match="symbolic link"):
        list(read_class_folders(root))
    monkeypatch.setenv("RNNKIT_FOLLOW_SYMLINKS", "1")
    assert "neg words 0\n" in [record.text for record in read_class_folders(root) if record.where.endswith("link.txt")]


def test_a_symlinked_wav_inside_a_folder_is_refused(tmp_path):
    write_wav(tmp_path / "elsewhere.wav", np.zeros(800), 8000)
    for label in ("one", "two"):
        write_wav(tmp_path / "audio" / label / "a.wav", np.zeros(800), 8000)
    (tmp_path / "audio" / "one" / "b.wav").symlink_to(tmp_path / "elsewhere.wav")
    with pytest.raises(ValueError, match=r"one/b\.wav: a symbolic link"):
        read_labelled_audio(tmp_path / "audio")


SERIES = "month,y\n2000-01,1\n2000-02,2\n2000-03,3\n2000-04,4\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "needle"), [
    # one malformed date used to switch the date checks off: unsorted, duplicate and missing dates then passed
    ("month,y\n2000-01,1\n2000-03,3\n2000-02,2\nJan 2000,5\n", r"line 5: date 'Jan 2000'; expected a valid YYYY-MM"),
    ("month,y\n2000-01,1\n2000-13,3\n2000-02,2\n", r"line 3: date '2000-13'; expected a valid YYYY-MM month"),
    ("day,y\n2021-01-04,1\n2021-02-30,2\n2021-01-06,2\n", r"line 3: date '2021-02-30'; expected a valid YYYY-MM-DD"),
    ("month,y\n2000-01,1\n2000-02,2,7\n2000-03,3\n", r"line 3: 3 fields; expected 2 as in the header"),
    ("month,y\n2000-01,1\n2000-02,1e300\n2000-03,3\n", r"line 3, column 'y': got '1e300'; expected a finite number"),
    ("month,y\n2000-01,1\n2000-02,-2e16\n", r"line 3, column 'y': got '-2e16'"),
])
def test_forecast_files_are_refused_with_the_line(tmp_path, text, needle):
    date_column = text.split(",", 1)[0]
    with pytest.raises(ValueError, match=needle):
        read_timeseries(write(tmp_path, text), ["y"], date_column)


def test_forecast_values_and_dates_that_are_fine_still_read(tmp_path, monkeypatch):
    series = read_timeseries(write(tmp_path, SERIES), ["y"], "month")
    assert series.values[:, 0].tolist() == [1, 2, 3, 4]
    labels = read_timeseries(write(tmp_path, "t,y\nQ1,1\nQ2,2\nQ3,3\n"), ["y"], "t")  # no date form: row order
    assert labels.dates == ["Q1", "Q2", "Q3"]
    monkeypatch.setenv("RNNKIT_MAX_ABS_VALUE", "0")  # the explicit option: no limit
    assert read_timeseries(write(tmp_path, "t,y\n1,1e300\n"), ["y"]).values[0, 0] == 1e300


def test_in_memory_forecast_values_are_checked_too():
    with pytest.raises(ValueError, match=r"data row 2, column 'y': got 1e\+300"):
        timeseries_from_columns({"y": [1.0, 1e300]}, ["y"])
    with pytest.raises(ValueError, match=r"data row 3: date '2000-99'"):
        timeseries_from_columns({"m": ["2000-01", "2000-02", "2000-99"], "y": [1, 2, 3]}, ["y"], "m")


def test_forecast_cli_refuses_an_absurd_value(tmp_path):
    rows = "\n".join(f"2000-{month:02d},{month}" for month in range(1, 13)) + "\n2001-01,1e300\n"
    path = write(tmp_path, "month,y\n" + rows)
    result = invoke("train", "forecast", "--data", path, "--target", "y", "--date-column", "month",
                    "--out", tmp_path / "run", "--quiet")
    assert_user_error(result, "series.csv line 14", "1e300")


def test_byte_order_marks_are_stripped_from_every_line_of_parallel_data(tmp_path):
    bom = "\ufeff"
    path = tmp_path / "pairs.tsv"
    path.write_text(f"{bom}hello world\tbonjour monde\n{bom}a b\tc d\n", encoding="utf-8")  # two files joined
    pairs = read_pairs(path)
    assert [(pair.source, pair.target) for pair in pairs] == [("hello world", "bonjour monde"), ("a b", "c d")]
    (tmp_path / "p.en").write_text(f"{bom}one\n{bom}two\n", encoding="utf-8")
    (tmp_path / "p.fr").write_text(f"{bom}un\ndeux\n", encoding="utf-8")
    pairs = read_pairs(tmp_path / "p", "en", "fr")
    assert all(bom not in pair.source + pair.target for pair in pairs)


def wav_bytes(samples: int = 800, rate: int = 8000) -> bytes:
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.zeros(samples, dtype="<i2").tobytes())
    return buffer.getvalue()


def test_a_truncated_wav_is_refused(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes()[:-101])
    with pytest.raises(ValueError, match=r"cut\.wav: the header claims 1,600 bytes of samples but the file holds"):
        read_wav(path)


def test_a_wav_header_claiming_a_gigabyte_is_refused_before_reading(tmp_path):
    data = bytearray(wav_bytes())
    data_at = data.find(b"data")
    struct.pack_into("<I", data, data_at + 4, 2**30)  # the data chunk claims 1 GiB
    struct.pack_into("<I", data, 4, 2**30 + 36)
    path = tmp_path / "liar.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"liar\.wav: the header claims 1,073,741,824 bytes"):
        read_wav(path)


@pytest.mark.parametrize("size", [0, 30])
def test_empty_and_tiny_wavs_say_why(tmp_path, size):
    path = tmp_path / "tiny.wav"
    path.write_bytes(wav_bytes()[:size])
    with pytest.raises(ValueError, match=rf"tiny\.wav: not a readable PCM WAV file: {size} bytes, too short"):
        read_wav(path)


def test_an_intact_wav_still_reads(tmp_path):
    path = tmp_path / "ok.wav"
    path.write_bytes(wav_bytes(samples=800))
    samples, rate = read_wav(path)
    assert rate == 8000 and samples.shape == (800,)


DNA_TINY = ["--hidden-size", "4", "--epochs", "1", "--batch-size", "4", "--quiet"]


def dna_table(path: Path, stray: str | None = None) -> Path:
    rng = np.random.default_rng(0)
    rows = ["seq\tBound"] + [f"{''.join(rng.choice(list('ACGT'), 12))}\t{index % 2}" for index in range(20)]
    if stray is not None:
        rows[7] = rows[7].split("\t")[0] + "\t" + stray
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_stray_dna_label_is_refused_not_made_a_class(tmp_path):
    data = dna_table(tmp_path / "peaks.tsv", stray="x")
    assert_user_error(invoke("train", "dna", "--data", data, "--out", tmp_path / "run", *DNA_TINY),
                      "peaks.tsv line 8", "label 'x'", "'0', '1'", "--classes")
    code, _, err = invoke("train", "dna", "--data", data, "--out", tmp_path / "run2", "--classes", "0,1,x",
                          *DNA_TINY)
    assert code == 0, err


def test_dna_labels_outside_the_binary_convention_still_train(tmp_path):
    rng = np.random.default_rng(1)
    rows = ["seq\tBound"] + [f"{''.join(rng.choice(list('ACGT'), 12))}\t{('kinase', 'ligase', 'other')[i % 3]}"
                             for i in range(21)]
    (tmp_path / "families.tsv").write_text("\n".join(rows) + "\n")
    code, _, err = invoke("train", "dna", "--data", tmp_path / "families.tsv", "--out", tmp_path / "run", *DNA_TINY)
    assert code == 0, err


def test_predict_on_an_empty_file_exits_non_zero(tmp_path):
    data = dna_table(tmp_path / "peaks.tsv")
    assert invoke("train", "dna", "--data", data, "--out", tmp_path / "run", *DNA_TINY)[0] == 0
    (tmp_path / "empty.tsv").write_text("")
    code, out, err = invoke("predict", tmp_path / "run", "--input", tmp_path / "empty.tsv")
    assert code == 2 and out == "" and err.startswith("rnnkit: error: ") and len(err.splitlines()) == 1, err



def test_a_wav_whose_format_chunk_overruns_the_file_is_one_line(tmp_path):
    # found by the fuzzer: wave raised a bare RuntimeError from its chunk reader
    data = bytearray(wav_bytes())
    struct.pack_into("<I", data, data.find(b"fmt ") + 4, 0x110)
    path = tmp_path / "overrun.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"overrun\.wav: not a readable PCM WAV file"):
        read_wav(path)
