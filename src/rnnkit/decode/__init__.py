"""Decoding: choosing the next token from a model's logits (sampling), and greedy / beam search for encoder-decoders."""

from .beam import Decoded, beam_search, greedy_search
from .sampling import filter_logits, sample_next

__all__ = ["Decoded", "beam_search", "filter_logits", "greedy_search", "sample_next"]
