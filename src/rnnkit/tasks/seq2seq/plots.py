"""An attention heatmap: which source tokens the decoder looked at for each target token."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from ...train.atomic import atomic_save_file


def plot_attention_heatmap(source: Sequence[str], target: Sequence[str], weights: Tensor, path: Path) -> Path:
    """Save ``weights (T, S)`` as a heatmap, target tokens down the side and source tokens along the top.

    Raises:
        ValueError: if the shape of ``weights`` does not match the token lists, or ``path`` is not a .png/.pdf/.svg.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot {path}: unknown image type {path.suffix!r}; expected .png, .pdf or .svg")
    if tuple(weights.shape) != (len(target), len(source)):
        raise ValueError(f"weights: got shape {tuple(weights.shape)}; expected ({len(target)}, {len(source)}) for "
                         f"{len(target)} target and {len(source)} source tokens")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = 1.5 + 0.45 * len(source), 1.2 + 0.4 * len(target)
    figure, axes = plt.subplots(figsize=(min(width, 30), min(height, 30)))
    image = axes.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source)), list(source), rotation=60, ha="right")
    axes.set_yticks(range(len(target)), list(target))
    axes.set_xlabel("source")
    axes.set_ylabel("target")
    axes.xaxis.tick_top()
    axes.xaxis.set_label_position("top")
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    atomic_save_file(path, lambda temporary: figure.savefig(temporary, format=path.suffix.lstrip(".").lower(), dpi=120))
    plt.close(figure)
    return path
