"""The node's runtime: its server modules and everything that calls into them.

Built on the node's `Domain` by kizuna/services.py (`Runtime(domain, dev=...)`), which also hands
it to the socket layer (`realtime.modules`); the transports reach it as `services.runtime`. It
knows nothing of the transports: what it needs of them comes as data (`served_methods`, the API
methods REST serves, for a warning about hooks on others).

`start()` loads the modules of `runtime.path` (a module that fails stops the start, naming its
file and line), starts the event workers and, with `--dev`, a watcher that reloads the modules
when a file changes. `stop()` runs the shutdown functions within `shutdown_grace_sec`, then gives
every authoritative match (`matches`, kizuna/runtime/matches.py) its `match_terminate` and the
rest of the grace period to end, and lets queued events finish, briefly.

Hot paths read `runtime.registry` once per request: a reload swaps the whole registry in one
assignment, so a request sees one version of the modules from start to end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kizuna.config import Config, runtime_env
from kizuna.core import tournaments
from kizuna.core.domain import Domain
from kizuna.core.leaderboards import Board
from kizuna.errors import Code, KizunaError
from kizuna.metrics.custom import CustomMetrics
from kizuna.runtime import context as modes
from kizuna.runtime import hooks, loader
from kizuna.runtime.context import Context, frozen
from kizuna.runtime.errors import Error, LoadError
from kizuna.runtime.http import HttpRequest, HttpResponse, InvalidResponse, as_response
from kizuna.runtime.invoke import Invoker, WorkerPool
from kizuna.runtime.matches import MatchRegistry
from kizuna.runtime.nk import Nk
from kizuna.runtime.registry import Function, HttpRoute, Registry
from kizuna.version import __version__
from kizuna.wire import codec, encode

if TYPE_CHECKING:
    from kizuna.metrics.node import NodeMetrics

log = logging.getLogger("kizuna.runtime")

POLL_SEC = 0.5
WORKERS = max(32, 8 * (os.cpu_count() or 1))


class LoadFailed(Exception):
    """Modules that do not load, worded for the operator: one line per failing module."""

    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        first = str(errors[0])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"runtime module failed to load: {first}{more}")


class Runtime:
    def __init__(self, domain: Domain, *, dev: bool = False,
                 served_methods: frozenset[str] | None = None,
                 served_kinds: frozenset[str] | None = None,
                 metrics: NodeMetrics | None = None) -> None:
        cfg: Config = domain.config
        self.domain = domain
        self.config = cfg
        # The hook keys (kizuna.wire.methods.api_key) of the API methods REST serves, and the
        # socket messages the realtime layer serves; hooks on others get a warning at load.
        # None: not known (no warning).
        self.served_methods = served_methods
        self.served_kinds = served_kinds
        self.path = Path(cfg.runtime.path)
        self.dev = dev
        self.env = MappingProxyType(runtime_env(cfg))
        self.node = cfg.name
        self.version = __version__
        self.registry = Registry()
        self.loaded_at: float | None = None  # when `registry` was loaded (unix seconds)
        self.pool = WorkerPool(WORKERS)
        # The node's metrics (None: metrics.prometheus_port unset): function calls are timed,
        # and modules' custom metrics (`nk.metrics_*`, checked either way) exported.
        self.metrics = metrics
        self.custom_metrics = CustomMetrics(metrics)
        self.invoker = Invoker(self.pool, cfg.runtime.call_timeout_ms / 1000, metrics)
        self.nk = Nk(self)
        # The authoritative matches this node runs: the builder makes it `domain.matches`.
        self.matches = MatchRegistry(self)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._events: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        result = await self._load()
        if result.errors:
            raise LoadFailed(result.errors)
        self.registry, self.loaded_at = result.registry, time.time()
        self._announce(result, "Loaded runtime modules")
        self._events = asyncio.Queue(self.config.runtime.event_queue_size)
        for i in range(self.config.runtime.event_queue_workers):
            self._tasks.append(self.loop.create_task(self._event_worker(), name=f"runtime-events-{i}"))
        if self.dev:
            self._tasks.append(self.loop.create_task(self._watch(), name="runtime-watch"))
            log.info("Watching runtime modules for changes", extra={"path": str(self.path)})
        self._started = True

    async def stop(self, until: float | None = None) -> None:
        """Run the shutdown functions (bounded by shutdown_grace_sec), terminate the matches
        (within what is left of it), then stop. `until` (monotonic seconds): when the node's
        stop cuts what still runs (kizuna/server.py); everything here ends by then."""
        if not self._started:
            self.pool.close()
            return
        self._started = False
        started = time.monotonic()
        for t in [t for t in self._tasks if t.get_name() == "runtime-watch"]:
            t.cancel()
        reg = self.registry
        if reg.shutdown:
            grace = self.config.shutdown_grace_sec or self.invoker.timeout
            deadline = time.monotonic() + grace
            if until is not None:
                deadline = min(deadline, until)
            ctx = self.context(modes.SHUTDOWN)
            for f in reg.shutdown:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("No time left for shutdown functions", extra={"function": f.label})
                    break
                try:
                    await self.invoker.call(f, ctx, f.logger, self.nk, timeout=left)
                except KizunaError as exc:
                    log.warning("Shutdown function failed", extra={
                        "runtime_module": f.module, "error": exc.message})
        # Matches: match_terminate(shutdown_grace_sec), then until the grace period (counted from
        # the start of the stop, as the shutdown functions') is over. With no grace period they
        # still get their match_terminate call, briefly.
        grace_sec = self.config.shutdown_grace_sec
        matches_until = started + (grace_sec or min(1.0, self.invoker.timeout))
        if until is not None:
            matches_until = min(matches_until, until - 0.25)
        await self.matches.stop(grace_sec, matches_until)
        if self._events is not None and not self._events.empty():
            try:
                async with asyncio.timeout(1.0):
                    await self._events.join()
            except TimeoutError:
                log.warning("Dropping queued runtime events", extra={"count": self._events.qsize()})
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        # Unloaded: from here on no hook, RPC or route of the modules runs (the socket layer may
        # still be closing its sessions), as when no module was loaded.
        self.registry = Registry()
        self.pool.close()

    async def _load(self) -> loader.LoadResult:
        return await asyncio.to_thread(loader.load, self.path, lambda: self.context(modes.RUN_ONCE),
                                       self.nk, self.loop)

    def _announce(self, result: loader.LoadResult, message: str) -> None:
        reg = result.registry
        if not reg.modules:
            log.info("No runtime modules", extra={"path": str(self.path)})
            return
        log.info(message, extra={"path": str(self.path), "modules": reg.modules,
                                 "registered": reg.summary()})
        for warning in loader.unserved_hooks(reg, self.served_methods, self.served_kinds):
            log.warning(warning)

    async def reload(self) -> bool:
        """Load the modules again into a fresh registry and swap it in; on any error keep the
        current one (and say why)."""
        started = time.monotonic()
        result = await self._load()
        if result.errors:
            for err in result.errors:
                log.error(f"Runtime module failed to reload, keeping the previous version: {err}")
            return False
        self.registry, self.loaded_at = result.registry, time.time()
        self._announce(result, "Reloaded runtime modules")
        log.debug("reload took", extra={"ms": int((time.monotonic() - started) * 1000)})
        return True

    async def _watch(self) -> None:
        last = loader.snapshot(self.path)
        while True:
            await asyncio.sleep(POLL_SEC)
            now = loader.snapshot(self.path)
            if now != last:
                last = now
                try:
                    await self.reload()
                except Exception:  # never let one bad reload stop the watcher
                    log.exception("runtime reload failed")

    # -- contexts --------------------------------------------------------------------------------

    def context(self, mode: str, **fields: Any) -> Context:
        return Context(env=self.env, execution_mode=mode, node=self.node, version=self.version,
                       **fields)

    @staticmethod
    def session_fields(session: Any) -> dict[str, Any]:
        """Context fields of a socket session."""
        return {"user_id": session.user_id, "username": session.username,
                "vars": frozen(session.vars), "user_session_exp": session.expiry or None,
                "session_id": session.id, "lang": session.lang,
                "client_ip": session.client_ip or None, "client_port": session.client_port or None}

    # -- RPC -------------------------------------------------------------------------------------

    def rpc_function(self, rpc_id: str) -> Function | None:
        return self.registry.rpcs.get(rpc_id.lower())

    async def call_rpc(self, f: Function, fields: dict[str, Any], payload: str) -> str:
        """The function's result as the payload string (KizunaError on failure). A function may
        return a str, None (""), bytes (UTF-8) or any JSON-encodable value (encoded)."""
        ctx = self.context(modes.RPC, **fields)
        result = await self.invoker.call(f, ctx, f.logger, self.nk, payload)
        if result is None:
            return ""
        if isinstance(result, str):
            return result
        if isinstance(result, (bytes, bytearray)):
            return bytes(result).decode("utf-8", errors="replace")
        try:
            return Nk.json_encode(result)
        except Error:  # what json_encode raises for a value orjson cannot encode
            log.error("An RPC function returned a value that is not a string nor JSON-encodable",
                      extra={"function": f.label, "type": type(result).__name__})
            raise KizunaError(Code.INTERNAL, "Internal Server Error") from None

    # -- hooks -----------------------------------------------------------------------------------

    async def before(self, f: Function, fields: dict[str, Any],
                     request: dict[str, Any]) -> dict[str, Any]:
        return await hooks.before(self, f, fields, request)

    async def after(self, f: Function, fields: dict[str, Any], response: Any,
                    request: dict[str, Any]) -> None:
        await hooks.after(self, f, fields, response, request)

    def socket_hooks(self, kind: str) -> hooks.SocketHooks | None:
        """The realtime hooks of a socket message kind, from the current registry (read once, so
        a message sees one version of the modules), or None when the kind is not hooked. Part of
        kizuna.realtime.modules.Modules, which the socket dispatcher calls for every message."""
        reg = self.registry
        before, after = reg.rt_before.get(kind), reg.rt_after.get(kind)
        if before is None and after is None:
            return None
        return hooks.SocketHooks(self, before, after)

    # -- custom HTTP -----------------------------------------------------------------------------

    def http_route(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        reg = self.registry
        return reg.http_route(method, path) if reg.http else None

    async def call_http(self, route: HttpRoute, fields: dict[str, Any],
                        request: HttpRequest) -> HttpResponse:
        f = route.function
        ctx = self.context(modes.HTTP, **fields)
        result = await self.invoker.call(f, ctx, f.logger, self.nk, request)
        try:
            return as_response(result)
        except InvalidResponse as exc:
            log.error(f"A custom HTTP handler returned an invalid response: {exc}",
                      extra={"function": f.label, "runtime_module": f.module})
            raise KizunaError(Code.INTERNAL, "Internal Server Error") from None

    # -- leaderboard and tournament callbacks (core.leaderboards.BoardHooks) ----------------------

    async def leaderboard_reset(self, board: Board, reset: int) -> None:
        await self._board_callbacks(self.registry.leaderboard_reset, modes.LEADERBOARD_RESET,
                                    encode.leaderboard(board.api(_second_before(reset)), full=True),
                                    reset)

    async def tournament_end(self, board: Board, end: int, reset: int) -> None:
        if self.registry.tournament_end:  # the tournament as it was in its last second
            view = await tournaments.current_view(self.domain, board, _second_before(end))
            await self._board_callbacks(self.registry.tournament_end, modes.TOURNAMENT_END,
                                        encode.tournament(view, full=True), end, reset)

    async def tournament_reset(self, board: Board, end: int, reset: int) -> None:
        if self.registry.tournament_reset:
            view = await tournaments.current_view(self.domain, board, _second_before(reset))
            await self._board_callbacks(self.registry.tournament_reset, modes.TOURNAMENT_RESET,
                                        encode.tournament(view, full=True), end, reset)

    async def _board_callbacks(self, functions: list[Function], mode: str,
                               *args: Any) -> None:
        if not functions or not self._started:
            return
        ctx = self.context(mode)
        for f in functions:
            try:
                await self.invoker.call(f, ctx, f.logger, self.nk, *args)
            except KizunaError as exc:
                log.warning("Leaderboard callback failed", extra={
                    "function": f.label, "runtime_module": f.module, "error": exc.message})

    # -- the matchmaker (part of kizuna.realtime.modules.Modules) ----------------------------------

    def has_matchmaker_matched(self) -> bool:
        return self.registry.matchmaker_matched is not None

    async def matchmaker_matched(self, entries: list[dict[str, Any]]) -> str | None:
        """Call the `register_matchmaker_matched` function with a group's entries: the match id
        it returns, or None when there is no function, it returned None or "", or it failed or
        returned something else than a string (both logged): the group then gets a token for a
        relayed match, as Nakama does."""
        f = self.registry.matchmaker_matched
        if f is None or not self._started:
            return None
        ctx = self.context(modes.MATCHMAKER)
        try:
            result = await self.invoker.call(f, ctx, f.logger, self.nk, entries)
        except KizunaError as exc:
            log.error("Error running the matchmaker matched function, the group gets a relayed "
                      "match token", extra={"runtime_module": f.module, "error": exc.message})
            return None
        if result is None or result == "":
            return None
        if not isinstance(result, str):
            log.error("The matchmaker matched function returned a value that is not a match id "
                      "string, the group gets a relayed match token",
                      extra={"runtime_module": f.module, "type": type(result).__name__})
            return None
        return result

    # -- events ----------------------------------------------------------------------------------

    def emit_event(self, event: dict[str, Any], fields: dict[str, Any]) -> None:
        """Queue an event for the `register_event` functions (never blocks; drops when full)."""
        self._enqueue(self.registry.events, event, fields)

    def session_event(self, which: str, session: Any) -> None:
        functions = (self.registry.session_start if which == "start"
                     else self.registry.session_end)
        if not functions:
            return
        event = {"name": f"session_{which}", "properties": {},
                 "timestamp": codec.now(),
                 "external": False}
        self._enqueue(functions, event, self.session_fields(session))

    def _enqueue(self, functions: list[Function], event: dict[str, Any],
                 fields: dict[str, Any]) -> None:
        if not functions or self._events is None or not self._started:
            return
        try:
            self._events.put_nowait((functions, event, fields))
        except asyncio.QueueFull:
            if self.metrics is not None:
                self.metrics.events_dropped.inc()
            log.warning("Runtime event queue full, event dropped (runtime.event_queue_size)",
                        extra={"event": event.get("name")})

    def event_queue(self) -> tuple[int, int] | None:
        """(events waiting, capacity) of the event queue; None before start (for metrics)."""
        queue = self._events
        return None if queue is None else (queue.qsize(), queue.maxsize)

    async def _event_worker(self) -> None:
        queue = self._events
        assert queue is not None
        while True:
            functions, event, fields = await queue.get()
            try:
                ctx = self.context(modes.EVENT, **fields)
                for f in functions:
                    try:
                        await self.invoker.call(f, ctx, f.logger, self.nk, event)
                    except KizunaError as exc:
                        log.warning("Event function failed", extra={
                            "function": f.label, "runtime_module": f.module,
                            "error": exc.message})
            finally:
                queue.task_done()


def _second_before(unix: int) -> datetime:
    return datetime.fromtimestamp(unix - 1, UTC)


async def check(cfg: Config) -> loader.LoadResult:
    """Load the modules as a server would, without one: for `kizuna check`. init_module runs;
    an `nk` call that needs the database stops that module's init there (not an error)."""
    env = MappingProxyType(runtime_env(cfg))

    def context() -> Context:
        return Context(env=env, execution_mode=modes.RUN_ONCE, node=cfg.name, version=__version__)

    return await asyncio.to_thread(loader.load, Path(cfg.runtime.path), context, Nk(None),
                                   asyncio.get_running_loop(), check=True)
