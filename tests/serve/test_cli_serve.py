"""``rnnkit serve``: the runs and settings reach the app and uvicorn; a name clash, a bad flag are one-line errors."""

from __future__ import annotations

import shutil

import pytest
import uvicorn
from fastapi.testclient import TestClient

from .conftest import RUNS


@pytest.fixture
def served(monkeypatch):
    """What ``uvicorn.run`` was given, instead of serving."""
    given = {}

    def run(app, host, port, log_level):
        given.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", run)
    return given


def test_serve_loads_every_run_on_loopback_with_the_token_of_the_environment(cli, served, monkeypatch):
    monkeypatch.setenv("RNNKIT_SERVE_TOKEN", "from-env")
    code, _, err = cli("serve", RUNS / "classify", RUNS / "lm", "--port", 8123, "--max-batch", 4,
                       "--max-text-chars", 50)
    assert code == 0, err
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    with TestClient(served["app"]) as client:
        assert client.get("/healthz").json()["runs"] == ["classify", "lm"]
        assert client.get("/v1/runs").status_code == 401
        headers = {"Authorization": "Bearer from-env"}
        assert client.post("/v1/lm/score", json={"inputs": ["the cat"]}, headers=headers).status_code == 200
        too_long = client.post("/v1/lm/score", json={"inputs": ["x" * 51]}, headers=headers)
        assert too_long.status_code == 422 and too_long.json()["field"] == "inputs[0]"


def test_a_token_flag_wins_and_an_open_address_without_one_is_warned_of(cli, served, monkeypatch):
    monkeypatch.delenv("RNNKIT_SERVE_TOKEN", raising=False)
    code, _, err = cli("serve", RUNS / "classify", "--host", "0.0.0.0")
    assert code == 0 and "without a token" in err
    code, _, err = cli("serve", RUNS / "classify", "--host", "0.0.0.0", "--token", "flag")
    assert code == 0 and "without a token" not in err
    with TestClient(served["app"]) as client:
        assert client.get("/v1/runs", headers={"Authorization": "Bearer flag"}).status_code == 200


def test_two_runs_of_one_name_and_bad_flags_are_one_line_errors(cli, served, tmp_path):
    shutil.copytree(RUNS / "classify", tmp_path / "classify")
    code, _, err = cli("serve", RUNS / "classify", tmp_path / "classify")
    assert code == 2 and "two runs named 'classify'" in err and err.count("\n") == 1
    for flags, words in ((["--port", "0"], "--port"), (["--max-batch", "0"], "--max-batch"),
                         (["--max-body-bytes", "0"], "--max-body-bytes"), (["--threads", "0"], "--threads")):
        code, _, err = cli("serve", RUNS / "classify", *flags)
        assert code == 2 and words in err, err
    assert not served
