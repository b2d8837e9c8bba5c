"""read_text / read_lines: text comes back normalised; everything that is not text gets an actionable error."""

import pytest

from rnnkit.data import read_lines, read_text


def write(tmp_path, data: bytes, name="input.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_utf8_and_normalises_line_endings(tmp_path):
    path = write(tmp_path, "caf\u00e9\r\nna\u00efve\rend\n".encode())
    assert read_text(path) == "caf\u00e9\nna\u00efve\nend\n"
    assert read_text(str(path)) == read_text(path)


def test_drops_a_utf8_byte_order_mark(tmp_path):
    assert read_text(write(tmp_path, b"\xef\xbb\xbfhello\n")) == "hello\n"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=f"{path}: no such file"):
        read_text(path)


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory; expected a text file"):
        read_text(tmp_path)


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t "])
def test_empty_or_whitespace_file(tmp_path, data):
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=f"{path}: the file is empty; expected text"):
        read_text(path)


def test_binary_file_names_the_nul_offset(tmp_path):
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match=r"looks like a binary file \(NUL byte at offset 8\); expected text"):
        read_text(path)


def test_nul_after_the_probe_is_not_called_binary(tmp_path):
    path = write(tmp_path, b"a" * 9000 + b"\x00")
    assert read_text(path).endswith("\x00")


def test_invalid_utf8_gives_byte_offset_line_and_hint(tmp_path):
    data = "line one\nna\u00efve\n".encode() + b"caf\xe9 au lait\n"  # latin-1 e-acute inside UTF-8 text
    path = write(tmp_path, data)
    offset = data.index(b"\xe9")
    assert offset == 19
    expected = (f"{path}: invalid utf-8 at byte offset 19 (line 3); pass --encoding to read it with another "
                "encoding, e.g. --encoding latin-1")
    with pytest.raises(ValueError) as caught:
        read_text(path)
    assert str(caught.value) == expected


def test_latin1_reads_with_its_encoding(tmp_path):
    path = write(tmp_path, "caf\u00e9\r\n".encode("latin-1"))
    assert read_text(path, encoding="latin-1") == "caf\u00e9\n"


def test_utf16_is_not_mistaken_for_binary(tmp_path):
    path = write(tmp_path, "hello\nworld\n".encode("utf-16"))
    assert read_lines(path, encoding="utf-16") == ["hello", "world"]


@pytest.mark.parametrize("encoding", ["no-such-codec", "rot13"])
def test_unknown_encoding_is_named(tmp_path, encoding):
    with pytest.raises(ValueError, match=f"unknown text encoding '{encoding}'"):
        read_text(write(tmp_path, b"hi\n"), encoding=encoding)


@pytest.mark.parametrize("data, lines", [
    (b"a\n\nb\n", ["a", "", "b"]),
    (b"a\r\n\r\nb", ["a", "", "b"]),
    (b"\nx\n\n", ["", "x", ""]),
])
def test_read_lines_keeps_empty_lines_without_newlines(tmp_path, data, lines):
    assert read_lines(write(tmp_path, data)) == lines


def test_gzip_files_are_decompressed(tmp_path):
    import gzip

    from rnnkit.data.readers.text import read_text

    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(gzip.compress(b" the cat sat \r\n on the mat \n"))
    assert read_text(path) == " the cat sat \n on the mat \n"
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"broken\.txt\.gz: not a valid gzip file"):
        read_text(broken)
