"""Language-model training throughput: rnnkit's Trainer against a hand-written PyTorch loop, in the same run.

Both sides do the same work on the same synthetic stream of random token ids (no dataset needed):

* **rnnkit**: the real training loop, :class:`rnnkit.train.trainer.Trainer` with
  :func:`rnnkit.tasks.lm.data.window_loss` over a :class:`rnnkit.models.LanguageModel` (the ``--backend`` given), the
  windows from :func:`rnnkit.data.streams.bptt_windows`, quiet progress, no run directory.
* **plain**: what pytorch/examples' word_language_model does: ``nn.Embedding`` -> ``nn.LSTM(batch_first=True)``
  -> ``nn.Linear``, the stream cut into ``B`` rows and walked in windows of ``bptt`` steps, the state carried
  (detached) from window to window, mean cross-entropy, global-norm clipping, SGD.

Both start from the same weights (copied from rnnkit's model), so their training losses must agree; the
script prints them as a check that the same computation was timed. A round is one pass over ``--windows``
windows (forward, backward, clipping, optimizer step, all counted) for each side; the order alternates from
round to round (ABBA) to spread machine drift evenly, and a warm-up pass of each precedes the timed rounds.
Reported: the median tokens/s of each side over the rounds, and the median of the per-round ratios
rnnkit / plain (paired, so it is robust to a noisy machine). Target: ratio >= 0.95.

Usage:
    python bench/lm_speed.py                                  # vocab 10000, 2x LSTM 200, B20 T35, 200 windows
    python bench/lm_speed.py --vocab 65 --windows 100 --rounds 5 --threads 2
    python bench/lm_speed.py --backend explicit               # rnnkit's unrolled cells instead of torch's kernel
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data.streams import batchify, bptt_windows
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm.data import window_loss
from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import Trainer


class PlainLanguageModel(nn.Module):
    """Embedding -> multi-layer LSTM -> Linear, as pytorch/examples' word_language_model (batch-first)."""

    def __init__(self, vocab: int, embedding: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor, state=None):
        output, state = self.lstm(self.embedding(ids), state)
        return self.decoder(output), state  # (B, T, V)


def copy_weights(source: LanguageModel, target: PlainLanguageModel) -> None:
    """rnnkit's per-layer modules (``layers.k.weight_ih_l0``) onto torch's stacked LSTM (``weight_ih_lk``)."""
    weights = {"embedding.weight": source.embedding.weight, "decoder.weight": source.decoder.weight,
               "decoder.bias": source.decoder.bias}
    for index, layer in enumerate(source.layers):
        for name, tensor in layer.state_dict().items():
            weights[f"lstm.{name[:-1]}{index}"] = tensor  # weight_ih_l0 -> weight_ih_l{index}
    target.load_state_dict({name: tensor.detach().clone() for name, tensor in weights.items()})


def plain_epoch(model: PlainLanguageModel, optimizer: torch.optim.Optimizer, streams: torch.Tensor,
                bptt: int, clip: float) -> float:
    """One pass of truncated BPTT over ``streams (B, L)``; returns the mean loss."""
    model.train()
    state, total, tokens = None, 0.0, 0
    for start in range(0, streams.shape[1] - 1, bptt):
        steps = min(bptt, streams.shape[1] - 1 - start)
        inputs, targets = streams[:, start:start + steps], streams[:, start + 1:start + 1 + steps]
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        state = tuple(part.detach() for part in state)
        total += float(loss.detach()) * inputs.numel()
        tokens += inputs.numel()
    return total / tokens


def rnnkit_epoch(model: LanguageModel, config: TrainConfig, windows: list) -> float:
    """One epoch of rnnkit's Trainer over ``windows`` (no evaluation, no run directory); returns the mean loss."""
    trainer = Trainer(model, config, window_loss, lambda epoch: windows, run_dir=None,
                      steps_per_epoch=len(windows))
    return trainer.fit()[-1]["train_loss"]


def timed(run) -> tuple[float, float]:
    """(seconds, mean loss) of one call."""
    start = time.perf_counter()
    loss = run()
    return time.perf_counter() - start, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=10000)
    parser.add_argument("--embedding", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--windows", type=int, default=200, help="timed windows (optimizer steps) per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds per side")
    parser.add_argument("--warmup", type=int, default=10, help="untimed warm-up windows per side")
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--backend", default="auto", choices=("auto", "fused", "explicit"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    length = args.windows * args.bptt + 1  # per row: exactly --windows full windows
    ids = torch.randint(args.vocab, (args.batch * length,))
    streams = batchify(ids, args.batch)  # (B, L)
    windows = list(bptt_windows(streams, args.bptt))
    warm_streams = streams[:, : args.warmup * args.bptt + 1]
    warm_windows = list(bptt_windows(warm_streams, args.bptt))

    ours = LanguageModel(args.vocab, LanguageModelConfig(
        cell="lstm", embedding_size=args.embedding, hidden_size=args.hidden, num_layers=args.layers, dropout=0.0,
        backend=args.backend))
    plain = PlainLanguageModel(args.vocab, args.embedding, args.hidden, args.layers)
    copy_weights(ours, plain)
    config = TrainConfig(epochs=1, batch_size=args.batch, bptt=args.bptt, optimizer="sgd", lr=args.lr,
                         clip_norm=args.clip, quiet=True)
    optimizer = torch.optim.SGD(plain.parameters(), lr=args.lr)

    sides = {  # name -> (run one pass over its data, warm-up data, timed data)
        "rnnkit": (lambda data: rnnkit_epoch(ours, config, data), warm_windows, windows),
        "plain": (lambda data: plain_epoch(plain, optimizer, data, args.bptt, args.clip), warm_streams, streams),
    }
    tokens = args.batch * args.bptt * len(windows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; vocab {args.vocab}, embedding "
          f"{args.embedding}, {args.layers}x LSTM {args.hidden} (rnnkit backend {args.backend}), batch {args.batch}, "
          f"bptt {args.bptt}, SGD lr {args.lr}, clip {args.clip}")
    print(f"{args.rounds} interleaved rounds of {len(windows)} windows ({tokens} tokens) per side, after "
          f"{len(warm_windows)} warm-up windows; wall time incl. optimizer step\n")
    for run, warm_data, _ in sides.values():
        run(warm_data)

    rates: dict[str, list[float]] = {name: [] for name in sides}
    ratios: list[float] = []
    header = f"{'round':>5} | {'rnnkit tok/s':>12} {'loss':>7} | {'plain tok/s':>12} {'loss':>7} | {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for round_index in range(args.rounds):
        order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
        results = {name: timed(lambda name=name: sides[name][0](sides[name][2])) for name in order}
        for name, (seconds, _) in results.items():
            rates[name].append(tokens / seconds)
        ratios.append(rates["rnnkit"][-1] / rates["plain"][-1])
        print(f"{round_index + 1:>5} | {rates['rnnkit'][-1]:>12.0f} {results['rnnkit'][1]:>7.4f} | "
              f"{rates['plain'][-1]:>12.0f} {results['plain'][1]:>7.4f} | {ratios[-1]:>6.3f}")
        loss_gap = abs(results["rnnkit"][1] - results["plain"][1])
        if loss_gap > 1e-3 * max(1.0, abs(results["plain"][1])):
            print(f"      warning: the losses differ by {loss_gap:.2e}: the two loops do not compute the same thing")

    ours_rate, plain_rate = statistics.median(rates["rnnkit"]), statistics.median(rates["plain"])
    ratio = statistics.median(ratios)
    print(f"\nmedian tokens/s: rnnkit {ours_rate:.0f}, plain torch {plain_rate:.0f}")
    print(f"rnnkit / plain: {ratio:.3f} (median of per-round ratios; ratio of medians {ours_rate / plain_rate:.3f}); "
          f"target >= 0.95: {'met' if ratio >= 0.95 else 'NOT met'}")


if __name__ == "__main__":
    main()
