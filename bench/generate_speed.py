"""Generation speed: rnnkit's ``generate`` against a plain torch.nn.LSTMCell loop on the same weights, and the
memory-bandwidth limit, all measured in one run.

At batch 1 each new token reads every weight once (embedding row, the LSTM matrices, the decoder), so

    tokens/s  <=  read bandwidth / bytes of weights per token

The script measures the read bandwidth first (the median time to sum a 1.5 GB tensor on all cores), then for each
model (note: where the weights fit in the last-level cache, 480 MB on this VM, they are read from the cache and the
DRAM limit does not bind: a share above 100% says so):

* **rnnkit**: ``LanguageModelPredictor.generate`` (temperature 1, pad/unk banned), end to end: prompt, step
  function (:mod:`rnnkit.decode.steps`), sampling, text;
* **plain**: ``nn.Embedding`` -> ``nn.LSTMCell`` per layer -> ``nn.Linear`` -> softmax -> ``torch.multinomial``,
  the tokens kept as tensors, on copies of the same weights;

alternating (ABBA) over ``--rounds`` rounds after a warm-up; reported: median tokens/s of each, the median of the
per-round ratios, and each as a share of the bandwidth limit. Then the same at ``--batch`` prompts at once
(``generate_batch`` against the plain loop at that batch), and with the weights in bfloat16 (``--dtype bfloat16``).

Models: the demo's char model (1 x LSTM 256, embedding 64, the 65 characters of Tiny Shakespeare) and a word model
(2 x LSTM 512, embedding 512, 10k words); their weights are random (speed does not depend on them). The quality
cost of bf16 is measured on a char model trained for ``--train-seconds`` on Tiny Shakespeare (first 90%):
perplexity of 20k held-out characters (the last 10%), float32 against bfloat16 weights.

Usage:
    RNNKIT_DATA_DIR=/work/shared/data python bench/generate_speed.py                # ~6 min on 2 loaded cores
    python bench/generate_speed.py --tokens 200 --rounds 3 --train-seconds 0        # quick, no bf16 quality
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from rnnkit.data.corpus import CorpusConfig
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm.predict import LanguageModelPredictor
from rnnkit.text import Vocab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_paths import shared_data_dir  # noqa: E402


def read_bandwidth(megabytes: int = 1536, repeats: int = 7) -> float:
    """Bytes/s of reading a float32 tensor of ``megabytes`` (larger than the last-level cache) with ``sum``, on all
    the machine's cores (the machine's limit, not one thread's)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    data = torch.ones(megabytes * 2**20 // 4)
    data.sum()  # touch every page once
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        data.sum()
        times.append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    return data.numel() * 4 / statistics.median(times)


def weight_bytes_per_token(model: LanguageModel) -> int:
    """Bytes read per token at batch 1: one embedding row, every recurrent weight, the whole decoder."""
    size = model.embedding.weight.element_size()
    total = model.embedding.weight.shape[1] * size
    for layer in model.layers:
        total += sum(p.numel() * p.element_size() for p in layer.parameters())
    decoder = model.decoder
    return total + decoder.weight.numel() * size + (0 if decoder.bias is None else decoder.bias.numel() * size)


class PlainLoop:
    """The loop a PyTorch user writes: Embedding -> LSTMCell per layer -> Linear -> softmax -> multinomial."""

    def __init__(self, model: LanguageModel, dtype: torch.dtype) -> None:
        E = model.embedding.weight.shape[1]
        self.embedding = nn.Embedding(model.vocab_size, E).to(dtype)
        self.embedding.weight.data.copy_(model.embedding.weight.data)
        self.cells = []
        for layer in model.layers:
            cell = nn.LSTMCell(layer.input_size, layer.hidden_size).to(dtype)
            cell.load_state_dict({name[:-3]: tensor for name, tensor in layer.state_dict().items()})  # weight_ih_l0
            self.cells.append(cell)
        self.decoder = nn.Linear(model.decoder.in_features, model.vocab_size).to(dtype)
        self.decoder.load_state_dict(model.decoder.state_dict())

    @torch.no_grad()
    def generate(self, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        dtype = self.embedding.weight.dtype
        states = [(torch.zeros(batch, c.hidden_size, dtype=dtype), torch.zeros(batch, c.hidden_size, dtype=dtype))
                  for c in self.cells]
        token = torch.zeros(batch, dtype=torch.long)
        tokens = []
        for _ in range(length):
            x = self.embedding(token)
            for index, cell in enumerate(self.cells):
                states[index] = cell(x, states[index])
                x = states[index][0]
            probabilities = torch.softmax(self.decoder(x).float(), dim=-1)
            token = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
            tokens.append(token)
        return torch.stack(tokens, dim=1)


def time_pair(rnnkit_run, plain_run, rounds: int) -> tuple[float, float, float]:
    """Median seconds of each, and the median per-round ratio plain / rnnkit time (= rnnkit / plain speed)."""
    rnnkit_run(), plain_run()  # warm-up
    ours, theirs = [], []
    for index in range(rounds):
        order = (rnnkit_run, plain_run) if index % 2 == 0 else (plain_run, rnnkit_run)
        for run in order:
            start = time.perf_counter()
            run()
            (ours if run is rnnkit_run else theirs).append(time.perf_counter() - start)
    ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def predictor_for(level: str, vocab_size: int, embedding: int, hidden: int, layers: int) -> LanguageModelPredictor:
    if level == "char":
        symbols = list(string.ascii_letters + string.digits + " \n.,;:!?'-&$")[: vocab_size - 2]
        vocab = Vocab.build([symbols])
    else:
        vocab = Vocab.build([[f"w{index}" for index in range(vocab_size - 3)]], specials=("<pad>", "<unk>", "<eos>"))
    torch.manual_seed(0)
    config = LanguageModelConfig(cell="lstm", embedding_size=embedding, hidden_size=hidden, num_layers=layers)
    return LanguageModelPredictor(LanguageModel(len(vocab), config), vocab, CorpusConfig(level=level))


def measure(name: str, predictor: LanguageModelPredictor, args: argparse.Namespace, bandwidth: float,
            dtype: torch.dtype) -> None:
    predictor.model.to(dtype)
    plain = PlainLoop(predictor.model, dtype)
    prompt = "a" if predictor.corpus.level == "char" else "w1 w2"
    weights = weight_bytes_per_token(predictor.model)
    limit = bandwidth / weights
    generator = torch.Generator().manual_seed(0)
    n = args.tokens
    ours, theirs, ratio = time_pair(lambda: predictor.generate(prompt, length=n, seed=0),
                                    lambda: plain.generate(1, n, generator), args.rounds)
    label = f"{name} {str(dtype).removeprefix('torch.')}"
    print(f"{label:<24} batch 1: rnnkit {n / ours:8.0f} tok/s, plain LSTMCell loop {n / theirs:8.0f} tok/s, "
          f"ratio {ratio:.3f}; weights {weights / 1e6:.2f} MB/token, bandwidth limit {limit:8.0f} tok/s "
          f"(rnnkit {n / ours / limit:.1%} of it, plain {n / theirs / limit:.1%})", flush=True)
    B = args.batch
    prompts = [prompt] * B
    ours, theirs, ratio = time_pair(lambda: predictor.generate_batch(prompts, length=n, seed=0),
                                    lambda: plain.generate(B, n, generator), args.rounds)
    print(f"{label:<24} batch {B}: rnnkit {B * n / ours:8.0f} tok/s, plain {B * n / theirs:8.0f} tok/s, "
          f"ratio {ratio:.3f}", flush=True)


def bf16_quality(seconds: float) -> None:
    """Perplexity of held-out Tiny Shakespeare with float32 and bfloat16 weights, after a short training run."""
    folder = shared_data_dir()
    path = None if folder is None else folder / "tinyshakespeare" / "input.txt"
    if path is None or not path.exists():
        print("bf16 quality: skipped (no tinyshakespeare/input.txt in $RNNKIT_DATA_DIR)")
        return
    from rnnkit.tasks.lm import train_language_model
    from rnnkit.train.config import TrainConfig

    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    with tempfile.TemporaryDirectory() as tmp:
        test = Path(tmp) / "test.txt"
        test.write_text(text[cut:cut + 20000], encoding="utf-8")
        run = Path(tmp) / "run"
        train_language_model(run, data=[text[:cut]], corpus=CorpusConfig(level="char"),
                             model=LanguageModelConfig(cell="lstm", embedding_size=64, hidden_size=256, num_layers=1,
                                                       dropout=0.1),
                             train=TrainConfig(epochs=1000, batch_size=64, bptt=100, lr=3e-3, optimizer="adamw",
                                               clip_norm=1.0, schedule="none", seed=0, quiet=True,
                                               max_seconds=seconds))
        import rnnkit as rk

        results = {}
        for dtype in (torch.float32, torch.bfloat16):
            predictor = rk.load(run, dtype=dtype)
            results[dtype] = predictor.evaluate(test)["ppl"]
    fp32, bf16 = results[torch.float32], results[torch.bfloat16]
    print(f"bf16 quality (char 1x256 trained {seconds:.0f} s on Tiny Shakespeare, 20k held-out chars): perplexity "
          f"fp32 {fp32:.4f}, bf16 {bf16:.4f} ({(bf16 / fp32 - 1):+.2%}; bits/char {math.log2(fp32):.4f} -> "
          f"{math.log2(bf16):.4f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=400, help="tokens generated per timed call")
    parser.add_argument("--batch", type=int, default=64, help="prompts at once for the batched figure")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: batch 1 is one stream)")
    parser.add_argument("--models", default="char,word", help="char (1x256, 65 symbols), word (2x512, 10k words)")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--train-seconds", type=float, default=90.0, help="bf16 quality run (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bandwidth = read_bandwidth()
    print(f"torch {torch.__version__}, {args.threads} thread(s); read bandwidth {bandwidth / 1e9:.1f} GB/s "
          f"(sum of a 1.5 GB tensor, all cores)", flush=True)
    shapes = {"char": ("char 1x256", "char", 65, 64, 256, 1), "word": ("word 2x512", "word", 10000, 512, 512, 2)}
    for key in args.models.split(","):
        name, *shape = shapes[key]
        for dtype_name in args.dtypes.split(","):
            measure(name, predictor_for(*shape), args, bandwidth, getattr(torch, dtype_name))
    if args.train_seconds > 0:
        bf16_quality(args.train_seconds)


if __name__ == "__main__":
    main()
