r"""Sampling texts from a conditional generator (:class:`rnnkit.models.ConditionalGenerator`), one condition each.

The model gives the math (the condition vector, the initial state, one decoding step); this module drives it: it
steps the decoder one token at a time from ``<bos>`` and picks each next token with
:func:`rnnkit.decode.sampling.sample_next` (temperature, top-k, top-p), optionally with classifier-free guidance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..models.condgen import ConditionalGenerator
from .sampling import sampling_rule
from .steps import ConditionalGeneratorStep

__all__ = ["generate_conditional"]


@torch.no_grad()
def generate_conditional(model: ConditionalGenerator, condition: Tensor, bos_id: int, eos_id: int, max_length: int,
                         temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                         banned: Sequence[int] = (), generator: torch.Generator | None = None, min_length: int = 1,
                         guidance: float = 0.0) -> list[list[int]]:
    r"""Sample one sequence per condition (a batch, all decoded together) from ``model``.

    ``condition`` is what the model takes: label ids ``(N,)`` or features ``(N, F)``. Each sequence starts from
    ``<bos>`` and ends at ``<eos>`` (not included) or after ``max_length`` tokens; ``<eos>`` cannot come before
    ``min_length`` tokens (default 1: no empty texts, which training never has). ``banned`` ids (``<pad>``,
    ``<unk>``, ``<bos>``) are never produced. Put the model in eval mode for no dropout.

    ``guidance`` w > 0 (label conditions only) samples from scores that push away from the other labels, as
    classifier-free guidance (Ho & Salimans 2022; for language models Sanchez et al. 2023)::

        s_t(y) = log p(y | y_<t, c) + w [log p(y | y_<t, c) - log (1/K sum_k p(y | y_<t, k))]

    The bracket is the generator's own log-odds that the next token belongs to c rather than to a label drawn at
    random; the K decoders (one per label) read the same tokens. w = 0 is plain sampling.

    Returns:
        The token ids of each sequence, ``<bos>`` and ``<eos>`` left out.

    Raises:
        ValueError: For lengths or a guidance out of range, or guidance with feature conditions.
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length: got {max_length!r}; expected a positive integer")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or not 0 <= min_length <= max_length:
        raise ValueError(f"min_length: got {min_length!r}; expected an integer in [0, max_length={max_length}]")
    if isinstance(guidance, bool) or not isinstance(guidance, int | float) or not 0 <= guidance < math.inf:
        raise ValueError(f"guidance: got {guidance!r}; expected a finite number >= 0")
    if guidance and model.num_classes is None:
        raise ValueError("guidance: needs label conditions (it contrasts the labels); got feature conditions")
    choose = sampling_rule(temperature, top_k, top_p)  # options checked once, not at every step
    count = condition.shape[0]
    guided = bool(guidance) and model.num_classes > 1
    classes = model.num_classes if guided else 1
    # with guidance, row n * K + k decodes sequence n under label k; otherwise row n under its own condition
    decoded = torch.arange(classes, device=condition.device).repeat(count) if guided else condition
    q = model.encode_condition(decoded)  # (N*K, C)
    if model.training:  # dropout on, as asked: the model's own step
        def step(tokens: Tensor, state):
            return model.step(tokens, q, state)
        state = model.initial_state(q)
    else:  # the step function: cells stepped directly, weights looked up once
        stepper = ConditionalGeneratorStep(model)

        def step(tokens: Tensor, state):
            return stepper(tokens, state, q)
        state = stepper.initial_state(q)
    tokens = torch.full((count,), bos_id, dtype=torch.long, device=q.device)  # (N,)
    finished = torch.zeros(count, dtype=torch.bool, device=q.device)
    sequences: list[list[int]] = [[] for _ in range(count)]
    for position in range(max_length):
        logits, state = step(tokens.repeat_interleave(classes) if guided else tokens, state)  # (N*K, V)
        logits = logits.float()
        if guided:
            log_probs = torch.log_softmax(logits, dim=1).view(count, classes, -1)  # (N, K, V)
            own = log_probs[torch.arange(count), condition]  # (N, V)
            marginal = torch.logsumexp(log_probs, dim=1) - math.log(classes)  # (N, V)
            logits = own + guidance * (own - marginal)
        if banned:
            logits[:, list(banned)] = -math.inf
        if position < min_length:
            logits[:, eos_id] = -math.inf
        tokens = choose(logits, generator)  # (N,)
        chosen = tokens.tolist()  # one copy to the host per step, not one per sequence
        for index in (~finished & (tokens != eos_id)).nonzero().flatten().tolist():
            sequences[index].append(chosen[index])
        finished |= tokens == eos_id
        if bool(finished.all()):
            break
    return sequences
