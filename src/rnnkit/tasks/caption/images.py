"""Images for captioning: read with Pillow, resized, kept as uint8; normalised (and augmented) batch by batch.

::

    file ─Pillow (RGB, fully decoded: a truncated file fails here)─▶ resize S x S ─▶ uint8 (3, S, S)
    batch of uint8 (B, 3, S, S) ─[train: flip, shifted crop]─▶ float (x / 255 - mean) / std
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...train.config import setting

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _floats(text: str) -> tuple[float, float, float]:
    parts = [part for part in text.replace(",", " ").split() if part]
    if len(parts) != 3:
        raise ValueError(f"got {text!r}; expected three numbers (red, green, blue), e.g. 0.5,0.5,0.5")
    return tuple(float(part) for part in parts)  # type: ignore[return-value]


@dataclass(frozen=True)
class CaptionDataConfig:
    """How captions and images are read, and how the vocabulary is built.

    Attributes:
        image_size: S: every image is resized to S x S pixels.
        mean, std: per-channel normalisation of pixel values in [0, 1]: ``(x - mean) / std``.
        flip: training augmentation: mirror each image left-right with probability 1/2.
        crop: training augmentation: shift each image by up to this many pixels (a random S x S crop of the
            image padded by reflection); 0: off.
        captions_per_image: training reads this many of each image's captions per epoch, drawn at random anew each
            epoch (0: all of them): the CNN's cost per caption falls, the decoder's stays.
        lower: lower-case the captions.
        min_freq: words seen fewer times in the training captions become ``<unk>``.
        valid_fraction: the share of training images held out for validation when no validation split is given.
        skip_bad: count and skip captions whose image is missing or unreadable, instead of stopping there.
        beam_size: beam width of the decoding that scores captions (1: greedy).
        select_on: which validation figure chooses the epoch kept: ``"loss"`` (per word) or ``"bleu4"`` (greedy
            decoding; short captions may have no 4-grams, so BLEU-4 ties at 0 on tiny sets).
    """

    image_size: int = setting(64, help="images are resized to this many pixels square")
    mean: tuple[float, float, float] = setting(IMAGENET_MEAN, parse=_floats, help="per-channel mean to subtract")
    std: tuple[float, float, float] = setting(IMAGENET_STD, parse=_floats, help="per-channel std to divide by")
    flip: bool = setting(False, help="augment training images by random left-right flips")
    crop: int = setting(0, help="augment training images by random shifts of up to N pixels (0: off)")
    captions_per_image: int = setting(0, help="training: this many of each image's captions per epoch, drawn at "
                                              "random (0: all)")
    lower: bool = setting(True, help="lower-case captions")
    min_freq: int = setting(5, help="rarer training words become <unk>")
    valid_fraction: float = setting(0.1, help="share of training images held out when there is no validation split")
    skip_bad: bool = setting(False, help="count and skip captions of missing or unreadable images")
    beam_size: int = setting(3, help="beam width when scoring captions (1: greedy)")
    select_on: str = setting("loss", choices=("loss", "bleu4"),
                             help="the epoch kept: lowest validation loss per word, or highest greedy BLEU-4")

    def __post_init__(self) -> None:
        for name, minimum in (("image_size", 8), ("min_freq", 1), ("beam_size", 1), ("crop", 0),
                               ("captions_per_image", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}: got {value!r}; expected an integer >= {minimum}")
        if any(not value > 0 for value in self.std):
            raise ValueError(f"std: got {self.std!r}; expected three positive numbers")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction: got {self.valid_fraction!r}; expected a number in (0, 1)")


def read_image(path: str | os.PathLike[str], size: int, where: str | None = None) -> Tensor:
    """The image at ``path`` as uint8 ``(3, size, size)`` (RGB, resized with bilinear filtering).

    Raises:
        FileNotFoundError: no such file (naming ``where`` the image was asked for, e.g. "captions.tsv line 4").
        ValueError: the file is not an image Pillow can read in full (truncated, corrupt, not an image).
    """
    from PIL import Image, UnidentifiedImageError

    origin = f" ({where})" if where else ""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}{origin}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()  # decodes the whole file now: a truncated JPEG fails here, not later
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}{origin}: unreadable image ({message}); expected a complete JPEG/PNG/... "
                         "file") from None
    return torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)  # (3, S, S)


def read_images(paths: Sequence[Path], size: int, wheres: Sequence[str | None]) -> Tensor:
    """Several images as uint8 ``(N, 3, size, size)``."""
    if not paths:
        return torch.empty(0, 3, size, size, dtype=torch.uint8)
    return torch.stack([read_image(path, size, where) for path, where in zip(paths, wheres, strict=True)])


def normalise(images: Tensor, config: CaptionDataConfig) -> Tensor:
    """uint8 ``(B, 3, S, S)`` -> float ``(x / 255 - mean) / std``."""
    mean = torch.tensor(config.mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(config.std, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def augment(images: Tensor, config: CaptionDataConfig, generator: torch.Generator) -> Tensor:
    """Random flips and shifts of uint8 ``(B, 3, S, S)`` images (as configured), drawn from ``generator``."""
    if config.flip:
        flips = torch.rand(images.shape[0], generator=generator) < 0.5
        images = torch.where(flips.view(-1, 1, 1, 1), images.flip(3), images)
    if config.crop:
        pad, size = config.crop, images.shape[-1]
        padded = torch.nn.functional.pad(images.float(), (pad, pad, pad, pad), mode="reflect").to(images.dtype)
        offsets = torch.randint(0, 2 * pad + 1, (images.shape[0], 2), generator=generator).tolist()
        images = torch.stack([padded[n, :, top:top + size, left:left + size]
                              for n, (top, left) in enumerate(offsets)])
    return images
