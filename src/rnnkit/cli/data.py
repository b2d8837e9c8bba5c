"""``rnnkit data list`` and ``rnnkit data get NAME [--to DIR]``: the public data sets of the README and benchmarks.

``list`` prints one JSON object per data set on stdout; ``get`` downloads (progress and the licence note on
stderr) and prints ``{"name": ..., "path": ...}`` on stdout, so ``$(rnnkit data get ptb | jq -r .path)`` works.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_data_parser(commands: Any) -> None:
    """Register ``rnnkit data`` and its two verbs on ``commands`` (argparse subparsers)."""
    data = commands.add_parser("data", help="list and download the public data sets (checksummed, cached)",
                               description="Public data sets pinned to their origin, verified by checksum and "
                                           "cached in $RNNKIT_DATA_DIR (default: the user's cache folder).")
    verbs = data.add_subparsers(dest="data_command", metavar="VERB")
    listing = verbs.add_parser("list", help="the registered data sets, one JSON object per line",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    listing.set_defaults(handler=_list)
    get = verbs.add_parser("get", help="download, verify and unpack a data set (once; later calls return at once)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    get.add_argument("name", help="a name from 'rnnkit data list', e.g. tinyshakespeare")
    get.add_argument("--to", type=Path, default=None,
                     help="parent folder: the data set lands in TO/NAME (default: $RNNKIT_DATA_DIR, else the "
                          "user's cache folder)")
    get.add_argument("--force", action="store_true", help="download again even when the folder is complete")
    get.add_argument("--quiet", action="store_true", help="no progress bar and no licence note on stderr")
    get.set_defaults(handler=_get)


def _list(args: argparse.Namespace) -> int:
    from ..data import datasets

    folder = datasets.data_dir()
    for dataset in datasets.list_datasets():
        record = {"name": dataset.name, "title": dataset.title, "licence": dataset.licence,
                  "origin": dataset.origin, "files": len(dataset.files), "bytes": dataset.size,
                  "downloaded": datasets.is_ready(dataset, folder / dataset.name)}
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _get(args: argparse.Namespace) -> int:
    from ..data import datasets

    dataset = datasets.registry().get(args.name)
    if dataset is not None and not args.quiet:
        print(f"{dataset.name}: {dataset.title}\nlicence: {dataset.licence}", file=sys.stderr)
    path = datasets.get(args.name, args.to, progress=not args.quiet, force=args.force)
    if dataset is not None and not args.quiet and dataset.example:
        print(f"ready in {path}\ntry: {dataset.example.format(dir=path)}", file=sys.stderr)
    print(json.dumps({"name": args.name, "path": str(path)}, ensure_ascii=False))
    return 0
