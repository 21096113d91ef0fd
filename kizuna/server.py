"""Starting and stopping a node: database, schema guard, HTTP listener, signals."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shlex
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from kizuna.api.app import build_app, served_methods
from kizuna.api.http_server import AppRunner
from kizuna.config import Config
from kizuna.db import embedded
from kizuna.db.address import DatabaseAddress, mask_password
from kizuna.db.connect import (
    DatabaseMissing,
    DatabaseUnavailable,
    create_pool,
    ensure_database,
    resolve_address,
)
from kizuna.migrate import guard, loader
from kizuna.migrate.errors import MigrateError
from kizuna.migrate.executor import open_connection
from kizuna.migrate.report import LogReporter
from kizuna.ops.backup import schema_head
from kizuna.ops.migrator import build_engine
from kizuna.ops.nodes import Registry, live_nodes
from kizuna.ops.nodestats import NodeStats
from kizuna.realtime.service import RealtimeService
from kizuna.release import manifest
from kizuna.runtime.service import LoadFailed
from kizuna.services import Lifecycle, Services, build
from kizuna.version import __version__, commit, full_version

if TYPE_CHECKING:
    from kizuna.metrics.node import NodeMetrics

log = logging.getLogger("kizuna")


class StartupError(Exception):
    """A reason the node cannot start, worded for the operator."""


def migrate_command(cfg: Config, config_files: list[str]) -> str:
    """The `kizuna migrate {}` command line that targets the same database as this node."""
    parts = ["kizuna migrate {}"]
    parts += [f"--config {f}" for f in config_files]
    if cfg.database.address:
        # The address as configured, which the command line accepts (display() drops the query
        # and writes a Unix socket as "socket /dir"), with its password masked; quoted for the
        # shell, braces doubled for the caller's format('up').
        shown = shlex.quote(mask_password(cfg.database.address[0]))
        parts.append("--database.address " + shown.replace("{", "{{").replace("}", "}}"))
    else:
        parts.append(f"--data_dir {cfg.data_dir}")
    return " ".join(parts)


async def migrate_up(addr: DatabaseAddress, cfg: Config) -> list[str]:
    """`migrate up` for `server --migrate` and the embedded database, with the same guard and
    automatic backup as the command (`ops.migrator`), reporting to the log."""
    await ensure_database(addr)
    conn = await open_connection(addr, version=__version__)
    try:
        engine = build_engine(conn, loader.load(), cfg, reporter=LogReporter(log), say=log.info)
        return await engine.up()
    finally:
        await conn.close()


async def serve(cfg: Config, *, migrate: bool = False, config_files: list[str] | None = None,
                ready: asyncio.Event | None = None, dev: bool = False) -> int:
    started = time.monotonic()
    for w in cfg.warnings:
        log.warning(w)
    metrics = _metrics(cfg)
    log.info("Node", extra={"node": cfg.name, "version": full_version(),
                            "runtime": f"python {sys.version.split()[0]}", "cpu": os.cpu_count()})
    try:
        addr = resolve_address(cfg)
        if cfg.embedded_database:
            log.info("Using the embedded PostgreSQL", extra={"data_dir": cfg.data_dir})
        if migrate or cfg.embedded_database:
            applied = await migrate_up(addr, cfg)
            if applied:
                log.info("Applied database migrations", extra={"count": len(applied), "ids": applied})
        pool = await create_pool(addr, cfg)
    except DatabaseMissing:
        raise StartupError(
            f"database {addr.database!r} not found at {addr.display()}: run "
            f"`{migrate_command(cfg, config_files or []).format('up')}` first") from None
    except DatabaseUnavailable as exc:
        raise StartupError(str(exc)) from None
    except MigrateError as exc:
        raise StartupError(f"migration failed: {exc}") from None

    bus = None
    if cfg.cluster.nats_url:  # a member of a cluster (kizuna/cluster/bus.py)
        from kizuna.cluster.bus import Bus
        from kizuna.errors import KizunaError

        bus = Bus(cfg, cfg.name)
    services = build(cfg, pool, dev=dev, served_methods=served_methods(), metrics=metrics,
                     bus=bus)
    if bus is not None:  # connected once every area has its handlers on it
        try:
            await bus.start()
        except KizunaError as exc:
            await pool.close()
            raise StartupError(exc.message) from None
        realtime_cluster = services.realtime.cluster_tracker
        if realtime_cluster is not None and await _other_nodes(pool, cfg.name):
            await realtime_cluster.synced(cfg.cluster.node_timeout_ms / 1000)
    sessions, realtime, runtime = services.sessions, services.realtime, services.runtime
    lifecycle = services.lifecycle
    runner: web.AppRunner | None = None
    release = manifest()
    deadline: float | None = None
    node_stats = NodeStats()
    inflight = InFlight(node_stats)
    registry = Registry(pool, cfg.name, __version__, release.oldest_schema, release.newest_schema,
                        address=f"{cfg.socket.address or socket.gethostname()}:{cfg.socket.port}",
                        stats=node_stats)
    console_runner: web.AppRunner | None = None
    try:
        try:
            async with pool.acquire() as conn:
                result = await guard.check(conn, loader.load(),
                                           migrate_command(cfg, config_files or []),
                                           oldest=release.oldest_schema)
        except MigrateError as exc:  # a packaged migration file that does not load
            raise StartupError(f"cannot check the schema: {exc}") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StartupError(f"cannot check the schema at {addr.display()}: {exc}") from None
        if not result.ok:
            raise StartupError(result.message)
        for warning in result.warnings:
            log.warning(warning)
        if metrics is not None:
            _watch_build(metrics, pool, result.schema_version)
        await sessions.start()
        await registry.start()
        await realtime.start()
        await services.domain.leaderboards.start()  # before the modules: init_module creates boards
        try:
            await runtime.start()  # server modules (runtime.path)
        except LoadFailed as exc:
            raise StartupError(str(exc)) from None
        app = build_app(services)
        app.middlewares.insert(0, inflight.middleware)
        if metrics is not None:  # outermost: it sees the status the client gets
            app.middlewares.insert(0, metrics.api_middleware())
            try:
                await metrics.start()
            except OSError as exc:
                raise StartupError(
                    f"cannot listen on metrics.prometheus_port {metrics.port}: "
                    f"{exc.strerror or exc}") from None
        # aiohttp's own wait for in-flight requests only runs after `_stop` has waited for them
        # up to the deadline: it is kept short, as it applies twice (before and after cancelling).
        runner = AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=CANCEL_WAIT_SEC)
        await runner.setup()
        # The console first: once the game port answers (/healthcheck), the console does too.
        console_runner = await _start_console(cfg, services, node_stats, registry)
        site = web.TCPSite(runner, host=cfg.socket.address or None, port=cfg.socket.port,
                           ssl_context=_tls_context(cfg), reuse_port=is_worker())
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {cfg.socket.address or '*'}:{cfg.socket.port}: "
                f"{exc.strerror or exc}") from None
        _settle_heap()
        log.info("Startup done", extra={
            "port": cfg.socket.port, "schema": result.schema_version,
            "version": __version__, "node": cfg.name,
            "startup_ms": int((time.monotonic() - started) * 1000)})
        lifecycle.ready = True
        if ready is not None:
            ready.set()
        _tell_supervisor()
        await _wait_for_signal()
        deadline = time.monotonic() + stop_budget(cfg)
        _arm_watchdog(deadline)
        await _drain(cfg, lifecycle, registry, realtime, _cut_time(deadline, stop_budget(cfg)))
    finally:
        if deadline is None:  # a failed start, or cancelled: the same bounded stop
            deadline = time.monotonic() + stop_budget(cfg)
        await _stop(deadline, _cut_time(deadline, stop_budget(cfg)), lifecycle=lifecycle, runtime=runtime,
                    leaderboards=services.domain.leaderboards, realtime=realtime, runner=runner,
                    inflight=inflight, sessions=sessions, registry=registry, pool=pool,
                    metrics=metrics, console=console_runner, bus=bus)
    log.info("Shutdown complete")
    return 0


# The stop's budget is shutdown_grace_sec; 0 (the default) still allows this much to close the
# listener, the sockets and the database pool (in-flight requests are cut at once).
MIN_STOP_SEC = 1.0
# Kept at the end of the budget for what follows the cut: cancelling the cut requests, closing the
# connections, the registry row and the database pool.
CUT_RESERVE_SEC = 1.5
# aiohttp's shutdown_timeout: how long cancelled requests get to unwind (it waits this long before
# and again after cancelling a request still running at the cut).
CANCEL_WAIT_SEC = 0.2


def stop_budget(cfg: Config) -> float:
    """Seconds from the stop signal to the end of the stop: everything fits in it."""
    return max(float(cfg.shutdown_grace_sec), MIN_STOP_SEC)


# The young generation's collection threshold while serving (Python's default is 700
# allocations): a request allocates a few hundred objects, so the default collects several times
# per request batch; this collects every few dozen requests, each collection no dearer.
GC_YOUNG_THRESHOLD = 20_000


def _settle_heap() -> None:
    """Once everything the node keeps for its life is loaded (modules, routes, runtime code):
    collect once and move all of it out of the collector's sight (gc.freeze), so the full
    collections that serving triggers scan only what serving made. Without this a full
    collection walks every module object and pauses the event loop for tens of milliseconds,
    which is what a request's p99 latency showed."""
    gc.collect()
    gc.freeze()
    _, mid, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, mid, old)


def _cut_time(deadline: float, budget: float) -> float:
    """When requests, shutdown functions and socket closes still running are cut: early enough
    that what follows the cut ends by the deadline."""
    return deadline - min(CUT_RESERVE_SEC, budget / 4)


class InFlight:
    """The HTTP requests (and realtime sockets) being served: the stop waits for them until the
    cut, then names each one it cuts in the log. Its middleware, the outermost but the metrics',
    also counts the API's traffic for the node's stats (`NodeStats`: every request's client;
    latency and sizes of all but socket upgrades, since a socket lives for minutes): one layer
    for both, since every layer costs each request a coroutine."""

    def __init__(self, stats: NodeStats) -> None:
        self.requests: dict[int, tuple[str, str, float]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        requests, idle = self.requests, self._idle
        record, saw = stats.record, stats.saw_client
        clock, counter = time.monotonic, time.perf_counter

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            saw(request.headers.get("User-Agent", ""))
            key = id(request)
            requests[key] = (request.method, request.path, clock())
            idle.clear()
            try:
                if request.path == "/ws":
                    return await handler(request)
                start = counter()
                resp = await handler(request)
                record(counter() - start, request.content_length or 0,
                       getattr(resp, "body_length", 0) or 0)
                return resp
            finally:
                requests.pop(key, None)
                if not requests:
                    idle.set()

        self.middleware = middleware

    async def wait(self, until: float) -> bool:
        """Wait until no request is in flight, or `until` (monotonic); whether they all ended."""
        if not self.requests:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), max(0.0, until - time.monotonic()))
        except TimeoutError:
            return not self.requests
        return True

    def log_cut(self) -> None:
        now = time.monotonic()
        running = sorted(self.requests.values(), key=lambda r: r[2])
        for method, path, since in running:
            log.warning("Request cut at the shutdown deadline", extra={
                "method": method, "path": path, "running_ms": int((now - since) * 1000)})
        if running:
            log.warning(f"{len(running)} request(s) cut at the shutdown deadline "
                        f"(shutdown_grace_sec)", extra={
                            "count": len(running),
                            "paths": sorted({f"{m} {p}" for m, p, _ in running})})


async def _bounded(what: str, coro: Awaitable[Any], until: float) -> bool:
    """Run `coro` until it ends or `until` (monotonic); cancel it then. Whether it ended."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=max(0.0, until - time.monotonic()))
    if done:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning(f"Stopping {what} failed", extra={"error": repr(exc)})
        return True
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_WAIT_SEC)
    log.warning(f"Stopping {what} was cut at the shutdown deadline")
    return False


async def _drain(cfg: Config, lifecycle: Lifecycle, registry: Registry,
                 realtime: RealtimeService, cut: float) -> None:
    """First phase of a graceful stop: readiness 503 at once, new sockets refused, the node
    marked draining, and requests still served for `shutdown_drain_sec` so load balancers can
    move traffic before the listener closes. `_stop` then closes sockets (1001) and lets
    in-flight requests finish until `cut`, and everything ends shutdown_grace_sec after the
    signal."""
    lifecycle.draining = True
    realtime.stopping = True
    log.info("Draining", extra={"drain_sec": cfg.shutdown_drain_sec,
                                "grace_sec": cfg.shutdown_grace_sec})
    await _bounded("the node registry", registry.draining(), cut)
    if cfg.shutdown_drain_sec:
        until = min(time.monotonic() + cfg.shutdown_drain_sec, cut)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
    log.info("Shutting down", extra={"grace_sec": cfg.shutdown_grace_sec,
                                     "until_cut_ms": int((cut - time.monotonic()) * 1000)})


async def _stop(deadline: float, cut: float, *, lifecycle: Lifecycle, runtime: Any, leaderboards: Any,
                realtime: RealtimeService, runner: web.AppRunner | None, inflight: InFlight,
                sessions: Any, registry: Registry, pool: asyncpg.Pool,
                metrics: NodeMetrics | None = None,
                console: web.AppRunner | None = None, bus: Any = None) -> None:
    """Everything after the drain, within `deadline`: the listener closes, the shutdown functions
    run, sockets close with 1001 and in-flight requests finish until the cut; what still runs then
    is logged and cancelled, and the connections, the registry row and the pool close."""
    end = deadline - 0.1  # the last steps, leaving the process time to exit
    lifecycle.draining = True
    realtime.stopping = True
    if runner is not None:
        for site in list(runner.sites):  # no new connections from here on
            await _bounded("the listener", site.stop(), cut)
    # The shutdown functions may use the time up to the cut; in-flight requests keep running.
    # Then the matches get match_terminate and the rest of the grace period, until the cut.
    await _bounded("the runtime modules (shutdown functions, matches)", runtime.stop(until=cut),
                   cut)
    # Quick, and never skipped: every socket gets its close frame (1001), even past the cut.
    await _bounded("leaderboards", leaderboards.stop(), end)
    await _bounded("realtime sockets", realtime.stop(), max(cut, min(end, time.monotonic() + 1)))
    if not await inflight.wait(cut):
        inflight.log_cut()
    if runner is not None:
        await _bounded("the HTTP server", runner.cleanup(), end)
    if bus is not None:  # after the sockets: their presences' leaves have gone out
        await _bounded("the cluster bus", bus.stop(), end)
    if console is not None:  # after the drain: an operator watches it on the status page
        await _bounded("the console", console.cleanup(), end)
    await _bounded("sessions", sessions.stop(), end)
    await _bounded("the node registry", registry.stop(), end)
    if not await _bounded("the database pool", pool.close(), end):
        pool.terminate()
    if metrics is not None:  # last: a scrape shows the drain until the end
        await _bounded("the metrics listener", metrics.stop(), deadline)


async def _start_console(cfg: Config, services: Services, node_stats: NodeStats,
                         registry: Registry) -> web.AppRunner:
    """The admin console on console.address:console.port (7351): its own listener."""
    from kizuna.console.app import Console, build_console_app
    from kizuna.console.auth import ConsoleAuth
    from kizuna.console.status import live_figures

    console = Console(services, ConsoleAuth(cfg), stats=node_stats,
                      registry_instance=registry.instance)
    node_stats.state = lambda: live_figures(console)
    if console.auth.default_password:
        log.warning("The console uses the default password: set console.password and "
                    "console.signing_key before this node is reachable by anyone else",
                    extra={"console_port": cfg.console.port})
    runner = AppRunner(build_console_app(console), access_log=None, handle_signals=False,
                       shutdown_timeout=CANCEL_WAIT_SEC)
    await runner.setup()
    site = web.TCPSite(runner, host=cfg.console.address or None, port=cfg.console.port,
                       ssl_context=_tls_context(cfg), reuse_port=is_worker())
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(
            f"cannot listen on console.port {cfg.console.address or '*'}:{cfg.console.port}: "
            f"{exc.strerror or exc} (another node on this machine? give each its own "
            f"--console.port)") from None
    log.info("Console listening", extra={"console_port": cfg.console.port})
    return runner


def _metrics(cfg: Config) -> NodeMetrics | None:
    """The node's metrics when `metrics.prometheus_port` is set (prometheus-client is imported
    only then)."""
    if not cfg.metrics.prometheus_port:
        return None
    from kizuna.metrics.node import NodeMetrics

    return NodeMetrics(cfg)


def _watch_build(metrics: NodeMetrics, pool: asyncpg.Pool, schema: str | None) -> None:
    """`kizuna_build_info{version,commit,schema}` = 1. The schema is read again before each
    scrape (as GET /kizuna/version reads it): another node's `migrate up` changes it while this
    one runs, and a dashboard of a rolling upgrade shows both."""
    known = [m.id for m in loader.load()]
    current = {"schema": schema or ""}

    async def refresh() -> None:
        async with pool.acquire() as conn:
            current["schema"] = await schema_head(conn, known) or ""

    metrics.on_scrape.append(refresh)
    metrics.gauge("build_info", "1, labelled with the release this node runs (version, commit) "
                  "and the database schema head it sees (the last applied migration).",
                  lambda: {(__version__, commit(), current["schema"]): 1},
                  labels=("version", "commit", "schema"))


async def _other_nodes(pool: asyncpg.Pool, name: str) -> bool:
    """Whether another node serves this database (registered, or seen by its connections): only
    then can a starting cluster node have presences to wait for. The first node, or a single
    node with workers' first worker, starts without the wait."""
    try:
        async with pool.acquire() as conn:
            return any(n.name != name for n in await live_nodes(conn, expire=False))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return True  # cannot tell: wait, bounded


def is_worker() -> bool:
    """Whether this process is one of a node's workers (`socket.workers` above 1): its
    supervisor sets KIZUNA_WORKER, and the workers share the node's ports (SO_REUSEPORT, the
    kernel spreads new connections over them)."""
    return bool(os.environ.get("KIZUNA_WORKER"))


def _tell_supervisor() -> None:
    """A worker tells its supervisor it serves: one line on the pipe the supervisor passed
    (KIZUNA_WORKER_READY_FD), which is then closed."""
    fd = os.environ.get("KIZUNA_WORKER_READY_FD")
    if not fd:
        return
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), b"ready\n")
        os.close(int(fd))


def _arm_watchdog(deadline: float) -> None:
    """The stop's last resort: a node still running at `deadline` (a module blocking the event
    loop, a hung socket) exits there, before the supervisor's stop timeout kills it."""

    def expire() -> None:
        log.error("Shutdown overran shutdown_grace_sec: exiting now")
        for h in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                h.flush()
        os._exit(1)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    timer.daemon = True
    timer.start()


def _tls_context(cfg: Config) -> ssl.SSLContext | None:
    """TLS on the node's port when `socket.ssl_certificate` and `socket.ssl_private_key` name
    PEM files (as Nakama): HTTP and the socket (`wss://`) both go over it."""
    if not cfg.socket.ssl_certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cfg.socket.ssl_certificate, cfg.socket.ssl_private_key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(
            f"cannot load socket.ssl_certificate {cfg.socket.ssl_certificate} with "
            f"socket.ssl_private_key {cfg.socket.ssl_private_key}: "
            f"{getattr(exc, 'strerror', None) or exc}") from None
    return context


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hits = 0

    def on_signal(signum: int) -> None:
        nonlocal hits
        hits += 1
        if hits > 1:
            log.warning("Second signal: exiting now")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    await stop.wait()


def run(cfg: Config, *, migrate: bool, config_files: list[str], dev: bool = False) -> int:
    try:
        return _run_loop(serve(cfg, migrate=migrate, config_files=config_files, dev=dev))
    except StartupError as exc:
        log.error(f"Startup failed: {exc}")
        print(f"kizuna: {exc}", file=sys.stderr)
        return 1
    finally:
        embedded.stop()


def _run_loop(coro):
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)
