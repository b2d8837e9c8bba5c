"""The gradient-flow picture of the lecture: fresh tanh RNN vs LSTM at length 200, written to docs/.

For each cell, a fresh model (hidden 128, PyTorch's default initialisation; LSTM forget-gate bias 1, or b for a
cell written ``lstm:b``, e.g. ``lstm:4`` as bench/longdep_adding.py trains it) reads 8 adding-problem sequences
of length T; the loss is the squared error of its
read-out at step T. ``rnnkit.analysis.gradient_flow`` gives ||dL_T/dh_k|| and the exact ||dh_T/dh_k||_2 for every
k (float64, so nothing underflows). Prints the text summary and the norms at a few distances, writes the JSON
next to the PNG.

Usage:
    python bench/gradflow_plot.py                   # rnn,lstm,lstm:4 at T=200 -> docs/gradflow_rnn_vs_lstm.png
    python bench/gradflow_plot.py --cells rnn,lstm,gru,lnlstm --length 100 --out /tmp/gradflow.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnkit.analysis import adding_problem, gradient_flow, summarize
from rnnkit.analysis.plots import plot_gradient_flow
from rnnkit.analysis.sequence_model import SequenceModel

DISTANCES = (0, 10, 25, 50, 100, 150, 199)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="rnn,lstm,lstm:4", help="cells, cell:forget_bias for another bias")
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--forget-bias", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/gradflow_rnn_vs_lstm.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = adding_problem(args.batch, args.length, args.seed)
    report = {"length": args.length, "cells": {}}
    started = time.perf_counter()
    for name in args.cells.split(","):
        cell, _, bias = name.partition(":")
        torch.manual_seed(args.seed)
        model = SequenceModel(2, 1, cell, args.hidden, forget_bias=float(bias or args.forget_bias), backend="explicit")
        result = gradient_flow(model, data)
        result.pop("length")
        report["cells"][name if not bias else f"{cell}, forget bias {bias}"] = result
    print(summarize(report))
    print("distance T-k: " + "  ".join(f"{d:>9d}" for d in DISTANCES if d < args.length))
    for cell, values in report["cells"].items():
        for key in ("grad_norm", "jacobian_norm"):
            row = "  ".join(f"{values[key][args.length - 1 - d]:9.2e}" for d in DISTANCES if d < args.length)
            print(f"{cell:20s} {key:13s} {row}")
    plot_gradient_flow(report, args.out, title=f"fresh models, adding problem, T = {args.length}")
    args.out.with_suffix(".json").write_text(json.dumps(report))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
