"""Word-vector files (word2vec / fastText header or GloVe without one, .gz): only the wanted rows kept, lower-case
fallback, and one-line errors naming the file and line for a wrong dimension or a value that is not a number."""

from __future__ import annotations

import gzip

import pytest
import torch

from rnnkit.data.readers.vectors import read_vectors

GLOVE = "the 0.1 0.2 0.3\ncat 1 2 3\nparis -1 -2 -3.5\nunused 9 9 9\n"


def test_glove_rows_of_the_wanted_words_only_with_a_lower_case_fallback(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text(GLOVE, encoding="utf-8")
    found = read_vectors(path, ["the", "Paris", "dog", "cat"], 3)
    assert set(found) == {"the", "Paris", "cat"}
    torch.testing.assert_close(found["Paris"], torch.tensor([-1.0, -2.0, -3.5]))


def test_word2vec_header_and_gzip(tmp_path):
    path = tmp_path / "vectors.vec.gz"
    path.write_bytes(gzip.compress(("4 3\n" + GLOVE).encode()))
    assert set(read_vectors(path, ["cat", "unused"], 3)) == {"cat", "unused"}


def test_an_exact_match_wins_over_the_lower_case_one(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("apple 1 1\nApple 2 2\n", encoding="utf-8")
    found = read_vectors(path, ["Apple", "apple", "APPLE"], 2)
    assert found["Apple"].tolist() == [2, 2] and found["apple"].tolist() == [1, 1] and found["APPLE"].tolist() == [1, 1]


@pytest.mark.parametrize("text,needle", [
    ("the 0.1 0.2\n", "line 1: got 2 values after the word; expected 3"),
    ("2 5\nthe 1 2 3 4 5\n", "line 1: the header gives dimension 5; expected 3"),
    ("the 1 2 3\ncat 1 2\n", "line 2: got 2 values after the word; expected 3"),
    ("the 1 2 3\ncat 1 x 3\n", "line 2: a value of 'cat' is not a number"),
    ("\n\n", "holds no vectors"),
])
def test_bad_files_are_one_line_errors_naming_file_and_line(tmp_path, text, needle):
    path = tmp_path / "bad.vec"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=needle) as error:
        read_vectors(path, ["the", "cat"], 3)
    assert str(path) in str(error.value)
