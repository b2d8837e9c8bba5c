"""Decoding: choosing the next token from a model's logits (sampling), sampling from conditional generators, and
greedy / beam search for encoder-decoders."""

from .beam import Decoded, beam_search, greedy_search
from .condgen import generate_conditional
from .sampling import filter_logits, sample_next

__all__ = ["Decoded", "beam_search", "filter_logits", "generate_conditional", "greedy_search", "sample_next"]
