"""Ragged batches: which exact path trains fastest, per shape class, against torch's padded call in the same run.

The measurement behind ``backend="auto"`` (:func:`rnnkit.nn.ragged.auto_prefers_packed`). For each shape class
(cell, direction, batch, length range, random or length-bucketed batch) one training step (forward + backward of
a loss on the outputs and the final state) is timed for:

    torch padded   torch.nn.LSTM/GRU on the padded batch with no lengths: the speed of light for the shape (it
                   computes on padding and its final state is wrong for the shorter sequences)
    torch packed   torch.nn.* on a PackedSequence: the exact plain-torch way
    rk fused       rk.nn.* backend="fused": the padded batch segment by segment (rnnkit.nn.ragged), exact
    rk packed      rk.nn.* backend="packed": torch's kernel on a PackedSequence, exact
    rk explicit    rk.nn.* backend="explicit": the unrolled cells, exact

Throughput is real tokens (the sum of the lengths) per second; each figure is the median of ``--repeats`` steps
after a warm-up, and every variant is printed as a ratio to "torch padded" timed in the same process on the same
batch. Variants take turns round after round so that a slow spell of the shared machine hits all alike.

Usage:
    python bench/ragged_speed.py                  # the grid below
    python bench/ragged_speed.py --quick          # the classifier's class only (BiLSTM 128, batch 32, 200-500)
    python bench/ragged_speed.py --device cuda    # on a GPU (cuDNN)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit as rk

TORCH_LAYERS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
RK_LAYERS = {"lstm": rk.nn.LSTM, "gru": rk.nn.GRU}
# (cell, bidirectional, batch, shortest, longest, bucketed)
GRID = [
    ("lstm", True, 32, 200, 500, False),
    ("lstm", True, 32, 200, 500, True),
    ("lstm", False, 32, 200, 500, False),
    ("gru", True, 32, 200, 500, False),
    ("lstm", True, 32, 5, 40, False),
    ("lstm", True, 32, 5, 40, True),
    ("lstm", False, 64, 5, 40, False),
    ("gru", False, 64, 20, 100, False),
    ("lstm", True, 8, 20, 100, False),
]
QUICK = GRID[:1]


def ragged_lengths(batch: int, shortest: int, longest: int, bucketed: bool, generator: torch.Generator) -> torch.Tensor:
    """Lengths of one batch: uniform in [shortest, longest]; bucketed: a batch from the middle of 50 sorted ones,
    as :class:`rnnkit.data.batching.BucketBatchSampler` makes them."""
    if not bucketed:
        return torch.randint(shortest, longest + 1, (batch,), generator=generator)
    pool = torch.randint(shortest, longest + 1, (batch * 50,), generator=generator).sort(descending=True).values
    middle = batch * 25
    return pool[middle : middle + batch]


def timed(step, repeats: int, device: torch.device) -> list[float]:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def loss_of(output: torch.Tensor, state) -> torch.Tensor:
    parts = state if isinstance(state, tuple) else (state,)
    return output.sum() + sum(part.sum() for part in parts)


def measure_class(cell: str, bidirectional: bool, batch: int, shortest: int, longest: int, bucketed: bool,
                  hidden: int, repeats: int, rounds: int, device: torch.device, skip_slow: bool) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    lengths = ragged_lengths(batch, shortest, longest, bucketed, generator)
    steps = int(lengths.max())
    x = torch.randn(batch, steps, hidden, generator=generator).to(device)
    reference = TORCH_LAYERS[cell](hidden, hidden, batch_first=True, bidirectional=bidirectional).to(device)
    layers = {}
    for backend in ("fused", "packed", "explicit"):
        layers[backend] = RK_LAYERS[cell](hidden, hidden, bidirectional=bidirectional, backend=backend).to(device)
        layers[backend].load_state_dict(reference.state_dict())

    def torch_padded():
        loss_of(*reference(x)).backward()

    def torch_packed():
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, state = reference(packed)
        loss_of(pad_packed_sequence(output, batch_first=True)[0], state).backward()

    variants = {"torch padded": torch_padded, "torch packed": torch_packed}
    for backend, layer in layers.items():
        variants[f"rk {backend}"] = lambda layer=layer: loss_of(*layer(x, lengths)).backward()
    slow = {"torch packed", "rk packed", "rk explicit"} if skip_slow else set()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(rounds):
        for name, step in variants.items():
            if name in slow and round_index:
                continue  # the slow exact paths: one round is enough to rank them
            step()  # warm-up
            samples[name] += timed(step, repeats if name not in slow else max(2, repeats // 2), device)
    real_tokens = int(lengths.sum())
    return {name: real_tokens / statistics.median(times) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="only the default classifier's shape class")
    parser.add_argument("--all-rounds", action="store_true", help="time the slow paths every round too")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, hidden {args.hidden}; "
          "real tokens/s (ratio to torch padded, same run)")
    for cell, bidirectional, batch, shortest, longest, bucketed in QUICK if args.quick else GRID:
        rates = measure_class(cell, bidirectional, batch, shortest, longest, bucketed, args.hidden, args.repeats,
                              args.rounds, device, skip_slow=not args.all_rounds)
        speed_of_light = rates["torch padded"]
        label = (f"{'bi' if bidirectional else 'uni'}-{cell} B{batch} len {shortest}-{longest}"
                 f"{' bucketed' if bucketed else ''}")
        cells = "  ".join(f"{name} {rate:,.0f} ({rate / speed_of_light:.2f}x)" for name, rate in rates.items())
        exact = {name: rate for name, rate in rates.items() if name != "torch padded"}
        print(f"{label:<34} {cells}  fastest exact: {max(exact, key=exact.get)}", flush=True)


if __name__ == "__main__":
    main()
