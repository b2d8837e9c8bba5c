"""Decoding: choosing the next token from a model's logits (sampling; beam search arrives in its own module)."""

from .sampling import filter_logits, sample_next

__all__ = ["filter_logits", "sample_next"]
