r"""Caption files, image lists and splits for the captioning task.

Caption files (optionally gzipped: ``captions.tsv.gz``):

* a table with a header, ``.tsv`` / ``.csv`` (columns ``image``, ``caption`` and optionally ``split``) or ``.jsonl``
  (one ``{"image": ..., "caption": ..., "split": ...}`` object per line);
* the Flickr8k token file (``.txt`` lines ``NAME#K<TAB>CAPTION``);
* an image list (``.txt``, one image name per line, no tab): the images of a split, their captions taken from the
  caption files of ``--data`` (the Flickr8k ``Flickr_8k.trainImages.txt`` ...).

Splits: ``--data`` gives the training captions (restricted to the images of any image list among its paths, or to
the rows whose ``split`` is ``train`` when the table has a split column); ``--valid`` / ``--test`` are caption files
or image lists; without them, the rows with split ``val``/``valid``/``dev`` and ``test``; without those, a seeded
``valid_fraction`` of the training images is held out for validation.

Image names are read relative to ``--images`` (default: the caption file's folder). Every error names the file
and line: a row without caption, a caption of a missing image, a listed image without captions, an unreadable
image (or, with ``skip_bad``, such captions are counted and skipped).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ...data.batching import BucketBatchSampler, length_ordered_batches
from ...models.captioner import CaptionerConfig
from ...text import Vocab, WordTokenizer
from ...train.config import TrainConfig
from .images import CaptionDataConfig, augment, normalise, read_image

NAME = "caption"
SETTINGS = {"caption": CaptionDataConfig, "model": CaptionerConfig, "train": TrainConfig}
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
VALID_NAMES, TEST_NAMES = ("val", "valid", "validation", "dev"), ("test",)
Batch = tuple[Tensor, Tensor, Tensor]  # images (B, 3, S, S), inputs (B, K, T), targets (B, K, T)


@dataclass
class Row:
    """One caption of one image, and where it was read (``"captions.tsv line 4"``)."""

    image: str
    caption: str
    split: str | None
    where: str


@dataclass
class CaptionSplit:
    """The images of a split (uint8) and their captions: token ids, and tokenised texts for BLEU."""

    names: list[str]
    images: Tensor  # (N, 3, S, S) uint8
    ids: list[list[Tensor]]  # per image, per caption: word ids (no <bos>/<eos>)
    references: list[list[str]]  # per image, per caption: tokens joined by spaces

    def __len__(self) -> int:
        return len(self.names)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _kind(path: Path) -> str:
    suffix = Path(path.name.removesuffix(".gz")).suffix.lower()
    return {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix, "txt")


def read_caption_file(path: str | os.PathLike[str]) -> tuple[list[Row], list[tuple[str, str]]]:
    """``(rows, listed)``: the captions of a caption file, or the ``(image, where)`` entries of an image list.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a table without ``image``/``caption`` columns, a row without image or caption, a token-file
            line not ``NAME#K<TAB>CAPTION``, or bad JSON (naming the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such caption file")
    kind = _kind(path)
    try:
        with _open_text(path) as handle:
            if kind in ("tsv", "csv"):
                return _table_rows(path, handle, "\t" if kind == "tsv" else ","), []
            lines = handle.read().splitlines()
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ValueError(f"{path}: unreadable ({error}); expected UTF-8 text (optionally gzipped)") from None
    if kind == "jsonl":
        return _json_rows(path, lines), []
    numbered = [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    if numbered and "\t" in numbered[0][1]:
        return _token_rows(path, numbered), []
    return [], [(line, f"{path} line {number}") for number, line in numbered]


def _row(where: str, image: Any, caption: Any, split: Any) -> Row:
    if not isinstance(image, str) or not image.strip():
        raise ValueError(f"{where}: no image name; expected an image file name in the 'image' field")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"{where}: image {image.strip()!r} has no caption; expected a caption text")
    split = split.strip().lower() if isinstance(split, str) and split.strip() else None
    return Row(image.strip(), caption.strip(), split, where)


def _table_rows(path: Path, handle: io.TextIOBase, delimiter: str) -> list[Row]:
    reader = csv.DictReader(handle, delimiter=delimiter)
    columns = reader.fieldnames or []
    if "image" not in columns or "caption" not in columns:
        raise ValueError(f"{path} line 1: columns {columns}; expected a header with 'image' and 'caption' "
                         "(and optionally 'split')")
    return [_row(f"{path} line {number}", record.get("image"), record.get("caption"), record.get("split"))
            for number, record in enumerate(reader, 2)]


def _json_rows(path: Path, lines: list[str]) -> list[Row]:
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} line {number}: not JSON ({error.msg}); expected "
                             '{"image": ..., "caption": ...}') from None
        if not isinstance(record, dict):
            raise ValueError(f"{path} line {number}: got {type(record).__name__}; expected a JSON object")
        rows.append(_row(f"{path} line {number}", record.get("image"), record.get("caption"), record.get("split")))
    return rows


def _token_rows(path: Path, numbered: list[tuple[int, str]]) -> list[Row]:
    rows = []
    for number, line in numbered:
        name, tab, caption = line.partition("\t")
        image, hash_sign, index = name.rpartition("#")
        if not tab or not hash_sign or not index.isdigit():
            raise ValueError(f"{path} line {number}: got {line[:60]!r}; expected 'IMAGE#N<TAB>CAPTION' (the "
                             "Flickr8k token file)")
        rows.append(_row(f"{path} line {number}", image, caption, None))
    return rows


def _in_memory_rows(items: Sequence[Any]) -> list[Row]:
    rows = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, tuple | list) or len(item) not in (2, 3):
            raise ValueError(f"data item {number}: got {item!r}; expected (image, caption) or (image, caption, "
                             "split)")
        image, caption, *split = item
        rows.append(_row(f"data item {number}", str(image), caption, split[0] if split else None))
    return rows


def read_sources(data: Any) -> tuple[list[Row], list[tuple[str, str]]]:
    """Rows of the caption files of ``data`` and the entries of its image lists (or rows in memory)."""
    if data is None:
        return [], []
    if isinstance(data, str | os.PathLike):
        return read_caption_file(data)
    if data and all(isinstance(item, str | os.PathLike) for item in data):
        rows, listed = [], []
        for path in data:
            more_rows, more_listed = read_caption_file(path)
            rows += more_rows
            listed += more_listed
        return rows, listed
    return _in_memory_rows(data), []


def listed_rows(listed: list[tuple[str, str]], pool: list[Row], pool_name: str) -> list[Row]:
    """The rows of ``pool`` whose image is listed; a listed image without captions is an error."""
    by_image: dict[str, list[Row]] = {}
    for row in pool:
        by_image.setdefault(row.image, []).append(row)
    rows = []
    for image, where in listed:
        if image not in by_image:
            raise ValueError(f"{where}: image {image!r} has no caption in {pool_name}; expected a listed image to "
                             "have captions")
        rows += by_image.pop(image)
    return rows


def split_rows(data: Any, valid: Any, test: Any, valid_fraction: float,
               seed: int) -> tuple[list[Row], list[Row], list[Row] | None]:
    """The training, validation and test rows (see the module docstring)."""
    rows, listed = read_sources(data)
    if not rows:
        raise ValueError("--data: no captions; expected a caption file (TSV/CSV/JSONL with image and caption "
                         "columns, or the Flickr8k token file)")
    pool_name = "--data"
    has_split = any(row.split is not None for row in rows)
    train = listed_rows(listed, rows, pool_name) if listed else \
        [row for row in rows if row.split == "train"] if has_split else rows
    if not train:
        raise ValueError("--data: no row has split 'train'; expected train/val/test in the split column")

    def other(given: Any, names: tuple[str, ...]) -> list[Row] | None:
        if given is None:
            chosen = [row for row in rows if row.split in names] if has_split and not listed else []
            return chosen or None
        given_rows, given_listed = read_sources(given)
        return given_rows + (listed_rows(given_listed, rows, pool_name) if given_listed else [])

    valid_rows, test_rows = other(valid, VALID_NAMES), other(test, TEST_NAMES)
    if valid_rows is None:  # hold out whole images, so no image is in both
        images = sorted({row.image for row in train})
        random.Random(seed).shuffle(images)
        held = set(images[: max(1, round(valid_fraction * len(images)))]) if len(images) > 1 else set()
        valid_rows = [row for row in train if row.image in held]
        train = [row for row in train if row.image not in held]
    return train, valid_rows, test_rows


def group_by_image(rows: Sequence[Row], images_dir: Path | None, config: CaptionDataConfig,
                   name: str) -> tuple[list[str], Tensor, list[list[str]], int]:
    """``(names, images uint8 (N, 3, S, S), captions per image, skipped captions)`` in first-seen order.

    An image is read once however many captions it has. A missing or unreadable image is an error naming the
    row's file and line (``skip_bad``: its captions are counted and skipped).
    """
    captions: dict[str, list[str]] = {}
    wheres: dict[str, str] = {}
    for row in rows:
        captions.setdefault(row.image, []).append(row.caption)
        wheres.setdefault(row.image, row.where)
    names, tensors, kept, skipped = [], [], [], 0
    for image, texts in captions.items():
        path = Path(image) if images_dir is None else Path(images_dir) / image
        try:
            tensors.append(read_image(path, config.image_size, wheres[image]))
        except (FileNotFoundError, ValueError):
            if not config.skip_bad:
                raise
            skipped += len(texts)
            continue
        names.append(image)
        kept.append(texts)
    if not names:
        raise ValueError(f"{name}: no readable image; expected caption rows naming image files")
    return names, torch.stack(tensors), kept, skipped


def tokenize(text: str, config: CaptionDataConfig) -> list[str]:
    """A caption's words (and punctuation marks), lower-cased as configured."""
    return WordTokenizer(lower=config.lower).tokenize(text)


def build_vocab(captions: Sequence[Sequence[str]], config: CaptionDataConfig) -> Vocab:
    """The vocabulary of the training captions: ``<pad> <unk> <bos> <eos>``, then words seen ``min_freq`` times."""
    return Vocab.build((tokenize(text, config) for texts in captions for text in texts), min_freq=config.min_freq,
                       specials=SPECIALS)


def encode_split(names: list[str], images: Tensor, captions: list[list[str]], vocab: Vocab,
                 config: CaptionDataConfig) -> CaptionSplit:
    tokens = [[tokenize(text, config) for text in texts] for texts in captions]
    ids = [[torch.tensor(vocab.encode(words), dtype=torch.long) for words in per_image] for per_image in tokens]
    references = [[" ".join(words) for words in per_image] for per_image in tokens]
    return CaptionSplit(names, images, ids, references)


def collate(split: CaptionSplit, indices: Sequence[int], vocab: Vocab, config: CaptionDataConfig,
            generator: torch.Generator | None = None) -> Batch:
    """``(images (B, 3, S, S), inputs (B, K, T), targets (B, K, T))``: every caption of each image, teacher-forced
    (inputs ``<bos> y_1 ..``, targets ``.. y_T <eos>``), padded (an image with fewer than K captions gets all-pad
    rows). With a ``generator`` (training): ``captions_per_image`` of each image's captions drawn at random (if
    set), and the images augmented; then normalised. Every tensor has the batch's images on
    dim 0, so the Trainer's default shard splits it between torchrun ranks."""
    bos, eos, pad = vocab.stoi["<bos>"], vocab.stoi["<eos>"], vocab.pad_id
    chosen = [split.ids[i] for i in indices]
    if generator is not None and config.captions_per_image:
        chosen = [[captions[k] for k in torch.randperm(len(captions), generator=generator)[
            : config.captions_per_image].tolist()] for captions in chosen]
    K = max(len(captions) for captions in chosen)
    T = max(len(ids) for captions in chosen for ids in captions) + 1
    inputs = torch.full((len(indices), K, T), pad, dtype=torch.long)
    targets = inputs.clone()
    for row, captions in enumerate(chosen):
        for k, ids in enumerate(captions):
            inputs[row, k, 0] = bos
            inputs[row, k, 1 : len(ids) + 1] = ids
            targets[row, k, : len(ids)] = ids
            targets[row, k, len(ids)] = eos
    images = split.images[list(indices)]
    if generator is not None:
        images = augment(images, config, generator)
    return normalise(images, config), inputs, targets


def training_batches(split: CaptionSplit, batch_size: int, seed: int, vocab: Vocab, config: CaptionDataConfig):
    """``(batches(epoch), steps)``: shuffled batches of images with similar caption lengths; the augmentation (and
    caption choice) of batch i of an epoch is drawn from a generator seeded by (seed, epoch, i), so a resumed run
    sees the same."""
    lengths = [max(len(ids) for ids in per_image) for per_image in split.ids]
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed)
    random_batches = config.flip or config.crop > 0 or config.captions_per_image > 0

    def batches(epoch: int) -> Iterator[Batch]:
        sampler.set_epoch(epoch)
        for number, indices in enumerate(sampler):
            generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + number) \
                if random_batches else None
            yield collate(split, indices, vocab, config, generator)

    return batches, len(sampler)


def evaluation_batches(split: CaptionSplit, batch_size: int, vocab: Vocab,
                       config: CaptionDataConfig) -> Iterator[tuple[list[int], Batch]]:
    """``(indices, batch)``: every image once, without augmentation."""
    lengths = [max(len(ids) for ids in per_image) for per_image in split.ids]
    return length_ordered_batches(lengths, batch_size, lambda indices: collate(split, indices, vocab, config))


def images_folder(images: Any, data: Any) -> Path | None:
    """Where image names are read from: ``images``, else the folder of the first caption file (None: in memory,
    names as given)."""
    if images is not None:
        folder = Path(images)
        if not folder.is_dir():
            raise FileNotFoundError(f"--images {folder}: no such folder; expected the folder of the image files")
        return folder
    if isinstance(data, str | os.PathLike):
        return Path(data).parent
    if data and all(isinstance(item, str | os.PathLike) for item in data):
        return Path(data[0]).parent
    return None
