r"""Greedy and beam-search decoding for encoder-decoder models, batched over sentences (and beams).

The model is anything with ``encode(source, lengths) -> (encoded, state)``, ``step(tokens, state, encoded) ->
(features, state, weights)``, ``logits(features)`` and an ``encoded.select(index)`` (see
:class:`rnnkit.models.Seq2Seq`).

Beam search keeps, for each sentence, the K best unfinished hypotheses by their summed log-probability
``log P(y_1..y_t | x)``. At each step every hypothesis is extended by every token and the 2K best
extensions are kept; an extension ending in ``<eos>`` within the best K is finished and moves to the sentence's
pool of finished hypotheses (ranked by the length-normalised score), and the best K unfinished ones continue
(as fairseq does). A sentence is done when K hypotheses have finished, or when its length limit is reached
(then its best active hypotheses are finished as they are, without ``<eos>``)::

    score(y) = log P(y | x) / |y|^alpha      |y| counts <eos>; alpha = 0: no normalisation, 1: per-token mean
    max length = floor(max_length_ratio * |x|) + max_length_offset   tokens, <eos> included

With K = 1 this is exactly greedy decoding: the single best extension either ends the sentence (``<eos>``) or
continues it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..models.seq2seq import Seq2Seq, select_state
from .steps import Seq2SeqStep


@dataclass
class Decoded:
    """Decoder output for a batch: token ids per sentence (no ``<bos>``/``<eos>``) and their scores."""

    tokens: list[list[int]]
    scores: list[float]  # length-normalised log-probabilities (beam) or summed log-probabilities (greedy)
    finished: list[bool]  # False where the length limit cut the hypothesis before <eos>


def max_lengths(lengths: Tensor, ratio: float, offset: int) -> Tensor:
    """Target length limits ``floor(ratio * |x|) + offset`` (at least 1) for source lengths ``(B,)``."""
    if not ratio >= 0 or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"max_length_ratio, max_length_offset: got {ratio!r}, {offset!r}; expected a ratio >= 0 "
                         "and an integer offset >= 0")
    return ((lengths.float() * ratio).floor().long() + offset).clamp(min=1)


def _decoder(model) -> tuple[Callable, Callable, Callable]:
    """``(step, select, adopt)``: one step ``(tokens, state, encoded) -> (logits (N, V), state)``, the rows of a
    state, and the encoder's initial state in the step's layout.

    A :class:`~rnnkit.models.Seq2Seq` in eval mode runs through its step function (cells stepped directly, weights
    looked up once); any other model through its own ``step`` and ``logits``.
    """
    if isinstance(model, Seq2Seq) and not model.training:
        stepper = Seq2SeqStep(model)

        def fast_step(tokens: Tensor, state, encoded):
            logits, state, _ = stepper(tokens, state, encoded)
            return logits, state
        return fast_step, stepper.select, stepper.from_model_state

    def model_step(tokens: Tensor, state, encoded):
        features, state, _ = model.step(tokens, state, encoded)
        return model.logits(features), state
    return model_step, select_state, lambda state: state


def _log_probs(logits: Tensor, banned: Sequence[int]) -> Tensor:
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (N, V)
    if banned:
        log_probs[:, list(banned)] = float("-inf")  # never emitted: <pad>, <bos>
    return log_probs


def _cut(row: list[int], eos_id: int, limit: int) -> tuple[list[int], bool]:
    """The tokens before the first ``<eos>`` (within ``limit``), and whether there was one."""
    row = row[:limit]
    if eos_id in row:
        return row[: row.index(eos_id)], True
    return row, False


@torch.no_grad()
def greedy_search(model, source: Tensor, lengths: Tensor, bos_id: int, eos_id: int, *,
                  max_length_ratio: float = 2.0, max_length_offset: int = 5, banned: Sequence[int] = ()) -> Decoded:
    """Pick the most likely token at every step, for a batch of sources ``(B, S)`` with ``lengths (B,)``."""
    step, _, adopt = _decoder(model)
    encoded, state = model.encode(source, lengths)
    state = adopt(state)
    limits = max_lengths(encoded.lengths, max_length_ratio, max_length_offset)  # (B,)
    batch_size, device = source.shape[0], source.device
    tokens = torch.full((batch_size,), bos_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    total = torch.zeros(batch_size, device=device)
    outputs = []
    for t in range(int(limits.max())):
        logits, state = step(tokens, state, encoded)
        log_probs = _log_probs(logits, banned)
        best, tokens = log_probs.max(dim=1)  # (B,)
        total = total + torch.where(finished, torch.zeros_like(best), best)
        outputs.append(tokens)
        finished = finished | (tokens == eos_id) | (t + 1 >= limits)
        if bool(finished.all()):
            break
    rows = torch.stack(outputs, dim=1).tolist()  # (B, T)
    cut = [_cut(row, eos_id, int(limit)) for row, limit in zip(rows, limits.tolist(), strict=True)]
    return Decoded([tokens for tokens, _ in cut], total.tolist(), [ended for _, ended in cut])


@torch.no_grad()
def beam_search(model, source: Tensor, lengths: Tensor, bos_id: int, eos_id: int, *, beam_size: int = 5,
                length_penalty: float = 1.0, max_length_ratio: float = 2.0, max_length_offset: int = 5,
                banned: Sequence[int] = ()) -> Decoded:
    """Batched beam search (see the module docstring) over sources ``(B, S)`` with ``lengths (B,)``.

    Args:
        beam_size: K, hypotheses kept per sentence.
        length_penalty: alpha of the length normalisation ``log P / |y|^alpha``.
        max_length_ratio, max_length_offset: the length limit, ``floor(ratio * |x|) + offset`` tokens.
        banned: token ids never to emit (``<pad>``, ``<bos>``).
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size: got {beam_size!r}; expected a positive integer")
    K = beam_size
    step, select, adopt = _decoder(model)
    encoded, state = model.encode(source, lengths)
    B, device = source.shape[0], source.device
    limits = max_lengths(encoded.lengths, max_length_ratio, max_length_offset)  # (B,)
    T = int(limits.max())
    repeat = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,): sentence of each beam row
    encoded, state = encoded.select(repeat), select(adopt(state), repeat)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis to start with: <bos>
    history = torch.empty(B, K, 0, dtype=torch.long, device=device)
    pool_scores = torch.full((B, K), float("-inf"), device=device)  # finished hypotheses, normalised scores
    pool_tokens = torch.full((B, K, T), eos_id, dtype=torch.long, device=device)
    pool_count = torch.zeros(B, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    tokens = torch.full((B * K,), bos_id, dtype=torch.long, device=device)
    rows = torch.arange(B, device=device).unsqueeze(1)  # (B, 1)
    for t in range(T):
        logits, state = step(tokens, state, encoded)
        log_probs = _log_probs(logits, banned)  # (B*K, V)
        V = log_probs.shape[1]
        candidates = (scores.view(B * K, 1) + log_probs).view(B, K * V)
        top_scores, top_index = candidates.topk(min(2 * K, K * V), dim=1)  # (B, 2K), best first
        origin, token = top_index // V, top_index % V  # beam each extends, and the token it adds
        extended = torch.cat([history[rows, origin], token.unsqueeze(2)], dim=2)  # (B, 2K, t+1)
        rank = torch.arange(top_scores.shape[1], device=device)
        last_step = (t + 1 >= limits).unsqueeze(1)  # (B, 1): the limit finishes whatever is best now
        finishing = (((token == eos_id) | last_step) & (rank < K) & ~done.unsqueeze(1)
                     & torch.isfinite(top_scores))  # (B, 2K)
        normalised = top_scores / float(t + 1) ** length_penalty
        merged_scores = torch.cat([pool_scores, torch.where(finishing, normalised, float("-inf"))], dim=1)
        padded = torch.full((B, extended.shape[1], T), eos_id, dtype=torch.long, device=device)
        padded[:, :, : t + 1] = extended
        pool_scores, keep = merged_scores.topk(K, dim=1)  # (B, K)
        pool_tokens = torch.cat([pool_tokens, padded], dim=1)[rows, keep]
        pool_count = pool_count + finishing.sum(dim=1)
        done = done | (pool_count >= K) | last_step.squeeze(1)
        if bool(done.all()):
            break
        # the K best extensions that did not end go on
        live_scores, live = torch.where(token == eos_id, float("-inf"), top_scores).topk(K, dim=1)  # (B, K)
        scores, history, tokens = live_scores, extended[rows, live], token[rows, live].reshape(-1)
        state = select(state, (rows * K + origin[rows, live]).reshape(-1))
    best = pool_tokens[:, 0].tolist()  # (B, T)
    cut = [_cut(row, eos_id, int(limit)) for row, limit in zip(best, limits.tolist(), strict=True)]
    return Decoded([tokens for tokens, _ in cut], pool_scores[:, 0].tolist(), [ended for _, ended in cut])


__all__ = ["Decoded", "beam_search", "greedy_search", "max_lengths"]
