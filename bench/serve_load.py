"""Load test of ``rnnkit serve`` on loopback: concurrent clients, a share of malformed requests, with and without
micro-batching.

A classify run (``--run``, or one trained here in a few seconds: LSTM, embedding 64, hidden 128, on synthetic
reviews) is served by ``rnnkit serve --threads 1`` in a subprocess on a free 127.0.0.1 port. ``--clients``
concurrent clients (asyncio streams speaking HTTP/1.1 keep-alive, one connection each: a few lines of client, so
that the client's own CPU time, on a machine shared with the server, stays small) send ``--requests`` requests,
every ``--malformed-every``-th one malformed in one of five ways (bad JSON, a missing field, an empty list, an
oversized text, a wrong type). Once with ``--max-batch 1`` (every request its own model call), once with
``--max-batch`` N.

Printed per setting: 5xx answers (must be 0), dropped connections (0), malformed requests answered 4xx (all),
well-formed answered 200 (all), p50 / p99 latency, requests/s. Exit code 1 if any of those four counts is wrong.
Bounded: ``--requests`` in all, and ``--time-limit`` seconds per setting (clients stop sending after it).

    python bench/serve_load.py                      # 10,000 requests, 32 clients, 5% malformed
    python bench/serve_load.py --requests 2000 --run runs/imdb
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WORDS = {"pos": "good great fine nice lovely superb moving funny clever warm".split(),
         "neg": "bad awful dull poor boring weak silly flat tedious cold".split()}
FILLER = "the film plot story cast music and a of it was with this that scene acting ending script".split()
MALFORMED = (  # (description, raw body)
    ("bad JSON", b'{"inputs": ["unterminated'),
    ("missing field", b'{"texts": ["a film"]}'),
    ("empty list", b'{"inputs": []}'),
    ("oversized text", json.dumps({"inputs": ["x" * 6000]}).encode()),
    ("wrong type", b'{"inputs": [42]}'),
)


def review(rng: random.Random) -> tuple[str, str]:
    label = rng.choice(("pos", "neg"))
    words = [rng.choice(WORDS[label] if rng.random() < 0.2 else FILLER) for _ in range(rng.randint(10, 40))]
    return " ".join(words), label


def train_run(folder: Path) -> Path:
    """A classify run on 512 synthetic reviews, one epoch (a few seconds): a model of a realistic size."""
    from rnnkit.models import ClassifierConfig
    from rnnkit.tasks import TASKS
    from rnnkit.tasks.classify import PretrainConfig
    from rnnkit.tasks.text_data import TextDataConfig
    from rnnkit.train.config import TrainConfig

    rng = random.Random(0)
    run = folder / "classify"
    TASKS["classify"].train(run, data=[review(rng) for _ in range(512)], valid=[review(rng) for _ in range(64)],
                            text=TextDataConfig(), pretrain=PretrainConfig(),
                            model=ClassifierConfig(cell="lstm", embedding_size=64, hidden_size=128, num_layers=1),
                            train=TrainConfig(epochs=1, batch_size=32, lr=0.003, seed=0, quiet=True))
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(run: Path, port: int, max_batch: int, max_wait_ms: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "rnnkit", "serve", str(run), "--port", str(port), "--max-batch", str(max_batch),
               "--max-wait-ms", str(max_wait_ms), "--log-level", "warning", "--threads", "1"]
    server = subprocess.Popen(command, env={**os.environ, "RNNKIT_SERVE_TOKEN": ""})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None:
            break
    server.kill()
    raise SystemExit(f"rnnkit serve did not start on port {port}")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one HTTP/1.1 response (its body read and dropped), and whether the server closes the
    connection after it."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") == "close"


async def load(url: str, run_name: str, requests: int, clients: int, malformed_every: int, time_limit: float,
               seed: int) -> dict:
    rng = random.Random(seed)
    plan = []  # (malformed kind or None, body)
    for index in range(requests):
        if index % malformed_every == malformed_every - 1:
            plan.append(MALFORMED[rng.randrange(len(MALFORMED))])
        else:
            plan.append((None, json.dumps({"inputs": [review(rng)[0]]}).encode()))
    results: list[tuple[str | None, int | None, float]] = []  # (malformed kind, status or None if dropped, seconds)
    position, stop_at = 0, time.monotonic() + time_limit
    host, port = url.removeprefix("http://").split(":")
    path = f"/v1/{run_name}/predict"

    async def client_loop() -> None:
        nonlocal position
        reader, writer = await asyncio.open_connection(host, int(port))
        while position < len(plan) and time.monotonic() < stop_at:
            kind, body = plan[position]
            position += 1
            start = time.perf_counter()
            try:
                if writer is None:  # the server closed the last connection (it may, after an error): a new one
                    reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                status, close = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                status, close = None, True
            results.append((kind, status, time.perf_counter() - start))
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    good = [seconds for kind, status, seconds in results if kind is None and status == 200]
    latencies = sorted(seconds for _, status, seconds in results if status is not None)
    return {
        "requests": len(results),
        "malformed": sum(kind is not None for kind, _, _ in results),
        "5xx": sum(status is not None and status >= 500 for _, status, _ in results),
        "dropped": sum(status is None for _, status, _ in results),
        "malformed_4xx": sum(kind is not None and status is not None and 400 <= status < 500
                             for kind, status, _ in results),
        "wellformed_200": len(good),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "requests_per_s": len(results) / elapsed,
        "seconds": elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=None, help="a classify run (default: train one here)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--malformed-every", type=int, default=20, help="every Nth request is malformed (20: 5%%)")
    parser.add_argument("--max-batch", type=int, default=32, help="the batched setting's --max-batch")
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--time-limit", type=float, default=300, help="seconds per setting at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = args.run or train_run(Path(folder))
        print(f"run {run}: {args.requests} requests, {args.clients} clients, 1 in {args.malformed_every} malformed",
              flush=True)
        failed = False
        for max_batch in (1, args.max_batch):
            port = free_port()
            server = start_server(run, port, max_batch, args.max_wait_ms)
            try:
                figures = asyncio.run(load(f"http://127.0.0.1:{port}", run.resolve().name, args.requests, args.clients,
                                           args.malformed_every, args.time_limit, seed=0))
                alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            finally:
                server.terminate()
                server.wait(timeout=30)
            ok = (figures["5xx"] == 0 and figures["dropped"] == 0 and alive
                  and figures["malformed_4xx"] == figures["malformed"]
                  and figures["wellformed_200"] == figures["requests"] - figures["malformed"])
            failed |= not ok
            print(f"--max-batch {max_batch:>3} --max-wait-ms {args.max_wait_ms}: {figures['requests']} requests "
                  f"in {figures['seconds']:.1f} s, {figures['requests_per_s']:.0f} requests/s, "
                  f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms; 5xx {figures['5xx']}, "
                  f"dropped {figures['dropped']}, malformed answered 4xx {figures['malformed_4xx']}/"
                  f"{figures['malformed']}, well-formed answered 200 {figures['wellformed_200']}/"
                  f"{figures['requests'] - figures['malformed']}, server alive after: {alive} -> "
                  f"{'ok' if ok else 'FAILED'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
