"""Vocabulary: a two-way map between tokens and integer ids.

Ids are positions in one ordered token list (``itos``): the special tokens come first (in the order given),
then the corpus tokens by descending frequency, ties broken alphabetically, so building twice from the same
corpus always gives the same ids. A vocabulary saves to, and loads from, a human-readable JSON file::

    {"format": "rnnkit.vocab", "version": 1, "specials": ["<pad>", "<unk>"],
     "tokens": ["<pad>", "<unk>", "the", ...]}
"""

from __future__ import annotations

import json
import operator
import os
import types
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import torch

from ..train.atomic import atomic_write_bytes
from .encode import INTEGER_DTYPES

__all__ = ["UnknownTokenError", "Vocab"]

DEFAULT_SPECIALS = ("<pad>", "<unk>")
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
FILE_FORMAT = "rnnkit.vocab"
FILE_VERSION = 1


class UnknownTokenError(KeyError, ValueError):
    """A token is not in a vocabulary that has no ``<unk>`` special to map it to."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def _check_tokens(tokens: Iterable[str], name: str, owner: str) -> list[str]:
    """Return ``tokens`` as a list after checking that it is a non-str sequence of unique str."""
    if isinstance(tokens, str):
        raise ValueError(f"{owner}: {name} must be a sequence of str; got the str {tokens!r:.60}")
    tokens = list(tokens)
    for position, token in enumerate(tokens):
        if not isinstance(token, str):
            raise ValueError(f"{owner}: {name}[{position}] must be a str; got {token!r:.30}")
    if len(set(tokens)) != len(tokens):
        repeated = sorted(token for token, count in Counter(tokens).items() if count > 1)
        raise ValueError(f"{owner}: {name} must be unique; got repeated {repeated[:10]!r}")
    return tokens


def _check_int(value: object, name: str, owner: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}; got {value!r}")
    return value


class Vocab:
    """A fixed, ordered vocabulary.

    Args:
        tokens: The vocabulary in id order: ``tokens[i]`` gets id ``i``. Specials that are missing from
            ``tokens`` are put in front of it, in the given order, so ``Vocab(["a", "b"])`` and
            ``Vocab(["<pad>", "<unk>", "a", "b"])`` are the same vocabulary. Tokens must be unique str;
            the empty string is an ordinary token.
        specials: Tokens with a fixed meaning. ``"<pad>"`` gives :attr:`pad_id` and ``"<unk>"`` gives
            :attr:`unk_id`; both are optional. Without ``"<unk>"``, encoding an unknown token is an error.

    Raises:
        ValueError: If a token is not a str, a token is repeated, or the vocabulary would be empty.
    """

    def __init__(self, tokens: Iterable[str], specials: Iterable[str] = DEFAULT_SPECIALS) -> None:
        tokens = _check_tokens(tokens, "tokens", "Vocab")
        self._specials = tuple(_check_tokens(specials, "specials", "Vocab"))
        present = set(tokens)
        self._itos = tuple([special for special in self._specials if special not in present] + tokens)
        self._stoi = {token: index for index, token in enumerate(self._itos)}
        self._unk_index = self._stoi[UNK_TOKEN] if UNK_TOKEN in self._specials else None
        if not self._itos:
            raise ValueError("Vocab: the vocabulary is empty; expected at least one token or special")

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Iterable[str] = DEFAULT_SPECIALS,
    ) -> Vocab:
        """Count tokens in one streaming pass and build a vocabulary: specials first, then tokens by
        descending count, ties broken alphabetically (by code point), so the ids are deterministic.

        Args:
            token_lists: Tokenized examples, e.g. ``(tokenizer(line) for line in file)``. Read exactly once,
                so a generator over a corpus larger than memory works.
            min_freq: Keep tokens seen at least this many times.
            max_size: Largest size of the whole vocabulary, specials included; the most frequent tokens are
                kept. ``None`` keeps every token that passes ``min_freq``.
            specials: Special tokens, given the first ids in this order. A corpus token equal to a special
                keeps the special's id.

        Raises:
            ValueError: If the corpus holds no tokens, an example is a bare str, a token is not a str,
                ``min_freq < 1`` or ``max_size`` is smaller than the number of specials (or than 1).
        """
        specials = _check_tokens(specials, "specials", "Vocab.build")
        _check_int(min_freq, "min_freq", "Vocab.build", 1)
        if max_size is not None:
            _check_int(max_size, "max_size (specials included)", "Vocab.build", max(1, len(specials)))
        counts: Counter[str] = Counter()
        for position, token_list in enumerate(token_lists):
            if isinstance(token_list, str):
                raise ValueError(f"Vocab.build: token_lists[{position}] is a str ({token_list[:30]!r}); "
                                 "expected a list of tokens: tokenize it first (e.g. WordTokenizer)")
            counts.update(token_list)
        if not counts:
            raise ValueError("Vocab.build: the corpus is empty: got no tokens; expected at least one token")
        for token in counts:
            if not isinstance(token, str):
                raise ValueError(f"Vocab.build: tokens must be str; got {token!r} ({type(token).__name__})")
        special_set = set(specials)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq and item[0] not in special_set),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls(list(specials) + [token for token, _ in ranked], specials=specials)

    @property
    def itos(self) -> list[str]:
        """All tokens in id order (a fresh copy; use :meth:`token` for single look-ups)."""
        return list(self._itos)

    @property
    def stoi(self) -> Mapping[str, int]:
        """A read-only map from token to id."""
        return types.MappingProxyType(self._stoi)

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens, in the order given."""
        return self._specials

    def _special_id(self, special: str, name: str) -> int:
        if special not in self._specials:
            raise ValueError(f"Vocab.{name}: this vocabulary has no {special!r} special; its specials are "
                             f"{list(self._specials)}; build it with specials that include {special!r}")
        return self._stoi[special]

    @property
    def pad_id(self) -> int:
        """Id of ``"<pad>"``; ValueError if the vocabulary has no such special."""
        return self._special_id(PAD_TOKEN, "pad_id")

    @property
    def unk_id(self) -> int:
        """Id of ``"<unk>"``; ValueError if the vocabulary has no such special."""
        return self._special_id(UNK_TOKEN, "unk_id")

    def __getitem__(self, token: str) -> int:
        """Id of one token; an unknown token gets :attr:`unk_id` (UnknownTokenError without ``<unk>``)."""
        index = self._stoi.get(token, self._unk_index)
        if index is not None:
            return index
        raise UnknownTokenError(f"Vocab: token {token!r} is not in the vocabulary and there is no '<unk>' "
                                "special to map it to")

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens get :attr:`unk_id`.

        Raises:
            ValueError: If ``tokens`` is a bare str, or a token is unknown and there is no ``"<unk>"`` special
                (an :class:`UnknownTokenError`, which is also a KeyError).
        """
        if isinstance(tokens, str):
            raise ValueError(f"Vocab.encode: expected a list of tokens; got the str {tokens!r:.40}")
        if self._unk_index is not None:  # the common case, in one dict lookup per token (predict is timed by it)
            lookup, unk = self._stoi.get, self._unk_index
            return [lookup(token, unk) for token in tokens]
        return [self[token] for token in tokens]

    def token(self, index: int) -> str:
        """The token with id ``index``.

        Raises:
            ValueError: If ``index`` is not an integer in ``[0, len(self))``.
        """
        try:
            position = operator.index(index)  # accepts int, numpy and 0-d tensor ints; refuses floats
        except TypeError:
            position = None
        if position is None or isinstance(index, bool) or not 0 <= position < len(self._itos):
            raise ValueError(f"Vocab.token: got id {index!r}; expected an int, 0 <= id < {len(self._itos)}")
        return self._itos[position]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Map ids back to tokens.

        Args:
            ids: A list of int, or a 1-D integer tensor.

        Raises:
            ValueError: If an id is out of range or not an integer, or a tensor is not 1-D integer.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1 or ids.dtype not in INTEGER_DTYPES:
                raise ValueError(f"Vocab.decode: expected 1-D integer ids; got {ids.dtype}{list(ids.shape)}")
            ids = ids.tolist()
        return [self.token(index) for index in ids]

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._specials == other._specials

    def __hash__(self) -> int:
        return hash((self._itos, self._specials))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self._specials)})"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON, atomically (a temporary file, then a rename).

        Raises:
            FileNotFoundError: If the parent directory does not exist.
            ValueError: If a token cannot be written as UTF-8 (a lone surrogate).
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"Vocab.save: {path}: directory {path.parent} does not exist")
        document = {"format": FILE_FORMAT, "version": FILE_VERSION, "specials": list(self._specials),
                    "tokens": list(self._itos)}
        # A token that is no valid UTF-8 (a lone surrogate) raises UnicodeEncodeError, a ValueError.
        data = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        atomic_write_bytes(path, data)  # fsynced, renamed into place, as readable as any other run file

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            FileNotFoundError: If there is no file at ``path``.
            ValueError: ``"<path>: not an rnnkit vocabulary file: <reason>"`` if the file is not one.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"Vocab.load: {path}: no such file")

        def invalid(reason: str) -> ValueError:
            return ValueError(f"{path}: not an rnnkit vocabulary file: {reason}")

        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except IsADirectoryError:
            raise invalid("it is a directory") from None
        except UnicodeDecodeError as error:
            raise invalid(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
        except json.JSONDecodeError as error:
            raise invalid(f"not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
        if not isinstance(document, dict):
            raise invalid(f"expected a JSON object; got {type(document).__name__}")
        if document.get("format") != FILE_FORMAT:
            raise invalid(f"expected \"format\": {FILE_FORMAT!r}; got {document.get('format')!r}")
        if document.get("version") != FILE_VERSION:
            raise invalid(f"unsupported \"version\" {document.get('version')!r}; expected {FILE_VERSION}")
        for key in ("specials", "tokens"):
            value = document.get(key)
            if not isinstance(value, list) or not all(isinstance(token, str) for token in value):
                raise invalid(f"expected {key!r} to be a list of strings; got {value!r:.80}")
            repeated = sorted(token for token, count in Counter(value).items() if count > 1)
            if repeated:
                raise invalid(f"repeated {key} {repeated[:10]!r}")
        tokens, specials = document["tokens"], document["specials"]
        missing = sorted(set(specials) - set(tokens))
        if missing or not tokens:
            raise invalid(f"specials {missing!r} are missing from \"tokens\"" if missing else "no tokens")
        return cls(tokens, specials=specials)
