"""Running the ``rnnkit`` command in-process from tests, and the check every bad-input test makes."""

from __future__ import annotations

import contextlib
import io

from rnnkit.cli import main


def invoke(*args: object) -> tuple[int, str, str]:
    """``rnnkit ARGS`` in-process: (exit code, stdout, stderr); argparse's SystemExit becomes its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def assert_user_error(result: tuple[int, str, str], *needles: str) -> str:
    """Exit code 2, nothing on stdout, exactly one stderr line ``rnnkit: error: ...`` holding every needle."""
    code, out, err = result
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
