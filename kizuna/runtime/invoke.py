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
import concurrent.futures
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

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future:
        if self._closed:
            raise RuntimeError("the runtime worker pool is closed")
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fut, fn, args))
        with self._lock:
            # _idle = threads - calls queued or running: no thread is free when it is <= 0.
            if self._idle <= 0 and self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self._threads}",
                                 daemon=True).start()
            else:
                self._idle -= 1
        return fut

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn, args = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:  # handed to the awaiting caller
                    fut.set_exception(exc)
            del item, fut, fn, args
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        self._closed = True
        with self._lock:
            n = self._threads
        for _ in range(n):
            self._queue.put(None)


def _run(deadline: float, fn: Any, args: tuple) -> Any:
    _state.deadline = deadline
    try:
        return fn(*args)
    finally:
        _state.deadline = None


class Invoker:
    def __init__(self, pool: WorkerPool, timeout: float,
                 metrics: NodeMetrics | None = None) -> None:
        self.pool = pool
        self.timeout = timeout
        self.metrics = metrics

    async def _execute(self, f: Function, args: tuple, limit: float) -> Any:
        """`f(*args)`: a coroutine on the loop, a plain function in a worker thread; TimeoutError
        after `limit` seconds."""
        if f.is_async:
            async with asyncio.timeout(limit):
                return await f.fn(*args)
        started = time.monotonic()
        fut = self.pool.submit(_run, started + limit, f.fn, args)
        result = await asyncio.wait_for(asyncio.wrap_future(fut), limit)
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            async with asyncio.timeout(max(0.0, started + limit - time.monotonic())):
                result = await result
        return result

    async def run(self, f: Function, *args: Any, timeout: float | None = None) -> Any:
        """Run `f(*args)` for a caller that reports failures itself (a match's handler, whose
        failure ends the match): an exception is raised as the function raised it, with its
        traceback; running out of time is KizunaError(DEADLINE_EXCEEDED). Timed and counted
        like `call`."""
        limit = self.timeout if timeout is None else timeout
        metrics = self.metrics
        clock = time.perf_counter() if metrics is not None else 0.0
        error: Code | None = None
        try:
            return await self._execute(f, args, limit)
        except TimeoutError:
            error = Code.DEADLINE_EXCEEDED
            raise KizunaError(Code.DEADLINE_EXCEEDED,
                              f"Function call timed out after {int(limit * 1000)} ms.") from None
        except Error as exc:
            error = to_kizuna(exc).code
            raise
        except asyncio.CancelledError:
            error = Code.CANCELED
            raise
        except Exception:
            error = Code.INTERNAL
            raise
        finally:
            if metrics is not None:
                metrics.runtime_call(f.label, f.module, time.perf_counter() - clock, error)

    async def call(self, f: Function, *args: Any, timeout: float | None = None) -> Any:
        """Run `f(*args)`; its result, or KizunaError. With node metrics, each call is timed and
        its failures counted per function (kizuna/metrics/node.py)."""
        limit = self.timeout if timeout is None else timeout
        metrics = self.metrics
        clock = time.perf_counter() if metrics is not None else 0.0
        error: Code | None = None
        try:
            return await self._execute(f, args, limit)
        except TimeoutError:
            error = Code.DEADLINE_EXCEEDED
            ms = int(limit * 1000)
            log.warning("Runtime function timed out", extra={
                "function": f.label, "runtime_module": f.module, "timeout_ms": ms})
            raise KizunaError(Code.DEADLINE_EXCEEDED,
                              f"Function call timed out after {ms} ms.") from None
        except Error as exc:
            failure = to_kizuna(exc)
            error = failure.code
            raise failure from None
        except KizunaError as exc:
            error = exc.code
            raise
        except asyncio.CancelledError:
            error = Code.CANCELED
            raise
        except NkUnavailable:
            raise
        except Exception as exc:
            error = Code.INTERNAL
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
