"""Streaming: a trained run fed one piece at a time, its recurrent state kept between pieces.

``rk.load(run).stream()`` gives a stream whose :meth:`Stream.feed` takes the next piece of a sequence (the next
characters or words of a text, the next observations of a series) and returns one result per new step::

    stream = rk.load("runs/lm").stream()
    stream.feed("the ca")        # [{"token": "t", "logprob": ..., "next": [...]}, ...]: one per token
    stream.feed("t sat")         # goes on from the state the first piece left
    stream.logprob               # log P of everything fed so far == predictor.score("the cat sat")["logprob"]
    stream.reset()               # back to the start of a sequence

Feeding a sequence in pieces of any sizes gives the results of running it whole (float tolerance): a piece runs
through the same layers as a whole sequence does, starting from the state the previous piece ended in. Only a
model that reads one way can stream: a reverse direction needs the sequence's end before its first output.

Streams live beside the predictors (``tasks/``) rather than in ``export/``, so that ``stream()`` is a method of
each predictor: ``export/`` sits above ``tasks/`` in the import direction and a predictor could not call into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Stream", "check_unidirectional", "token_piece"]


class Stream:
    """What every task's stream shares: :meth:`feed`, :meth:`reset`, :attr:`state` and :attr:`steps`.

    A subclass sets up its start state in :meth:`_start` and handles one piece in :meth:`_feed`.
    """

    def __init__(self) -> None:
        self.steps = 0  # steps (tokens or rows) fed since the last reset
        self._start()

    def reset(self) -> None:
        """Forget everything fed: the next piece starts a new sequence."""
        self.steps = 0
        self._start()

    def feed(self, piece: Any) -> list[dict[str, Any]]:
        """Feed the next piece; returns one result per step it holds (an empty piece: no results).

        Raises:
            ValueError: For a piece of the wrong kind (naming what was given and what was expected).
        """
        results = self._feed(piece)
        self.steps += len(results)
        return results

    @property
    def state(self) -> Any:
        """The state carried to the next piece (see the task's stream for its layout)."""
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _feed(self, piece: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def token_piece(piece: Any) -> str | list[str]:
    """``piece`` checked to be a text (``str``) or a sequence of token strings (returned as a list).

    Raises:
        ValueError: Anything else, or a token that is not a non-empty string.
    """
    if isinstance(piece, str):
        return piece
    if isinstance(piece, bytes) or not isinstance(piece, Sequence):
        raise ValueError(f"piece: got {type(piece).__name__}; expected a text (str) or a list of token strings")
    tokens = list(piece)
    for index, token in enumerate(tokens):
        if not isinstance(token, str) or not token:
            raise ValueError(f"piece[{index}]: got {token!r}; expected a non-empty token string")
    return tokens


def check_unidirectional(bidirectional: bool, what: str) -> None:
    """The one-line error for streaming a model that reads both ways."""
    if bidirectional:
        raise ValueError(f"stream: this {what} is bidirectional; streaming needs a unidirectional model (its reverse "
                         "direction reads from the sequence's end): train one with --no-bidirectional")
