"""Starting and stopping a node: database, schema guard, HTTP listener, signals."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import socket
import sys
import time

import asyncpg
from aiohttp import web

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
from kizuna.ops.migrator import build_engine
from kizuna.ops.nodes import Registry
from kizuna.realtime.service import RealtimeService
from kizuna.release import manifest
from kizuna.runtime.service import LoadFailed
from kizuna.services import Lifecycle, build
from kizuna.version import __version__, full_version

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

    services = build(cfg, pool, dev=dev, served_methods=served_methods())
    sessions, realtime, runtime = services.sessions, services.realtime, services.runtime
    lifecycle = services.lifecycle
    runner: web.AppRunner | None = None
    release = manifest()
    registry = Registry(pool, cfg.name, __version__, release.oldest_schema, release.newest_schema,
                        address=f"{cfg.socket.address or socket.gethostname()}:{cfg.socket.port}")
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
        await sessions.start()
        await registry.start()
        await realtime.start()
        await services.domain.leaderboards.start()  # before the modules: init_module creates boards
        try:
            await runtime.start()  # server modules (runtime.path)
        except LoadFailed as exc:
            raise StartupError(str(exc)) from None
        app = build_app(services)
        runner = AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=max(cfg.shutdown_grace_sec - cfg.shutdown_drain_sec, 1))
        await runner.setup()
        site = web.TCPSite(runner, host=cfg.socket.address or None, port=cfg.socket.port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {cfg.socket.address or '*'}:{cfg.socket.port}: "
                f"{exc.strerror or exc}") from None
        log.info("Startup done", extra={
            "port": cfg.socket.port, "schema": result.schema_version,
            "version": __version__, "node": cfg.name,
            "startup_ms": int((time.monotonic() - started) * 1000)})
        lifecycle.ready = True
        if ready is not None:
            ready.set()
        await _wait_for_signal()
        await _drain(cfg, lifecycle, registry, realtime)
    finally:
        lifecycle.draining = True
        await runtime.stop()  # the modules' shutdown functions, within shutdown_grace_sec
        await services.domain.leaderboards.stop()
        await realtime.stop()  # close frames to every socket before the listener goes
        if runner is not None:
            await runner.cleanup()
        await sessions.stop()
        await registry.stop()
        await pool.close()
    log.info("Shutdown complete")
    return 0


async def _drain(cfg: Config, lifecycle: Lifecycle, registry: Registry,
                 realtime: RealtimeService) -> None:
    """First phase of a graceful stop: readiness 503 at once, new sockets refused, the node
    marked draining, and requests still served for `shutdown_drain_sec` so load balancers can
    move traffic before the listener closes. The caller then closes sockets (1001) and lets
    in-flight requests finish within the grace period."""
    lifecycle.draining = True
    realtime.stopping = True
    log.info("Draining", extra={"drain_sec": cfg.shutdown_drain_sec,
                                "grace_sec": cfg.shutdown_grace_sec})
    await registry.draining()
    if cfg.shutdown_drain_sec:
        await asyncio.sleep(cfg.shutdown_drain_sec)
    log.info("Shutting down", extra={"grace_sec": cfg.shutdown_grace_sec})


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
