"""``rnnkit train TASK`` and ``rnnkit demo``: flags and config files onto the settings dataclasses.

Every flag is one field of one settings dataclass (corpus, model or train); a config file (TOML, YAML or JSON)
holds the same names, flat or in ``[corpus]``, ``[model]``, ``[train]`` tables, and flags given on the command
line override it. An unknown key is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .cli_audio import add_audio_parser
from .cli_classify import add_classify_parser
from .cli_condgen import add_condgen_parser
from .cli_dna import add_dna_parser
from .cli_forecast import add_forecast_train_parser
from .cli_seq2seq import add_seq2seq_train_parser
from .cli_settings import TRAINING_FLAGS, add_data_arguments, add_setting_flags, resume_settings, run_training
from .cli_settings import settings_from as settings_from_flags
from .cli_tag import add_tag_parser
from .models import LanguageModelConfig
from .tasks.corpus import CorpusConfig
from .train.config import TrainConfig

SECTIONS = {"corpus": CorpusConfig, "model": LanguageModelConfig, "train": TrainConfig}

# flag -> (section, field, type, help); bool fields are switches
LM_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--level": ("corpus", "level", str, "char or word (word: whitespace tokens + <eos> per line, as PTB)"),
    "--lower": ("corpus", "lower", bool, "lower-case the text"),
    "--min-freq": ("corpus", "min_freq", int, "rarer tokens become <unk>"),
    "--max-vocab": ("corpus", "max_vocab", int, "vocabulary size limit, specials included"),
    "--encoding": ("corpus", "encoding", str, "text encoding of the data files (default utf-8)"),
    "--cell": ("model", "cell", str, "rnn, gru, lstm or lnlstm (layer-normalised LSTM)"),
    "--embedding-size": ("model", "embedding_size", int, "token embedding size"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per layer"),
    "--num-layers": ("model", "num_layers", int, "stacked recurrent layers"),
    "--dropout": ("model", "dropout", float, "dropout on the last layer's output"),
    "--embedding-dropout": ("model", "embedding_dropout", float, "drop whole word types (AWD-LSTM)"),
    "--input-dropout": ("model", "input_dropout", float, "locked dropout on the embeddings"),
    "--hidden-dropout": ("model", "hidden_dropout", float, "locked dropout between layers"),
    "--weight-dropout": ("model", "weight_dropout", float, "DropConnect on hidden-to-hidden weights"),
    "--tie-weights": ("model", "tie_weights", bool, "share the embedding and output weights"),
    "--backend": ("model", "backend", str, "auto, explicit or fused"),
    "--epochs": ("train", "epochs", int, "passes over the training data"),
    "--batch-size": ("train", "batch_size", int, "parallel streams (language models)"),
    "--momentum": ("train", "momentum", float, "SGD momentum"),
    "--clip-value": ("train", "clip_value", float, "clip each gradient value to [-X, X]"),
    "--bptt": ("train", "bptt", int, "steps of backpropagation through time per window (k2)"),
    "--bptt-k1": ("train", "bptt_k1", int, "steps between truncations (k1 < k2: overlapping windows)"),
    "--decay-start": ("train", "decay_start", int, "schedule step: first epoch whose end decays the rate"),
    "--seed": ("train", "seed", int, "random seed"),
    "--bf16": ("train", "bf16", bool, "bfloat16 autocast"),
    **TRAINING_FLAGS,
}


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model on your data")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    lm = tasks.add_parser("lm", help="language model (char or word level)",
                          description="Train a language model. Without --data: the built-in CPython corpus.")
    add_data_arguments(lm, "training text file", "validation text (default: last 10%% of --data)",
                       "test text, evaluated once at the end", several=False, required=False)
    lm.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_setting_flags(lm, LM_FLAGS)
    lm.set_defaults(handler=_train_lm)
    add_seq2seq_train_parser(tasks)
    add_forecast_train_parser(tasks)
    add_classify_parser(tasks)
    add_tag_parser(tasks)
    add_dna_parser(tasks)
    add_audio_parser(tasks)
    add_condgen_parser(tasks)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The three settings dataclasses from the config file (if any) and the flags given."""
    return settings_from_flags(args, LM_FLAGS, SECTIONS)


def _train_lm(args: argparse.Namespace) -> int:
    from .tasks.lm import train_language_model

    settings = resume_settings(args, LM_FLAGS) if args.resume else settings_from(args)
    return run_training(
        lambda: train_language_model(args.out, data=args.data, valid=args.valid, test=args.test, resume=args.resume,
                                     **settings),
        args.out, report=os.environ.get("RANK", "0") == "0",  # under torchrun, rank 0 alone reports
        resume_with="rnnkit train lm")


def run_demo(args: argparse.Namespace) -> int:
    """Train the demo model, report validation bits/char and print a sample."""
    from .api import load
    from .tasks.lm import train_language_model
    from .tasks.run_dir import read_run_config

    out: Path = args.out
    if (out / "config.json").exists():
        config = read_run_config(out, "lm")
        if not config.get("demo"):
            raise ValueError(f"--out {out}: holds a run that is not a demo; choose another --out")
        shutil.rmtree(out)
    corpus = CorpusConfig(level="char")
    # one LSTM layer of 256 on characters: about 2 MFLOP per token, ~40k tokens/s on 2 cores; the run is
    # bounded by time (--seconds), not epochs, so a slower machine trains fewer steps and still finishes
    model = LanguageModelConfig(cell="lstm", embedding_size=64, hidden_size=256, num_layers=1, dropout=0.1)
    train = TrainConfig(epochs=1000, batch_size=64, bptt=100, lr=3e-3, optimizer="adamw", clip_norm=1.0,
                        schedule="none", seed=0, quiet=args.quiet, max_seconds=args.seconds, log_every=20)
    results = train_language_model(out, corpus=corpus, model=model, train=train, demo=True)
    print(f"rnnkit demo: validation {results['valid_bpc']:.3f} bits/char (perplexity {results['valid_ppl']:.2f}) "
          f"after {results['step']} steps; run in {out}", file=sys.stderr)
    sample = load(out).generate("The ", length=300, temperature=0.7, seed=0)
    print("\n--- sample (temperature 0.7) ---\n" + sample + "\n---", file=sys.stderr)
    print(json.dumps({"run": str(out), **results}), flush=True)
    return 0
