"""Classification data: labelled records -> tokens -> ids, label ids, a stratified validation split, batches.

::

    read_labelled(paths) ─▶ (text, label, where) ─▶ tokens (word or char, cut to max_length) ─▶ Vocab ids
                                                  └▶ label id (labels sorted; the last of two is "positive")
    batches(epoch): BucketBatchSampler (similar lengths together, seeded by (seed, epoch)) ─▶ (ids (B, T),
    lengths (B,), labels (B,))
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.batching import bucketed_epochs, length_ordered_batches
from ..data.readers.labelled import FORMATS, LabelledText, read_labelled
from ..text import CharTokenizer, Vocab, WordTokenizer, pad_sequences
from ..text.clean import strip_html_tags
from ..train.config import validate_field_types
from .run_dir import Paths, describe_paths

Example = tuple[list[str], str, str]  # (tokens, label, where: file and line)

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

    format: str = "auto"
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"
    level: str = "word"
    lower: bool = True
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = None
    truncate: str = "head"
    strip_html: bool = False
    valid_fraction: float = 0.1

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


@dataclass
class Encoded:
    """Examples as ids: ``ids[n]`` a LongTensor of token ids, ``labels[n]`` a class id, ``where[n]`` its origin."""

    ids: list[Tensor]
    labels: list[int]
    where: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int]) -> Encoded:
        return Encoded([self.ids[i] for i in indices], [self.labels[i] for i in indices],
                       [self.where[i] for i in indices])


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


def read_examples(paths: Paths, config: TextDataConfig, name: str) -> list[tuple[list[str], str, str]]:
    """``(tokens, label, where)`` of every labelled record in ``paths``; ``name`` is the flag, for errors."""
    examples = [(tokens_of(record, config), record.label, record.where)
                for record in read_labelled(paths, config.format, config.text_column, config.label_column,
                                            config.encoding)]
    if not examples:
        raise ValueError(f"{name} {describe_paths(paths)}: holds no examples; expected labelled texts")
    return examples


def check_training_labels(examples: Sequence[tuple[list[str], str, str]], paths: Paths) -> list[str]:
    """The sorted class labels of the training data; at least two classes."""
    counts = Counter(label for _, label, _ in examples)
    if len(counts) < 2:
        (label,) = counts
        raise ValueError(f"--data {describe_paths(paths)}: every one of the {len(examples)} examples has the label "
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


def build_vocab(examples: Iterable[tuple[list[str], str, str]], config: TextDataConfig) -> Vocab:
    return Vocab.build((tokens for tokens, _, _ in examples), min_freq=config.min_freq, max_size=config.max_vocab)


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(kept, held_out)``: ``round(fraction * n_c)`` of each class c held out (at least one of a class
    with two or more examples), chosen by a seeded shuffle; both lists in the original order."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    generator = random.Random(seed)
    held_out: set[int] = set()
    for label in sorted(by_class):
        members = by_class[label][:]
        generator.shuffle(members)
        count = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        held_out.update(members[:count])
    kept = [index for index in range(len(labels)) if index not in held_out]
    return kept, sorted(held_out)


def read_splits(data: Paths, valid: Paths | None, test: Paths | None, text: TextDataConfig,
                seed: int) -> tuple[list[str], list[Example], list[Example], list[Example] | None]:
    """``(labels, train, valid, test)``: every file read and checked before any training starts.

    Without ``valid``, ``text.valid_fraction`` of each class of ``data`` is held out (seeded by ``seed``).
    ``test`` is None when not given.

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
            raise ValueError(f"--data: {len(train_examples)} examples are too few to hold out a validation share; "
                             "pass --valid")
        train_examples, valid_examples = [train_examples[i] for i in kept], [train_examples[i] for i in held_out]
    return labels, train_examples, valid_examples, test_examples


def encode_splits(vocab: Vocab, labels: list[str], train: list[Example], valid: list[Example],
                  test: list[Example] | None) -> tuple[Encoded, Encoded, Encoded | None]:
    """The three splits of :func:`read_splits` as ids and label indices (test None when there is none)."""
    encoded_test = encode_examples(test, vocab, labels) if test is not None else None
    return encode_examples(train, vocab, labels), encode_examples(valid, vocab, labels), encoded_test


def collate(data: Encoded, indices: Sequence[int], pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(ids (B, T), lengths (B,), labels (B,))`` of the examples ``indices``."""
    ids, lengths = pad_sequences([data.ids[i] for i in indices], pad_id)
    return ids, lengths, torch.tensor([data.labels[i] for i in indices], dtype=torch.long)


def training_batches(data: Encoded, batch_size: int, seed: int, pad_id: int):
    """``(batches(epoch), steps)``: shuffled batches of similar lengths, the same for the same (seed, epoch)."""
    return bucketed_epochs([len(ids) for ids in data.ids], batch_size, seed,
                           lambda indices: collate(data, indices, pad_id))


def evaluation_batches(data: Encoded, batch_size: int, pad_id: int) -> Iterator[tuple[list[int], tuple]]:
    """``(indices, batch)`` in length order (little padding), every example once."""
    return length_ordered_batches([len(ids) for ids in data.ids], batch_size,
                                  lambda indices: collate(data, indices, pad_id))
