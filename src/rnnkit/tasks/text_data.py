"""Labelled text (classify, condgen): records -> tokens -> ids and label ids, with a stratified validation split.

::

    read_labelled(paths)  ─┐
    (text, label) pairs  ──┴▶ (text, label, where) ─▶ tokens (word or char, cut to max_length) ─▶ Vocab ids
                                                  └▶ label id (labels sorted; the last of two is "positive")
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..data.readers.labelled import FORMATS, LabelledText, read_labelled
from ..text import CharTokenizer, Vocab, WordTokenizer
from ..text.clean import strip_html_tags
from ..text.vocab import DEFAULT_SPECIALS
from ..train.config import setting, validate_field_types
from .base import describe_data, is_path_like
from .common import Encoded, stratified_split
from .run_dir import Paths

Example = tuple[list[str], str, str]  # (tokens, label, where: file and line)
Splits = tuple[Encoded, Encoded, Encoded | None]  # train, valid, test (None when not given) as ids

LEVELS = ("word", "char")
TRUNCATIONS = ("head", "tail", "head+tail")


@dataclass(frozen=True)
class TextDataConfig:
    """How labelled text files are read and turned into ids.

    Attributes:
        format: ``"auto"``, ``"table"``, ``"lines"``, ``"files"`` or ``"folders"`` (see
            :mod:`rnnkit.data.readers.labelled`).
        text_column: the text column (or JSON key) of a table.
        label_column: the label column (or JSON key) of a table.
        encoding: text encoding of the files (``"cp1252"`` for rt-polarity).
        level: ``"word"`` (words and punctuation marks) or ``"char"``.
        lower: lower-case the text first.
        min_freq: keep tokens seen at least this often in the training data (others become ``<unk>``).
        max_vocab: keep at most this many tokens, specials included; None keeps all.
        max_length: keep at most this many tokens of each text (which ones: ``truncate``); None keeps all.
        truncate: which tokens a text longer than ``max_length`` keeps: ``"head"`` the first ones, ``"tail"``
            the last ones, ``"head+tail"`` the first ``ceil(max_length / 2)`` and the last ``floor(max_length /
            2)`` (long reviews tend to state the verdict at the start and sum it up at the end; Sun et al. 2019
            found head+tail the best cut of IMDB reviews).
        strip_html: replace HTML tags (``<br />``) by spaces before tokenizing (see
            :func:`rnnkit.text.clean.strip_html_tags`).
        valid_fraction: without validation data, hold out this share of each class of the training data.
    """

    format: str = setting("auto", help="auto, table (CSV/TSV/JSONL), lines (label first), files (one per class) or "
                                       "folders (one per class, directory or .zip)", choices=FORMATS)
    text_column: str = setting("text", help="text column or JSON key of a table")
    label_column: str = setting("label", help="label column or JSON key of a table")
    encoding: str = setting("utf-8", help="text encoding of the data files")
    level: str = setting("word", help="tokens: words or characters", choices=LEVELS)
    lower: bool = setting(True, help="lower-case the text")
    min_freq: int = setting(1, help="rarer training tokens become <unk>")
    max_vocab: int | None = setting(None, help="vocabulary size limit, specials included")
    max_length: int | None = setting(None, help="keep at most N tokens of each text (which: --truncate)")
    truncate: str = setting("head", help="head (first N tokens), tail (last N) or head+tail (first N/2 and last N/2)",
                            choices=TRUNCATIONS)
    strip_html: bool = setting(False, help="replace HTML tags such as <br /> by spaces")
    valid_fraction: float = setting(0.1, help="share of each class held out without --valid")

    def __post_init__(self) -> None:
        validate_field_types(self)
        if self.format not in FORMATS:
            raise ValueError(f"format: got {self.format!r}; expected one of {', '.join(map(repr, FORMATS))}")
        if self.level not in LEVELS:
            raise ValueError(f"level: got {self.level!r}; expected one of 'word', 'char'")
        if self.min_freq < 1:
            raise ValueError(f"min_freq: got {self.min_freq!r}; expected a positive integer")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise ValueError(f"max_vocab: got {self.max_vocab!r}; expected an integer >= 3, or null for all")
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"max_length: got {self.max_length!r}; expected a positive integer, or null for all")
        if self.truncate not in TRUNCATIONS:
            raise ValueError(f"truncate: got {self.truncate!r}; expected one of {', '.join(map(repr, TRUNCATIONS))}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a fraction in (0, 1)")


def tokenizer_of(config: TextDataConfig) -> CharTokenizer | WordTokenizer:
    return WordTokenizer(lower=config.lower) if config.level == "word" else CharTokenizer()


def truncate_tokens(tokens: list[str], max_length: int | None, truncate: str = "head") -> list[str]:
    """At most ``max_length`` of ``tokens``: the first, the last, or the first half and the last half.

    ::

        head+tail, max_length 5:  a b c d e f g h  ->  a b c . . . g h     (ceil(5/2) = 3 first, 2 last)
    """
    if max_length is None or len(tokens) <= max_length:
        return tokens
    if truncate == "head":
        return tokens[:max_length]
    if truncate == "tail":
        return tokens[len(tokens) - max_length :]
    if truncate == "head+tail":
        tail = max_length // 2
        return tokens[: max_length - tail] + tokens[len(tokens) - tail :]
    raise ValueError(f"truncate: got {truncate!r}; expected one of {', '.join(map(repr, TRUNCATIONS))}")


def tokens_of(record: LabelledText, config: TextDataConfig) -> list[str]:
    """The tokens of one record (HTML tags stripped and lower-cased at char level too, when asked), cut to
    ``max_length`` as ``truncate`` says."""
    text = strip_html_tags(record.text) if config.strip_html else record.text
    text = text.lower() if config.lower and config.level == "char" else text
    tokens = tokenizer_of(config).tokenize(text)
    if config.level == "char":
        tokens = [token for token in tokens if token not in "\r\n"]
    if not tokens or not "".join(tokens).strip():
        raise ValueError(f"{record.where}: the text {record.text[:40]!r} has no tokens; expected some text")
    return truncate_tokens(tokens, config.max_length, config.truncate)


def labelled_pairs(pairs: Any, name: str) -> list[LabelledText]:
    """In-memory labelled text: a sequence of ``(text, label)`` pairs (tuples or lists of two strings) as records
    whose ``where`` is ``"NAME item N"`` (1-based), so that later errors name the item.

    Raises:
        ValueError: ``pairs`` is not a sequence, or an item is not a pair of strings or has an empty label.
    """
    if isinstance(pairs, str | bytes) or not isinstance(pairs, Sequence):
        raise ValueError(f"{name}: got {type(pairs).__name__}; expected a path, a list of paths, or a sequence of "
                         "(text, label) pairs")
    records = []
    for number, item in enumerate(pairs, 1):
        where = f"{name} item {number}"
        if not isinstance(item, tuple | list) or len(item) != 2 or not all(isinstance(part, str) for part in item):
            raise ValueError(f"{where}: expected a (text, label) pair of strings; got {item!r:.60}")
        if not item[1].strip():
            raise ValueError(f"{where}: the label is empty; expected a class name")
        records.append(LabelledText(item[0], item[1], where))
    return records


def read_examples(paths: Paths | Sequence[tuple[str, str]], config: TextDataConfig,
                  name: str) -> list[tuple[list[str], str, str]]:
    """``(tokens, label, where)`` of every labelled record in ``paths`` (files, or in-memory ``(text, label)``
    pairs: see :func:`labelled_pairs`); ``name`` is the flag, for errors."""
    if is_path_like(paths):
        records = read_labelled(paths, config.format, config.text_column, config.label_column, config.encoding)
    else:
        records = labelled_pairs(paths, name.lstrip("-"))
    examples = [(tokens_of(record, config), record.label, record.where) for record in records]
    if not examples:
        raise ValueError(f"{describe_data(name, paths)}: holds no examples; expected labelled texts")
    return examples


def check_training_labels(examples: Sequence[tuple[list[str], str, str]], paths: Any) -> list[str]:
    """The sorted class labels of the training data; at least two classes."""
    counts = Counter(label for _, label, _ in examples)
    if len(counts) < 2:
        (label,) = counts
        raise ValueError(f"{describe_data('--data', paths)}: every one of the {len(examples)} examples has the label "
                         f"{label!r}; expected at least 2 classes")
    return sorted(counts)


def encode_examples(examples: Iterable[tuple[list[str], str, str]], vocab: Vocab, labels: Sequence[str]) -> Encoded:
    """Token ids and label ids; a label that the training data did not have is an error naming its line."""
    label_ids = {label: index for index, label in enumerate(labels)}
    encoded = Encoded([], [], [])
    for tokens, label, where in examples:
        if label not in label_ids:
            known = ", ".join(map(repr, labels))
            raise ValueError(f"{where}: label {label!r} was not seen in the training data; the model knows {known}")
        encoded.ids.append(torch.tensor(vocab.encode(tokens), dtype=torch.long))
        encoded.labels.append(label_ids[label])
        encoded.where.append(where)
    return encoded


def build_vocab(examples: Iterable[tuple[list[str], str, str]], config: TextDataConfig,
                specials: Sequence[str] = DEFAULT_SPECIALS) -> Vocab:
    """The training tokens' vocabulary (``min_freq``, ``max_vocab``), ``specials`` first."""
    return Vocab.build((tokens for tokens, _, _ in examples), min_freq=config.min_freq, max_size=config.max_vocab,
                       specials=specials)


def read_splits(data: Any, valid: Any, test: Any, text: TextDataConfig,
                seed: int) -> tuple[list[str], list[Example], list[Example], list[Example] | None]:
    """``(labels, train, valid, test)``: every file read and checked before any training starts.

    Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by ``seed``).
    ``test`` is None when not given. Each of them is paths, or in-memory ``(text, label)`` pairs.

    Raises:
        ValueError: For malformed data (naming file and line), a single class, a label in ``valid`` or ``test``
            that ``data`` does not have, or too few examples to hold out a validation share.
    """
    train_examples = read_examples(data, text, "--data")
    labels = check_training_labels(train_examples, data)
    valid_examples = read_examples(valid, text, "--valid") if valid is not None else None
    test_examples = read_examples(test, text, "--test") if test is not None else None
    if valid_examples is None:
        kept, held_out = stratified_split([label for _, label, _ in train_examples], text.valid_fraction, seed)
        if not held_out:
            raise ValueError(f"{'--data' if is_path_like(data) else 'data'}: {len(train_examples)} examples are "
                             "too few to hold out a validation share; pass --valid")
        train_examples, valid_examples = [train_examples[i] for i in kept], [train_examples[i] for i in held_out]
    return labels, train_examples, valid_examples, test_examples


def encode_splits(vocab: Vocab, labels: list[str], train: list[Example], valid: list[Example],
                  test: list[Example] | None) -> Splits:
    """The three splits of :func:`read_splits` as ids and label indices (test None when there is none)."""
    encoded_test = encode_examples(test, vocab, labels) if test is not None else None
    return encode_examples(train, vocab, labels), encode_examples(valid, vocab, labels), encoded_test


def read_data(data: Any, valid: Any, test: Any, text: TextDataConfig, seed: int,
              specials: Sequence[str] = DEFAULT_SPECIALS) -> tuple[list[str], Vocab, Splits]:
    """``(labels, vocab, (train, valid, test))``: every split read and checked (see :func:`read_splits`), the
    vocabulary of the training split (``specials`` first), and the splits as ids."""
    labels, train_examples, valid_examples, test_examples = read_splits(data, valid, test, text, seed)
    vocab = build_vocab(train_examples, text, specials)
    return labels, vocab, encode_splits(vocab, labels, train_examples, valid_examples, test_examples)


def example_counts(train: Encoded, valid: Encoded, test: Encoded | None) -> dict[str, int | None]:
    """config.json's ``data.examples``."""
    return {"train": len(train), "valid": len(valid), "test": None if test is None else len(test)}


SUGGESTED_MAX_LENGTH = 400  # tokens: what the hint below proposes for long documents
LONG_TEXT = 1000  # tokens: a training text this long makes the hint worth showing


def long_text_hint(train: Encoded, text: TextDataConfig) -> str | None:
    """A one-line suggestion of ``--max-length`` when the training texts are very long and nothing cuts them.

    A recurrent layer takes one step per token, so an epoch costs time in proportion to the tokens read; the hint
    says how many fewer tokens ``--max-length 400`` would read (what it keeps: ``--truncate``). None when
    ``max_length`` is set, no text reaches ``LONG_TEXT`` tokens, or the cut would save less than a quarter.
    """
    lengths = sorted(len(ids) for ids in train.ids)
    if text.max_length is not None or not lengths or lengths[-1] < LONG_TEXT:
        return None
    total = sum(lengths)
    kept = sum(min(length, SUGGESTED_MAX_LENGTH) for length in lengths)
    if kept > 0.75 * total:
        return None
    return (f"rnnkit: the training texts are long (median {lengths[len(lengths) // 2]:,}, longest {lengths[-1]:,} "
            f"tokens) and each token is a step of the recurrent layer: --max-length {SUGGESTED_MAX_LENGTH} would "
            f"read {total / kept:.1f}x fewer tokens per epoch (which ones it keeps: --truncate head, tail or "
            "head+tail)")
