"""Readers: files to records (plain text so far), with errors that say what was found and what was expected."""

from .text import read_lines, read_text

__all__ = ["read_lines", "read_text"]
