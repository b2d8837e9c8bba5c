"""A picture per captioned image: the image, its generated and reference captions, and (with attention) where the
decoder looked for each word: the attention over the grid, upsampled to the image and laid over it."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ...train.atomic import atomic_save_file

COLUMNS = 6


def upsampled(weights: Tensor, size: int) -> Tensor:
    """Attention over an L-position square grid ``(L,)`` as a ``(size, size)`` map (bilinear)."""
    side = math.isqrt(weights.numel())
    if side * side != weights.numel():
        raise ValueError(f"attention: {weights.numel()} positions; expected a square grid")
    grid = weights.float().view(1, 1, side, side)
    return torch.nn.functional.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[0, 0]


def plot_caption(image: Tensor, tokens: Sequence[str], references: Sequence[str], weights: Tensor | None,
                 path: Path) -> Path:
    """Draw ``image`` (uint8 ``(3, S, S)``) with its caption ``tokens`` and ``references``; with ``weights``
    ``(T+1, L)`` one more panel per word (and ``<eos>``), the image under that word's attention map.

    Raises:
        ValueError: ``path`` not a .png/.pdf/.svg, or ``weights`` with a row count other than words + 1.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot {path}: unknown image type {path.suffix!r}; expected .png, .pdf or .svg")
    words = [*tokens, "<eos>"]
    if weights is not None and weights.shape[0] != len(words):
        raise ValueError(f"weights: {weights.shape[0]} rows; expected one per word and <eos> ({len(words)})")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pixels = image.permute(1, 2, 0).numpy()
    panels = 1 + (len(words) if weights is not None else 0)
    rows = math.ceil(panels / COLUMNS)
    figure, axes = plt.subplots(rows, min(panels, COLUMNS), figsize=(2.2 * min(panels, COLUMNS), 2.3 * rows + 1.2),
                                squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    axes.flat[0].imshow(pixels)
    axes.flat[0].set_title("image", fontsize=9)
    if weights is not None:
        for number, word in enumerate(words):
            axis = axes.flat[number + 1]
            axis.imshow(pixels)
            axis.imshow(upsampled(weights[number], image.shape[-1]).numpy(), cmap="gray", alpha=0.6,
                        extent=(-0.5, image.shape[-1] - 0.5, image.shape[-2] - 0.5, -0.5))
            axis.set_title(word, fontsize=9)
    lines = ["generated: " + " ".join(tokens)] + [f"reference: {text}" for text in references]
    text = "\n".join(textwrap.fill(line, 110) for line in lines)
    figure.suptitle(text, fontsize=8, ha="left", x=0.01, y=0.995, va="top")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.035 * (text.count("\n") + 1) * 3 / (2.3 * rows + 1.2)))
    atomic_save_file(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip(".").lower(), dpi=100))
    plt.close(figure)
    return path


__all__ = ["plot_caption", "upsampled"]
