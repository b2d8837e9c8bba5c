"""``rnnkit prepare lm``: text files to token-id shards on disk for ``rnnkit train lm --data DIR``.

Prints one JSON object on stdout (the directory, tokens, shards, vocabulary size, dtype, seconds); progress with
tokens/s on stderr. See :mod:`rnnkit.data.prepare` for the passes, the format and resuming.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_prepare_parser(commands: Any) -> None:
    """Register ``rnnkit prepare lm`` on ``commands`` (argparse subparsers)."""
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


def _add_classify_parser(kinds: Any) -> None:
    from ..data.readers.labelled import FORMATS
    from ..tasks.text_data import LEVELS, TRUNCATIONS, TextDataConfig

    default = TextDataConfig()
    classify = kinds.add_parser("classify", help="labelled texts (CSV/TSV/JSONL, label-first lines, ...)",
                                description="Two streaming passes: exact token and label counts make the "
                                            "vocabulary and labels 'train classify' would build, then every text "
                                            "is encoded into id shards, offsets and label ids.")
    classify.add_argument("--data", nargs="+", required=True, metavar="FILE",
                          help="labelled files, as 'train classify --data' takes them")
    classify.add_argument("--out", type=Path, required=True, help="the directory to write (new or empty)")
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
    print(json.dumps({"out": str(args.out), "texts": index["texts"], "tokens": index["tokens"],
                      "shards": len(index["shards"]), "labels": index["labels"], "vocab_size": index["vocab_size"],
                      "dtype": index["dtype"], "seconds": index["seconds"]}), flush=True)
    return 0


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
