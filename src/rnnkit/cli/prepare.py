"""``rnnkit prepare lm|classify|tag|dna``: data files to token-id shards on disk for ``rnnkit train KIND --data DIR``.

Prints one JSON object on stdout (the directory, tokens, shards, vocabulary size, dtype, seconds); ``prepare lm``
shows progress with tokens/s on stderr. See :mod:`rnnkit.data.prepare` (language-model text) and
:mod:`rnnkit.data.prepare_records` (labelled records) for the passes, the format and resuming. The reading
settings of ``prepare tag`` and ``prepare dna`` are the flags of ``train tag`` / ``train dna``, made from the same
settings fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .flags import add_task_flags, settings_from


def add_prepare_parser(commands: Any) -> None:
    """Register ``rnnkit prepare lm|classify|tag|dna`` on ``commands`` (argparse subparsers)."""
    prepare = commands.add_parser("prepare", help="turn corpora larger than memory into token-id shards on disk",
                                  description="Encode text files once into uint16/uint32 id shards with a JSON "
                                              "index; training then reads them through memory maps.")
    kinds = prepare.add_subparsers(dest="prepare_kind", metavar="KIND")
    lm = kinds.add_parser("lm", help="language-model text (char or word level)",
                          description="Two streaming passes: exact token counts (spilled to disk) make the "
                                      "vocabulary 'train lm' would build, then every file is encoded into shards. "
                                      "Interrupted? Run the same command again: finished shards are kept.")
    lm.add_argument("--data", nargs="+", required=True, metavar="FILE_OR_GLOB",
                    help="text files or glob patterns (quoted), in corpus order")
    lm.add_argument("--out", type=Path, required=True, help="the directory to write (or to resume)")
    lm.add_argument("--level", choices=("char", "word"), default=None,
                    help="char, or word (whitespace tokens + <eos> per line); required unless --vocab-from")
    lm.add_argument("--lower", action="store_true", help="lower-case the text")
    lm.add_argument("--min-freq", type=int, default=1, help="rarer tokens become <unk> (default: 1)")
    lm.add_argument("--max-vocab", type=int, default=None, help="vocabulary size limit, specials included")
    lm.add_argument("--encoding", default="utf-8", help="text encoding of the files, ASCII-compatible (default: utf-8)")
    lm.add_argument("--vocab-from", type=Path, default=None, metavar="RUN_OR_DIR",
                    help="use the vocabulary (and level, lower-casing) of a language-model run or of a prepared "
                         "directory, e.g. the training set's for validation files")
    lm.add_argument("--workers", type=int, default=1, help="processes sharing the files (default: 1)")
    lm.add_argument("--shard-tokens", type=int, default=1 << 24,
                    help="about how many ids per shard (default: 16777216)")
    lm.add_argument("--quiet", action="store_true", help="no progress on stderr")
    lm.set_defaults(handler=_prepare_lm)
    _add_classify_parser(kinds)
    _add_tag_parser(kinds)
    _add_dna_parser(kinds)


def _add_classify_parser(kinds: Any) -> None:
    from ..data.readers.labelled import FORMATS
    from ..tasks.text_data import LEVELS, TRUNCATIONS, TextDataConfig

    default = TextDataConfig()
    classify = kinds.add_parser("classify", help="labelled texts (CSV/TSV/JSONL, label-first lines, ...)",
                                description="Two streaming passes: exact token and label counts make the "
                                            "vocabulary and labels 'train classify' would build, then every text "
                                            "is encoded into id shards, offsets and label ids. Interrupted? "
                                            "Run the same command again: finished shards are kept.")
    classify.add_argument("--data", nargs="+", required=True, metavar="FILE",
                          help="labelled files, as 'train classify --data' takes them")
    classify.add_argument("--out", type=Path, required=True,
                          help="the directory to write (new or empty; an interrupted one is resumed)")
    classify.add_argument("--format", choices=FORMATS, default=default.format,
                          help="how the files hold the labels (default: %(default)s)")
    classify.add_argument("--text-column", default=default.text_column,
                          help="text column or JSON key of a table (default: %(default)s)")
    classify.add_argument("--label-column", default=default.label_column,
                          help="label column or JSON key (default: %(default)s)")
    classify.add_argument("--encoding", default=default.encoding,
                          help="text encoding of the files (default: %(default)s)")
    classify.add_argument("--level", choices=LEVELS, default=None, help="tokens: words (default) or characters")
    classify.add_argument("--lower", action=argparse.BooleanOptionalAction, default=None,
                          help="lower-case the text (default: yes)")
    classify.add_argument("--min-freq", type=int, default=default.min_freq,
                          help="rarer tokens become <unk> (default: %(default)s)")
    classify.add_argument("--max-vocab", type=int, default=None, help="vocabulary size limit, specials included")
    classify.add_argument("--max-length", type=int, default=None, help="keep at most N tokens of each text")
    classify.add_argument("--truncate", choices=TRUNCATIONS, default=default.truncate,
                          help="which tokens --max-length keeps (default: %(default)s)")
    classify.add_argument("--strip-html", action="store_true", help="replace HTML tags by spaces")
    classify.add_argument("--vocab-from", type=Path, default=None, metavar="RUN_OR_DIR",
                          help="use the vocabulary, labels and level of a classify run or prepared directory, "
                               "e.g. the training set's for validation files")
    classify.add_argument("--shard-tokens", type=int, default=1 << 24,
                          help="about how many ids per shard (default: %(default)s)")
    classify.set_defaults(handler=_prepare_classify)


def _prepare_classify(args: argparse.Namespace) -> int:
    from ..tasks.classify.prepare import labels_of_run, prepare_classify
    from ..tasks.text_data import TextDataConfig

    vocab = labels = None
    level, lower = args.level or "word", True if args.lower is None else args.lower
    if args.vocab_from is not None:
        vocab, labels, source = labels_of_run(args.vocab_from)
        for flag, given, name in (("--level", args.level, "level"), ("--lower", args.lower, "lower")):
            if given is not None and name in source and given != source[name]:
                raise ValueError(f"{flag} {given}: --vocab-from {args.vocab_from} has {name} {source[name]!r}; "
                                 f"leave {flag} out or give the same")
        level, lower = source.get("level", level), source.get("lower", lower)
    text = TextDataConfig(format=args.format, text_column=args.text_column, label_column=args.label_column,
                          encoding=args.encoding, level=level, lower=lower, min_freq=args.min_freq,
                          max_vocab=args.max_vocab, max_length=args.max_length, truncate=args.truncate,
                          strip_html=args.strip_html)
    index = prepare_classify(args.data, args.out, text, vocab=vocab, labels=labels, shard_tokens=args.shard_tokens,
                             vocab_from=None if args.vocab_from is None else str(args.vocab_from.resolve()))
    return _print_records(args, index)


def _add_settings_parser(kinds: Any, kind: str, section: str, settings: type, hidden: Sequence[str], help_text: str,
                         description: str, data_help: str, handler: Callable[[argparse.Namespace], int]) -> Any:
    """``rnnkit prepare KIND``: ``--data``, ``--out``, ``--vocab-from``, ``--shard-tokens`` and the flags of the
    settings dataclass ``settings`` (those of ``train KIND``, less ``hidden``)."""
    flags = SimpleNamespace(settings={section: settings}, hidden=frozenset(f"{section}.{name}" for name in hidden),
                            flag_help={})
    parser = kinds.add_parser(kind, help=help_text, description=description)
    parser.add_argument("--data", nargs="+", required=True, metavar="FILE", help=data_help)
    parser.add_argument("--out", type=Path, required=True,
                        help="the directory to write (new or empty; an interrupted one is resumed)")
    parser.add_argument("--vocab-from", type=Path, default=None, metavar="RUN_OR_DIR",
                        help=f"use the vocabulary, labels and reading settings of a {kind} run or prepared directory, "
                             "e.g. the training set's for validation files")
    parser.add_argument("--shard-tokens", type=int, default=1 << 24,
                        help="about how many ids per shard (default: %(default)s)")
    add_task_flags(parser, flags)  # type: ignore[arg-type] - the settings part of a Task is all it reads
    parser.set_defaults(handler=handler, config=None, settings_flags=flags, settings_section=section)
    return parser


def _settings_of(args: argparse.Namespace, source: dict[str, Any] | None, names: Sequence[str]) -> Any:
    """The settings dataclass from the flags; with ``--vocab-from`` the source's values of ``names`` where a flag
    is not given (a given flag that differs is an error)."""
    section = args.settings_section
    config = settings_from(args, args.settings_flags)[section]
    if source is None:
        return config
    taken = {}
    for name in names:
        given = getattr(args, f"{section}.{name}", None)
        if name not in source:
            continue
        if given is not None and given != source[name]:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} {given}: --vocab-from {args.vocab_from} has {name} {source[name]!r}; leave "
                             f"{flag} out or give the same")
        taken[name] = source[name]
    return dataclasses.replace(config, **taken)


def _print_records(args: argparse.Namespace, index: dict[str, Any]) -> int:
    print(json.dumps({"out": str(args.out), "texts": index["texts"], "tokens": index["tokens"],
                      "shards": len(index["shards"]), "labels": index["labels"], "vocab_size": index["vocab_size"],
                      "dtype": index["dtype"], "seconds": index["seconds"]}), flush=True)
    return 0


def _add_tag_parser(kinds: Any) -> None:
    from ..tasks.tag.data import TagDataConfig

    _add_settings_parser(
        kinds, "tag", "text", TagDataConfig, ("valid_fraction", "embeddings", "freeze_embeddings"),
        "tagged sentences (CoNLL columns, CoNLL-U)",
        "Two streaming passes: exact word counts and the tag set make the vocabulary and tags 'train tag' would "
        "build, then every sentence is encoded into word-id shards, offsets and a tag id per word. Interrupted? Run "
        "the same command again: finished shards are kept.",
        "CoNLL or CoNLL-U files, as 'train tag --data' takes them", _prepare_tag)


def _prepare_tag(args: argparse.Namespace) -> int:
    from ..tasks.tag.prepare import SETTING_NAMES, prepare_tag, tags_of_run

    vocab = tags = source = None
    if args.vocab_from is not None:
        vocab, tags, source = tags_of_run(args.vocab_from)
    text = _settings_of(args, source, [name for name in SETTING_NAMES if name not in ("min_freq", "max_vocab")])
    index = prepare_tag(args.data, args.out, text, vocab=vocab, tags=tags, shard_tokens=args.shard_tokens,
                        vocab_from=None if args.vocab_from is None else str(args.vocab_from.resolve()))
    return _print_records(args, index)


def _add_dna_parser(kinds: Any) -> None:
    from ..tasks.dna.data import SequenceDataConfig

    parser = _add_settings_parser(
        kinds, "dna", "sequence", SequenceDataConfig, ("valid_fraction", "max_examples"),
        "DNA or protein sequences with labels (FASTA, TSV)",
        "Two streaming passes: the labels (and exact k-mer counts for --inputs kmer) make the labels and "
        "vocabulary 'train dna' would build, then every sequence is encoded into letter or k-mer id shards, offsets "
        "and label ids. Interrupted? Run the same command again: finished shards are kept.",
        "FASTA or TSV files, as 'train dna --data' takes them", _prepare_dna)
    parser.add_argument("--labels", dest="labels_file", type=Path, default=None,
                        help="FASTA labels: a file of 'NAME LABEL' lines")
    parser.add_argument("--seed", type=int, default=None,
                        help="with --negatives shuffle: the seed of the shuffled copies, as 'train dna --seed' "
                             "(default: train's)")


def _prepare_dna(args: argparse.Namespace) -> int:
    from ..tasks.dna.prepare import SETTING_NAMES, labels_of_dna_run, prepare_dna

    vocab = labels = source = None
    if args.vocab_from is not None:
        vocab, labels, source = labels_of_dna_run(args.vocab_from)
    inherited = [name for name in SETTING_NAMES if name not in ("min_freq", "classes", "negatives")]
    sequence = _settings_of(args, source, inherited)  # validation files get no shuffled negatives unless asked
    index = prepare_dna(args.data, args.out, sequence, labels_file=args.labels_file, seed=args.seed, vocab=vocab,
                        labels=labels, shard_tokens=args.shard_tokens,
                        vocab_from=None if args.vocab_from is None else str(args.vocab_from.resolve()))
    return _print_records(args, index)


def _prepare_lm(args: argparse.Namespace) -> int:
    from ..data.corpus import CorpusConfig
    from ..data.prepare import prepare_lm

    vocab, level, lower = None, args.level, args.lower
    if args.vocab_from is not None:
        vocab, source = _vocab_source(args.vocab_from)
        if level is not None and level != source["level"]:
            raise ValueError(f"--level {level}: --vocab-from {args.vocab_from} is at level {source['level']!r}; "
                             "leave --level out or give the same")
        level, lower = source["level"], bool(source.get("lower", False)) or lower
    elif level is None:
        raise ValueError("--level: missing; expected char or word (or --vocab-from RUN_OR_DIR)")
    corpus = CorpusConfig(level=level, lower=lower, min_freq=args.min_freq, max_vocab=args.max_vocab,
                          encoding=args.encoding)
    index = prepare_lm(args.data, args.out, corpus, vocab=vocab, workers=args.workers,
                       shard_tokens=args.shard_tokens, quiet=args.quiet,
                       vocab_from=None if args.vocab_from is None else str(args.vocab_from.resolve()))
    print(json.dumps({"out": str(args.out), "tokens": index["tokens"], "shards": len(index["shards"]),
                      "files": len(index["files"]), "vocab_size": index["vocab_size"], "dtype": index["dtype"],
                      "seconds": index.get("seconds")}), flush=True)
    return 0


def _vocab_source(path: Path) -> tuple[Any, dict[str, Any]]:
    """The vocabulary and corpus settings of a prepared directory or a language-model run."""
    from ..data.shards import VOCAB, is_prepared, read_index
    from ..tasks.run_dir import read_run_config
    from ..text import Vocab

    if is_prepared(path):
        return Vocab.load(path / VOCAB), read_index(path, "lm")["settings"]
    if not path.is_dir():
        raise FileNotFoundError(f"--vocab-from {path}: no such directory; expected a language-model run or a "
                                "prepared directory")
    config = read_run_config(path, "lm")
    corpus = config.get("corpus") if isinstance(config.get("corpus"), dict) else {}
    if corpus.get("tokenizer", corpus.get("subword", "none")) != "none":
        raise ValueError(f"--vocab-from {path}: a subword run; prepared corpora hold word or character ids")
    return Vocab.load(path / "vocab.json"), {"level": corpus.get("level", "char"), "lower": corpus.get("lower", False)}
