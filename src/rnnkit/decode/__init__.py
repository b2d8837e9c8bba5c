"""Decoding: choosing the next token from a model's logits (sampling), sampling from conditional generators, and
greedy / beam search for encoder-decoders, and the per-model step functions they run (``step_function``)."""

from .beam import Decoded, beam_search, greedy_search
from .condgen import generate_conditional
from .sampling import filter_logits, sample_next, sampling_rule
from .steps import step_function

__all__ = ["Decoded", "beam_search", "filter_logits", "generate_conditional", "greedy_search", "sample_next",
           "sampling_rule", "step_function"]
