"""Labelled-text readers: tables, label-first lines, a file per class, folders per class (directory and zip),
and one clear error per malformed record, naming the file and line."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from rnnkit.data.readers import detect_format, read_labelled, read_texts
from rnnkit.data.readers.labelled import class_labels


def records(*args, **options) -> list[tuple[str, str | None, str]]:
    return [(record.text, record.label, record.where) for record in read_labelled(*args, **options)]


def test_csv_with_chosen_columns_and_a_quoted_field_over_two_lines(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,review,stars\n1,"great, really",pos\n2,"bad\nvery bad",neg\n3,fine,pos\n', encoding="utf-8")
    got = records(path, text_column="review", label_column="stars")
    assert got == [("great, really", "pos", f"{path} line 2"), ("bad\nvery bad", "neg", f"{path} line 3"),
                   ("fine", "pos", f"{path} line 5")]


def test_tsv_keeps_quotes_as_text_and_gz_is_read(tmp_path):
    path = tmp_path / "data.tsv.gz"
    path.write_bytes(gzip.compress(b'label\ttext\n1\tsays "hi\n0\tno\n'))
    assert records(path) == [('says "hi', "1", f"{path} line 2"), ("no", "0", f"{path} line 3")]


def test_jsonl_labels_may_be_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "good", "label": 1}\n\n{"text": "bad", "label": "0"}\n', encoding="utf-8")
    assert records(path) == [("good", "1", f"{path} line 1"), ("bad", "0", f"{path} line 3")]


def test_label_first_lines_as_the_sst_files(tmp_path):
    path = tmp_path / "stsa.binary.train"
    path.write_text("1 a stirring , funny film\n0 apparently reassembled\n", encoding="utf-8")
    assert records(path) == [("a stirring , funny film", "1", f"{path} line 1"),
                             ("apparently reassembled", "0", f"{path} line 2")]


def test_one_file_per_class_in_cp1252(tmp_path):
    pos, neg = tmp_path / "rt-polarity.pos", tmp_path / "rt-polarity.neg"
    pos.write_bytes("a caf\xe9 \x97 fine\n\nwarm\n".encode("latin-1"))
    neg.write_bytes(b"dull\n")
    got = records([pos, neg], encoding="cp1252")
    assert got == [("a café — fine", "pos", f"{pos} line 1"), ("warm", "pos", f"{pos} line 3"),
                   ("dull", "neg", f"{neg} line 1")]
    with pytest.raises(ValueError, match=r"rt-polarity.pos line 1: invalid utf-8 .* --encoding"):
        records([pos, neg])


def test_class_labels_from_file_names():
    assert class_labels([Path("a/rt.pos"), Path("a/rt.neg")]) == ["pos", "neg"]
    assert class_labels([Path("spam.txt"), Path("ham.txt")]) == ["spam", "ham"]
    with pytest.raises(ValueError, match="same label twice"):
        class_labels([Path("a/spam.txt"), Path("b/spam.txt")])


def make_folders(root: Path) -> None:
    for label, texts in {"tennis": ["ace", "deuce"], "golf": ["birdie"]}.items():
        (root / "bbcsport" / label).mkdir(parents=True)
        for index, text in enumerate(texts):
            (root / "bbcsport" / label / f"{index:03d}.txt").write_text(text + "\n", encoding="utf-8")
    (root / "bbcsport" / "README.TXT").write_text("not an example", encoding="utf-8")
    (root / "bbcsport" / "golf" / ".DS_Store").write_bytes(b"\x00\x01")


def test_folder_per_class_steps_through_a_wrapper_folder(tmp_path):
    make_folders(tmp_path / "corpus")
    got = [(text, label) for text, label, _ in records(tmp_path / "corpus")]
    assert got == [("birdie\n", "golf"), ("ace\n", "tennis"), ("deuce\n", "tennis")]


def test_zip_of_class_folders_equals_the_directory(tmp_path):
    make_folders(tmp_path / "corpus")
    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted((tmp_path / "corpus").rglob("*")):
            handle.write(path, path.relative_to(tmp_path / "corpus").as_posix())
        handle.writestr("__MACOSX/bbcsport/._x.txt", b"\x00")
    from_zip = records(archive)
    assert [(text, label) for text, label, _ in from_zip] == [("birdie\n", "golf"), ("ace\n", "tennis"),
                                                              ("deuce\n", "tennis")]
    assert from_zip[0][2] == f"{archive}:bbcsport/golf/000.txt"


def test_detect_format():
    assert detect_format([Path("a.csv")]) == "table"
    assert detect_format([Path("a.jsonl.gz")]) == "table"
    assert detect_format([Path("a.zip")]) == "folders"
    assert detect_format([Path("stsa.binary.train")]) == "lines"
    assert detect_format([Path("x.pos"), Path("x.neg")]) == "files"


def test_read_texts_plain_lines_and_table_columns(tmp_path):
    lines = tmp_path / "in.txt"
    lines.write_text("first\n\nsecond\n", encoding="utf-8")
    assert [record.text for record in read_texts(lines)] == ["first", "second"]
    table = tmp_path / "in.csv"
    table.write_text("body\nhello\n", encoding="utf-8")
    assert [(r.text, r.label) for r in read_texts(table, text_column="body")] == [("hello", None)]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.csv", "text,stars\nhi,1\n", r"a.csv line 1: no label column 'label' in the header \(found 'text', 'stars'\)"),
    ("a.csv", "text,label\nhi,1\nthere,1,2\n", r"a.csv line 3: 3 fields; expected 2"),
    ("a.csv", 'text,label\n"open,1\n', r"a.csv line \d: malformed CSV"),
    ("a.tsv", "text\tlabel\nhi\t1\nbye\n", r"a.tsv line 3: 1 fields; expected 2"),
    ("a.jsonl", '{"text": "a", "label": 1}\n{"text": "b", \n', r"a.jsonl line 2: not valid JSON"),
    ("a.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n', r"a.jsonl line 2: no label key 'label'"),
    ("a.jsonl", '["a", 1]\n', r"a.jsonl line 1: got a JSON list; expected an object"),
    ("a.jsonl", '{"text": ["a"], "label": 1}\n', r"a.jsonl line 1: the text 'text' is \['a'\]"),
    ("a.csv", "\n\n", r"a.csv: no header line"),
    ("train.txt", "pos fine\nneg\n", r"train.txt line 2: got 'neg', only one word"),
])
def test_malformed_records_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        records(path)


def test_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.csv: no such file"):
        records(tmp_path / "absent.csv")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="flat: holds no class folders"):
        records(flat)
    not_zip = tmp_path / "broken.zip"
    not_zip.write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="broken.zip: not a zip archive"):
        records(not_zip)
    with pytest.raises(ValueError, match="format: got 'xml'"):
        records(tmp_path / "a.csv", format="xml")
    (tmp_path / "a.csv").write_text("text,label\n", encoding="utf-8")
    with pytest.raises(ValueError, match="one file per class needs"):
        records(tmp_path / "a.csv", format="files")
    json_path = tmp_path / "b.jsonl"
    json_path.write_text(json.dumps({"text": "x", "label": "y"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="got 2 paths for format 'table'"):
        records([json_path, json_path], format="table")
