"""Public data sets one command away: ``rnnkit data get NAME`` / ``rk.datasets.get(NAME)``.

The registry (``datasets.json`` beside this file) pins every file to a fixed commit or release of its origin and
to the checksum of the origin's bytes (SHA-256 where we could compute it from a byte-identical copy; the SHA-1 the
origin's community publishes where that is all there is). A data set lands in ``DIR/NAME/`` with the layout of the
shared data folder the benchmarks read, so ``RNNKIT_DATA_DIR=DIR python bench/...`` works on what was fetched.

Each file is stored by one rule:

* ``keep``: as downloaded;
* ``gzip``: gzip-compressed after verifying (the checksum is of the origin's uncompressed bytes);
* ``extract``: an archive; the regular-file members matching ``members`` are unpacked (``strip`` leading path
  parts dropped), and ``tree_sha256`` (when given) checks what was unpacked: the SHA-256 of the sorted lines
  ``"<path> <sha256 of the file>\\n"``. Archives GitHub builds on request carry no stable checksum of their own,
  so for them the unpacked files are what is verified.

Nothing is half-written: downloads go to ``*.part`` (continued with HTTP Range after an interruption), archives
unpack into a temporary folder, and a file or folder is renamed into place only once verified. A finished data
set holds ``.rnnkit-dataset.json``; ``get`` returns at once when it is there and matches the registry.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import hashlib
import json
import os
import shutil
import sys
import tarfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from ..train.atomic import atomic_save_file, atomic_write_json, temporary_path
from .download import ALGORITHMS, download, file_digest

__all__ = ["Dataset", "RemoteFile", "data_dir", "get", "list_datasets", "registry"]

ENV_DIR = "RNNKIT_DATA_DIR"
ENV_REGISTRY = "RNNKIT_DATASETS_REGISTRY"  # a JSON file in the registry's format: mirrors, extra data sets
MARKER = ".rnnkit-dataset.json"
STORES = ("keep", "gzip", "extract")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: where it comes from, how it is checked and how it is stored."""

    path: str  # where it lands inside the data set's folder (a folder for ``extract``)
    url: str
    algorithm: str | None  # of the downloaded bytes; None only for an archive checked by tree_sha256
    checksum: str | None
    size: int | None = None
    store: str = "keep"
    members: tuple[str, ...] = ()
    strip: int = 0
    tree_sha256: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Dataset:
    """A registered data set (see ``rnnkit data list``)."""

    name: str
    title: str
    licence: str
    origin: str
    example: str  # a command to try once it is there; ``{dir}`` stands for its folder
    files: tuple[RemoteFile, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int | None:
        """Bytes to download, when every file's size is known."""
        sizes = [item.size for item in self.files]
        return None if None in sizes else sum(sizes)  # type: ignore[arg-type]


def _parse_file(entry: dict, base_url: str, where: str) -> RemoteFile:
    path = entry.get("path")
    if not isinstance(path, str) or not path or PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
        raise ValueError(f"{where}: 'path' must be a relative path inside the data set's folder, got {path!r}")
    store = entry.get("store", "keep")
    if store not in STORES:
        raise ValueError(f"{where}: 'store' must be one of {', '.join(STORES)}, got {store!r}")
    known = [name for name in ALGORITHMS if name in entry]
    tree = entry.get("tree_sha256")
    if not known and not (store == "extract" and tree):
        raise ValueError(f"{where}: no checksum ({', '.join(ALGORITHMS)}; or tree_sha256 for an archive)")
    remote = entry.get("remote", path)
    url = remote if "://" in remote else f"{base_url.rstrip('/')}/{remote}"
    return RemoteFile(path=path, url=url, algorithm=known[0] if known else None,
                      checksum=entry[known[0]] if known else None, size=entry.get("size"), store=store,
                      members=tuple(entry.get("members", ())), strip=int(entry.get("strip", 0)), tree_sha256=tree,
                      note=entry.get("note", ""))


def _parse_registry(document: dict, source: str) -> dict[str, Dataset]:
    if not isinstance(document, dict) or document.get("format") != "rnnkit-datasets":
        raise ValueError(f"{source}: not an rnnkit data-set registry (expected \"format\": \"rnnkit-datasets\")")
    datasets = {}
    for index, entry in enumerate(document.get("datasets", [])):
        where = f"{source}: datasets[{index}]"
        missing = [key for key in ("name", "title", "licence", "files") if key not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        files = tuple(_parse_file(item, entry.get("base_url", ""), f"{where}.files[{number}]")
                      for number, item in enumerate(entry["files"]))
        datasets[entry["name"]] = Dataset(name=entry["name"], title=entry["title"], licence=entry["licence"],
                                          origin=entry.get("origin", ""), example=entry.get("example", ""),
                                          files=files)
    return datasets


def registry() -> dict[str, Dataset]:
    """Every known data set by name: the built-in registry, then ``$RNNKIT_DATASETS_REGISTRY``'s entries over it.

    Raises:
        FileNotFoundError: If ``$RNNKIT_DATASETS_REGISTRY`` names no file.
        ValueError: If a registry is malformed (one line naming the file and entry).
    """
    text = resources.files(__package__).joinpath("datasets.json").read_text(encoding="utf-8")
    datasets = _parse_registry(json.loads(text), "rnnkit/data/datasets.json")
    extra = os.environ.get(ENV_REGISTRY)
    if extra:
        path = Path(extra)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such registry file (${ENV_REGISTRY})")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON: {error}") from None
        datasets.update(_parse_registry(document, str(path)))
    return datasets


def list_datasets() -> list[Dataset]:
    """The registered data sets, by name."""
    return sorted(registry().values(), key=lambda dataset: dataset.name)


def data_dir() -> Path:
    """Where data sets are kept: ``$RNNKIT_DATA_DIR``, else the user's cache folder (``~/.cache/rnnkit/data``,
    ``$XDG_CACHE_HOME/rnnkit/data``, ``~/Library/Caches/rnnkit/data`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rnnkit" / "data"


def _tree_digest(folder: Path, paths: list[str]) -> str:
    lines = "".join(f"{path} {file_digest(folder / path, 'sha256')}\n" for path in sorted(paths))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _member_path(name: str, item: RemoteFile) -> str | None:
    """Where an archive member lands (relative to the data set's folder), or None when it is not wanted."""
    if not any(fnmatch.fnmatchcase(name, pattern) for pattern in item.members):
        return None
    parts = PurePosixPath(name).parts[item.strip:]
    if not parts or ".." in parts or PurePosixPath(name).is_absolute():
        return None
    return PurePosixPath(*parts).as_posix()


def _extract(archive: Path, item: RemoteFile, folder: Path) -> None:
    """Unpack the wanted regular files of ``archive`` into a temporary folder, verify them, move them into place."""
    staging = temporary_path(folder / item.path)
    staging.mkdir()
    try:
        written = []
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                relative = _member_path(member.name, item) if member.isfile() else None
                if relative is None:  # links, devices, folders and unwanted files are never written
                    continue
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "wb") as sink:  # type: ignore[union-attr]
                    shutil.copyfileobj(source, sink)
                written.append(relative)
        if not written:
            raise ValueError(f"{item.url}: no member of the archive matches {', '.join(item.members)}")
        if item.tree_sha256 is not None:
            actual = _tree_digest(staging, written)
            if actual != item.tree_sha256:
                raise ValueError(f"{item.url}: the unpacked files do not match (tree SHA-256 expected "
                                 f"{item.tree_sha256}, got {actual}); nothing was kept")
        prefix = PurePosixPath(item.path).parts
        top = staging.joinpath(*prefix) if all(PurePosixPath(w).parts[:len(prefix)] == prefix for w in written) \
            else staging
        target = folder / item.path
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(top, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)  # unpacked, or refused: the archive is kept in neither case


def _place(item: RemoteFile, folder: Path, progress: bool, label: str) -> None:
    """Download one file of a data set, verify it and store it by its rule."""
    target = folder / item.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = download(item.url, target, algorithm=item.algorithm, expected=item.checksum, size=item.size,
                       label=label, progress=progress)
    if item.store == "extract":
        _extract(partial, item, folder)
    elif item.store == "gzip":
        def write(temporary: Path) -> None:
            with open(partial, "rb") as source, gzip.GzipFile(temporary, "wb", mtime=0) as sink:
                shutil.copyfileobj(source, sink)

        atomic_save_file(target, write)
        partial.unlink()
    else:
        os.replace(partial, target)


def _already_placed(item: RemoteFile, folder: Path) -> bool:
    """True when ``item`` is in place and still matches its checksum (an unpacked folder: it exists)."""
    target = folder / item.path
    if item.store == "extract" or not target.is_file() or item.algorithm is None:
        return item.store == "extract" and target.is_dir()
    if item.store == "gzip":
        digest = hashlib.new(item.algorithm)
        try:
            with gzip.open(target, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
        except (OSError, EOFError):
            return False
        return digest.hexdigest() == item.checksum
    return file_digest(target, item.algorithm) == item.checksum


def _marker(dataset: Dataset) -> dict:
    return {"name": dataset.name, "files": [[item.path, item.url, item.checksum, item.tree_sha256]
                                            for item in dataset.files]}


def is_ready(dataset: Dataset, folder: Path) -> bool:
    """True when ``folder`` holds ``dataset`` as fetched and verified by :func:`get` (its marker matches)."""
    marker = folder / MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == _marker(dataset) and all((folder / item.path).exists() for item in dataset.files)


def get(name: str, to: str | os.PathLike[str] | None = None, *, progress: bool = True,
        force: bool = False) -> Path:
    """Download, verify and unpack a registered data set (once: later calls return at once).

    Args:
        name: A name of ``rnnkit data list`` (e.g. ``"tinyshakespeare"``).
        to: The parent folder; the data set lands in ``to/name``. Default :func:`data_dir`.
        progress: Draw a progress bar per file on stderr.
        force: Fetch again even when the folder is complete.

    Returns:
        The data set's folder.

    Raises:
        ValueError: Unknown name (the message lists the known ones), a download that fails or a checksum that
            does not match (one line; nothing unverified is left under the target name).
    """
    datasets = registry()
    if name not in datasets:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(sorted(datasets))}")
    dataset = datasets[name]
    folder = Path(to).expanduser() if to is not None else data_dir()
    folder = folder / name
    if not force and is_ready(dataset, folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (folder / MARKER).unlink()  # incomplete from here until every file is verified again
    for number, item in enumerate(dataset.files, start=1):
        if not force and _already_placed(item, folder):
            continue  # a file is renamed into place only once verified: an interrupted get resumes here
        _place(item, folder, progress, f"{name} {number}/{len(dataset.files)}")
    atomic_write_json(folder / MARKER, _marker(dataset))
    return folder
