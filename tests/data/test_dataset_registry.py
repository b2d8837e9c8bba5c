"""The built-in registry: every README / benchmark data set is there, pinned, and its checksums match the shared
offline copies (which SOURCE.md says are the origin's bytes, or gzip of them) where those are present."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from pathlib import Path

import pytest

from rnnkit.data import datasets

SHARED = Path(os.environ.get("RNNKIT_DATA_DIR", "/nonexistent-rnnkit-data"))


def test_registry_covers_the_issue_list_with_pinned_urls():
    registry = datasets.registry()
    assert {"tinyshakespeare", "ptb", "rt_polarity", "sst", "imdb", "bbc_sport", "ud_english_ewt", "multi30k",
            "tatoeba_pes_eng", "fsdd", "deepbind_encode_chipseq", "classic_timeseries",
            "sp500_stocks_5yr"} <= set(registry)
    for dataset in registry.values():
        assert dataset.licence and dataset.example
        for item in dataset.files:
            assert item.url.startswith("https://"), item.url
            if "github" in item.url:  # pinned to a commit, never a branch
                assert re.search(r"/[0-9a-f]{40}[/.]", item.url), item.url
            if item.algorithm == "sha256":
                assert re.fullmatch(r"[0-9a-f]{64}", item.checksum or "")
            else:
                assert item.store == "extract" and (item.tree_sha256 or item.algorithm)


@pytest.mark.skipif(not SHARED.is_dir(), reason="RNNKIT_DATA_DIR (the shared offline copies) is not set")
def test_checksums_match_the_shared_copies():
    checked = 0
    for dataset in datasets.list_datasets():
        for item in dataset.files:
            local = SHARED / dataset.name / item.path
            if item.algorithm != "sha256" or not local.is_file():
                continue
            data = local.read_bytes()
            if item.store == "gzip":
                data = gzip.decompress(data)
            assert hashlib.sha256(data).hexdigest() == item.checksum, f"{dataset.name}: {item.path}"
            if item.size is not None:
                assert len(data) == item.size
            checked += 1
    assert checked >= 70
