"""``rnnkit train dna``: flags and config files onto the sequence-classification settings.

Every flag is one field of one settings dataclass (sequence, model, frontend or train); a config file (TOML, YAML
or JSON) holds the same names, flat or in ``[sequence]``, ``[model]``, ``[frontend]``, ``[train]`` tables, and
flags override it. ``rnnkit evaluate`` and ``rnnkit predict`` take a ``dna`` run like a ``classify`` one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli_classify import CLASSIFY_FLAGS
from .cli_settings import (
    TRAINING_FLAGS,
    add_data_arguments,
    add_resume_argument,
    add_setting_flags,
    run_training,
    training_settings,
)
from .cli_settings import settings_from as settings_from_flags
from .tasks.dna import SETTINGS as SECTIONS  # the settings dataclass of each config section

_MODEL_FLAGS = {flag: entry for flag, entry in CLASSIFY_FLAGS.items() if entry[0] in ("model", "train")}

# flag -> (section, field, type, help); bool fields get --flag / --no-flag
DNA_FLAGS: dict[str, tuple[str, str, Any, str]] = {
    "--format": ("sequence", "format", str, "auto (by suffix or a leading '>'), fasta or tsv"),
    "--alphabet": ("sequence", "alphabet", str, "dna (ACGT, N unknown) or protein (20 amino acids, X unknown)"),
    "--sequence-column": ("sequence", "sequence_column", str, "sequence column of a TSV (default 'seq')"),
    "--label-column": ("sequence", "label_column", str, "label column of a TSV (default 'Bound')"),
    "--inputs": ("sequence", "inputs", str, "onehot (default; N is 1/4 in each column) or kmer tokens"),
    "--kmer-size": ("sequence", "kmer_size", int, "k of the overlapping k-mer tokens (default 3)"),
    "--min-freq": ("sequence", "min_freq", int, "rarer training k-mers become <unk>"),
    "--max-length": ("sequence", "max_length", int, "keep the first N letters of each sequence"),
    "--negatives": ("sequence", "negatives", str, "none, or shuffle: dinucleotide-shuffled copies of the "
                                                  "training positives are the negatives (as DeepBind)"),
    "--max-examples": ("sequence", "max_examples", int, "train on a seeded sample of at most N records"),
    "--valid-fraction": ("sequence", "valid_fraction", float, "share of the records held out without --valid"),
    "--conv-channels": ("frontend", "conv_channels", int, "filters of a Conv1d front-end (default 0: none)"),
    "--conv-width": ("frontend", "conv_width", int, "filter width, odd (default 11)"),
    "--pool-size": ("frontend", "pool_size", int, "max-pool window after the convolution (default 4)"),
    **_MODEL_FLAGS,
    **TRAINING_FLAGS,
}


def add_dna_parser(tasks: argparse._SubParsersAction) -> None:
    """``rnnkit train dna ...``, a subcommand of ``rnnkit train``."""
    parser = tasks.add_parser(
        "dna", help="DNA/protein sequence classifier (e.g. TF binding sites)",
        description="Train a recurrent classifier of DNA or protein sequences. --data takes FASTA (labels as "
                    "'label=VALUE' in the headers or from --labels FILE) or a TSV with a header (DeepBind's "
                    "'FoldID EventID seq Bound'), plain or .gz. With --negatives shuffle the training file holds "
                    "positives only and their dinucleotide-shuffled copies are the negatives.")
    add_data_arguments(parser, "training sequences (required unless --resume)",
                       "labelled validation sequences for choosing the best epoch (default: --valid-fraction of "
                       "--data)", "labelled test sequences, evaluated once at the end", required=False)
    parser.add_argument("--labels", type=Path, default=None, help="FASTA labels: a file of 'NAME LABEL' lines")
    add_resume_argument(parser)
    add_setting_flags(parser, DNA_FLAGS)
    parser.set_defaults(handler=_train_dna)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The four settings dataclasses from the config file (if any) and the flags given."""
    return settings_from_flags(args, DNA_FLAGS, SECTIONS)


def _train_dna(args: argparse.Namespace) -> int:
    from .tasks.dna import train_dna

    settings = training_settings(args, DNA_FLAGS, SECTIONS, data_flags=("--labels",))
    return run_training(lambda: train_dna(args.out, data=args.data, valid=args.valid, test=args.test,
                                          labels_file=args.labels, **settings), args.out,
                        resume_with="rnnkit train dna")
