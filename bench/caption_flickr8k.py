"""Flickr8k image captioning from scratch on this CPU: Show and Tell against Show, Attend and Tell, one budget.

Both models train with the same settings and the same training-time budget (``--seconds``); the epoch kept is the
one with the best greedy BLEU-4 on the validation split (1,000 images); the test split (1,000 images, 5 references
each) is scored once, with beam search, beside the two baselines (the nearest training image's caption in the
encoder's feature space; the one most likely caption ignoring the image). Images are the shared 128 px copies
(``$RNNKIT_DATA_DIR/flickr8k``, research use only), resized to ``--image-size``.

    RNNKIT_DATA_DIR=/work/shared/data python bench/caption_flickr8k.py train --attention --out runs/cap_att
    RNNKIT_DATA_DIR=/work/shared/data python bench/caption_flickr8k.py train --out runs/cap_plain
    python bench/caption_flickr8k.py report runs/cap_plain runs/cap_att      # table, JSON and figure in docs/

The two ``train`` commands may run side by side (one torch thread each).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_paths import require  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
ORDERS = (1, 2, 3, 4)


def train(args: argparse.Namespace) -> None:
    from rnnkit.models.captioner import CaptionerConfig
    from rnnkit.tasks.caption import train_caption
    from rnnkit.tasks.caption.images import CaptionDataConfig
    from rnnkit.train.config import TrainConfig

    torch.set_num_threads(args.threads)
    captions = require("flickr8k/captions.tsv.gz")
    started = time.perf_counter()
    results = train_caption(
        args.out, data=captions, images=captions.parent / "images",
        caption=CaptionDataConfig(image_size=args.image_size, min_freq=5, flip=True, beam_size=3, select_on="bleu4",
                                  captions_per_image=args.captions_per_image),
        model=CaptionerConfig(encoder=args.encoder, pretrained=args.pretrained, freeze_encoder=args.freeze_encoder,
                              encoder_width=32, encoder_blocks=3, encoder_convs=1, feature_size=256,
                              embedding_size=128, hidden_size=args.hidden_size, attention=args.attention,
                              attention_size=128, dropout=0.3),
        train=TrainConfig(epochs=args.epochs, batch_size=32, lr=args.lr, clip_norm=5.0, seed=0,
                          max_seconds=args.seconds, log_every=20, device=args.device))
    results["wall_seconds"] = time.perf_counter() - started
    (Path(args.out) / "bench_results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps({key: value for key, value in results.items()
                      if "bleu" in key or "cider" in key or "epoch" in key}))


def report(args: argparse.Namespace) -> None:
    rows = []
    for run in args.runs:
        results = json.loads((Path(run) / "bench_results.json").read_text())
        config = json.loads((Path(run) / "config.json").read_text())
        history = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
        rows.append({"run": str(run), "attention": config["model"]["attention"], "results": results,
                     "epochs": len(history), "valid_bleu4_by_epoch": [record.get("valid_bleu4") for record in history]})
    print("| model | epochs (best) | train min | test B-1 | B-2 | B-3 | B-4 | CIDEr-D |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        results = row["results"]
        name = "attention (Show, Attend and Tell)" if row["attention"] else "mean feature (Show and Tell)"
        print(f"| {name} | {row['epochs']} ({results['best_epoch']}) | {results['train_seconds'] / 60:.1f} | "
              + " | ".join(f"{results[f'test_bleu{n}']:.1f}" for n in ORDERS) + f" | {cider(results, 'test_')} |")
    for key, name in (("nearest", "nearest training image (attention run's encoder)"), ("prior", "one prior caption")):
        results = rows[-1]["results"]
        print(f"| baseline: {name} | | | " + " | ".join(f"{results[f'test_{key}_bleu{n}']:.1f}" for n in ORDERS)
              + f" | {cider(results, f'test_{key}_')} |")
    DOCS.mkdir(exist_ok=True)
    (DOCS / "caption_flickr8k.json").write_text(json.dumps(rows, indent=1))
    attention_run = next((row["run"] for row in rows if row["attention"]), None)
    if attention_run is not None:
        figure = attention_figure(Path(attention_run), DOCS / "caption_attention.png", args.images)
        print(f"figure: {figure}")


def cider(results: dict, prefix: str) -> str:
    """The CIDEr-D column: the run's figure, or a dash for a run scored without pycocoevalcap."""
    value = results.get(f"{prefix}cider")
    return "-" if value is None else f"{value:.1f}"


def attention_figure(run: Path, path: Path, count: int) -> Path:
    """The attention maps of the first ``count`` test images' captions, one row per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import rnnkit as rk
    from rnnkit.tasks.caption.images import read_image
    from rnnkit.tasks.caption.plots import upsampled

    predictor = rk.load(run)
    folder = require("flickr8k/images")
    names = require("flickr8k/Flickr_8k.testImages.txt").read_text().split()[:count]
    columns = 9
    figure, axes = plt.subplots(count, columns, figsize=(1.9 * columns, 2.2 * count), squeeze=False)
    for row, name in enumerate(names):
        image = read_image(folder / name, predictor.config.image_size)
        tokens = predictor.caption(folder / name)["tokens"]
        weights = predictor.attention(image, tokens)
        pixels = image.permute(1, 2, 0).numpy()
        for column in range(columns):
            axis = axes[row, column]
            axis.axis("off")
            axis.imshow(pixels)
            if column == 0:
                axis.set_title(name[:15], fontsize=7)
            elif column - 1 < len(tokens) + 1:
                word = [*tokens, "<eos>"][column - 1]
                axis.imshow(upsampled(weights[column - 1], image.shape[-1]).numpy(), cmap="gray", alpha=0.6,
                            extent=(-0.5, image.shape[-1] - 0.5, image.shape[-2] - 0.5, -0.5))
                axis.set_title(word, fontsize=9)
            else:
                axis.set_visible(False)
    figure.suptitle("Flickr8k test images: where the attention model looked for each word (white: more)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("train", help="train and score one model")
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--attention", action="store_true")
    run.add_argument("--seconds", type=float, default=1800.0, help="training-time budget (default 1800)")
    run.add_argument("--epochs", type=int, default=30, help="upper bound on epochs (the budget usually ends first)")
    run.add_argument("--image-size", type=int, default=48)
    run.add_argument("--captions-per-image", type=int, default=2, help="captions of each image per epoch (0: all 5)")
    run.add_argument("--hidden-size", type=int, default=256)
    run.add_argument("--lr", type=float, default=2e-3)
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--encoder", choices=("cnn", "resnet18", "resnet50"), default="cnn",
                     help="image encoder (resnet: torchvision's architecture; use --pretrained on a GPU)")
    run.add_argument("--pretrained", action="store_true",
                     help="ResNet from torchvision's ImageNet weights (torch hub cache)")
    run.add_argument("--freeze-encoder", action="store_true")
    run.add_argument("--device", default="cpu")
    run.set_defaults(handler=train)
    summary = commands.add_parser("report", help="table, docs/caption_flickr8k.json and the attention figure")
    summary.add_argument("runs", type=Path, nargs="+")
    summary.add_argument("--images", type=int, default=3, help="test images in the figure")
    summary.set_defaults(handler=report)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
