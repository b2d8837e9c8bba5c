"""Training-step throughput of rnnkit's recurrent layers against raw torch, measured in the same run.

One training step is forward + backward of ``output.sum()`` over a batch; throughput is tokens (B*T) per second.
The variants take turns, round after round (``--rounds``, each ``--repeats`` timed steps after a warm-up), so
that a slow spell of the machine hits all of them alike; the headline figure is each variant's fastest step (on a
shared machine, other jobs only ever add time, so the minimum is the least disturbed estimate, as the ``timeit``
documentation argues), and the ratio of the medians over all steps is printed beside it. Every rnnkit number is
printed with its ratio to ``torch.nn.LSTM`` (or GRU/RNN) timed in the same process on the same inputs, and with
the GFLOP/s achieved beside the measured float32 matrix-product peak of this machine.

Usage:
    python bench/recurrent_speed.py                       # the issue's grid: LSTM H256/512, 1 and 2 layers
    python bench/recurrent_speed.py --cells lstm,gru,rnn --hidden 256 --repeats 7
    python bench/recurrent_speed.py --device cuda         # cuDNN: the fused wrapper against torch.nn.LSTM on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnkit as rk

TORCH_LAYERS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
RK_LAYERS = {"lstm": rk.nn.LSTM, "gru": rk.nn.GRU, "rnn": rk.nn.RNN}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock times cover it (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, size: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matrix-product rate (GFLOP/s) on ``device``, the best of several repeats."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9


def step_times(layer: torch.nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> list[float]:
    """Seconds of each of ``repeats`` forward + backward steps, after ``warmup`` untimed ones."""
    times = []
    for index in range(warmup + repeats):
        synchronize(x.device)
        start = time.perf_counter()
        output, _ = layer(x)
        output.sum().backward()
        synchronize(x.device)
        elapsed = time.perf_counter() - start
        layer.zero_grad(set_to_none=True)
        x.grad = None
        if index >= warmup:
            times.append(elapsed)
    return times


def training_flops_per_token(cell: str, input_size: int, hidden_size: int, num_layers: int) -> float:
    """Matrix-product FLOPs per token of a training step: forward 2*G*H*(I+H) per layer, backward twice that."""
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else hidden_size
        total += 2 * GATES[cell] * hidden_size * (layer_input + hidden_size)
    return 3 * total


def run(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    device = torch.device(args.device)
    peak = matmul_peak_gflops(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}; float32 matmul peak {peak:.0f} GFLOP/s")
    print(f"batch {args.batch}, steps {args.steps}, input {args.input_size}; {args.rounds} rounds of {args.repeats} "
          f"steps after {args.warmup} warm-up; tokens/s of forward+backward (fastest step)\n")
    header = (f"{'cell':5} {'H':>4} {'L':>2} | {'variant':13} {'tokens/s':>10} {'vs torch':>9} "
              f"{'(median)':>9} {'GFLOP/s':>8} {'% peak':>7}")
    print(header)
    print("-" * len(header))
    for cell in args.cells.split(","):
        for hidden_size in args.hidden:
            for num_layers in args.layers:
                torch.manual_seed(0)
                reference = TORCH_LAYERS[cell](args.input_size, hidden_size, num_layers, batch_first=True).to(device)
                variants = {"torch.nn": reference}
                for backend in ("fused", "explicit"):
                    layer = RK_LAYERS[cell](args.input_size, hidden_size, num_layers, backend=backend).to(device)
                    layer.load_state_dict(reference.state_dict())
                    variants[f"rk {backend}"] = layer
                x = torch.randn(args.batch, args.steps, args.input_size, device=device, requires_grad=True)
                # interleave the variants, round after round, so machine noise hits all of them alike
                samples: dict[str, list[float]] = {name: [] for name in variants}
                for _ in range(args.rounds):
                    for name, layer in variants.items():
                        samples[name].extend(step_times(layer, x, args.repeats, args.warmup))
                flops = training_flops_per_token(cell, args.input_size, hidden_size, num_layers)
                tokens = args.batch * args.steps
                base = tokens / min(samples["torch.nn"])
                base_median = statistics.median(samples["torch.nn"])
                for name, times in samples.items():
                    rate = tokens / min(times)
                    gflops = rate * flops / 1e9
                    median_ratio = base_median / statistics.median(times)
                    print(f"{cell:5} {hidden_size:>4} {num_layers:>2} | {name:13} {rate:>10.0f} {rate / base:>8.2f}x "
                          f"{median_ratio:>8.2f}x {gflops:>8.1f} {100 * gflops / peak:>6.0f}%")
                print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="lstm", help="comma-separated: lstm,gru,rnn")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds in which the variants take turns")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run(args)


if __name__ == "__main__":
    main()
