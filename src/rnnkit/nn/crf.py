"""A linear-chain conditional random field: the loss (forward algorithm), Viterbi decoding, BIO/IOBES constraints.

For emissions ``e`` (B, T, K) from a tagger, learned transition scores ``A`` (K, K), start scores ``s`` and end
scores ``u`` (K,), a tag sequence y_1..y_n of a sentence of length n scores

    score(y) = s[y_1] + sum_{t=1..n} e[t, y_t] + sum_{t=2..n} A[y_{t-1}, y_t] + u[y_n]

and p(y | x) = exp(score(y)) / Z with the log-partition computed by the forward algorithm::

    alpha_1[k] = s[k] + e[1, k]
    alpha_t[k] = logsumexp_j(alpha_{t-1}[j] + A[j, k]) + e[t, k]        t = 2..n
    log Z      = logsumexp_k(alpha_n[k] + u[k])

The loss of a sentence is ``log Z - score(y)`` (its negative log-likelihood). Viterbi replaces logsumexp by max
and follows the back-pointers. Positions ``t >= length`` leave ``alpha`` unchanged, so a padded sentence gives
the numbers of the sentence alone.

Transitions that a chunk scheme forbids (BIO: ``I-X`` only after ``B-X`` or ``I-X``, never first; IOBES also:
``B-X``/``I-X`` only before ``I-X``/``E-X``, never last) get a fixed score of ``FORBIDDEN`` added, so neither
the loss nor Viterbi ever puts weight on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["CONSTRAINTS", "CRF", "FORBIDDEN", "chunk_constraints"]

FORBIDDEN = -10000.0  # added to a forbidden transition's score: exp(-10000) is 0 in any float type
CONSTRAINTS = ("auto", "none", "bio", "iobes")


def _parts(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` (or any tag without a prefix) -> ``("O", "")``."""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "O", ""


def _allowed(previous: tuple[str, str] | None, current: tuple[str, str] | None, scheme: str) -> bool:
    """Whether ``current`` may follow ``previous`` (None: the sentence's start or end) in ``scheme``."""
    prefix, kind = current if current is not None else ("O", "")
    before, before_kind = previous if previous is not None else ("O", "")
    if scheme == "bio":
        return prefix != "I" or (before in "BI" and before_kind == kind)
    # iobes: inside a chunk (after B or I) only I or E of the same type; outside (O, E, S, start) never I or E
    if before in "BI":
        return prefix in "IE" and before_kind == kind
    return prefix not in "IE"


def chunk_constraints(tag_names: Sequence[str], scheme: str = "auto") -> tuple[Tensor, Tensor, Tensor] | None:
    """Masks of the allowed moves ``(transitions (K, K), start (K,), end (K,))`` (True: allowed) for a chunk
    tag set, or None for no constraints.

    Args:
        tag_names: the tags in id order.
        scheme: ``"bio"`` (IOB2), ``"iobes"``, ``"none"``, or ``"auto"``: ``"iobes"`` when some tag starts with
            ``E-`` or ``S-``, ``"bio"`` when every tag is ``O`` or ``B-``/``I-`` typed, else none. (IOB1 data, where
            a chunk may start with ``I-``, needs ``"none"``.)
    """
    if scheme not in CONSTRAINTS:
        raise ValueError(f"scheme: got {scheme!r}; expected one of {', '.join(map(repr, CONSTRAINTS))}")
    parts = [_parts(tag) for tag in tag_names]
    if scheme == "auto":
        plain = all(prefix != "O" or tag == "O" for tag, (prefix, _) in zip(tag_names, parts, strict=True))
        has_chunks = any(prefix != "O" for prefix, _ in parts)
        scheme = ("iobes" if any(prefix in "ES" for prefix, _ in parts) else "bio") if plain and has_chunks \
            else "none"
    if scheme == "none":
        return None
    transitions = torch.tensor([[_allowed(a, b, scheme) for b in parts] for a in parts])
    start = torch.tensor([_allowed(None, b, scheme) for b in parts])
    end = torch.tensor([_allowed(a, None, scheme) if scheme == "iobes" else True for a in parts])
    return transitions, start, end


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags (see the module docstring for the equations).

    Args:
        num_tags: K.
        constraints: ``(transitions (K, K), start (K,), end (K,))`` boolean masks of allowed moves (see
            :func:`chunk_constraints`), or None.

    Parameters ``transitions`` (K, K: from row to column), ``start`` and ``end`` (K,) start at zero.
    """

    def __init__(self, num_tags: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"num_tags: got {num_tags!r}; expected a positive integer")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        masks = constraints if constraints is not None else (torch.ones(num_tags, num_tags, dtype=torch.bool),
                                                             torch.ones(num_tags, dtype=torch.bool),
                                                             torch.ones(num_tags, dtype=torch.bool))
        for name, mask, shape in zip(("transition", "start", "end"), masks,
                                     ((num_tags, num_tags), (num_tags,), (num_tags,)), strict=True):
            if tuple(mask.shape) != shape:
                raise ValueError(f"constraints: the {name} mask has shape {tuple(mask.shape)}; expected {shape}")
            # not saved with the weights: the run rebuilds them from its tag names
            self.register_buffer(f"{name}_penalty", (~mask.bool()).float() * FORBIDDEN, persistent=False)

    def _scores(self, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        return ((self.transitions + self.transition_penalty).to(dtype), (self.start + self.start_penalty).to(dtype),
                (self.end + self.end_penalty).to(dtype))

    def _check(self, emissions: Tensor, lengths: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags or emissions.shape[1] == 0:
            raise ValueError(f"emissions: got shape {tuple(emissions.shape)}; expected (B, T, {self.num_tags})")
        batch_size, steps, _ = emissions.shape
        if lengths is None:
            return torch.full((batch_size,), steps, dtype=torch.long, device=emissions.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=emissions.device)
        if lengths.shape != (batch_size,) or int(lengths.min()) < 1 or int(lengths.max()) > steps:
            raise ValueError(f"lengths: got {lengths.tolist()}; expected {batch_size} lengths in [1, {steps}]")
        return lengths

    def log_partition(self, emissions: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``log Z`` of each sentence ``(B,)`` by the forward algorithm; ``emissions (B, T, K)``."""
        lengths = self._check(emissions, lengths)
        transitions, start, end = self._scores(emissions.dtype)
        alpha = start + emissions[:, 0]  # (B, K)
        for t, emission in enumerate(emissions.unbind(1)[1:], 1):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emission  # (B, K)
            alpha = torch.where((t < lengths).unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``score(y)`` of the tag sequences ``tags (B, T)`` (values past a length are ignored) ``(B,)``."""
        lengths = self._check(emissions, lengths)
        transitions, start, end = self._scores(emissions.dtype)
        steps = emissions.shape[1]
        real = torch.arange(steps, device=emissions.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        tags = tags.masked_fill(~real, 0)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        total = start[tags[:, 0]] + (emitted * real).sum(1)
        if steps > 1:
            moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
            total = total + (moves * real[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return total + end[last]

    def forward(self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Negative log-likelihood ``log Z - score(y)`` of each sentence ``(B,)``."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, lengths: Tensor | None = None) -> list[list[int]]:
        """The highest-scoring tag sequence of each sentence (``lengths[b]`` tags each)."""
        lengths = self._check(emissions, lengths)
        transitions, start, end = self._scores(emissions.dtype)
        batch_size, steps, num_tags = emissions.shape
        best = start + emissions[:, 0]  # (B, K)
        keep = torch.arange(num_tags, device=emissions.device).expand(batch_size, num_tags)
        pointers = []
        for t, emission in enumerate(emissions.unbind(1)[1:], 1):
            scores, previous = (best.unsqueeze(2) + transitions).max(dim=1)  # (B, K): best predecessor of each tag
            real = (t < lengths).unsqueeze(1)
            best = torch.where(real, scores + emission, best)
            pointers.append(torch.where(real, previous, keep))  # past the end: each tag points to itself
        tag = (best + end).argmax(1)  # (B,)
        path = [tag]
        for previous in reversed(pointers):
            tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        tags = torch.stack(path[::-1], dim=1).cpu()  # (B, T)
        return [tags[row, : int(length)].tolist() for row, length in enumerate(lengths)]
