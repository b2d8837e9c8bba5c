"""What one request to ``rnnkit serve`` may ask for: sizes refused with a 4xx before any model runs."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ServeLimits:
    """Limits of the serving app; each is a ``rnnkit serve`` flag of the same name (``--max-body-bytes``).

    Attributes:
        max_body_bytes: Bytes of one request body (an uploaded recording counts, base64-encoded).
        max_text_chars: Characters of one text input (a text to classify, a prompt, a sentence to translate).
        max_items: Inputs in one request (texts, files), and texts of one conditional ``generate``.
        max_generate_length: Tokens one ``generate`` request produces (``length`` x ``n``).
        max_beam_size: Beam width of ``translate`` / ``caption``.
        max_horizon: Steps ahead of one ``forecast``.
        max_series_rows: Rows of the series one ``forecast`` request sends.
    """

    max_body_bytes: int = 2_000_000
    max_text_chars: int = 5_000
    max_items: int = 64
    max_generate_length: int = 2_000
    max_beam_size: int = 16
    max_horizon: int = 1_000
    max_series_rows: int = 100_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"--{field.name.replace('_', '-')}: got {value!r}; expected a positive integer")


__all__ = ["ServeLimits"]
