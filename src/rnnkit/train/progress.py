"""Training progress on stderr: a tqdm bar on a terminal, log lines in a file or pipe, or nothing.

Three modes, picked by :meth:`Progress.choose_mode`:

- ``"bar"``: a tqdm bar with a postfix ``loss=1.234, ppl=3.43, tok/s=12345, pad=4%, lr=1.0e-03``; tqdm shows
  the ETA. ``pad`` (the share of padding in the batches so far) shows when the steps report their padded size.
- ``"plain"``: a line every ``log_every`` steps and one at the end, so logs stay readable when redirected::

      epoch 2/10 step 300/1000 loss 1.234 ppl 3.43 tok/s 12345 pad 4% lr 1.0e-03 eta 0:01:23

- ``"quiet"``: nothing at all.

The loss shown is the mean of the losses given since the last display; tokens/s is measured over the whole
run of this object (one epoch in the trainer) with :func:`time.perf_counter`.
"""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

MODES = ("bar", "plain", "quiet")
MAX_LOSS_FOR_PERPLEXITY = 700.0  # exp(709.8) overflows a float64; above this the perplexity shows as "inf"


def format_perplexity(loss: float) -> str:
    """exp(loss) with two decimals, or ``"inf"`` when it would overflow (loss > 700)."""
    if math.isnan(loss):
        return "nan"
    if loss > MAX_LOSS_FOR_PERPLEXITY:
        return "inf"
    return f"{math.exp(loss):.2f}"


def format_duration(seconds: float) -> str:
    """Seconds as ``h:mm:ss``, as tqdm and ``datetime.timedelta`` write them."""
    whole = max(0, int(round(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Progress:
    """Shows how a loop of training steps goes: a bar, log lines, or nothing.

    Args:
        total_steps: steps expected (for the bar and the ETA), or None when unknown.
        description: the prefix of the bar or of each line, such as ``"epoch 2/10"``.
        mode: ``"bar"``, ``"plain"`` or ``"quiet"``; see :meth:`choose_mode`.
        stream: where to write; None means ``sys.stderr`` at the time of the call.
        log_every: in plain mode, write a line every this many steps (and one at the end).
        show_perplexity: also show exp(loss) (language models).
        summary_follows: the caller writes its own line after :meth:`close` (the trainer's epoch line); in plain
            mode an epoch that wrote no line yet then ends without a step line of its own.

    Example:
        >>> with Progress(100, "epoch 1/3", Progress.choose_mode(False, sys.stderr)) as progress:
        ...     for batch in batches:
        ...         progress.update(1, tokens=batch_tokens, loss=loss, lr=lr)
    """

    def __init__(self, total_steps: int | None, description: str, mode: str, stream: TextIO | None = None,
                 log_every: int = 50, show_perplexity: bool = True, summary_follows: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: expected one of {', '.join(MODES)}")
        if total_steps is not None and total_steps < 0:
            raise ValueError(f"total_steps={total_steps}: expected a count >= 0 or None")
        if log_every < 1:
            raise ValueError(f"log_every={log_every}: expected an integer >= 1")
        self.total_steps = total_steps
        self.description = description
        self.mode = mode
        self.stream = sys.stderr if stream is None else stream
        self.log_every = log_every
        self.show_perplexity = show_perplexity
        self.summary_follows = summary_follows
        self.steps = 0
        self.tokens = 0
        self.padded_tokens = 0  # batch slots, padding included (0: not reported)
        self.lr: float | None = None
        self.shown_loss: float | None = None  # the running mean most recently displayed
        self._loss_sum = 0.0
        self._loss_count = 0
        self._started = time.perf_counter()
        self._last_display = self._started
        self._logged_step = 0  # plain mode: the step of the last line written
        self._closed = False
        self._bar: tqdm | None = None
        if mode == "bar":
            self._bar = tqdm(total=total_steps, desc=description, file=self.stream, unit="step",
                             dynamic_ncols=True, leave=True)

    @staticmethod
    def choose_mode(quiet: bool, stream: TextIO | None = None) -> str:
        """The mode for a stream: ``"quiet"`` when asked, ``"bar"`` on a terminal, else ``"plain"``."""
        if quiet:
            return "quiet"
        stream = sys.stderr if stream is None else stream
        isatty = getattr(stream, "isatty", None)
        try:
            return "bar" if isatty is not None and isatty() else "plain"
        except ValueError:  # a closed stream
            return "plain"

    @property
    def elapsed(self) -> float:
        """Seconds since this object was made."""
        return time.perf_counter() - self._started

    @property
    def tokens_per_second(self) -> float:
        """Tokens given to :meth:`update` so far, per second of wall time since the start."""
        elapsed = self.elapsed
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def update(self, steps: int = 1, tokens: int = 0, loss: float | None = None, lr: float | None = None,
               padded_tokens: int = 0) -> None:
        """Record ``steps`` finished steps that read ``tokens`` tokens, with their loss and learning rate;
        ``padded_tokens``: their batches' size with padding (rows x longest), for the padding share."""
        if self._closed:
            raise RuntimeError("Progress.update after close()")
        self.steps += steps
        self.tokens += tokens
        self.padded_tokens += padded_tokens
        if loss is not None:
            self._loss_sum += float(loss)
            self._loss_count += 1
        if lr is not None:
            self.lr = float(lr)
        if self._bar is not None:
            now = time.perf_counter()
            if now - self._last_display >= self._bar.mininterval:
                self._bar.set_postfix_str(self._postfix(), refresh=False)
                self._last_display = now
            self._bar.update(steps)
        elif self.mode == "plain" and self.steps // self.log_every > self._logged_step // self.log_every:
            self._write_line()

    def message(self, text: str) -> None:
        """Write one line without breaking the bar (nothing in quiet mode)."""
        if self.mode == "bar":
            tqdm.write(text, file=self.stream)
        elif self.mode == "plain":
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Show the final numbers and finish the bar; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            if self._loss_count or self.steps:
                self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.close()
        elif self.mode == "plain" and self.steps > self._logged_step:
            # a short epoch (no line yet) whose caller writes its own summary line next: one line, not two
            if not (self.summary_follows and self._logged_step == 0):
                self._write_line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _take_loss(self) -> float | None:
        """The mean loss since the last display (or the last one shown, when none came since)."""
        if self._loss_count:
            self.shown_loss = self._loss_sum / self._loss_count
            self._loss_sum, self._loss_count = 0.0, 0
        return self.shown_loss

    def _fields(self) -> list[tuple[str, str]]:
        """(name, text) pairs for the numbers known so far, in display order."""
        fields = []
        loss = self._take_loss()
        if loss is not None:
            fields.append(("loss", f"{loss:.3f}"))
            if self.show_perplexity:
                fields.append(("ppl", format_perplexity(loss)))
        if self.tokens:
            fields.append(("tok/s", f"{self.tokens_per_second:.0f}"))
        if self.padded_tokens:
            fields.append(("pad", f"{1 - self.tokens / self.padded_tokens:.0%}"))
        if self.lr is not None:
            fields.append(("lr", f"{self.lr:.1e}"))
        return fields

    def _postfix(self) -> str:
        return ", ".join(f"{name}={text}" for name, text in self._fields())

    def _write_line(self) -> None:
        step = f"step {self.steps}" if self.total_steps is None else f"step {self.steps}/{self.total_steps}"
        parts = [self.description, step] if self.description else [step]
        parts += [f"{name} {text}" for name, text in self._fields()]
        if self.total_steps is not None and self.steps > 0:
            remaining = self.elapsed / self.steps * max(0, self.total_steps - self.steps)
            parts.append(f"eta {format_duration(remaining)}")
        self.stream.write(" ".join(parts) + "\n")
        self.stream.flush()
        self._logged_step = self.steps


def _number(value: float) -> str:
    """A metric for a person: four significant digits, no exponent for everyday sizes."""
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def epoch_line(record: dict, monitor: str, improved: bool, best: float | None, best_epoch: int | None,
               epochs: int | None) -> str:
    """The line a person reads at the end of an epoch: the training loss, the metric that chooses the best epoch
    and whether it improved::

        epoch 3/10: train_loss 0.5231 | valid_error 0.1881 * best so far
        epoch 4/10: train_loss 0.5012 | valid_error 0.2014 (best 0.1881 at epoch 3)

    Args:
        record: The epoch's metrics (``epoch``, ``train_loss``, the validation metrics, ...).
        monitor: The metric that chooses the best epoch (lower is better).
        improved: Whether this epoch set a new best.
        best, best_epoch: The best value so far and its epoch (this epoch's when ``improved``).
        epochs: The planned number of epochs, or None when a time budget ends the run.
    """
    head = f"epoch {record.get('epoch')}" + (f"/{epochs}" if epochs else "")
    parts = [f"train_loss {_number(record['train_loss'])}"] if "train_loss" in record else []
    value = record.get(monitor)
    if value is None or monitor == "train_loss":
        text = f"{head}: {' '.join(parts)}"
    else:
        verdict = "* best so far" if improved else (
            f"(best {_number(best)} at epoch {best_epoch})" if best is not None else "")
        text = f"{head}: {' '.join(parts)} | {monitor} {_number(value)} {verdict}".rstrip()
    return text
