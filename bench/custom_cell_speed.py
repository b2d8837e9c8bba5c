"""Custom cells at fused speed: the layer-normalised LSTM and the explicit GRU against torch.nn.LSTM / nn.GRU.

Training-step throughput (forward + backward of ``output.sum()``, B64 T100, input 128, one layer), in one run:

* ``torch.nn.LSTM`` / ``torch.nn.GRU``: torch's fused kernels (oneDNN on CPU, cuDNN on GPU), the reference;
* ``rk LN-LSTM``: ``rk.nn.Recurrent(LayerNormLSTMCell)`` (explicit backend: the hand-derived BPTT in the fused
  C++ kernel of ``rnnkit/nn/lnlstm_native.py``, compiled on first use: the time is printed);
  ``rk LN-LSTM python``: the same layer with ``RNNKIT_NATIVE=0``, the hand-derived BPTT as torch ops
  (``rnnkit/nn/lnlstm_bptt.py``); ``rk LN-LSTM autograd``: the same cell stepped under autograd;
* ``rk GRU explicit``: ``rk.nn.GRU(backend="explicit")`` (``rnnkit/nn/gru_bptt.py``); ``rk GRU autograd``: the
  cell stepped under autograd.

The variants take turns round after round (so machine noise hits all alike); each round times ``--repeats`` steps
after the warm-up. Reported: tokens/s from each variant's median step, and the median over rounds of the per-round
ratio to the torch reference. Target: LN-LSTM and GRU explicit >= 0.9x at hidden 256 and 512.

Usage:
    python bench/custom_cell_speed.py                         # H256 and H512, ~6 min on 2 loaded cores
    python bench/custom_cell_speed.py --hidden 256 --rounds 3 --device cuda
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from recurrent_speed import step_times

import rnnkit as rk
from rnnkit.nn import GRUCell, LayerNormLSTMCell
from rnnkit.nn.lnlstm_native import ENV_SWITCH, native_ops


class AutogradLayerNormLSTMCell(LayerNormLSTMCell):
    """The same cell, which the layer does not recognise as its own: stepped under autograd."""


class AutogradGRUCell(GRUCell):
    """The same cell, stepped under autograd (the explicit layer runs its hand-derived BPTT for GRUCell only)."""


class PythonPath(torch.nn.Module):
    """A layer run with the C++ kernel switched off (the switch is read when the forward pass picks its path)."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor):
        before = os.environ.get(ENV_SWITCH)
        os.environ[ENV_SWITCH] = "0"
        try:
            return self.layer(x)
        finally:
            if before is None:
                del os.environ[ENV_SWITCH]
            else:
                os.environ[ENV_SWITCH] = before


def variants(cell: str, input_size: int, hidden_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    if cell == "lnlstm":
        return {"torch.nn.LSTM": torch.nn.LSTM(input_size, hidden_size, batch_first=True).to(device),
                "rk LN-LSTM": rk.nn.Recurrent(LayerNormLSTMCell, input_size, hidden_size).to(device),
                "rk LN-LSTM python": PythonPath(rk.nn.Recurrent(LayerNormLSTMCell, input_size, hidden_size)).to(device),
                "rk LN-LSTM autograd": rk.nn.Recurrent(AutogradLayerNormLSTMCell, input_size, hidden_size).to(device)}
    reference = torch.nn.GRU(input_size, hidden_size, batch_first=True).to(device)
    explicit = rk.nn.GRU(input_size, hidden_size, backend="explicit").to(device)
    explicit.load_state_dict(reference.state_dict())
    autograd = rk.nn.Recurrent(AutogradGRUCell, input_size, hidden_size, backend="explicit").to(device)
    autograd.load_state_dict(reference.state_dict())
    return {"torch.nn.GRU": reference, "rk GRU explicit": explicit, "rk GRU autograd": autograd}


def measure(cell: str, hidden_size: int, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Median per-round ratio of each variant to the reference (the first); prints one line per variant."""
    layers = variants(cell, args.input_size, hidden_size, device)
    x = torch.randn(args.batch, args.steps, args.input_size, device=device, requires_grad=True)
    for layer in layers.values():
        for _ in range(args.warmup):
            step_times(layer, x, repeats=1, warmup=0)
    rounds: dict[str, list[float]] = {name: [] for name in layers}
    for index in range(args.rounds):
        names = list(layers) if index % 2 == 0 else list(reversed(layers))
        for name in names:
            rounds[name].append(statistics.median(step_times(layers[name], x, repeats=args.repeats, warmup=0)))
    reference = next(iter(layers))
    tokens = args.batch * args.steps
    ratios = {}
    for name, times in rounds.items():
        ratios[name] = statistics.median(r / t for r, t in zip(rounds[reference], times, strict=True))
        print(f"{cell:6} H{hidden_size:<5} {name:22} {tokens / statistics.median(times):9.0f} tokens/s  "
              f"{ratios[name]:.3f}x {reference}", flush=True)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="lnlstm,gru")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; B{args.batch} T{args.steps} "
          f"I{args.input_size}; {args.rounds} rounds x {args.repeats} steps", flush=True)
    if "lnlstm" in args.cells.split(",") and device.type == "cpu":
        started = time.perf_counter()  # the first use builds the kernel (or loads the one built before)
        built = native_ops() is not None
        print(f"LN-LSTM C++ kernel: {'loaded' if built else 'NOT available'} in {time.perf_counter() - started:.1f} s",
              flush=True)
    for cell in args.cells.split(","):
        for hidden_size in args.hidden:
            measure(cell, hidden_size, args, device)


if __name__ == "__main__":
    main()
