"""The image-captioning task (one-to-many): an image in, a sentence out.

The one place that knows what goes together for captioning: caption files (TSV/CSV/JSONL of image, caption
[, split], or the Flickr8k token file and split lists; see :mod:`.data`) and a folder of images (read with Pillow,
resized and normalised; flips and shifts to augment) -> a vocabulary with ``<bos>``/``<eos>`` (``min_freq``) ->
batches of images with all their captions -> :class:`~rnnkit.models.captioner.Captioner` (a CNN grid encoder, an
LSTM decoder started from the mean image feature, optional soft attention) -> teacher-forced cross-entropy plus
the doubly stochastic attention regulariser. The epoch kept is the best on validation BLEU-4 (greedy); the test
split is scored once, by BLEU-1..4 beside two baselines (:mod:`.metrics`).

::

    image.jpg, "A dog runs ."  ─▶  pixels (3, S, S);  inputs  <bos> a   dog  runs .
                                                      targets a     dog runs .    <eos>

Modules: :mod:`.train` (``train_caption``), :mod:`.predict` (``CaptionPredictor``), :mod:`.data` (caption files,
splits, batches), :mod:`.images` (reading and normalising images), :mod:`.search` (greedy / beam search through
:mod:`rnnkit.decode.beam`), :mod:`.metrics` (BLEU and baselines), :mod:`.plots` (a picture per image).
"""

from ..base import STREAM_SETTINGS, Task
from .data import NAME, SETTINGS
from .predict import CaptionPredictor
from .train import train_caption

TASK = Task(
    NAME, "image captioner (image -> sentence)",
    "Train an image captioner: a small CNN encoder (from scratch) and an LSTM decoder whose initial state comes "
    "from the mean image feature (Show and Tell); with --attention it attends over the image grid at every word "
    "(Show, Attend and Tell). --data (or --captions) takes a TSV/CSV/JSONL of image, caption[, split], or the "
    "Flickr8k token file with its split lists; --images is the folder of the image files.",
    SETTINGS, train_caption, CaptionPredictor, ("caption", "evaluate"),
    ("caption file(s): a table of image, caption[, split] or the Flickr8k token file, and optionally an image list "
     "restricting it (required unless --resume or --captions)",
     "validation captions, or an image list (default: split 'val' of --data, else --valid-fraction of its images)",
     "test captions or an image list, scored once at the end (default: split 'test' of --data)"),
    data_required=False,
    extra_data={"--images": ("images", "folder of the image files (default: the caption file's folder)"),
                "--captions": ("captions", "the same as --data")},
    hidden=STREAM_SETTINGS,
    flag_help={"--batch-size": "images per batch (each with all its captions)", "--seed": "random seed (also of "
               "the held-out validation images and the augmentation)"})

__all__ = ["TASK", "CaptionPredictor", "train_caption"]
