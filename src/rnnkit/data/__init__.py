"""Data: batching by length (readers and streams arrive in their own modules)."""

from .batching import BucketBatchSampler, padding_fraction

__all__ = ["BucketBatchSampler", "padding_fraction"]
