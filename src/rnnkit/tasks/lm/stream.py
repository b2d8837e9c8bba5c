r"""A language model fed a text piece by piece: after each token, the next-token distribution and the running score.

Before the first token the model reads the start context (a newline at char level, ``<eos>`` at word level), as
:meth:`~rnnkit.tasks.lm.predict.LanguageModelPredictor.score` does; after token :math:`x_t` it holds
:math:`P(\cdot \mid x_{\le t})`, so each fed token's log-probability is read from the distribution before it::

    log P(x_1 .. x_t) = sum_{s <= t} log P(x_s | x_<s)        perplexity_t = exp(-log P(x_1 .. x_t) / t)

How a text piece becomes tokens: at char level every character is a token, so pieces join exactly. At word (and
subword) level a piece's words are complete words: a piece boundary is a word boundary, and a newline ends a line
(``<eos>``, as in training). ``score(text)`` ends every line with ``<eos>``, its last one too: feed the text with a
final newline to compare. A list of token strings is fed as it is.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ...data.corpus import EOS, context_token
from ...decode.steps import CellState, LanguageModelStep
from ..streaming import Stream, token_piece

__all__ = ["LanguageModelStream"]


class LanguageModelStream(Stream):
    """Streaming scoring of a language model (see the module docstring).

    Args:
        predictor: the loaded language-model run.
        top_k: how many of the most likely next tokens each step lists (``"next"``).
        log_probs: also give each step the whole next-token distribution, ``"log_probs"`` (V floats).

    Each step of :meth:`feed`: ``{"token", "logprob" (of this token), "total_logprob", "perplexity" (of all tokens
    fed so far), "next": [{"token", "prob"}, ...] (top_k, most likely first)}``. :attr:`log_probs` is the next-token
    distribution now ``(V,)``; :attr:`state` the recurrent state in the model's layout (per layer ``h (1, 1, H)``
    or ``(h, c)``).
    """

    def __init__(self, predictor: Any, top_k: int = 5, log_probs: bool = False) -> None:
        vocab_size = len(predictor.vocab)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= vocab_size:
            raise ValueError(f"top_k: got {top_k!r}; expected an integer in [0, {vocab_size}] (the vocabulary size)")
        self.predictor, self.top_k, self.with_log_probs = predictor, top_k, bool(log_probs)
        self.stepper = LanguageModelStep(predictor.model)  # the full distribution: nothing banned, as score
        super().__init__()

    def _start(self) -> None:
        self.tokens: list[str] = []
        self.token_logprobs: list[float] = []
        self._total = 0.0  # running log P (a sum kept as it grows, not re-added each step)
        start = torch.tensor([self.predictor.vocab.encode([context_token(self.predictor.corpus)])[0]],
                             device=self.predictor.device)
        with torch.no_grad():
            logits, self._state = self.stepper(start, self.stepper.initial_state(1))  # (1, V)
        self._log_probs = F.log_softmax(logits[0].float(), dim=-1)  # (V,)

    @property
    def state(self) -> list[Tensor | tuple[Tensor, Tensor]]:
        return self.stepper.to_model_state(self._state)

    @property
    def log_probs(self) -> Tensor:
        """Natural-log probabilities of the next token ``(V,)``, given everything fed so far."""
        return self._log_probs

    @property
    def logprob(self) -> float:
        """log P of the tokens fed so far (natural log; 0.0 before any)."""
        return self._total

    @property
    def perplexity(self) -> float | None:
        """exp(-log P / tokens) of the tokens fed so far (None before any)."""
        return math.exp(-self.logprob / len(self.tokens)) if self.tokens else None

    def _tokens(self, piece: Any) -> list[str]:
        piece = token_piece(piece)
        if isinstance(piece, list):
            return piece
        corpus, segmenter = self.predictor.corpus, self.predictor.segmenter
        text = piece.lower() if corpus.lower else piece
        if corpus.level == "char":
            return list(text)
        tokens: list[str] = []
        lines = text.split("\n")
        for index, line in enumerate(lines):
            words = segmenter.tokenize(line) if segmenter is not None else line.split()
            tokens += words
            if index < len(lines) - 1:  # a newline ends the line
                tokens.append(EOS)
        return tokens

    @torch.no_grad()
    def _feed(self, piece: Any) -> list[dict[str, Any]]:
        tokens = self._tokens(piece)
        if not tokens:
            return []
        vocab = self.predictor.vocab
        ids = torch.tensor([vocab.encode(tokens)], dtype=torch.long, device=self.predictor.device)  # (1, T)
        if ids.shape[1] > self.stepper.stepped_prefill_limit:
            # a long piece goes through the model's layers (one input product for all its tokens), as score does
            logits, model_state = self.predictor.model(ids, state=self.state)  # (1, T, V)
            self._state = self.stepper.from_model_state(model_state)
            after = F.log_softmax(logits[0].float(), dim=-1)  # (T, V): row t, the distribution after token t
        else:
            rows = []
            state: list[CellState] = self._state
            for token in ids[0].unbind(0):
                logits, state = self.stepper(token.unsqueeze(0), state)  # (1, V)
                rows.append(F.log_softmax(logits[0].float(), dim=-1))
            self._state, after = state, torch.stack(rows)  # (T, V)
        before = torch.cat([self._log_probs.unsqueeze(0), after[:-1]])  # (T, V): the distribution each token met
        token_logprobs = before.gather(1, ids[0].unsqueeze(1))[:, 0].tolist()  # (T,)
        self._log_probs = after[-1]
        top = after.topk(self.top_k, dim=-1) if self.top_k else None
        results = []
        for t, (token, logprob) in enumerate(zip(tokens, token_logprobs, strict=True)):
            self.tokens.append(token)
            self.token_logprobs.append(logprob)
            self._total += logprob
            step: dict[str, Any] = {"token": token, "logprob": logprob, "total_logprob": self.logprob,
                                    "perplexity": self.perplexity, "next": []}
            if top is not None:
                step["next"] = [{"token": vocab.itos[int(i)], "prob": math.exp(v)}
                                for v, i in zip(top.values[t].tolist(), top.indices[t].tolist(), strict=True)]
            if self.with_log_probs:
                step["log_probs"] = after[t].tolist()
            results.append(step)
        return results
