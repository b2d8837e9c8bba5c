"""Everything the GPU should be measured on, in one go (prepared for the day a GPU is lent; runs on CPU as a smoke).

1. **Recurrent training throughput** (forward + backward, B64 T100, input = hidden, one layer): cuDNN
   ``torch.nn.LSTM`` against rnnkit's LSTM (fused: the same cuDNN kernel on our weights; explicit: the hand-written
   BPTT), the layer-normalised LSTM (``rk.nn.Recurrent(LayerNormLSTMCell)``), cuDNN ``nn.GRU`` against rnnkit's
   explicit GRU; hidden 512 and 1024. The explicit paths are Python-bound on a GPU (one kernel launch per op): the
   ``torch.compile`` row shows what compiling the explicit LSTM layer buys, compile time counted and printed.
2. **PTB-small language-model training** (Zaremba et al. small: vocab 10k, 2 x LSTM 200, B20, bptt 35, SGD, clip
   5) on a synthetic stream of the same shape: rnnkit's ``Trainer`` against a hand-written cuDNN loop
   (``bench/lm_speed.py``'s), tokens/s and the ratio.
3. **Generation**: ``generate`` tokens/s at batch 1 and 64 against the plain ``nn.LSTMCell`` loop
   (``bench/generate_speed.py``'s), for the char 1x256 and word 2x512/10k models.

Every figure is a ratio against plain torch measured in the same run; results also go to ``--out`` as JSON.

Usage:
    python bench/gpu_suite.py --out gpu_results.json                  # on the GPU machine (~5 min on an H100)
    python bench/gpu_suite.py --device cpu --smoke --out /tmp/s.json  # tiny sizes: checks the script runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from custom_cell_speed import step_time  # noqa: E402
from generate_speed import PlainLoop, predictor_for  # noqa: E402
from lm_speed import PlainLanguageModel, copy_weights, plain_epoch, rnnkit_epoch  # noqa: E402

import rnnkit as rk  # noqa: E402
from rnnkit.data.streams import batchify, bptt_windows  # noqa: E402
from rnnkit.models import LanguageModel, LanguageModelConfig  # noqa: E402
from rnnkit.nn import LayerNormLSTMCell  # noqa: E402
from rnnkit.train.config import TrainConfig  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(runs: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each callable, the callables taking turns (order reversed every other round)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        for name in (list(runs) if index % 2 == 0 else list(reversed(runs))):
            times[name].append(runs[name]())
    return {name: statistics.median(values) for name, values in times.items()}


def recurrent_layers(hidden: int, device: torch.device, compile_explicit: bool) -> tuple[dict, dict]:
    """The layers of part 1 (two groups, each with its reference first) and the compile seconds where compiled."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(hidden, hidden, batch_first=True).to(device)
    lstm_group = {"torch.nn.LSTM (cuDNN)": lstm}
    for backend in ("fused", "explicit"):
        layer = rk.nn.LSTM(hidden, hidden, backend=backend).to(device)
        layer.load_state_dict(lstm.state_dict())
        lstm_group[f"rk LSTM {backend}"] = layer
    lstm_group["rk LN-LSTM"] = rk.nn.Recurrent(LayerNormLSTMCell, hidden, hidden).to(device)
    gru = torch.nn.GRU(hidden, hidden, batch_first=True).to(device)
    explicit_gru = rk.nn.GRU(hidden, hidden, backend="explicit").to(device)
    explicit_gru.load_state_dict(gru.state_dict())
    gru_group = {"torch.nn.GRU (cuDNN)": gru, "rk GRU explicit": explicit_gru}
    compiled = {}
    if compile_explicit:
        layer = rk.nn.LSTM(hidden, hidden, backend="explicit").to(device)
        layer.load_state_dict(lstm.state_dict())
        lstm_group["rk LSTM explicit, torch.compile"] = torch.compile(layer, dynamic=False)
        compiled["rk LSTM explicit, torch.compile"] = None
    return {"lstm": lstm_group, "gru": gru_group}, compiled


def part_recurrent(args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    for hidden in args.hidden:
        groups, compiled = recurrent_layers(hidden, device, args.compile)
        x = torch.randn(args.batch, args.steps, hidden, device=device, requires_grad=True)
        for group in groups.values():
            for name, layer in group.items():
                start = time.perf_counter()
                step_time(layer, x)  # the first call: compilation where compiled
                if name in compiled:
                    compiled[name] = time.perf_counter() - start
                for _ in range(args.warmup):
                    step_time(layer, x)
            runs = {name: (lambda layer=layer, x=x: step_time(layer, x)) for name, layer in group.items()}
            medians = interleaved(runs, args.rounds)
            reference = next(iter(group))
            for name, seconds in medians.items():
                row = {"part": "recurrent", "hidden": hidden, "variant": name,
                       "tokens_per_s": args.batch * args.steps / seconds, "vs_reference": medians[reference] / seconds,
                       "reference": reference}
                if compiled.get(name) is not None:
                    row["compile_s"] = compiled[name]
                rows.append(row)
                extra = f", compile {row['compile_s']:.1f} s" if "compile_s" in row else ""
                print(f"H{hidden:<5} {name:34} {row['tokens_per_s']:10.0f} tokens/s  {row['vs_reference']:.3f}x "
                      f"{reference}{extra}", flush=True)
    return rows


def part_ptb(args: argparse.Namespace, device: torch.device) -> list[dict]:
    vocab, hidden, batch, bptt = (200, 32, 4, 10) if args.smoke else (10000, 200, 20, 35)
    torch.manual_seed(0)
    streams = batchify(torch.randint(vocab, (batch * (args.windows * bptt + 1),)), batch).to(device)
    windows = list(bptt_windows(streams, bptt))
    ours = LanguageModel(vocab, LanguageModelConfig(cell="lstm", embedding_size=hidden, hidden_size=hidden,
                                                    num_layers=2, dropout=0.0)).to(device)
    plain = PlainLanguageModel(vocab, hidden, hidden, 2)
    copy_weights(ours, plain)
    plain.to(device)
    config = TrainConfig(epochs=1, batch_size=batch, bptt=bptt, optimizer="sgd", lr=1.0, clip_norm=5.0, quiet=True,
                         device=device.type)
    optimizer = torch.optim.SGD(plain.parameters(), lr=1.0)

    def timed(run):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        return time.perf_counter() - start

    runs = {"rnnkit Trainer": lambda: timed(lambda: rnnkit_epoch(ours, config, windows)),
            "plain cuDNN loop": lambda: timed(lambda: plain_epoch(plain, optimizer, streams, bptt, 5.0))}
    for run in runs.values():
        run()  # warm-up
    medians = interleaved(runs, args.rounds)
    tokens = batch * bptt * len(windows)
    rows = []
    for name, seconds in medians.items():
        rows.append({"part": "ptb_small", "variant": name, "tokens_per_s": tokens / seconds,
                     "vs_reference": medians["plain cuDNN loop"] / seconds, "reference": "plain cuDNN loop",
                     "ms_per_step": 1000 * seconds / len(windows)})
        print(f"PTB-small {name:24} {tokens / seconds:10.0f} tokens/s  {rows[-1]['vs_reference']:.3f}x plain, "
              f"{rows[-1]['ms_per_step']:.2f} ms/step", flush=True)
    return rows


def part_generate(args: argparse.Namespace, device: torch.device) -> list[dict]:
    shapes = {"char 1x256": ("char", 65, 64, 256, 1), "word 2x512": ("word", 10000, 512, 512, 2)}
    if args.smoke:
        shapes = {"char 1x32": ("char", 65, 16, 32, 1)}
    rows = []
    for name, shape in shapes.items():
        predictor = predictor_for(*shape)
        predictor.model.to(device)
        predictor.device = device
        plain = PlainLoop(predictor.model.cpu(), torch.float32)
        predictor.model.to(device)
        for module in (plain.embedding, plain.decoder, *plain.cells):
            module.to(device)
        prompt = "a" if shape[0] == "char" else "w1 w2"
        generator = torch.Generator(device=device).manual_seed(0)
        for batch in (1, args.generate_batch):
            def ours(batch=batch, predictor=predictor, prompt=prompt):
                synchronize(device)
                start = time.perf_counter()
                predictor.generate_batch([prompt] * batch, length=args.tokens, seed=0)
                synchronize(device)
                return time.perf_counter() - start

            def theirs(batch=batch, plain=plain, generator=generator):
                synchronize(device)
                start = time.perf_counter()
                plain_generate(plain, batch, args.tokens, generator, device)
                synchronize(device)
                return time.perf_counter() - start
            ours(), theirs()
            medians = interleaved({"rnnkit": ours, "plain": theirs}, args.rounds)
            row = {"part": "generate", "model": name, "batch": batch,
                   "rnnkit_tokens_per_s": batch * args.tokens / medians["rnnkit"],
                   "plain_tokens_per_s": batch * args.tokens / medians["plain"],
                   "vs_reference": medians["plain"] / medians["rnnkit"]}
            rows.append(row)
            print(f"generate {name:12} batch {batch:<3} rnnkit {row['rnnkit_tokens_per_s']:9.0f} tokens/s, plain "
                  f"{row['plain_tokens_per_s']:9.0f}, ratio {row['vs_reference']:.3f}", flush=True)
    return rows


@torch.no_grad()
def plain_generate(plain: PlainLoop, batch: int, length: int, generator: torch.Generator, device: torch.device):
    """``PlainLoop.generate`` with its tensors on ``device``."""
    states = [(torch.zeros(batch, c.hidden_size, device=device), torch.zeros(batch, c.hidden_size, device=device))
              for c in plain.cells]
    token = torch.zeros(batch, dtype=torch.long, device=device)
    tokens = []
    for _ in range(length):
        x = plain.embedding(token)
        for index, cell in enumerate(plain.cells):
            states[index] = cell(x, states[index])
            x = states[index][0]
        token = torch.multinomial(torch.softmax(plain.decoder(x), dim=-1), 1, generator=generator)[:, 0]
        tokens.append(token)
    return torch.stack(tokens, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and few rounds: checks that it all runs")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--windows", type=int, default=100, help="PTB-small windows per timed pass")
    parser.add_argument("--tokens", type=int, default=200, help="tokens generated per timed call")
    parser.add_argument("--generate-batch", type=int, default=64)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also time torch.compile of the explicit LSTM (default: on a GPU only)")
    parser.add_argument("--parts", default="recurrent,ptb,generate")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_suite: --device cuda, but torch sees no GPU; expected a GPU machine (or --device cpu --smoke)")
    if args.compile is None:
        args.compile = device.type == "cuda"
    if args.smoke:
        args.hidden, args.batch, args.steps, args.rounds, args.warmup = [16], 4, 8, 1, 1
        args.windows, args.tokens, args.generate_batch = 3, 5, 3
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}", flush=True)
    parts = {"recurrent": part_recurrent, "ptb": part_ptb, "generate": part_generate}
    rows = []
    for part in args.parts.split(","):
        rows += parts[part](args, device)
    if args.out is not None:
        args.out.write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
