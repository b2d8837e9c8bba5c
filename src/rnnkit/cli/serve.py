"""``rnnkit serve RUN [RUN ...]``: the runs' verbs as JSON endpoints and pages, served by uvicorn (the serve extra)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

TOKEN_VARIABLE = "RNNKIT_SERVE_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``rnnkit serve`` on ``commands`` (argparse subparsers)."""
    from ..serve.limits import ServeLimits  # no FastAPI import: --help works without the serve extra

    parser = commands.add_parser("serve", help="serve runs over HTTP: a JSON endpoint per verb, a page per run",
                                 description="Serve trained runs: POST /v1/RUN/VERB (JSON), a page per run at /, "
                                             "/healthz, OpenAPI docs at /docs. Needs the serve extra "
                                             "(pip install 'rnnkit[serve]').")
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories (each named by its "
                                                                          "directory's name in the URLs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                                                            "machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-batch", type=int, default=32,
                        help="most inputs of concurrent requests answered by one model call (1: no batching; "
                             "default 32)")
    parser.add_argument("--max-wait-ms", type=float, default=2.0,
                        help="milliseconds a batch waits for more requests (default 2)")
    parser.add_argument("--token", default=None,
                        help=f"require 'Authorization: Bearer TOKEN' on /v1/ (default: ${TOKEN_VARIABLE} if set)")
    defaults = ServeLimits()
    for field in fields(ServeLimits):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=int, default=getattr(defaults, field.name),
                            help=f"limit (default {getattr(defaults, field.name):,})")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                        help="keep the weights in this precision (default: as trained)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for the model calls (default: torch's, one per core)")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                        help="uvicorn's log level (default info)")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..serve.limits import ServeLimits
    from ..serve.runs import run_names

    limits = ServeLimits(**{field.name: getattr(args, field.name) for field in fields(ServeLimits)})
    if not 0 < args.port < 65536:
        raise ValueError(f"--port: got {args.port}; expected a port number in 1..65535")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: got {args.threads}; expected a positive integer")
    run_names(args.runs)  # a name clash is reported before anything is loaded
    try:
        import uvicorn

        from ..serve import create_app, load_runs
    except ImportError as error:
        raise ValueError(f"rnnkit serve needs the serve extra ({error.name} is missing): "
                         "pip install 'rnnkit[serve]'") from None
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    token = args.token if args.token is not None else os.environ.get(TOKEN_VARIABLE) or None
    app = create_app(load_runs(args.runs, device=args.device, dtype=args.dtype), max_batch=args.max_batch,
                     max_wait_ms=args.max_wait_ms, token=token, limits=limits)
    if args.host not in LOOPBACK and token is None:
        print(f"rnnkit serve: warning: listening on {args.host} without a token: anyone who reaches this address "
              f"can use the models (--token or ${TOKEN_VARIABLE})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


__all__ = ["TOKEN_VARIABLE", "add_serve_parser"]
