"""bf16 training against fp32: a 2x512 char LSTM language model, the Trainer's own ``--bf16`` path, in one run.

Two parts (issue 17: "bf16 training >= 2x fp32 at 2x512, the same loss curve within 1% after 500 steps"):

* **speed**: two identical models (same initial weights), one trained in fp32, one under the Trainer's bf16
  autocast (``TrainConfig(bf16=True)``: ``torch.autocast("cpu", torch.bfloat16)`` around the loss; the weights,
  gradients and AdamW state stay fp32). A round is ``--windows`` training steps of each (forward, backward, clip,
  AdamW); the order alternates round by round; the ratio fp32 time / bf16 time is taken per round and its median
  over ``--rounds`` is one run's figure; ``--runs`` runs (fresh models) give the median of the runs.
* **loss**: both models trained ``--loss-steps`` steps from the same initial weights on the same Tiny Shakespeare
  windows (``$RNNKIT_DATA_DIR/tinyshakespeare/input.txt``, first 90%), then: the mean training loss of the last 50
  steps of each, and the validation loss (last 10% of the text, fp32 evaluation) of each; relative differences.

Usage:
    RNNKIT_DATA_DIR=/work/shared/data python bench/bf16_speed.py --threads 1          # speed + 500-step loss
    python bench/bf16_speed.py --loss-steps 0 --runs 3 --threads 1                   # speed only (random ids)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.streams import batchify, bptt_windows
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm.data import stream_loss, window_loss
from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import Trainer


def model_pair(vocab_size: int, args: argparse.Namespace) -> tuple[LanguageModel, LanguageModel]:
    config = LanguageModelConfig(cell="lstm", embedding_size=64, hidden_size=512, num_layers=2, dropout=0.0)
    torch.manual_seed(args.seed)
    fp32 = LanguageModel(vocab_size, config)
    bf16 = LanguageModel(vocab_size, config)
    bf16.load_state_dict(fp32.state_dict())
    return fp32, bf16


def trainer_for(model: LanguageModel, windows: list, bf16: bool, args: argparse.Namespace, losses: list) -> Trainer:
    config = TrainConfig(epochs=1, batch_size=args.batch, bptt=args.bptt, optimizer="adamw", lr=2e-3, clip_norm=1.0,
                         weight_decay=0.01, quiet=True, bf16=bf16, seed=args.seed)

    def recorded_loss(network, window, state):
        result = window_loss(network, window, state)
        losses.append(float(result.loss_sum.detach()) / result.count)
        return result

    return Trainer(model, config, recorded_loss, lambda epoch: windows, run_dir=None, steps_per_epoch=len(windows))


def speed(vocab_size: int, streams: torch.Tensor, args: argparse.Namespace) -> float:
    """One run: the median over rounds of fp32 seconds / bf16 seconds for ``--windows`` steps each."""
    windows = list(bptt_windows(streams, args.bptt))[: args.windows]
    models = dict(zip(("fp32", "bf16"), model_pair(vocab_size, args), strict=True))
    for name, model in models.items():  # warm-up: oneDNN primitives, allocator
        trainer_for(model, windows[:2], name == "bf16", args, []).fit()
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for round_index in range(args.rounds):
        order = list(models) if round_index % 2 == 0 else list(reversed(models))
        for name in order:
            trainer = trainer_for(models[name], windows, name == "bf16", args, [])
            started = time.perf_counter()
            trainer.fit()
            seconds[name].append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(seconds["fp32"], seconds["bf16"], strict=True)]
    tokens = len(windows) * args.batch * args.bptt
    print(f"  fp32 {tokens / statistics.median(seconds['fp32']):,.0f} chars/s, bf16 "
          f"{tokens / statistics.median(seconds['bf16']):,.0f} chars/s; per-round ratios "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}x", flush=True)
    return statistics.median(ratios)


def loss_curves(vocab_size: int, train: torch.Tensor, valid: torch.Tensor, args: argparse.Namespace) -> None:
    passes = list(bptt_windows(train, args.bptt))
    windows = (passes * (args.loss_steps // len(passes) + 1))[: args.loss_steps]
    fp32, bf16 = model_pair(vocab_size, args)
    runs = [("fp32", fp32, False), ("bf16", bf16, True)]
    if args.control:
        # fp32 training from the initial weights rounded once through bf16: a perturbation of the size bf16's
        # rounding makes, with no bf16 arithmetic after it. Its gap to fp32 is how far two fp32 runs drift apart
        # from a difference of that size, the yardstick for bf16's own gap.
        control = model_pair(vocab_size, args)[0]
        with torch.no_grad():
            for parameter in control.parameters():
                parameter.copy_(parameter.to(torch.bfloat16).float())
        runs.append(("fp32 (bf16-rounded start)", control, False))
    results, curves = {}, {}
    for name, model, use_bf16 in runs:
        losses: list[float] = []
        started = time.perf_counter()
        trainer_for(model, windows, use_bf16, args, losses).fit()
        elapsed = time.perf_counter() - started
        model.eval()
        with torch.no_grad():
            total, count = stream_loss(model, valid, args.bptt)
        results[name] = (statistics.fmean(losses[-50:]), total / count)
        curves[name] = [statistics.fmean(losses[start : start + 50]) for start in range(0, len(losses), 50)]
        print(f"  {name}: {len(losses)} steps in {elapsed:.0f} s; train loss (last 50 steps) {results[name][0]:.4f}, "
              f"valid loss {results[name][1]:.4f} nats/char", flush=True)
    print("  train loss, mean of each 50 steps: " + "; ".join(
        f"{name} " + " ".join(f"{value:.3f}" for value in curve) for name, curve in curves.items()), flush=True)
    for index, what in enumerate(("train loss (last 50 steps)", "valid loss")):
        reference = results["fp32"][index]
        for name in results:
            if name != "fp32":
                print(f"  {what}: {name} / fp32 - 1 = {results[name][index] / reference - 1:+.2%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--windows", type=int, default=4, help="timed steps per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loss-steps", type=int, default=500, help="0: skip the loss comparison")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--control", action="store_true",
                        help="loss part: also train fp32 from the initial weights rounded through bf16 once")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; 2x LSTM 512, embedding 64, char level, "
          f"batch {args.batch} x bptt {args.bptt}, AdamW, clip 1", flush=True)
    text = None
    try:
        from data_paths import require
        text = require("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    except (ImportError, FileNotFoundError, SystemExit):
        if args.loss_steps:
            print("loss part: skipped (no tinyshakespeare/input.txt under $RNNKIT_DATA_DIR)", flush=True)
    if text is not None:
        symbols = sorted(set(text))
        index = {symbol: position for position, symbol in enumerate(symbols)}
        ids = torch.tensor([index[symbol] for symbol in text])
        cut = int(0.9 * len(ids))
        train, valid = batchify(ids[:cut], args.batch), batchify(ids[cut:], args.batch)
        vocab_size = len(symbols)
    else:
        vocab_size = 65
        train = batchify(torch.randint(vocab_size, (args.batch * (args.windows * args.bptt + 1),)), args.batch)
        valid = None
    runs = []
    for run in range(args.runs):
        print(f"speed run {run + 1}:", flush=True)
        runs.append(speed(vocab_size, train, args))
    if runs:
        print(f"bf16 / fp32 training speed: median of {len(runs)} runs {statistics.median(runs):.2f}x "
              f"({', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    if args.loss_steps and valid is not None:
        print(f"loss after {args.loss_steps} steps, same initial weights and windows:", flush=True)
        loss_curves(vocab_size, train, valid, args)


if __name__ == "__main__":
    main()
