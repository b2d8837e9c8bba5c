"""Where the benchmarks find the shared data sets (offline copies: PTB, Tiny Shakespeare, ...).

The folder is ``$RNNKIT_DATA_DIR`` if that is set, else ``<repo root>/../shared/data`` if it exists::

    from data_paths import require
    train = require("ptb/ptb.train.txt.gz")   # a Path, or exit 2 with a message saying where it was looked for
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "RNNKIT_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """``$RNNKIT_DATA_DIR`` if set, else ``<repo root>/../shared/data`` if it exists, else None."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    default = REPO_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else None


def require(name: str) -> Path:
    """The path of ``name`` (e.g. ``"ptb/ptb.train.txt.gz"``) in the data folder; exit 2 with a message if absent."""
    folder = shared_data_dir()
    if folder is None:
        sys.exit(_fail(f"no data folder: set {ENV_VAR}, or put the data in {REPO_ROOT.parent / 'shared' / 'data'}"))
    path = folder / name
    if not path.exists():
        source = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the default data folder"
        sys.exit(_fail(f"{path}: not found ({source} is {folder}); expected the data set file {name!r} there"))
    return path


def _fail(message: str) -> int:
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    return 2
