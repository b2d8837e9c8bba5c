"""``rnnkit train condgen`` and ``rnnkit generate RUN --condition LABEL``: conditional generation on the CLI.

Every training flag is one field of one settings dataclass (text, model or train); a config file (TOML, YAML or
JSON) holds the same names, flat or in ``[text]``, ``[model]``, ``[train]`` tables, and flags override it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .cli_classify import LABELLED_TEXT_FLAGS, VALID_DATA_HELP
from .cli_settings import (
    TRAINING_FLAGS,
    add_data_arguments,
    add_resume_argument,
    add_setting_flags,
    run_flags,
    run_training,
    training_settings,
)
from .tasks.condgen import SETTINGS as SECTIONS  # the settings dataclass of each config section

# flag -> (section, field, type, help); bool fields get --flag / --no-flag
CONDGEN_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    **{flag: entry for flag, entry in LABELLED_TEXT_FLAGS.items() if flag not in ("--truncate", "--strip-html")},
    "--min-freq": ("text", "min_freq", int, "rarer training tokens become <unk> (never generated)"),
    "--max-length": ("text", "max_length", int, "keep the first N tokens of each text"),
    "--cell": ("model", "cell", str, "rnn, gru, lstm or lnlstm"),
    "--embedding-size": ("model", "embedding_size", int, "token embedding size"),
    "--hidden-size": ("model", "hidden_size", int, "hidden units per decoder layer"),
    "--num-layers": ("model", "num_layers", int, "stacked decoder layers"),
    "--condition-size": ("model", "condition_size", int, "size of the label's embedding"),
    "--condition-input": ("model", "condition_input", bool,
                          "also feed the label's embedding at every step (default on; off: initial state only)"),
    "--dropout": ("model", "dropout", float, "dropout on embeddings, between layers and before the output"),
    "--tie-weights": ("model", "tie_weights", bool, "share the embedding and output matrices (default off)"),
    "--backend": ("model", "backend", str, "auto, explicit or fused"),
    **run_flags("texts"),
    **TRAINING_FLAGS,
}


def add_condgen_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train condgen ...``, a subcommand of ``rnnkit train``."""
    parser = tasks.add_parser(
        "condgen", help="conditional generator (label -> text)",
        description="Train a recurrent text generator conditioned on a class label (the label sets the decoder's "
                    "initial state). --data takes labelled text as 'rnnkit train classify' does: a CSV/TSV/JSONL "
                    "table, a file of 'LABEL TEXT' lines, several files (one per class), or folders per class.")
    add_data_arguments(parser, "training data (see above; required unless --resume)", VALID_DATA_HELP,
                       "test data, evaluated once at the end", required=False)
    add_resume_argument(parser)
    add_setting_flags(parser, CONDGEN_FLAGS)
    parser.set_defaults(handler=_train_condgen)


def add_condition_arguments(generate: argparse.ArgumentParser) -> None:
    """The flags ``rnnkit generate`` has for conditional-generation runs."""
    generate.add_argument("--condition", default=None,
                          help="condgen runs: the class label to generate texts of (required for them)")
    generate.add_argument("--count", type=int, default=None, help="condgen runs: texts to generate (default 1)")
    generate.add_argument("--guidance", type=float, default=None,
                          help="condgen runs: classifier-free guidance weight w >= 0 (default 0: plain sampling; "
                               "higher keeps closer to the condition)")


def _train_condgen(args: argparse.Namespace) -> int:
    from .tasks.condgen import train_condgen

    settings = training_settings(args, CONDGEN_FLAGS, SECTIONS)
    return run_training(lambda: train_condgen(args.out, data=args.data, valid=args.valid, test=args.test,
                                              **settings), args.out, resume_with="rnnkit train condgen")


def generate_conditioned(predictor: Any, args: argparse.Namespace) -> int:
    """``rnnkit generate`` on a condgen run: one JSON object ``{"condition", "text"}`` per text (JSONL)."""
    if args.condition is None:
        known = ", ".join(map(repr, predictor.labels))
        raise ValueError(f"{args.run}: a 'condgen' run needs --condition LABEL; this model knows {known}")
    if args.prompt:
        raise ValueError(f"--prompt: got {args.prompt!r}; a 'condgen' run starts every text from its condition "
                         "alone; expected no --prompt")
    texts = predictor.generate(args.condition, n=1 if args.count is None else args.count,
                               temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                               max_length=args.length, seed=args.seed,
                               guidance=0.0 if args.guidance is None else args.guidance)
    for text in texts:
        print(json.dumps({"condition": args.condition, "text": text}, ensure_ascii=False), flush=True)
    return 0
