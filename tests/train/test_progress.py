"""Progress: the plain log line's format, quiet silence, the tqdm bar, running-mean loss, perplexity overflow."""

from __future__ import annotations

import io
import re

import pytest

from rnnkit.train import progress as progress_module
from rnnkit.train.progress import Progress, format_duration, format_perplexity

PLAIN_LINE = re.compile(
    r"^epoch 2/10 step (\d+)/1000 loss (\d+\.\d{3}) ppl (\d+\.\d{2}) tok/s (\d+) lr (\d\.\de[-+]\d\d)"
    r" eta \d+:\d\d:\d\d$"
)


class FakeClock:
    """A stand-in for time.perf_counter that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(progress_module.time, "perf_counter", fake)
    return fake


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_choose_mode() -> None:
    assert Progress.choose_mode(True, TtyStream()) == "quiet"
    assert Progress.choose_mode(False, TtyStream()) == "bar"
    assert Progress.choose_mode(False, io.StringIO()) == "plain"


def test_plain_lines_every_log_every_steps_and_at_the_end(clock: FakeClock) -> None:
    stream = io.StringIO()
    with Progress(1000, "epoch 2/10", "plain", stream=stream, log_every=300) as progress:
        for _ in range(700):
            clock.now += 0.01
            progress.update(1, tokens=100, loss=1.234, lr=1e-3)
    lines = stream.getvalue().splitlines()
    assert [PLAIN_LINE.match(line).group(1) for line in lines] == ["300", "600", "700"]
    assert lines[0] == "epoch 2/10 step 300/1000 loss 1.234 ppl 3.43 tok/s 10000 lr 1.0e-03 eta 0:00:07"


def test_plain_line_without_total_has_no_eta() -> None:
    stream = io.StringIO()
    with Progress(None, "valid", "plain", stream=stream, log_every=10, show_perplexity=False) as progress:
        progress.update(3, loss=0.5)
    assert stream.getvalue() == "valid step 3 loss 0.500\n"


def test_plain_line_at_multiples_crossed_by_multi_step_updates() -> None:
    stream = io.StringIO()
    with Progress(20, "e", "plain", stream=stream, log_every=4) as progress:
        for steps in (3, 3, 3, 1):
            progress.update(steps)
    steps = [line.split()[2] for line in stream.getvalue().splitlines()]
    assert steps == ["6/20", "9/20", "10/20"]  # 6 crosses 4, 9 crosses 8, 10 is the end
    stream = io.StringIO()
    with Progress(20, "e", "plain", stream=stream, log_every=4) as progress:
        progress.update(8)
    assert len(stream.getvalue().splitlines()) == 1  # the end line at step 8 is not repeated


def test_loss_is_the_running_mean_since_the_last_line() -> None:
    stream = io.StringIO()
    with Progress(4, "e", "plain", stream=stream, log_every=2, show_perplexity=False) as progress:
        for loss in (1.0, 2.0, 3.0, 7.0):
            progress.update(1, loss=loss)
    losses = [line.split()[4] for line in stream.getvalue().splitlines()]
    assert losses == ["1.500", "5.000"]


def test_perplexity_overflow_shows_inf() -> None:
    assert format_perplexity(701.0) == "inf"
    assert format_perplexity(700.0) != "inf"
    assert format_perplexity(0.0) == "1.00"
    stream = io.StringIO()
    with Progress(1, "e", "plain", stream=stream) as progress:
        progress.update(1, loss=1e6)
    assert "loss 1000000.000 ppl inf" in stream.getvalue()


def test_format_duration() -> None:
    assert format_duration(83) == "0:01:23"
    assert format_duration(3723.4) == "1:02:03"
    assert format_duration(-5) == "0:00:00"


def test_quiet_prints_nothing() -> None:
    stream = io.StringIO()
    with Progress(10, "e", "quiet", stream=stream, log_every=1) as progress:
        for _ in range(10):
            progress.update(1, tokens=5, loss=1.0, lr=0.1)
        progress.message("hello")
    assert stream.getvalue() == ""


def test_bar_writes_to_the_stream_with_a_postfix() -> None:
    stream = io.StringIO()
    with Progress(5, "epoch 1/1", "bar", stream=stream) as progress:
        for _ in range(5):
            progress.update(1, tokens=10, loss=2.0, lr=0.01)
        progress.message("a note")
    text = stream.getvalue()
    assert "epoch 1/1" in text and "5/5" in text
    assert "loss=2.000, ppl=7.39" in text and "lr=1.0e-02" in text and "tok/s=" in text
    assert "a note\n" in text


def test_message_in_plain_mode_is_a_line() -> None:
    stream = io.StringIO()
    Progress(1, "e", "plain", stream=stream).message("saved checkpoint")
    assert stream.getvalue() == "saved checkpoint\n"


def test_close_is_idempotent_and_update_after_close_fails() -> None:
    progress = Progress(2, "e", "plain", stream=io.StringIO())
    progress.close()
    progress.close()
    with pytest.raises(RuntimeError):
        progress.update(1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"mode": "fancy"}, "fancy"), ({"total_steps": -1}, "total_steps=-1"), ({"log_every": 0}, "log_every=0")],
)
def test_bad_arguments(arguments: dict, message: str) -> None:
    options = {"total_steps": 1, "description": "e", "mode": "plain", "stream": io.StringIO(), **arguments}
    with pytest.raises(ValueError, match=message):
        Progress(**options)


@pytest.mark.parametrize("steps, expected", [(20, []), (700, ["300", "600", "700"])])
def test_a_short_epoch_followed_by_a_summary_writes_no_step_line(clock: FakeClock, steps: int,
                                                                 expected: list[str]) -> None:
    stream = io.StringIO()
    with Progress(1000, "epoch 2/10", "plain", stream=stream, log_every=300, summary_follows=True) as progress:
        for _ in range(steps):
            clock.now += 0.01
            progress.update(1, tokens=100, loss=1.234, lr=1e-3)
    assert [PLAIN_LINE.match(line).group(1) for line in stream.getvalue().splitlines()] == expected
