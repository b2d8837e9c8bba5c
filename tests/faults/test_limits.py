"""Bounded resources: zip bombs and unreadable members, long lines, huge models and endless generation are
refused with one line, before they take the memory or the time they ask for."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rnnkit.data.limits import limit, read_capped_lines
from rnnkit.data.readers.labelled import numbered_lines, read_class_folders
from tests.cli_helpers import assert_user_error, invoke
from tests.faults.run_helpers import train_args, write_text
from tests.faults.zip_helpers import break_crc, class_folders_zip, mark_encrypted, mark_method, plain_members

VICTIM = "data/pos/0.txt"


def read_all(path: Path) -> list:
    return list(read_class_folders(path))


def test_a_plain_archive_still_reads(tmp_path):
    records = read_all(class_folders_zip(tmp_path / "ok.zip", plain_members()))
    assert sorted((record.label, record.text) for record in records)[0] == ("neg", "neg text number 0")
    assert len(records) == 6


def test_a_zip_bomb_member_is_refused_by_its_ratio(tmp_path):
    bomb = class_folders_zip(tmp_path / "bomb.zip", plain_members({"data/pos/bomb.txt": bytes(8 * 2**20)}))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"bomb\.txt: unpacks to over 200 times its packed size"):
        read_all(bomb)


def test_member_and_total_caps_are_configurable(tmp_path, monkeypatch):
    import os

    text = os.urandom(3 * 2**19).hex().encode()  # 3 MiB that do not pack
    big = class_folders_zip(tmp_path / "big.zip", plain_members({"data/pos/big.txt": text}),
                            compression=zipfile.ZIP_STORED)
    assert len(read_all(big)) == 7
    monkeypatch.setenv("RNNKIT_MAX_MEMBER_BYTES", str(2**20))
    with pytest.raises(ValueError, match="big.txt: unpacks to more than 1,048,576 bytes .*RNNKIT_MAX_MEMBER_BYTES"):
        read_all(big)
    monkeypatch.setenv("RNNKIT_MAX_MEMBER_BYTES", "0")  # off
    monkeypatch.setenv("RNNKIT_MAX_UNPACKED_BYTES", str(2 * 2**20))
    with pytest.raises(ValueError, match="more than 2,097,152 bytes in all"):
        read_all(big)
    monkeypatch.setenv("RNNKIT_MAX_UNPACKED_BYTES", "lots")
    with pytest.raises(ValueError, match="RNNKIT_MAX_UNPACKED_BYTES='lots': expected a whole number"):
        limit("RNNKIT_MAX_UNPACKED_BYTES")


@pytest.mark.parametrize(("damage", "needle"), [
    (mark_encrypted, "encrypted"),
    (lambda path, member: mark_method(path, member, 99), "compression method 99"),
    (break_crc, "cannot be unpacked"),
])
def test_unreadable_members_are_one_line_errors(tmp_path, damage, needle):
    archive = class_folders_zip(tmp_path / "bad.zip", plain_members(), compression=zipfile.ZIP_STORED)
    damage(archive, VICTIM)
    with pytest.raises(ValueError, match=needle) as error:
        read_all(archive)
    assert VICTIM in str(error.value) and "\n" not in str(error.value)


def test_unreadable_member_through_the_cli(tmp_path):
    archive = class_folders_zip(tmp_path / "bad.zip", plain_members(), compression=zipfile.ZIP_STORED)
    break_crc(archive, VICTIM)
    assert_user_error(invoke("train", "classify", "--data", archive, "--out", tmp_path / "run", "--quiet"),
                      "bad.zip", VICTIM)
    assert not (tmp_path / "run").exists()


def test_a_long_line_is_refused_without_holding_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_MAX_LINE_BYTES", "1000")
    path = tmp_path / "long.txt"
    path.write_bytes(b"short\n" + b"x" * 5000 + b"\nafter\n")
    with pytest.raises(ValueError, match=r"long.txt line 2: longer than 1,000 bytes"):
        list(numbered_lines(path))
    path.write_bytes(b"a" * 1000 + b"\r\n" + b"b" * 1000)  # exactly at the limit: fine, with or without a newline
    assert [len(line) for _, line in numbered_lines(path)] == [1000, 1000]


def test_capped_lines_reads_no_more_than_the_limit_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_MAX_LINE_BYTES", "10")

    class Recording:
        def __init__(self, data: bytes) -> None:
            self.data, self.asked = data, []

        def readline(self, size: int = -1) -> bytes:
            self.asked.append(size)
            line, _, rest = self.data.partition(b"\n")
            taken = (line + b"\n")[:size] if size >= 0 else line + b"\n"
            self.data = self.data[len(taken):]
            return taken if line or rest or self.data else b""

    stream = Recording(b"y" * 10_000)
    with pytest.raises(ValueError, match="line 1"):
        list(read_capped_lines(stream, "stdin"))
    assert stream.asked == [12]


def test_a_huge_hidden_size_is_refused_before_allocation(tmp_path):
    data = write_text(tmp_path / "text.txt")
    line = assert_user_error(invoke(*train_args(data, tmp_path / "run"), "--hidden-size", "100000000"),
                             "parameters", "RNNKIT_MAX_PARAMETERS", "--hidden-size")
    assert "GiB" in line


def test_the_parameter_limit_counts_what_the_model_holds(tmp_path, monkeypatch):
    from rnnkit.models import LanguageModel, LanguageModelConfig
    from rnnkit.tasks.model_size import build_within_limit, count_parameters

    def build():
        return LanguageModel(30, LanguageModelConfig(hidden_size=16, embedding_size=8))

    count = count_parameters(build)
    assert count == sum(parameter.numel() for parameter in build().parameters())
    monkeypatch.setenv("RNNKIT_MAX_PARAMETERS", str(count))
    assert isinstance(build_within_limit(build), LanguageModel)
    monkeypatch.setenv("RNNKIT_MAX_PARAMETERS", str(count - 1))
    with pytest.raises(ValueError, match=f"{count:,} parameters"):
        build_within_limit(build)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    run = folder / "run"
    code, _, err = invoke(*train_args(write_text(folder / "text.txt"), run))
    assert code == 0, err
    return run


def test_generate_length_is_capped(lm_run):
    assert_user_error(invoke("generate", lm_run, "--length", 10**11), "--length", "RNNKIT_MAX_GENERATE_LENGTH")
    import rnnkit as rk

    with pytest.raises(ValueError, match="length: 100,000,000,000 tokens exceeds"):
        rk.load(lm_run).generate("the", length=10**11)
    code, out, err = invoke("generate", lm_run, "--length", 5, "--seed", 0)
    assert code == 0, err


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clf")
    rows = ["text,label"] + [f"{word} film {index},{label}" for index in range(12)
                             for word, label in (("good", "pos"), ("bad", "neg"))]
    (folder / "train.csv").write_text("\n".join(rows) + "\n")
    run = folder / "run"
    code, _, err = invoke("train", "classify", "--data", folder / "train.csv", "--out", run, "--epochs", 1,
                          "--hidden-size", 4, "--embedding-size", 4, "--quiet")
    assert code == 0, err
    return run


def test_predict_on_a_long_line_is_one_line(classify_run, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_MAX_LINE_BYTES", "100000")
    path = tmp_path / "inputs.txt"
    path.write_bytes(b"good film\n" + b"bad " * 100_000 + b"\n")
    assert_user_error(invoke("predict", classify_run, "--input", path), "inputs.txt line 2", "RNNKIT_MAX_LINE_BYTES")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_predict_on_an_empty_file_is_an_error(classify_run, tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert_user_error(invoke("predict", classify_run, "--input", path), "empty.txt", "no inputs")


def test_default_limits_are_generous_but_finite():
    assert limit("RNNKIT_MAX_LINE_BYTES") >= 10**6 and limit("RNNKIT_MAX_PARAMETERS") >= 10**9


def test_predict_on_a_long_stdin_line_is_one_line(classify_run, monkeypatch):
    import io

    monkeypatch.setenv("RNNKIT_MAX_LINE_BYTES", "100")
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeffgood film\n" + "bad " * 100 + "\n"))
    assert_user_error(invoke("predict", classify_run, "--input", "-"), "stdin line 2", "RNNKIT_MAX_LINE_BYTES")
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeffgood film\n"))
    code, out, err = invoke("predict", classify_run, "--input", "-")
    assert code == 0 and len(out.splitlines()) == 1, err
