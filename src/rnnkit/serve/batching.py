"""Micro-batching: concurrent requests to one verb of one run are gathered and answered by one predictor call.

A queue per run and verb. Its worker takes the first waiting request, then gathers more until the batch holds
``max_batch`` inputs or ``max_wait`` seconds have passed since the first, groups them by options (requests with
different options cannot share a call) and answers each group with one predictor call. Model calls run in the run's
own worker thread, one at a time: the event loop keeps accepting and answering while a model works.

When a shared call fails with a user error (one request's bad input), each request of the group is answered alone,
so the error reaches only the request that caused it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("rnnkit.serve")
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, KeyError, IndexError)


class InputError(Exception):
    """A predictor refused a request's input: answered with a 4xx naming the input field."""


@dataclass
class Pending:
    """One waiting request: its call, its grouping key, its size in inputs, and the future its answer goes to."""

    call: Any
    key: str
    size: int
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Gathers the requests to one verb of one run and answers them in batches.

    Args:
        answer: ``answer(calls) -> outputs per call``: one predictor call for a group of calls.
        executor: Where model calls run (the run's single worker thread).
        max_batch: Most inputs answered by one call (1: no batching).
        max_wait: Seconds to wait for more requests after the first of a batch (0: only those already waiting).
    """

    def __init__(self, answer: Callable[[Sequence[Any]], list[Any]], executor: Executor, max_batch: int,
                 max_wait: float) -> None:
        self.answer, self.executor, self.max_batch, self.max_wait = answer, executor, max_batch, max_wait
        self.queue: asyncio.Queue[Pending] | None = None
        self.worker: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.held: Pending | None = None  # taken from the queue but too large for the batch being gathered
        self.calls = 0  # predictor calls made (the tests check that batching batches)

    async def submit(self, call: Any, key: str, size: int) -> Any:
        """The outputs of ``call``, answered alone or with others of the same ``key``."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # the first request, or the app moved to another event loop (a test client's)
            self.loop, self.queue, self.held = loop, asyncio.Queue(), None
            self.worker = None
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self._work())
        future = loop.create_future()
        await self.queue.put(Pending(call, key, size, future))
        return await future

    async def _next(self, timeout: float | None) -> Pending | None:
        assert self.queue is not None
        if self.held is not None:
            pending, self.held = self.held, None
            return pending
        if timeout is None:
            return await self.queue.get()
        if timeout <= 0:
            return self.queue.get_nowait() if not self.queue.empty() else None
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def _gather(self) -> list[Pending]:
        loop = asyncio.get_running_loop()
        first = await self._next(None)
        batch, size = [first], first.size
        deadline = loop.time() + self.max_wait
        while size < self.max_batch:
            pending = await self._next(deadline - loop.time())
            if pending is None:
                break
            if size + pending.size > self.max_batch:
                self.held = pending  # first of the next batch
                break
            batch.append(pending)
            size += pending.size
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            groups: dict[str, list[Pending]] = {}
            for pending in batch:
                groups.setdefault(pending.key, []).append(pending)
            for group in groups.values():
                await self._answer(group)

    async def _answer(self, group: list[Pending]) -> None:
        loop = asyncio.get_running_loop()
        live = [pending for pending in group if not pending.future.done()]  # a client gone: its future cancelled
        if not live:
            return
        try:
            self.calls += 1
            outputs = await loop.run_in_executor(self.executor, self.answer, [pending.call for pending in live])
        except USER_ERRORS as error:
            if len(live) > 1:  # find whose input it was: each alone
                for pending in live:
                    await self._answer([pending])
                return
            _settle(live[0], InputError(_one_line(error)))
            return
        except Exception as error:  # noqa: BLE001 - reported to its request as a 500, and the server goes on
            LOG.exception("rnnkit serve: a predictor call failed")
            for pending in live:
                _settle(pending, error)
            return
        for pending, output in zip(live, outputs, strict=True):
            if not pending.future.done():
                pending.future.set_result(output)


def _settle(pending: Pending, error: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)


def _one_line(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0]


__all__ = ["InputError", "MicroBatcher"]
