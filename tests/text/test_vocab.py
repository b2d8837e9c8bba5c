"""Vocab: ordering, filtering, unknown tokens, one-pass building, files, errors, and properties."""

import json
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.text import UnknownTokenError, Vocab

CORPUS = [["b", "a", "c", "a"], ["c", "d", "a"], ["e"]]  # a 3, c 2, b 1, d 1, e 1


def test_order_is_specials_then_count_then_alphabet():
    assert Vocab.build(CORPUS).itos == ["<pad>", "<unk>", "a", "c", "b", "d", "e"]
    assert Vocab.build(CORPUS, specials=("<unk>", "<bos>")).itos == ["<unk>", "<bos>", "a", "c", "b", "d", "e"]


def test_min_freq_and_max_size():
    assert Vocab.build(CORPUS, min_freq=2).itos == ["<pad>", "<unk>", "a", "c"]
    assert Vocab.build(CORPUS, min_freq=4).itos == ["<pad>", "<unk>"]
    assert Vocab.build(CORPUS, max_size=4).itos == ["<pad>", "<unk>", "a", "c"]  # max_size counts specials
    assert len(Vocab.build(CORPUS, max_size=2)) == 2
    assert len(Vocab.build(CORPUS, max_size=100)) == 7


def test_unknown_tokens_map_to_unk():
    vocab = Vocab.build(CORPUS)
    assert vocab.encode(["a", "zzz", "e"]) == [2, vocab.unk_id, 6]
    assert vocab["zzz"] == vocab.unk_id and "zzz" not in vocab and "a" in vocab


def test_without_unk_or_pad_the_errors_are_clear():
    vocab = Vocab.build(CORPUS, specials=())
    assert vocab.itos == ["a", "c", "b", "d", "e"]
    with pytest.raises(ValueError, match="'zzz' is not in the vocabulary") as caught:
        vocab.encode(["a", "zzz"])
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, UnknownTokenError)
    with pytest.raises(ValueError, match="no '<unk>' special"):
        _ = vocab.unk_id
    with pytest.raises(ValueError, match="no '<pad>' special"):
        _ = vocab.pad_id


def test_corpus_token_equal_to_a_special_keeps_the_special_id():
    vocab = Vocab.build([["<unk>", "x", "<unk>"]])
    assert vocab.itos == ["<pad>", "<unk>", "x"]


def test_build_reads_a_generator_exactly_once():
    iterations = 0

    def corpus():
        nonlocal iterations
        iterations += 1
        if iterations > 1:
            raise AssertionError("the corpus was read twice")
        yield from (iter(tokens) for tokens in CORPUS)  # the inner lists are one-shot iterators too

    assert Vocab.build(corpus()) == Vocab.build(CORPUS)
    assert iterations == 1


def test_constructor_from_an_ordered_list():
    vocab = Vocab(["<pad>", "<unk>", "x", "y"])
    assert vocab == Vocab(["x", "y"])  # missing specials go in front
    assert vocab["y"] == 3 and vocab.token(3) == "y"
    assert vocab.stoi == {"<pad>": 0, "<unk>": 1, "x": 2, "y": 3}
    assert Vocab(["x", "y"], specials=()).itos == ["x", "y"]
    with pytest.raises(TypeError):
        vocab.stoi["z"] = 4  # read-only view


def test_decode_accepts_lists_and_long_tensors():
    vocab = Vocab.build(CORPUS)
    assert vocab.decode([2, 3]) == vocab.decode(torch.tensor([2, 3])) == ["a", "c"]
    for bad in ([99], [-1], [1.0], [True]):
        with pytest.raises(ValueError, match="expected an int"):
            vocab.decode(bad)
    with pytest.raises(ValueError, match="1-D integer"):
        vocab.decode(torch.tensor([2.0]))
    with pytest.raises(ValueError, match="1-D integer"):
        vocab.decode(torch.tensor([[2]]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_freq": 0}, "min_freq must be an int >= 1; got 0"),
        ({"max_size": 1}, "max_size .* must be an int >= 2; got 1"),
        ({"specials": ("<pad>", "<pad>")}, "specials must be unique"),
        ({"specials": "<pad>"}, "specials must be a sequence of str"),
    ],
)
def test_bad_build_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Vocab.build(CORPUS, **kwargs)


def test_empty_corpus_and_bare_strings_are_errors():
    message = "Vocab.build: the corpus is empty: got no tokens; expected at least one token"
    for corpus in ([], [[], []], iter([])):
        with pytest.raises(ValueError, match=message):
            Vocab.build(corpus)
    with pytest.raises(ValueError, match=r"token_lists\[0\] is a str"):
        Vocab.build(["the sun"])
    with pytest.raises(ValueError, match="got the str"):
        Vocab.build(CORPUS).encode("a")
    with pytest.raises(ValueError, match="must be unique"):
        Vocab(["x", "x"])


def test_save_load_round_trip_is_exact(tmp_path):
    tokens = [["naïve", "من", "\n", " ", "", "tab\there", '"quoted"', "emoji🙂", "<unk>", "\\"]]
    vocab = Vocab.build(tokens, specials=("<pad>", "<unk>", "<bos>"))
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(str(path))
    assert loaded == vocab and loaded.itos == vocab.itos and loaded.specials == vocab.specials
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document == {"format": "rnnkit.vocab", "version": 1, "specials": ["<pad>", "<unk>", "<bos>"],
                        "tokens": vocab.itos}
    assert "من" in path.read_text(encoding="utf-8")  # human-readable, not \u escapes
    assert [entry.name for entry in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Vocab.load(tmp_path / "missing.json")
    cases = {
        "not-json.json": ("{oops", "not JSON"),
        "list.json": ("[1, 2]", "expected a JSON object"),
        "format.json": ('{"format": "other", "version": 1, "specials": [], "tokens": ["a"]}', "format"),
        "version.json": ('{"format": "rnnkit.vocab", "version": 7, "specials": [], "tokens": ["a"]}', "version"),
        "shape.json": ('{"format": "rnnkit.vocab", "version": 1, "specials": [], "tokens": ["a", 3]}',
                       "'tokens' to be a list of strings"),
        "repeat.json": ('{"format": "rnnkit.vocab", "version": 1, "specials": [], "tokens": ["a", "a"]}',
                        "repeated tokens"),
        "special.json": ('{"format": "rnnkit.vocab", "version": 1, "specials": ["<unk>"], "tokens": ["a"]}',
                         "missing from"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=f"{name}: not an rnnkit vocabulary file: .*{reason}"):
            Vocab.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Vocab.build(CORPUS).save(tmp_path / "no" / "such" / "dir.json")


# Properties ---------------------------------------------------------------------------------------------

token_text = st.text(max_size=4)
corpora = st.lists(st.lists(token_text, max_size=8), min_size=1, max_size=8).filter(
    lambda corpus: any(corpus)
)


@given(corpora, st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_build_properties(corpus, min_freq):
    vocab = Vocab.build(corpus, min_freq=min_freq)
    counts = Counter(token for tokens in corpus for token in tokens)
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    assert [vocab[token] for token in vocab.itos] == list(range(len(vocab)))  # ids 0..len-1, unique
    regular = vocab.itos[2:]
    assert set(regular) == {t for t, c in counts.items() if c >= min_freq and t not in ("<pad>", "<unk>")}
    keys = [(-counts[token], token) for token in regular]
    assert keys == sorted(keys)  # counts non-increasing, ties alphabetical
    known = [token for tokens in corpus for token in tokens if token in vocab]
    assert vocab.decode(vocab.encode(known)) == known


@given(corpora, st.one_of(st.none(), st.integers(2, 10)))
@settings(max_examples=40, deadline=None)
def test_save_load_property(tmp_path_factory, corpus, max_size):
    vocab = Vocab.build(corpus, max_size=max_size)
    assert max_size is None or len(vocab) <= max_size
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    vocab.save(path)
    assert Vocab.load(path) == vocab
