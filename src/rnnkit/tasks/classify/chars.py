"""Character features for the classifier (``--char-features lstm|cnn --char-size N``; its own settings section).

::

    example tokens ["the", "cat"] ─char vocab (training tokens' characters)─▶ [[id(t), id(h), id(e)], ...]
        ─collate─▶ chars (B, T, W) ─CharEncoder (in the model)─▶ (B, T, F), concatenated with the embeddings

The character vocabulary is learnt from the training split only and kept in the run as ``chars.json``; a
character never seen in training is ``<unk>``. A word-level run only: at ``--level char`` the tokens are already
characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...models.char_features import CHAR_FEATURES
from ...text import Vocab
from ...text.char_ids import build_char_vocab, word_char_ids
from ...train.config import setting
from ..common import Encoded
from ..text_data import Example, TextDataConfig

__all__ = ["CHARS_FILE", "CharFeaturesConfig", "add_chars", "char_vocab_of", "load_char_vocab"]

CHARS_FILE = "chars.json"


@dataclass(frozen=True)
class CharFeaturesConfig:
    """Character features of each word, concatenated with its embedding.

    Attributes:
        char_features: ``"none"``, ``"lstm"`` (a character BiLSTM: output 2S) or ``"cnn"`` (a width-3 convolution
            with max pooling: output S).
        char_size: S, the character embedding size and the encoder's size.
    """

    char_features: str = setting("none", choices=CHAR_FEATURES,
                                 help="character features per word: a char BiLSTM or CNN, concatenated with the word "
                                      "embedding")
    char_size: int = setting(50, help="character embedding size and char encoder size")

    def __post_init__(self) -> None:
        if self.char_features not in CHAR_FEATURES:
            raise ValueError(f"char_features: got {self.char_features!r}; expected one of "
                             f"{', '.join(map(repr, CHAR_FEATURES))}")
        if isinstance(self.char_size, bool) or not isinstance(self.char_size, int) or self.char_size < 1:
            raise ValueError(f"char_size: got {self.char_size!r}; expected a positive integer")

    @property
    def enabled(self) -> bool:
        return self.char_features != "none"

    def model_arguments(self, char_vocab: Vocab | None) -> dict:
        """The keyword arguments of :func:`~rnnkit.models.build_classifier` for these features."""
        if not self.enabled:
            return {}
        return {"char_features": self.char_features, "char_size": self.char_size,
                "num_chars": len(char_vocab) if char_vocab is not None else None}


def char_vocab_of(examples: Sequence[Example], config: CharFeaturesConfig, text: TextDataConfig) -> Vocab | None:
    """The characters of the (training) examples' tokens; None without character features.

    Raises:
        ValueError: Character features with ``--level char``.
    """
    if not config.enabled:
        return None
    if text.level != "word":
        raise ValueError(f"char_features: got {config.char_features!r} with level {text.level!r}; character "
                         "features spell words: expected level 'word'")
    return build_char_vocab(tokens for tokens, _, _ in examples)


def add_chars(encoded: Encoded | None, examples: Sequence[Example] | None, char_vocab: Vocab | None) -> None:
    """Give ``encoded`` (made from ``examples``, in the same order) the character ids of each token."""
    if encoded is None or examples is None or char_vocab is None:
        return
    encoded.chars = [word_char_ids(tokens, char_vocab) for tokens, _, _ in examples]


def load_char_vocab(run_dir: Path, config: CharFeaturesConfig) -> Vocab | None:
    """A run's character vocabulary (``chars.json``), or None for a run without character features."""
    return Vocab.load(Path(run_dir) / CHARS_FILE) if config.enabled else None
