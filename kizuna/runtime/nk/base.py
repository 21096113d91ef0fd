"""What every area of `nk.aio` shares: the host it runs in and the `api` wrapper.

An area is a small class of coroutine methods over one part of kizuna/core (accounts.py,
storage.py, ...); `AsyncNk` (aio.py) is all of them together, and `Nk` (blocking.py) their
blocking twins. A method only reads its arguments, calls the core use case and encodes the record
it gets back with `kizuna.wire.encode.<type>(record, full=True)`: the rules live in the core.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import asyncpg

from kizuna.errors import Code, KizunaError
from kizuna.runtime.errors import Error, NkUnavailable, from_kizuna

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A", bound="Area")


class Host(Protocol):
    """What `nk` needs of the node's runtime (kizuna/runtime/service.py)."""

    @property
    def domain(self) -> Domain: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def emit_event(self, event: dict[str, Any], fields: dict[str, Any]) -> None: ...


class Area:
    """Base of the areas of `nk.aio`. `runtime` is None under `kizuna check` (no database)."""

    def __init__(self, runtime: Host | None) -> None:
        self._rt = runtime

    @property
    def _domain(self) -> Domain:
        return self._rt.domain  # type: ignore[union-attr]  # `api` checked it is there


def api(fn: Callable[Concatenate[A, P], Awaitable[T]]
        ) -> Callable[Concatenate[A, P], Coroutine[Any, Any, T]]:
    """An nk call: needs a running server; domain errors become `Error`."""
    name = fn.__name__

    @functools.wraps(fn)
    async def call(self: A, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._rt is None:
            raise NkUnavailable(name)
        if asyncio.get_running_loop() is not self._rt.loop:
            # e.g. asyncio.run(nk.aio.x()) in a plain `def` function: a loop of its own, where
            # the server's database connections cannot be used.
            raise RuntimeError(
                f"nk.aio.{name}() runs on the server's event loop, not on a loop of your own "
                f"(asyncio.run in a worker thread): in a plain `def` function call "
                f"`nk.{name}(...)`, which waits for it; in an `async def` one, "
                f"`await nk.aio.{name}(...)`")
        try:
            return await fn(self, *args, **kwargs)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        except asyncpg.ForeignKeyViolationError:
            raise Error("User account not found.", Code.NOT_FOUND) from None
        except asyncpg.TooManyConnectionsError:
            raise Error(f"{name}: the database has no connection to spare (max_connections); "
                        "try again.", Code.UNAVAILABLE) from None
        except asyncpg.UndefinedTableError:
            raise Error(f"{name}: not available until the database is migrated to this release "
                        "(kizuna migrate up).", Code.UNAVAILABLE) from None
    return call
