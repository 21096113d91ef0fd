"""Calling module functions: plain functions in worker threads, coroutines on the event loop, both
under a deadline, with every failure turned into one domain error.

- A plain `def` runs in a worker thread, so a slow or CPU-heavy function never stalls the event
  loop (other requests, sockets, timers keep going). Its `nk` calls hop to the loop and block the
  worker until they are done (nk.py).
- An `async def` runs on the event loop and awaits `nk.aio` calls; it must not block.
- Each call gets `runtime.call_timeout_ms`. A coroutine that overruns is cancelled; a thread
  cannot be stopped, so the call fails at once and the thread's next `nk` call raises (its result
  is dropped when it finally returns).

Failures become `KizunaError` (kizuna.errors), which every transport already maps: a module's
`Error(message, code)` keeps its message and code (a code outside 1-16 becomes 13); a timeout is
code 4 (DEADLINE_EXCEEDED); anything else is logged with its traceback and reported to the client
as 13 "Internal Server Error" only.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kizuna.errors import Code, KizunaError
from kizuna.runtime.errors import Error, NkUnavailable, to_kizuna
from kizuna.runtime.registry import Function

if TYPE_CHECKING:
    from kizuna.metrics.node import NodeMetrics

log = logging.getLogger("kizuna.runtime")

INTERNAL_ERROR = "Internal Server Error"

# The deadline of the call running in this worker thread (monotonic seconds), read by `nk`.
_state = threading.local()


def current_deadline() -> float | None:
    return getattr(_state, "deadline", None)


class _Job:
    """One plain-function call handed to a worker thread; its outcome goes to `future`, a future
    of the event loop `loop` (set from the thread with call_soon_threadsafe, no
    concurrent.futures.Future and no chaining of two futures in between)."""

    __slots__ = ("args", "deadline", "fn", "future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, fn: Any,
                 args: tuple, deadline: float | None) -> None:
        self.loop = loop
        self.future = future
        self.fn = fn
        self.args = args
        self.deadline = deadline

    def run(self) -> None:
        future = self.future
        # The caller gave up (timed out or was cancelled) before a worker got to the call: it is
        # not run. The check reads the future's state from this thread: a call given up at that
        # very moment runs, and its outcome is dropped (_settle).
        if future.done():
            return
        _state.deadline = self.deadline
        try:
            outcome, failed = self.fn(*self.args), False
        except BaseException as exc:  # handed to the awaiting caller
            outcome, failed = exc, True
        finally:
            _state.deadline = None
        try:
            self.loop.call_soon_threadsafe(_settle, future, outcome, failed)
        except RuntimeError:  # the loop is closed: nobody awaits the call any more
            pass


def _settle(future: asyncio.Future, outcome: Any, failed: bool) -> None:
    if future.done():  # timed out or cancelled meanwhile
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class WorkerPool:
    """Daemon worker threads for plain functions, started on demand up to `max_workers`.

    Not concurrent.futures.ThreadPoolExecutor: its threads are joined at interpreter exit, so one
    module function stuck in a loop would keep the process from ever exiting after a shutdown.
    """

    def __init__(self, max_workers: int, name: str = "kizuna-runtime") -> None:
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    def start(self, job: _Job) -> None:
        """Run a call for the event loop (Invoker): its outcome is set on `job.future`."""
        if self._closed:
            raise RuntimeError("the runtime worker pool is closed")
        self._queue.put(job)
        with self._lock:
            # _idle = threads - calls queued or running: no thread is free when it is <= 0.
            if self._idle <= 0 and self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self._threads}",
                                 daemon=True).start()
            else:
                self._idle -= 1

    def _work(self) -> None:
        get, lock = self._queue.get, self._lock
        while True:
            job = get()
            if job is None:
                return
            job.run()
            del job
            with lock:
                self._idle += 1

    def close(self) -> None:
        self._closed = True
        with self._lock:
            n = self._threads
        for _ in range(n):
            self._queue.put(None)


class Invoker:
    def __init__(self, pool: WorkerPool, timeout: float,
                 metrics: NodeMetrics | None = None) -> None:
        self.pool = pool
        self.timeout = timeout
        self.metrics = metrics

    async def call(self, f: Function, *args: Any, timeout: float | None = None) -> Any:
        """Run `f(*args)`; its result, or KizunaError. With node metrics, each call is timed and
        its failures counted per function (kizuna/metrics/node.py)."""
        return await self._invoke(f, args, self.timeout if timeout is None else timeout, True)

    async def run(self, f: Function, *args: Any, timeout: float | None = None) -> Any:
        """Run `f(*args)` for a caller that reports failures itself (a match's handler, whose
        failure ends the match): an exception is raised as the function raised it, with its
        traceback; running out of time is KizunaError(DEADLINE_EXCEEDED). Timed and counted
        like `call`."""
        return await self._invoke(f, args, self.timeout if timeout is None else timeout, False)

    async def _invoke(self, f: Function, args: tuple, limit: float, report: bool) -> Any:
        """`f(*args)` under `limit` seconds: a coroutine on the loop, a plain function in a worker
        thread. `report` (call): failures become KizunaError, and unexpected ones are logged;
        otherwise (run) a failure is raised as the function raised it, and counted as internal
        unless it is the module's `Error`."""
        metrics = self.metrics
        clock = time.perf_counter() if metrics is not None else 0.0
        error: Code | None = None
        try:
            if f.is_async:
                async with asyncio.timeout(limit):
                    return await f.fn(*args)
            # A plain function: a worker thread runs it and sets the loop future; one timer of
            # the loop ends the wait at the deadline (asyncio.wait_for over wrap_future cost a
            # waiter future, a concurrent future with its lock and two chained callbacks).
            if limit <= 0:  # no time at all: not run (as asyncio.wait_for would not)
                raise TimeoutError
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            started = time.monotonic()
            self.pool.start(_Job(loop, future, f.fn, args, started + limit))
            timer = loop.call_later(limit, _expire, future)
            try:
                result = await future
            finally:
                timer.cancel()
            if inspect.isawaitable(result):  # a plain function that returned a coroutine
                async with asyncio.timeout(max(0.0, started + limit - time.monotonic())):
                    result = await result
            return result
        except TimeoutError:
            error = Code.DEADLINE_EXCEEDED
            ms = int(limit * 1000)
            if report:
                log.warning("Runtime function timed out", extra={
                    "function": f.label, "runtime_module": f.module, "timeout_ms": ms})
            raise KizunaError(Code.DEADLINE_EXCEEDED,
                              f"Function call timed out after {ms} ms.") from None
        except Error as exc:
            failure = to_kizuna(exc)
            error = failure.code
            if report:
                raise failure from None
            raise
        except asyncio.CancelledError:
            error = Code.CANCELED
            raise
        except NkUnavailable:  # a BaseException: the runtime is going away, not counted
            raise
        except KizunaError as exc:  # e.g. from an nk call
            error = exc.code if report else Code.INTERNAL
            raise
        except Exception as exc:
            error = Code.INTERNAL
            if not report:
                raise
            log.error("Runtime function failed", exc_info=from_module(exc), extra={
                "function": f.label, "runtime_module": f.module})
            raise KizunaError(Code.INTERNAL, INTERNAL_ERROR) from None
        finally:
            if metrics is not None:
                metrics.runtime_call(f.label, f.module, time.perf_counter() - clock, error)


_CALLERS = (str(Path(__file__).resolve().parent), str(Path(asyncio.__file__).resolve().parent))


def from_module(exc: BaseException) -> tuple:
    """The exception with its traceback starting at the module's code (the frames of this
    package that called it are noise in a module author's log)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_CALLERS):
        tb = tb.tb_next
    return type(exc), exc, tb or exc.__traceback__
