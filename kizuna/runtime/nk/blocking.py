"""`nk`, the argument every server function gets: the blocking twin of every `nk.aio` call
(derived from AsyncNk by `blocking_twins`, see bridge.py), the calls that never wait
(utility.py), and `nk.aio` itself.

Type checkers and editors read blocking.pyi, written from AsyncNk by
`python -m kizuna.runtime.nk.stubgen` (Python's type system cannot derive a blocking signature
from a coroutine's by itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kizuna.errors import Code
from kizuna.runtime.errors import Error, NkUnavailable
from kizuna.runtime.invoke import current_deadline
from kizuna.runtime.nk.aio import AsyncNk
from kizuna.runtime.nk.base import Host
from kizuna.runtime.nk.bridge import blocking_twins
from kizuna.runtime.nk.utility import UtilityNk


@blocking_twins(AsyncNk)
class Nk(UtilityNk):
    """The `nk` argument of every server function: `nk.x(...)` blocks (plain functions, in worker
    threads), `await nk.aio.x(...)` is the same call as a coroutine (`async def` functions)."""

    def __init__(self, runtime: Host | None) -> None:
        self._rt = runtime
        self.aio = AsyncNk(runtime)

    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple,
               kwargs: dict) -> Any:
        rt = self._rt
        if rt is None:
            raise NkUnavailable(name)
        loop = rt.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise RuntimeError(
                f"nk.{name}() waits for the server and cannot be called on the event loop (it "
                f"would freeze it): in an `async def` function use `await nk.aio.{name}(...)`")
        deadline = current_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise Error(f"nk.{name}: the function's time is up (runtime.call_timeout_ms).",
                        Code.DEADLINE_EXCEEDED)
        fut = asyncio.run_coroutine_threadsafe(fn(self.aio, *args, **kwargs), loop)
        try:
            return fut.result(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise Error(f"nk.{name}: the function's time is up (runtime.call_timeout_ms).",
                        Code.DEADLINE_EXCEEDED) from None
