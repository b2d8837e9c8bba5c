"""Every ragged task's default model: real tokens/s of a training step, rnnkit against the best plain-torch way.

For each task (classify, tag, dna, audio, condgen, seq2seq) the task's default model is built from its default
settings and trained on synthetic batches whose lengths follow its benchmark set's (a pool of 50 batches' worth
of lengths is sorted and cut into batches, as the tasks' length bucketing does; ``--unbucketed`` draws each batch
at random instead). A training step is the task's own loss function, backward and an Adam step. Variants:

    rnnkit           the model as built: its recurrent layer with ``backend="auto"``
    torch padded     the same model with its recurrent layer replaced by torch.nn.LSTM/GRU/RNN on the padded
                     batch, the reverse direction by a second module on each sequence reversed within its length
                     (the fastest plain-torch way; its final cell state is the one at the padded end)
    torch packed     torch.nn.* on a PackedSequence (the exact plain-torch way)
    torch loop       torch.nn.*Cell stepped in Python with a mask (timed once: it is the slow reference)

Throughput is real tokens (the batch's summed lengths; source + target for seq2seq) per second, the median of
the steps after a warm-up, variants taking turns round after round. The ratio printed is rnnkit / the best
plain-torch variant, all timed in the same process.

``--clock cpu`` times each variant by the process's CPU time (``time.process_time``) instead of the wall clock:
on a machine loaded by other jobs, with ``--threads 1``, it leaves out the time the process waits for a core
(which lands on whichever variant happens to run then), so paired ratios spread far less; it still counts the
slowdown the other jobs cause through shared caches and memory. With more threads it also counts their spinning.

Before / after: ``--before DIR`` also runs this script with ``PYTHONPATH=DIR/src`` (an rnnkit checkout, e.g. main
at 0b4e318 unpacked with ``git archive 0b4e318 | tar -x -C DIR``) and prints that run's ratios beside this one's;
each run's ratio is against plain torch timed in its own process.

Usage:
    python bench/task_speed.py                                  # every task, this checkout
    python bench/task_speed.py --before /tmp/rnnkit_base22      # and the old checkout, one after the other
    python bench/task_speed.py --tasks classify --unbucketed    # the issue's classifier case: random lengths
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TORCH_MODULES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN}
TORCH_CELLS = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell}
# each task's lengths: (shortest, longest), approximating its benchmark set (bench/*.py)
LENGTHS = {
    "classify": (200, 500),  # news articles (BBC Sport), the case; no --max-length
    "tag": (5, 40),  # UD English-EWT sentences
    "dna": (60, 101),  # DeepBind ChIP-seq windows (101 letters, some shorter)
    "audio": (20, 90),  # FSDD spoken digits: 0.2-0.9 s at a 10 ms hop
    "condgen": (5, 60),  # rt-polarity sentences
    "seq2seq": (8, 30),  # Multi30k sentences, source and target alike
}
VOCAB = 20000


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x (B, T, F)`` with each sequence read backwards from its own last step; padding stays put."""
    steps = x.shape[1]
    time_index = torch.arange(steps).unsqueeze(0)  # (1, T)
    index = torch.where(time_index < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - time_index, time_index)
    return x.gather(1, index.unsqueeze(2).expand_as(x))


class PlainTorch(nn.Module):
    """A stand-in for an rk.nn layer (same weights, same call) made of plain torch modules, one way of three."""

    def __init__(self, layer: nn.Module, way: str) -> None:
        super().__init__()
        self.way = way
        self.mode = {"LSTMCell": "LSTM", "GRUCell": "GRU"}.get(type(layer.cells[0]).__name__)
        if self.mode is None:
            self.mode = "RNN_RELU" if getattr(layer.cells[0], "nonlinearity", "tanh") == "relu" else "RNN_TANH"
        self.layers, self.directions = layer.num_layers, layer.num_directions
        self.hidden_size = layer.hidden_size
        weights = layer.state_dict()
        kind = TORCH_MODULES[self.mode]
        extra = {"nonlinearity": "relu" if self.mode == "RNN_RELU" else "tanh"} if self.mode.startswith("RNN") else {}
        self.whole = kind(layer.input_size, layer.hidden_size, num_layers=layer.num_layers, batch_first=True,
                          bidirectional=layer.bidirectional, **extra)
        self.whole.load_state_dict(weights)
        self.parts = nn.ModuleList()  # one unidirectional single-layer module per layer and direction
        self.cells = nn.ModuleList()
        for index in range(self.layers * self.directions):
            layer_index, direction = divmod(index, self.directions)
            size = layer.input_size if layer_index == 0 else layer.hidden_size * self.directions
            part = kind(size, layer.hidden_size, batch_first=True, **extra)
            suffix = f"_l{layer_index}" + ("_reverse" if direction else "")
            part.load_state_dict({name: weights[name.replace("_l0", suffix)] for name in part.state_dict()})
            self.parts.append(part)
            cell = TORCH_CELLS[self.mode](size, layer.hidden_size, **extra)
            cell.load_state_dict({name: weights[f"{name}{suffix}"] for name in cell.state_dict()})
            self.cells.append(cell)

    def forward(self, x: torch.Tensor, lengths=None, state=None, final_state: bool = True):
        batch, steps = x.shape[:2]
        lengths = torch.full((batch,), steps) if lengths is None else torch.as_tensor(lengths).cpu()
        if self.way == "packed":
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            output, final = self.whole(packed, state)
            return pad_packed_sequence(output, batch_first=True, total_length=steps)[0], final if final_state else None
        finals = []
        for layer in range(self.layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                pick = slice(index, index + 1)
                initial = None if state is None else (
                    tuple(s[pick] for s in state) if isinstance(state, tuple) else state[pick])
                sequence = x if direction == 0 else reverse_within(x, lengths)
                if self.way == "padded":
                    output, final = self.parts[index](sequence, initial)
                else:
                    output, final = self.loop(self.cells[index], sequence, lengths, initial)
                outputs.append(output if direction == 0 else reverse_within(output, lengths))
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
        mask = (torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2).to(x.device)
        if not final_state:  # the caller reads the outputs only (as rnnkit's layer, told the same, returns None)
            return x * mask, None
        if isinstance(finals[0], tuple):
            return x * mask, tuple(torch.cat(parts) for parts in zip(*finals, strict=True))
        return x * mask, torch.cat(finals)

    def loop(self, cell: nn.Module, x: torch.Tensor, lengths: torch.Tensor, initial):
        batch = x.shape[0]
        zeros = x.new_zeros(batch, self.hidden_size)
        if initial is None:
            state = (zeros, zeros) if self.mode == "LSTM" else zeros
        else:
            state = tuple(s[0] for s in initial) if isinstance(initial, tuple) else initial[0]
        outputs = []
        for t, x_t in enumerate(x.unbind(1)):
            new = cell(x_t, state)
            alive = (t < lengths).unsqueeze(1).to(x.device)  # (B, 1)
            if self.mode == "LSTM":
                state = tuple(torch.where(alive, a, b) for a, b in zip(new, state, strict=True))
                outputs.append(new[0])
            else:
                state = torch.where(alive, new, state)
                outputs.append(new)
        final = tuple(s.unsqueeze(0) for s in state) if isinstance(state, tuple) else state.unsqueeze(0)
        return torch.stack(outputs, 1), final


def draw_batches(task: str, batch_size: int, count: int, bucketed: bool, generator: torch.Generator):
    """``count`` batches of lengths (LongTensors), from bucketed pools as the tasks' training batches are."""
    shortest, longest = LENGTHS[task]
    if not bucketed:
        return [torch.randint(shortest, longest + 1, (batch_size,), generator=generator) for _ in range(count)]
    pool = torch.randint(shortest, longest + 1, (batch_size * 50,), generator=generator).sort(descending=True).values
    batches = pool.split(batch_size)
    picks = torch.linspace(0, len(batches) - 1, count).round().long().tolist()
    return [batches[i] for i in picks]


def padded_ids(lengths: torch.Tensor, generator: torch.Generator, vocab: int = VOCAB) -> torch.Tensor:
    ids = torch.randint(2, vocab, (len(lengths), int(lengths.max())), generator=generator)
    return ids * (torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1))  # pad id 0


def build_task(task: str, lengths_list: list[torch.Tensor], generator: torch.Generator):
    """``(model, [(batch, real tokens)], loss(model, batch), attribute path of the recurrent layer)``."""
    from rnnkit.models import (
        ClassifierConfig,
        ConditionalGenerator,
        ConditionalGeneratorConfig,
        Seq2Seq,
        Seq2SeqConfig,
        SequenceClassifier,
        SequenceTagger,
        TaggerConfig,
        build_classifier,
    )
    from rnnkit.tasks.common import batch_loss as classification_loss

    def labels(n: int, classes: int) -> torch.Tensor:
        return torch.randint(0, classes, (n,), generator=generator)

    if task == "classify":
        model = build_classifier(5, ClassifierConfig(), vocab_size=VOCAB, pad_id=0)
        batches = [((padded_ids(n, generator), n, labels(len(n), 5)), int(n.sum())) for n in lengths_list]
        return model, batches, lambda m, b: classification_loss(m, b, None).loss_sum, "recurrent"
    if task == "tag":
        from rnnkit.tasks.tag.train import batch_loss as tagging_loss
        model = SequenceTagger(17, VOCAB, TaggerConfig(), pad_id=0)
        batches = []
        for n in lengths_list:
            ids = padded_ids(n, generator)
            batches.append(((ids, n, torch.randint(0, 17, ids.shape, generator=generator)), int(n.sum())))
        return model, batches, lambda m, b: tagging_loss(m, b, None).loss_sum, "recurrent"
    if task == "dna":
        from rnnkit.models.binding_classifier import ConvFrontEndConfig
        from rnnkit.tasks.dna.data import SequenceDataConfig
        from rnnkit.tasks.dna.train import build_model
        model = build_model(2, SequenceDataConfig(), ClassifierConfig(), ConvFrontEndConfig(), None)
        batches = [((padded_ids(n, generator, 4), n, labels(len(n), 2)), int(n.sum())) for n in lengths_list]
        return model, batches, lambda m, b: classification_loss(m, b, None).loss_sum, "classifier.recurrent"
    if task == "audio":
        from rnnkit.data.audio_features import FeatureConfig
        size = FeatureConfig().size
        model = SequenceClassifier(10, ClassifierConfig(), input_size=size)
        batches = []
        for n in lengths_list:
            frames = torch.randn(len(n), int(n.max()), size, generator=generator)
            frames = frames * (torch.arange(frames.shape[1])[None, :, None] < n[:, None, None])
            batches.append(((frames, n, labels(len(n), 10)), int(n.sum())))
        return model, batches, lambda m, b: classification_loss(m, b, None).loss_sum, "recurrent"
    if task == "condgen":
        from rnnkit.tasks.condgen.loss import batch_loss as generation_loss
        model = ConditionalGenerator(VOCAB, ConditionalGeneratorConfig(), num_classes=2, pad_id=0)
        batches = []
        for n in lengths_list:
            ids = padded_ids(n, generator)
            batches.append(((labels(len(n), 2), ids, ids.roll(-1, 1), n), int(n.sum())))
        return model, batches, lambda m, b: generation_loss(m, b, 0).loss_sum, "decoder"
    if task == "seq2seq":
        from rnnkit.tasks.seq2seq.data import Batch
        from rnnkit.tasks.seq2seq.train import batch_loss as translation_loss
        model = Seq2Seq(VOCAB, VOCAB, Seq2SeqConfig())
        batches = []
        for n in lengths_list:
            target_lengths = n[torch.randperm(len(n), generator=generator)]
            target = padded_ids(target_lengths, generator)
            batches.append((Batch(padded_ids(n, generator), n, target, target.roll(-1, 1)),
                            int(n.sum() + target_lengths.sum())))
        return model, batches, lambda m, b: translation_loss(m, b, 0).loss_sum, "encoder"
    raise ValueError(f"task: got {task!r}; expected one of {', '.join(LENGTHS)}")


def swap_in(model: nn.Module, path: str, way: str) -> nn.Module:
    """``model`` with the rk.nn layer at ``path`` replaced by its plain-torch stand-in (in place)."""
    owner_path, _, name = path.rpartition(".")
    owner = model.get_submodule(owner_path) if owner_path else model
    setattr(owner, name, PlainTorch(getattr(owner, name), way))
    return model


def measure_task(task: str, batch_size: int, batches: int, rounds: int, bucketed: bool,
                 ways: list[str], clock=time.perf_counter) -> dict[str, float]:
    generator = torch.Generator().manual_seed(0)
    lengths_list = draw_batches(task, batch_size, batches, bucketed, generator)
    torch.manual_seed(0)
    model, data, loss_fn, path = build_task(task, lengths_list, generator)
    models: dict[str, nn.Module] = {"rnnkit": model}
    for way in ways:
        torch.manual_seed(0)
        twin, _, _, _ = build_task(task, [], torch.Generator().manual_seed(0))
        twin.load_state_dict(model.state_dict())
        models[f"torch {way}"] = swap_in(twin, path, way)
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-4) for name, m in models.items()}

    def step(name: str, batch) -> None:
        optimizer = optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss_fn(models[name], batch).backward()
        optimizer.step()

    seconds: dict[str, list[float]] = {name: [] for name in models}
    for name in models:  # warm-up: one step on the first batch
        models[name].train()
        step(name, data[0][0])
    for round_index in range(rounds):
        for name in models:
            if name == "torch loop" and round_index:
                continue
            started = clock()
            for batch, _ in data:
                step(name, batch)
            seconds[name].append(clock() - started)
    real_tokens = sum(tokens for _, tokens in data)
    return {name: real_tokens / statistics.median(times) for name, times in seconds.items()}


def run_here(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    import rnnkit

    ways = [way for way in ("padded", "packed", "loop") if way not in args.skip]
    results = {}
    for task in args.tasks.split(","):
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        results[task] = measure_task(task, args.batch_size, args.batches, args.rounds, not args.unbucketed, ways,
                                     clock)
        if not args.json:
            print_row(task, results[task], flush=True)
        else:  # the parent run reads stdout; show progress on stderr meanwhile
            print(f"{task}: {json.dumps(results[task])}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"rnnkit": str(Path(rnnkit.__file__).parent), "results": results}))
    return results


def best_plain(rates: dict[str, float]) -> tuple[str, float]:
    plain = {name: rate for name, rate in rates.items() if name != "rnnkit"}
    name = max(plain, key=plain.get)
    return name, plain[name]


def print_row(task: str, rates: dict[str, float], label: str = "", flush: bool = False) -> None:
    name, rate = best_plain(rates)
    cells = "  ".join(f"{variant} {value:,.0f}" for variant, value in rates.items())
    print(f"{task:<9}{label} {cells}  | rnnkit / best plain ({name}) = {rates['rnnkit'] / rate:.2f}x", flush=flush)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(LENGTHS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3, help="batches per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unbucketed", action="store_true", help="random lengths per batch (no bucketing)")
    parser.add_argument("--skip", default="", help="plain-torch ways to leave out, e.g. loop")
    parser.add_argument("--before", type=Path, help="an older rnnkit checkout to run the same measurement on")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time steps by the wall clock or by the process's CPU time (for a loaded machine)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"{'unbucketed' if args.unbucketed else 'length-bucketed'} batches; real tokens/s of a training step"
          f"{' (CPU time)' if args.clock == 'cpu' else ''}",
          flush=True)
    if args.before is None:
        run_here(args)
        return
    after = run_here(argparse.Namespace(**{**vars(args), "json": True}))
    command = [sys.executable, __file__, *sys.argv[1:]]
    at = command.index("--before")
    del command[at : at + 2]
    environment = {**os.environ, "PYTHONPATH": str(args.before / "src")}
    finished = subprocess.run([*command, "--json"], stdout=subprocess.PIPE, text=True, env=environment, check=True)
    before = json.loads(finished.stdout.strip().splitlines()[-1])["results"]
    for task, rates in after.items():
        print_row(task, before[task], label=" before")
        print_row(task, rates, label=" after ")
        print(f"{task:<9} rnnkit after / before: {rates['rnnkit'] / before[task]['rnnkit']:.2f}x", flush=True)



if __name__ == "__main__":
    main()
