"""rnnkit data get / rk.datasets: download, verify, unpack, cache, resume; against a loopback server only."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from rnnkit.data import datasets

from .http_fixture import FixtureServer, sha256, tar_gz, tree_sha256, write_registry

TEXT = b"first line\nsecond line\n" * 200
TABLE = b"date,value\n2020-01,1\n2020-02,2\n"
RECORDINGS = {"recordings/0_a_0.wav": b"RIFF-zero", "recordings/1_a_0.wav": b"RIFF-one"}
ARCHIVE = tar_gz({"repo-abc/recordings/0_a_0.wav": b"RIFF-zero", "repo-abc/recordings/1_a_0.wav": b"RIFF-one",
                  "repo-abc/README.md": b"not wanted", "repo-abc/recordings/../../escape.wav": b"never"},
                 symlinks={"repo-abc/recordings/link.wav": "/etc/passwd"})


def entry(name: str, files: list[dict], base_url: str) -> dict:
    return {"name": name, "title": f"{name} fixture", "licence": "CC0 (test fixture)", "origin": "loopback",
            "example": "rnnkit train lm --data {dir}/text.txt", "base_url": base_url, "files": files}


@pytest.fixture
def server():
    with FixtureServer({"/text.txt": TEXT, "/table.csv": TABLE, "/archive.tar.gz": ARCHIVE}) as running:
        yield running


@pytest.fixture
def registry_file(server, tmp_path, monkeypatch):
    path = write_registry(tmp_path / "registry.json", [
        entry("small", [{"path": "text.txt", "sha256": sha256(TEXT), "size": len(TEXT)},
                        {"path": "sub/table.csv.gz", "remote": "table.csv", "sha256": sha256(TABLE),
                         "store": "gzip"}], server.url()),
        entry("sounds", [{"path": "recordings", "remote": "archive.tar.gz", "store": "extract",
                          "members": ["*/recordings/*"], "strip": 1, "tree_sha256": tree_sha256(RECORDINGS)}],
              server.url()),
        entry("broken", [{"path": "text.txt", "sha256": "0" * 64}], server.url()),
    ])
    monkeypatch.setenv("RNNKIT_DATASETS_REGISTRY", str(path))
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(tmp_path / "cache"))
    return path


def test_get_verifies_stores_and_caches(server, registry_file, tmp_path):
    folder = datasets.get("small", progress=False)
    assert folder == tmp_path / "cache" / "small"
    assert (folder / "text.txt").read_bytes() == TEXT
    assert gzip.decompress((folder / "sub" / "table.csv.gz").read_bytes()) == TABLE  # store: gzip
    assert not list(folder.rglob("*.part"))
    assert datasets.is_ready(datasets.registry()["small"], folder)
    asked = len(server.requests)
    assert datasets.get("small", progress=False) == folder  # cached: no request at all
    assert len(server.requests) == asked
    (folder / "text.txt").write_bytes(b"changed by hand")  # a damaged file is fetched again, the other is kept
    (folder / datasets.MARKER).unlink()
    datasets.get("small", progress=False)
    assert (folder / "text.txt").read_bytes() == TEXT
    assert [path for path, _ in server.requests[asked:]] == ["/text.txt"]


def test_extract_keeps_wanted_regular_files_only_and_checks_them(server, registry_file, tmp_path):
    folder = datasets.get("sounds", progress=False)
    unpacked = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert unpacked == [datasets.MARKER, *sorted(RECORDINGS)]  # no README, no symlink, no escape
    assert not (tmp_path / "escape.wav").exists() and not (tmp_path / "cache" / "escape.wav").exists()
    assert not list(folder.glob("*.part")) and not list(folder.glob(".recordings.tmp-*"))


def test_bad_unpacked_tree_is_refused_and_nothing_kept(server, registry_file, tmp_path, monkeypatch):
    document = json.loads(registry_file.read_text())
    document["datasets"][1]["files"][0]["tree_sha256"] = "f" * 64
    registry_file.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"archive\.tar\.gz: the unpacked files do not match"):
        datasets.get("sounds", progress=False)
    leftovers = [p.name for p in (tmp_path / "cache" / "sounds").iterdir()]
    assert leftovers == []


def test_bad_checksum_is_one_line_and_nothing_half_written(server, registry_file, tmp_path):
    with pytest.raises(ValueError) as caught:
        datasets.get("broken", progress=False)
    message = str(caught.value)
    assert "\n" not in message and "SHA256 mismatch" in message and "/text.txt" in message
    folder = tmp_path / "cache" / "broken"
    assert list(folder.iterdir()) == []  # neither text.txt nor text.txt.part nor the marker


def test_interrupted_download_resumes_with_range(server, registry_file, tmp_path):
    server.cut["/text.txt"] = 1000  # the connection drops after 1000 bytes
    with pytest.raises(ValueError, match="interrupted after 1000 bytes"):
        datasets.get("small", progress=False)
    folder = tmp_path / "cache" / "small"
    assert (folder / "text.txt.part").stat().st_size == 1000 and not (folder / "text.txt").exists()
    datasets.get("small", progress=False)
    assert (folder / "text.txt").read_bytes() == TEXT
    assert ("/text.txt", "bytes=1000-") in server.requests


def test_server_ignoring_range_still_gives_the_right_file(server, registry_file, tmp_path):
    folder = tmp_path / "cache" / "small"
    folder.mkdir(parents=True)
    (folder / "text.txt.part").write_bytes(b"garbage that is not the start of the file")
    server.ignore_range = True  # answers 200 with the whole file: the part is replaced, not appended to
    datasets.get("small", progress=False)
    assert (folder / "text.txt").read_bytes() == TEXT


def test_get_to_another_folder_and_unknown_name(server, registry_file, tmp_path):
    folder = datasets.get("small", tmp_path / "elsewhere", progress=False)
    assert folder == tmp_path / "elsewhere" / "small" and (folder / "text.txt").is_file()
    with pytest.raises(ValueError, match=r"unknown data set 'nope'; expected one of: .*small"):
        datasets.get("nope")


def test_unreachable_server_is_one_line(tmp_path, monkeypatch):
    with FixtureServer({}) as stopped:
        url = stopped.url()
    path = write_registry(tmp_path / "r.json", [entry("gone", [{"path": "a.txt", "sha256": "0" * 64}], url)])
    monkeypatch.setenv("RNNKIT_DATASETS_REGISTRY", str(path))
    with pytest.raises(ValueError, match=r"a\.txt: cannot download"):
        datasets.get("gone", tmp_path / "cache", progress=False)


def test_cli_data_list_and_get(cli, server, registry_file, tmp_path):
    code, out, err = cli("data", "list")
    assert code == 0
    names = {json.loads(line)["name"]: json.loads(line) for line in out.splitlines()}
    assert {"small", "sounds", "tinyshakespeare", "ptb", "fsdd"} <= set(names)
    assert names["small"]["downloaded"] is False and names["small"]["bytes"] is None
    code, out, err = cli("data", "get", "small", "--to", tmp_path / "there")
    assert code == 0, err
    assert json.loads(out) == {"name": "small", "path": str(tmp_path / "there" / "small")}
    assert "licence: CC0 (test fixture)" in err
    assert f"try: rnnkit train lm --data {tmp_path}/there/small/text.txt" in err
    code, out, err = cli("data", "get", "broken", "--quiet")
    assert code == 2 and err.count("\n") == 1 and err.startswith("rnnkit: error: ")


def test_default_folder_is_a_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert datasets.data_dir() == tmp_path / "rnnkit" / "data"


def test_malformed_registry_entries_are_named(tmp_path, monkeypatch):
    path = write_registry(tmp_path / "r.json", [entry("x", [{"path": "../up.txt", "sha256": "0" * 64}], "http://h")])
    monkeypatch.setenv("RNNKIT_DATASETS_REGISTRY", str(path))
    with pytest.raises(ValueError, match=r"r\.json: datasets\[0\]\.files\[0\]: 'path' must be a relative path"):
        datasets.registry()
    path = write_registry(tmp_path / "r.json", [entry("x", [{"path": "a.txt"}], "http://h")])
    with pytest.raises(ValueError, match=r"files\[0\]: no checksum"):
        datasets.registry()
