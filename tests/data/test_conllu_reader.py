"""CoNLL-U reader: comments, multiword ranges and empty nodes skipped, UPOS or XPOS, .gz, auto-detection, and a
one-line error naming the file and line for a malformed line."""

from __future__ import annotations

import gzip

import pytest

from rnnkit.data.readers.conllu import looks_like_conllu, read_conllu


def row(*columns: str) -> str:
    return "\t".join(columns)


CONLLU = "\n".join([
    "# newdoc id = weblog-1",
    "# sent_id = 1",
    "# text = Don't leave.",
    row("1-2", "Don't", "_", "_", "_", "_", "_", "_", "_", "_"),
    row("1", "Do", "do", "AUX", "VBP", "_", "3", "aux", "_", "_"),
    row("2", "n't", "not", "PART", "RB", "_", "3", "advmod", "_", "_"),
    row("3", "leave", "leave", "VERB", "VB", "_", "0", "root", "_", "_"),
    row("3.1", "leave", "leave", "VERB", "VB", "_", "_", "_", "3:conj", "_"),
    row("4", ".", ".", "PUNCT", ".", "_", "3", "punct", "_", "_"),
    "",
    "# sent_id = 2",
    row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_"),
    "",
])


def test_words_only_with_upos_or_xpos_and_their_lines(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    first, second = read_conllu(path)
    assert first.tokens == ("Do", "n't", "leave", ".") and first.tags == ("AUX", "PART", "VERB", "PUNCT")
    assert first.lines == (5, 6, 7, 9) and second.tokens == ("Hi",) and second.where == f"{path} line 12"
    assert [s.tags for s in read_conllu(path, tag="xpos")] == [("VBP", "RB", "VB", "."), ("UH",)]
    assert [s.tags for s in read_conllu(path, tag=None)] == [None, None]


def test_gzip_and_several_files(tmp_path):
    plain, packed = tmp_path / "a.conllu", tmp_path / "b.conllu.gz"
    plain.write_text(CONLLU, encoding="utf-8")
    packed.write_bytes(gzip.compress(CONLLU.encode()))
    assert len(list(read_conllu([plain, packed]))) == 4
    assert looks_like_conllu(packed)


def test_auto_detection_tells_conllu_from_conll(tmp_path):
    conllu, conll = tmp_path / "a.conllu", tmp_path / "b.txt"
    conllu.write_text(CONLLU, encoding="utf-8")
    conll.write_text("# O\nEU NNP B-ORG\n", encoding="utf-8")  # a '#' token is not a comment line here
    assert looks_like_conllu(conllu) and not looks_like_conllu(conll)


@pytest.mark.parametrize("line,needle", [
    (row("1", "Do", "do", "AUX"), "line 2: got 4 tab-separated columns; expected 10"),
    (row("x", "Do", "do", "AUX", "VBP", "_", "3", "aux", "_", "_"), "line 2: got ID 'x'; expected a word number"),
    (row("1", "", "do", "AUX", "VBP", "_", "3", "aux", "_", "_"), "line 2: the FORM column is empty"),
    (row("1", "Do", "do", "_", "VBP", "_", "3", "aux", "_", "_"), "line 2: the UPOS column is '_'; expected a tag"),
])
def test_a_malformed_line_names_file_and_line(tmp_path, line, needle):
    path = tmp_path / "bad.conllu"
    path.write_text("# sent_id = 1\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=needle) as error:
        list(read_conllu(path))
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_tag_column_is_refused(tmp_path):
    with pytest.raises(ValueError, match="tag: got 'lemma'"):
        list(read_conllu(tmp_path / "a.conllu", tag="lemma"))
