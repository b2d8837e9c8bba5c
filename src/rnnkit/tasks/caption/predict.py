"""A trained captioner put to use: caption images, score a captioned test set (BLEU-1..4), draw attention."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ...models.captioner import Captioner, CaptionerConfig
from ...text import Vocab
from ...train.checkpoint import load_model_weights
from ..common import check_batch_size
from ..export_graphs import export_captioner
from ..run_dir import read_run_config, run_settings
from .data import NAME, SPECIALS, TEST_NAMES, encode_split, group_by_image, images_folder, listed_rows, read_sources
from .images import CaptionDataConfig, normalise, read_image
from .metrics import caption_scores
from .search import search_captions
from .train import EVAL_BATCH_SIZE, generate


class CaptionPredictor:
    """The verbs of a captioning run: :meth:`caption` (:meth:`caption_records` for the CLI), :meth:`evaluate`,
    :meth:`attention`, :meth:`plot`."""

    task = NAME

    def __init__(self, model: Captioner, vocab: Vocab, config: CaptionDataConfig, max_length: int) -> None:
        missing = [special for special in SPECIALS if special not in vocab.stoi]
        if missing:
            raise ValueError(f"vocab: has no {', '.join(missing)}; expected the specials {list(SPECIALS)}")
        self.model, self.vocab, self.config, self.max_length = model.eval(), vocab, config, max_length
        self.device = next(model.parameters()).device
        self.bos_id, self.eos_id = vocab.stoi["<bos>"], vocab.stoi["<eos>"]
        self.banned = (vocab.pad_id, self.bos_id, vocab.unk_id)

    @classmethod
    def load(cls, run_dir: Path, device: str = "cpu") -> CaptionPredictor:
        """Rebuild the captioner of a run directory from its config, vocabulary and weights (no pickle)."""
        run_dir = Path(run_dir)
        config = read_run_config(run_dir, NAME)
        settings = run_settings(run_dir, config, {"caption": CaptionDataConfig, "model": CaptionerConfig})
        generation = config.get("generation")
        if not isinstance(generation, dict) or not isinstance(generation.get("max_length"), int):
            raise ValueError(f"{run_dir / 'config.json'}: not a valid {NAME!r} run config (expected "
                             "generation.max_length)")
        vocab = Vocab.load(run_dir / "vocab.json")
        model = Captioner(len(vocab), settings["model"], pad_id=vocab.pad_id)
        load_model_weights(run_dir / "model.safetensors", model)
        return cls(model.to(device), vocab, settings["caption"], generation["max_length"])

    def _decode(self, images: torch.Tensor, beam_size: int | None, batch_size: int) -> list[tuple[list[str], float]]:
        beam = self.config.beam_size if beam_size is None else beam_size
        results = []
        for start in range(0, images.shape[0], batch_size):
            batch = normalise(images[start : start + batch_size], self.config).to(self.device)
            decoded = search_captions(self.model, batch, self.bos_id, self.eos_id, self.max_length, beam,
                                      self.banned)
            results += [(self.vocab.decode(tokens), score) for tokens, score in zip(decoded.tokens, decoded.scores,
                                                                                   strict=True)]
        return results

    def caption_records(self, images: Sequence[tuple[str, str | os.PathLike[str]]], beam_size: int | None = None,
                        batch_size: int = EVAL_BATCH_SIZE, plot: str | os.PathLike[str] | None = None
                        ) -> list[dict[str, Any]]:
        """``rnnkit caption``: ``(where, path)`` pairs -> ``{"image", "caption", "tokens", "score"}`` records.

        Every image is read before any is captioned (an error names its ``where``: "IMAGE argument 2",
        "list.txt line 7"). ``score`` is the caption's log-probability per word (beam search's normalised score;
        greedy: the summed log-probability). With ``plot``, a picture per image is drawn into that folder.
        """
        check_batch_size(batch_size)
        if not images:
            raise ValueError("caption: got no image; expected IMAGE arguments or --input FILE")
        tensors = torch.stack([read_image(path, self.config.image_size, where) for where, path in images])
        decoded = self._decode(tensors, beam_size, batch_size)
        records = [{"image": str(path), "caption": " ".join(tokens), "tokens": tokens, "score": score}
                   for (_, path), (tokens, score) in zip(images, decoded, strict=True)]
        if plot is not None:
            for record, image in zip(records, tensors, strict=True):
                record["plot"] = str(self._draw(image, record["tokens"], [], Path(plot), record["image"]))
        return records

    def caption(self, images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                beam_size: int | None = None, batch_size: int = EVAL_BATCH_SIZE) -> dict[str, Any] | list[dict]:
        """Caption one image file (returns a dict) or several (a list): ``image``, ``caption``, ``tokens``,
        ``score``. ``beam_size`` 1 is greedy; default the run's."""
        single = isinstance(images, str | os.PathLike)
        items = [images] if single else list(images)
        records = self.caption_records([(f"image {number}", path) for number, path in enumerate(items, 1)],
                                       beam_size, batch_size)
        return records[0] if single else records

    def evaluate(self, data: Any, images: str | os.PathLike[str] | None = None, beam_size: int | None = None,
                 batch_size: int = EVAL_BATCH_SIZE, plot: str | os.PathLike[str] | None = None,
                 meteor: bool = False) -> dict[str, Any]:
        """BLEU-1..4 (all references of each image), CIDEr-D (with pycocoevalcap installed) and, when asked,
        METEOR of the run's captions of a captioned set (see :mod:`.metrics`).

        Args:
            data: caption files (a table with a split column: its test rows) with optional image lists among
                them (their images only), or in-memory ``(image, caption)`` pairs.
            images: the folder of the image files (default: the caption file's folder).
            beam_size: beam width (1: greedy; default the run's).
            batch_size: images decoded together.
            plot: a folder to draw a picture per image into (image, caption, references, attention per word).
            meteor: also score METEOR 1.5 (pycocoevalcap's Java jar: needs ``java``).
        """
        check_batch_size(batch_size)
        rows, listed = read_sources(data)
        if listed:
            rows = listed_rows(listed, rows, "--data")
        elif any(row.split is not None for row in rows):
            rows = [row for row in rows if row.split in TEST_NAMES]
            if not rows:
                raise ValueError("--data: no row has split 'test'; expected the test rows to evaluate on")
        if not rows:
            raise ValueError("--data: no captions; expected a caption file with image and caption columns")
        names, tensors, captions, skipped = group_by_image(rows, images_folder(images, data), self.config, "--data")
        split = encode_split(names, tensors, captions, self.vocab, self.config)
        beam = self.config.beam_size if beam_size is None else beam_size
        hypotheses = generate(self.model, split, self.vocab, self.config, self.max_length, beam)
        if plot is not None:
            for name, image, hypothesis, references in zip(names, tensors, hypotheses, split.references, strict=True):
                self._draw(image, hypothesis.split(), references, Path(plot), name)
        return {**caption_scores(hypotheses, split.references, meteor=meteor), "images": len(names),
                "captions": sum(len(texts) for texts in captions), "skipped_captions": skipped, "beam": beam}

    @torch.no_grad()
    def attention(self, image: torch.Tensor, tokens: Sequence[str]) -> torch.Tensor | None:
        """Attention ``(T+1, L)`` of the decoder reading ``tokens`` (then ``<eos>``) for a uint8 image ``(3, S, S)``:
        row t is where it looked to emit word t; None for a model without attention."""
        if self.model.attention is None:
            return None
        inputs = torch.tensor([[self.bos_id, *self.vocab.encode(list(tokens))]], device=self.device)
        _, weights = self.model(normalise(image.unsqueeze(0), self.config).to(self.device), inputs)
        return weights[0].float().cpu()

    def _draw(self, image: torch.Tensor, tokens: list[str], references: Sequence[str], folder: Path,
              name: str) -> Path:
        from .plots import plot_caption

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (Path(name).stem + ".png")
        return plot_caption(image, tokens, references, self.attention(image, tokens), path)

    def plot(self, image: str | os.PathLike[str], path: str | os.PathLike[str], references: Sequence[str] = (),
             beam_size: int | None = None) -> Path:
        """Draw one image with its caption (and the references given), and its attention map per word."""
        tensor = read_image(image, self.config.image_size)
        tokens, _ = self._decode(tensor.unsqueeze(0), beam_size, 1)[0]
        from .plots import plot_caption

        return plot_caption(tensor, tokens, references, self.attention(tensor, tokens), Path(path))

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Path:
        """Write the captioner as two graphs (the image encoder and one decoder step) with a JSON sidecar.

        Args:
            path: the file to write (``.onnx`` or ``.pt2``): ``<stem>.encoder.<ext>`` and
                ``<stem>.decoder_step.<ext>`` go beside it.
            format: ``"onnx"`` (needs ``pip install rnnkit[export]``) or ``"pt2"`` (``torch.export``; a zip with
                pickled parts: load only your own files).

        Returns:
            The sidecar ``<stem>.json``: each graph's inputs and outputs (names, shapes, dtypes), the vocabulary,
            the image settings (size, mean, std) and the decoding settings.
        """
        return export_captioner(self, path, format)


__all__ = ["CaptionPredictor"]
