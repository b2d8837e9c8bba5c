"""A loopback HTTP server for the data-set tests: serves bytes from a dict, honours Range, and can cut a response
short (to test resuming). Started on 127.0.0.1 at a free port and stopped by the test; no internet involved."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FixtureServer:
    """``with FixtureServer({"/a.txt": b"..."}) as server: server.url("/a.txt")``; ``server.requests`` logs
    (path, Range header) pairs; ``server.cut[path] = n`` sends only n bytes of the next response for path;
    ``server.ignore_range = True`` answers every request with the whole file (200)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.cut: dict[str, int] = {}
        self.ignore_range = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                outer.requests.append((self.path, self.headers.get("Range")))
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                ranged = self.headers.get("Range")
                if ranged and not outer.ignore_range:
                    start = int(ranged.removeprefix("bytes=").rstrip("-"))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                limit = outer.cut.pop(self.path, None)
                self.wfile.write(part if limit is None else part[:limit])
                if limit is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_gz(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    """A .tar.gz holding ``members`` (name -> bytes) and symbolic links (name -> target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def tree_sha256(files: dict[str, bytes]) -> str:
    """The registry's check of unpacked files: SHA-256 of the sorted ``"<path> <sha256>\\n"`` lines."""
    return sha256("".join(f"{path} {sha256(data)}\n" for path, data in sorted(files.items())).encode())


def write_registry(path: Path, datasets: list[dict]) -> Path:
    path.write_text(json.dumps({"format": "rnnkit-datasets", "version": 1, "datasets": datasets}), encoding="utf-8")
    return path


def gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())
