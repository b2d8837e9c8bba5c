"""CoNLL reader: columns chosen, -DOCSTART- skipped, blank lines between sentences, .gz, streaming, and one
clear error per malformed line naming the file and line."""

from __future__ import annotations

import gzip

import pytest

from rnnkit.data.readers import TaggedSentence, read_conll

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER


BRUSSELS NNP B-NP B-LOC
"""


def test_first_and_last_columns_by_default_and_the_lines_of_each_token(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL2003, encoding="utf-8")
    sentences = list(read_conll(path))
    assert [s.tokens for s in sentences] == [("EU", "rejects", "German"), ("Peter", "Blackburn"), ("BRUSSELS",)]
    assert [s.tags for s in sentences] == [("B-ORG", "O", "B-MISC"), ("B-PER", "I-PER"), ("B-LOC",)]
    assert sentences[0].lines == (3, 4, 5) and sentences[2].lines == (11,)
    assert sentences[1].where == f"{path} line 7" and sentences[1].where_token(1) == f"{path} line 8"


def test_chosen_columns_negative_index_and_tokens_only(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL2003, encoding="utf-8")
    chunks = list(read_conll(path, token_column=0, tag_column=2))
    assert chunks[0].tags == ("B-NP", "B-VP", "B-NP")
    pos = list(read_conll(path, token_column=-4, tag_column=-3))
    assert pos[1].tokens == ("Peter", "Blackburn") and pos[1].tags == ("NNP", "NNP")
    tokens_only = list(read_conll(path, tag_column=None))
    assert tokens_only[0].tags is None and tokens_only[0].tokens == ("EU", "rejects", "German")


def test_gz_tabs_and_several_files_in_order(tmp_path):
    first = tmp_path / "a.tsv.gz"
    first.write_bytes(gzip.compress(b"New York\tB-LOC\nis\tO\n"))
    second = tmp_path / "b.txt"
    second.write_text("x O\n\ny B-X\n", encoding="utf-8")
    (tab,) = read_conll(first, separator="tab")
    assert tab.tokens == ("New York", "is") and tab.tags == ("B-LOC", "O")
    assert [s.tokens for s in read_conll([second, second])] == [("x",), ("y",), ("x",), ("y",)]


def test_reading_is_a_stream(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a O\n\nb O\n\nc O d\n", encoding="utf-8")  # the third sentence is malformed
    sentences = read_conll(path)
    assert next(sentences).tokens == ("a",)  # read before the bad line is reached
    assert next(sentences).tokens == ("b",)
    with pytest.raises(ValueError, match="line 5"):
        next(sentences)


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("EU B-ORG\nrejects\n", 2, "a token 'rejects' but no tag"),
    ("EU\n", 1, "a token 'EU' but no tag"),
    ("EU NNP B-ORG\nrejects VBZ B-VP O\n", 2, "got 4 columns; expected 3 columns as on line 1"),
    ("a O\n\nb NN O\n", 3, "got 3 columns; expected 2 columns as on line 1"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        list(read_conll(path))
    message = str(caught.value)
    assert message.startswith(f"{path} line {line}: ") and needle in message and "\n" not in message


def test_empty_tab_fields_are_errors(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("EU\tB-ORG\nrejects\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path} line 2: got a token 'rejects' but no tag"):
        list(read_conll(path, separator="tab"))
    path.write_text("EU\tB-ORG\n\tO\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path} line 2: the token .* is empty"):
        list(read_conll(path, separator="tab"))


def test_columns_out_of_range_or_the_same(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("EU NNP B-ORG\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: got 3 columns; expected at least 6"):
        list(read_conll(path, tag_column=5))
    with pytest.raises(ValueError, match="the same column"):
        list(read_conll(path, token_column=2, tag_column=-1))
    with pytest.raises(ValueError, match="separator"):
        list(read_conll(path, separator=";"))


def test_missing_file_undecodable_line_and_broken_gz(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(read_conll(tmp_path / "none.txt"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a O\nCaf\xe9 O\n".encode("latin-1"))
    with pytest.raises(ValueError, match=f"{latin} line 2: invalid utf-8"):
        list(read_conll(latin))
    assert list(read_conll(latin, encoding="latin-1"))[0].tokens == ("a", "Café")
    broken = tmp_path / "broken.txt.gz"
    data = gzip.compress("".join(f"w{i} O\n" for i in range(500)).encode())
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot be read"):
        list(read_conll(broken))


def test_empty_file_gives_no_sentences(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("-DOCSTART- -X- O O\n\n\n", encoding="utf-8")
    assert list(read_conll(path)) == []
    assert isinstance(TaggedSentence(("a",), None, "x", (1,)).where, str)
