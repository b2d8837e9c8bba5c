"""Tiny captioned images that tests write: coloured shapes on a plain background, with a caption each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 220), "yellow": (230, 220, 30)}
SHAPES = ("square", "stripe")


def draw(colour: str, shape: str, size: int = 16, shift: int = 0) -> np.ndarray:
    """A ``size`` x ``size`` RGB image: a ``colour`` square (centre) or stripe (top rows) on grey."""
    pixels = np.full((size, size, 3), 128, dtype=np.uint8)
    if shape == "square":
        pixels[4 + shift : 12 + shift, 4:12] = COLOURS[colour]
    else:
        pixels[shift : 5 + shift, :] = COLOURS[colour]
    return pixels


def write_images(folder: Path, count: int, offset: int = 0, size: int = 16) -> list[tuple[str, str]]:
    """``count`` images written as PNG files into ``folder``; returns ``(file name, caption)`` per image."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    names = list(COLOURS)
    for index in range(offset, offset + count):
        colour, shape = names[index % 4], SHAPES[index // 4 % 2]
        name = f"img{index}.png"
        Image.fromarray(draw(colour, shape, size, shift=index // 8 % 2)).save(folder / name)
        pairs.append((name, f"a {colour} {shape} ."))
    return pairs


def write_table(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """Rows ``(image, caption[, split])`` as a TSV with a header, or JSONL for a ``.jsonl`` path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        keys = ("image", "caption", "split")
        path.write_text("".join(json.dumps(dict(zip(keys, row, strict=False))) + "\n" for row in rows),
                        encoding="utf-8")
        return path
    header = "image\tcaption" + ("\tsplit" if rows and len(rows[0]) == 3 else "")
    path.write_text(header + "\n" + "".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path
