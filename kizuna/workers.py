"""The parent of a node's worker processes (`kizuna server` with `socket.workers` above 1).

The supervisor serves nothing itself but the node's metrics. It prepares what the workers share, starts them, restarts
the ones that die, and stops them all on SIGTERM/SIGINT:

- the database: without `database.address`, it starts the embedded PostgreSQL and runs
  `migrate up` on it (as a single node does); with `--migrate` and an external database it runs
  `migrate up` once, here, never in N workers at once. The workers get the address with
  `--database.address` and never `--migrate`;
- the bus: without `cluster.nats_url`, it starts a private NATS server on the loopback
  (`embedded_nats`) and gives its URL to the workers with `--cluster.nats_url`;
- worker i (0..N-1) is `python -m kizuna server <the operator's flags> --name <name>-<i>
  --socket.workers 1 ...` (a later flag wins over an earlier one and over --config files), with
  KIZUNA_WORKER=<i> in its environment: it binds the node's ports with SO_REUSEPORT and the
  kernel spreads new connections over the workers. With `metrics.prometheus_port` set, worker i
  serves its own metrics on prometheus_port + 1 + i, and the supervisor serves all of them on
  prometheus_port (kizuna/metrics/workers.py). It writes a line on the pipe named by
  KIZUNA_WORKER_READY_FD once it serves (`kizuna.server._tell_supervisor`).

A worker that exits before it ever served, during the first start, is a configuration or port
error that a restart would not cure: everything stops and the supervisor exits 1 (the worker
printed the reason). A worker that dies after it served is restarted, after 1 s, doubling up to
30 s while it keeps dying within 30 s of its start.

Workers run in their own process group, so a Ctrl-C in a terminal reaches the supervisor only
(which forwards SIGTERM once, as a second signal would make a worker exit at once), and get
SIGTERM from the kernel if the supervisor dies without stopping them (Linux, PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kizuna.cluster import embedded_nats

if TYPE_CHECKING:
    from kizuna.config import Config
    from kizuna.db.address import DatabaseAddress

log = logging.getLogger("kizuna")

FIRST_BACKOFF_SEC = 1.0
MAX_BACKOFF_SEC = 30.0
# A worker that ran this long before it died starts again after FIRST_BACKOFF_SEC.
STABLE_SEC = 30.0
# How long the stop waits beyond shutdown_grace_sec (the workers' own bound) before SIGKILL.
STOP_MARGIN_SEC = 10.0
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)


class SupervisorError(Exception):
    """A reason the supervisor cannot start its workers, worded for the operator."""


def worker_count(cfg: Config) -> int:
    """The effective number of workers: socket.workers, 0 meaning one per core."""
    return cfg.socket.workers or os.cpu_count() or 1


@dataclass
class Worker:
    """One worker slot (index i): its current process and its history."""

    index: int
    name: str
    proc: subprocess.Popen | None = None
    ready_fd: int | None = None  # the read end of its ready pipe
    ready: bool = False  # the current process serves
    served: bool = False  # some process of this slot has served
    started_at: float = 0.0
    backoff: float = 0.0  # the last restart delay (0: none yet)
    restart_at: float | None = None
    restarts: int = 0
    clean: bool = True  # its last process exited as asked (0, or SIGTERM before it served)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def worker_port(port: int, index: int) -> int:
    """Where worker `index` serves its own metrics, `metrics.prometheus_port` being `port` (the
    supervisor serves all of them on `port`)."""
    return port + 1 + index


def describe_exit(code: int) -> dict[str, object]:
    """An exit status for the log: its code, or the signal that ended the process."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return {"signal": signal.Signals(-code).name}
        return {"signal": -code}
    return {"exit_code": code}


class Supervisor:
    def __init__(self, cfg: Config, flags: list[str], *, migrate: bool = False,
                 config_files: list[str] | None = None, count: int | None = None) -> None:
        self.cfg = cfg
        self.flags = list(flags)  # the operator's config flags, given to every worker
        self.migrate = migrate
        self.config_files = config_files or []
        self.count = count or worker_count(cfg)
        self.workers = [Worker(i, f"{cfg.name}-{i}") for i in range(self.count)]
        self.database_url = ""  # given to the workers when the supervisor resolved it
        self.nats: embedded_nats.EmbeddedNats | None = None
        self.nats_url = ""
        self.embedded_database = False
        self.selector = selectors.DefaultSelector()
        self.signals: list[int] = []
        self.stopping_at: float | None = None  # when the stop began
        self.failed = False  # a worker could not start: exit 1 once the others stopped
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self.metrics_server: Any = None  # the node's metrics, all workers' (metrics.prometheus_port)

    # -- checks and shared services ---------------------------------------------------------------

    def check(self) -> None:
        """What the worker names and ports must satisfy (before anything starts)."""
        port = self.cfg.metrics.prometheus_port
        if port and worker_port(port, self.count - 1) > 65535:
            raise SupervisorError(
                f"metrics.prometheus_port {port}: worker i serves its own metrics on "
                f"prometheus_port + 1 + i, and {worker_port(port, self.count - 1)} is not a port")

    def prepare(self) -> None:
        """The database (embedded, migrated) and the bus the workers share."""
        from kizuna.db.address import AddressError
        from kizuna.db.connect import DatabaseMissing, DatabaseUnavailable, resolve_address
        from kizuna.migrate.errors import MigrateError
        from kizuna.server import migrate_command, migrate_up

        cfg = self.cfg
        self.embedded_database = cfg.embedded_database
        try:
            addr = resolve_address(cfg)
        except (DatabaseUnavailable, AddressError) as exc:
            raise SupervisorError(str(exc)) from None
        if self.embedded_database:
            log.info("Using the embedded PostgreSQL", extra={"data_dir": cfg.data_dir})
            self.database_url = addr.url()
        try:
            if self.embedded_database or self.migrate:
                applied = _run(migrate_up(addr, cfg))
                if applied:
                    log.info("Applied database migrations",
                             extra={"count": len(applied), "ids": applied})
            # What each worker checks first, checked once here: a database that is down or
            # has a schema this release cannot serve is one error, not one per worker.
            problem = _run(self._check_schema(addr))
            if problem:
                raise SupervisorError(problem)
        except DatabaseMissing:
            raise SupervisorError(
                f"database {addr.database!r} not found at {addr.display()}: run "
                f"`{migrate_command(cfg, self.config_files).format('up')}` first") from None
        except DatabaseUnavailable as exc:
            raise SupervisorError(str(exc)) from None
        except MigrateError as exc:
            raise SupervisorError(f"migration failed: {exc}") from None
        if not cfg.cluster.nats_url:
            try:
                self.nats = embedded_nats.start()
            except embedded_nats.EmbeddedNatsError as exc:
                raise SupervisorError(str(exc)) from None
            self.nats_url = self.nats.url
            log.info("Started the private NATS server", extra={"url": self.nats_url,
                                                               "pid": self.nats.pid})

    async def _check_schema(self, addr: DatabaseAddress) -> str | None:
        """Why the workers could not serve on this database (None: they can)."""
        import asyncpg

        from kizuna.db.connect import connect
        from kizuna.migrate import guard, loader
        from kizuna.release import manifest
        from kizuna.server import migrate_command

        conn = await connect(addr, application_name=f"kizuna supervisor {self.cfg.name}")
        try:
            result = await guard.check(conn, loader.load(),
                                       migrate_command(self.cfg, self.config_files),
                                       oldest=manifest().oldest_schema)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            return f"cannot check the schema at {addr.display()}: {exc}"
        finally:
            await conn.close()
        return None if result.ok else result.message

    def _restart_nats(self) -> None:
        """The private NATS server died (killed by hand, the OOM killer): start it again on the
        same port, where the workers' clients reconnect."""
        assert self.nats is not None
        log.error("The private NATS server exited: starting it again", extra={
            **describe_exit(self.nats.proc.returncode), "output": self.nats.last_output(500)})
        port = self.nats.port
        self.nats.stop()
        try:
            self.nats = embedded_nats.start(port=port)
        except embedded_nats.EmbeddedNatsError as exc:  # tried again a second later
            log.error(f"Cannot start the private NATS server again: {exc}")
            return
        log.info("Started the private NATS server", extra={"url": self.nats.url,
                                                           "pid": self.nats.pid})

    # -- workers ----------------------------------------------------------------------------------

    def overrides(self, w: Worker) -> list[tuple[str, str]]:
        """The keys the supervisor sets for worker `w`, after the operator's flags."""
        keys = [("name", w.name), ("socket.workers", "1")]
        if self.database_url:
            keys.append(("database.address", self.database_url))
        if self.nats_url:
            keys.append(("cluster.nats_url", self.nats_url))
        if self.cfg.metrics.prometheus_port:
            keys.append(("metrics.prometheus_port",
                         str(worker_port(self.cfg.metrics.prometheus_port, w.index))))
        # database.max_open_conns bounds the node's connections, as with a single process: the
        # workers share it (each at least 2), so N workers do not open N times what PostgreSQL
        # was sized for.
        share = self.pool_share()
        keys.append(("database.max_open_conns", str(share)))
        keys.append(("database.max_idle_conns", str(min(self.cfg.database.max_idle_conns, share))))
        return keys

    def pool_share(self) -> int:
        """Each worker's database.max_open_conns: the node's, divided among the workers."""
        return max(2, -(-self.cfg.database.max_open_conns // self.count))

    def command(self, w: Worker) -> list[str]:
        argv = [sys.executable, "-m", "kizuna", "server", *self.flags]
        for key, value in self.overrides(w):
            argv += [f"--{key}", value]
        return argv

    def environment(self, w: Worker, ready_fd: int) -> dict[str, str]:
        """The worker's environment: the supervisor's, its index and ready pipe, and any
        KIZUNA_* variable of an overridden key set to the override (a variable wins over flags,
        so `KIZUNA_NAME=game` must not give every worker the same name)."""
        env = dict(os.environ)
        env["KIZUNA_WORKER"] = str(w.index)
        env["KIZUNA_WORKER_READY_FD"] = str(ready_fd)
        for key, value in self.overrides(w):
            var = "KIZUNA_" + key.upper().replace(".", "_")
            if var in env:
                env[var] = value
        return env

    def spawn(self, w: Worker) -> None:
        r, wfd = os.pipe()
        os.set_blocking(r, False)
        try:
            preexec = embedded_nats.die_with_parent(signal.SIGTERM)
            w.proc = subprocess.Popen(self.command(w), env=self.environment(w, wfd),
                                      pass_fds=(wfd,), process_group=0, preexec_fn=preexec)
        except OSError:
            os.close(r)
            raise
        finally:
            os.close(wfd)
        w.ready_fd = r
        w.ready = False
        w.started_at = time.monotonic()
        w.restart_at = None
        self.selector.register(r, selectors.EVENT_READ, w)
        log.info("Worker started", extra={"worker": w.index, "node": w.name, "pid": w.proc.pid,
                                          "restarts": w.restarts})

    def _close_ready(self, w: Worker) -> None:
        if w.ready_fd is not None:
            self.selector.unregister(w.ready_fd)
            os.close(w.ready_fd)
            w.ready_fd = None

    def _read_ready(self, w: Worker) -> None:
        assert w.ready_fd is not None
        try:
            data = os.read(w.ready_fd, 64)
        except BlockingIOError:
            return
        if b"ready" in data and not w.ready:
            w.ready = w.served = True
            log.info("Worker ready", extra={"worker": w.index, "node": w.name,
                                            "pid": w.proc.pid if w.proc else None})
            if self.stopping_at is None:
                for other in self.workers:  # the first start: the others follow the first
                    if other.proc is None and not other.served and other.restart_at is None:
                        self.spawn(other)
            if self.stopping_at is None and all(x.ready for x in self.workers):
                log.info("All workers serve", extra={"workers": self.count,
                                                     "port": self.cfg.socket.port})
        if not data:  # the worker closed its end (it told us, or it exited)
            self._close_ready(w)

    def _exited(self, w: Worker, code: int, now: float) -> None:
        """Worker `w`'s process ended with `code`: a stop, a failed first start, or a crash."""
        assert w.proc is not None
        if w.ready_fd is not None:  # a last "ready" may still be in the pipe
            self._read_ready(w)
            self._close_ready(w)
        pid, was_ready = w.proc.pid, w.ready
        w.proc = None
        w.ready = False
        how = describe_exit(code)
        if self.stopping_at is not None:
            # A worker still starting has no SIGTERM handler yet: the signal ends it, cleanly.
            w.clean = code == 0 or (not was_ready and code == -signal.SIGTERM)
            (log.info if w.clean else log.warning)("Worker stopped", extra={
                "worker": w.index, "node": w.name, "pid": pid, **how})
            return
        if not w.served:
            log.error("Worker exited before it served: stopping the node", extra={
                "worker": w.index, "node": w.name, "pid": pid, **how})
            self.failed = True
            self.begin_stop(None)
            return
        ran = now - w.started_at
        w.backoff = (min(w.backoff * 2, MAX_BACKOFF_SEC) if w.backoff and ran < STABLE_SEC
                     else FIRST_BACKOFF_SEC)
        w.restart_at = now + w.backoff
        log.error("Worker died: restarting it", extra={
            "worker": w.index, "node": w.name, "pid": pid, **how, "ran_sec": round(ran, 1),
            "restart_in_sec": w.backoff, "restarts": w.restarts})

    # -- stop -------------------------------------------------------------------------------------

    def stop_deadline(self) -> float:
        assert self.stopping_at is not None
        return self.stopping_at + max(float(self.cfg.shutdown_grace_sec), 1.0) + STOP_MARGIN_SEC

    def begin_stop(self, signum: int | None) -> None:
        """Forward SIGTERM to every worker: each drains itself (shutdown_grace_sec)."""
        self.stopping_at = time.monotonic()
        if signum is not None:
            log.info("Stopping the workers", extra={"signal": signal.Signals(signum).name,
                                                    "grace_sec": self.cfg.shutdown_grace_sec})
        for w in self.workers:
            w.restart_at = None
            if w.alive():
                assert w.proc is not None
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(signal.SIGTERM)

    def kill_all(self) -> None:
        for w in self.workers:
            if w.alive():
                assert w.proc is not None
                log.warning("Killing worker", extra={"worker": w.index, "node": w.name,
                                                     "pid": w.proc.pid})
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
        for w in self.workers:
            if w.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    w.proc.wait(10)

    def _serve_metrics(self) -> None:
        """Serve every worker's metrics on metrics.prometheus_port (kizuna/metrics/workers.py)."""
        from kizuna.metrics.workers import serve

        port = self.cfg.metrics.prometheus_port
        try:
            self.metrics_server = serve(port, self._metrics_targets)
        except OSError as exc:
            raise SupervisorError(f"cannot listen on metrics.prometheus_port {port}: "
                                  f"{exc.strerror or exc}") from None
        log.info("Serving the workers' metrics on metrics.prometheus_port; worker i also serves "
                 "its own on metrics.prometheus_port + 1 + i", extra={
                     "prometheus_port": port,
                     "worker_ports": [worker_port(port, w.index) for w in self.workers]})

    def _metrics_targets(self) -> list[tuple[str, int]]:
        """The workers that serve, and their metrics ports (read from the metrics thread)."""
        port = self.cfg.metrics.prometheus_port
        return [(w.name, worker_port(port, w.index)) for w in self.workers if w.ready]

    def release(self) -> None:
        """Stop the metrics listener and the private NATS server, and release the embedded
        PostgreSQL (last)."""
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
            self.metrics_server = None
        if self.nats is not None:
            self.nats.stop()
            log.info("Stopped the private NATS server")
            self.nats = None
        if self.embedded_database:
            from kizuna.db import embedded

            embedded.stop()

    # -- the loop ---------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)  # the wakeup fd wakes the loop

    def _install_signals(self) -> dict[int, object]:
        """Handle SIGTERM, SIGINT and SIGCHLD (a worker exited) from here on; the previous
        handlers, to restore."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        old: dict[int, object] = {sig: signal.getsignal(sig) for sig in SIGNALS}
        self._arm_signals(children=False)
        return old

    def _arm_signals(self, children: bool = True) -> None:
        """(Again) our handlers and wakeup fd: an event loop run meanwhile (the migration, which
        may run pg_dump) may have set its own. SIGCHLD (a child exited) once the workers start."""
        for sig in SIGNALS if children else (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        assert self._wake_w is not None
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)

    def _restore_signals(self, old: dict[int, object]) -> None:
        signal.set_wakeup_fd(-1)
        for sig, handler in old.items():
            if handler is not None:
                signal.signal(sig, handler)  # type: ignore[arg-type]
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()

    def run(self) -> int:
        """Start, supervise and stop the workers; the process's exit code."""
        old = self._install_signals()
        try:
            self.check()
            log.info("Supervising workers", extra={
                "node": self.cfg.name, "workers": self.count,
                "names": [w.name for w in self.workers],
                "port": self.cfg.socket.port, "console_port": self.cfg.console.port,
                "db_conns_per_worker": self.pool_share()})
            if self.cfg.metrics.prometheus_port:
                self._serve_metrics()
            self.prepare()
            self._arm_signals()
            if self.signals and any(s != signal.SIGCHLD for s in self.signals):
                log.info("Stopped before the workers started")
                return 0
            # The first worker starts alone, the others once it serves: an error of the
            # configuration, a module or a port shows once, and what the modules' init_module
            # creates (leaderboards...) is created once before the others start together.
            self.spawn(self.workers[0])
            return self.loop()
        except SupervisorError as exc:
            log.error(f"Startup failed: {exc}")
            print(f"kizuna: {exc}", file=sys.stderr)
            return 1
        finally:
            if any(w.alive() for w in self.workers):  # an unexpected error: leave nothing behind
                self.kill_all()
            for w in self.workers:
                if w.ready_fd is not None:
                    self._close_ready(w)
            self.release()
            self._restore_signals(old)

    def loop(self) -> int:
        while True:
            now = time.monotonic()
            pending, self.signals = self.signals, []
            for signum in pending:
                if signum == signal.SIGCHLD:
                    continue
                if self.stopping_at is None:
                    self.begin_stop(signum)
                else:
                    log.warning("Second signal: killing the workers",
                                extra={"signal": signal.Signals(signum).name})
                    self.kill_all()
                    return 1
            for w in self.workers:
                if w.proc is not None and (code := w.proc.poll()) is not None:
                    self._exited(w, code, now)
            if self.stopping_at is not None:
                if not any(w.alive() for w in self.workers):
                    return self._result()
                if now >= self.stop_deadline():
                    log.error("Workers still running after shutdown_grace_sec + "
                              f"{STOP_MARGIN_SEC:.0f}s: killing them")
                    self.kill_all()
                    return 1
            else:
                if self.nats is not None and not self.nats.running():
                    self._restart_nats()
                for w in self.workers:
                    if w.restart_at is not None and now >= w.restart_at:
                        w.restarts += 1
                        self.spawn(w)
            self._wait(now)

    def _wait(self, now: float) -> None:
        """Sleep until a signal (a child's exit is SIGCHLD), a ready line, or the next timer."""
        timers = [w.restart_at for w in self.workers if w.restart_at is not None]
        if self.stopping_at is not None:
            timers.append(self.stop_deadline())
        timeout = max(0.0, min([now + 1.0, *timers]) - now)  # a poll a second, in any case
        for key, _ in self.selector.select(timeout):
            if key.data is None:
                with contextlib.suppress(BlockingIOError):
                    while self._wake_r is not None and self._wake_r.recv(512):
                        pass
            else:
                self._read_ready(key.data)

    def _result(self) -> int:
        if self.failed:
            log.error("Stopped: a worker could not start (see its error above)")
            return 1
        bad = [w.name for w in self.workers if not w.clean]
        if bad:
            log.warning("Stopped; some workers did not exit cleanly", extra={"workers": bad})
            return 1
        log.info("All workers stopped")
        return 0


def run(cfg: Config, flags: list[str], *, migrate: bool = False,
        config_files: list[str] | None = None) -> int:
    """`kizuna server` with several workers: the supervisor's exit code."""
    return Supervisor(cfg, flags, migrate=migrate, config_files=config_files).run()


def _run(coro: Any) -> Any:
    """Run one coroutine to completion (the preparation's database work), on uvloop as the
    server does."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        import asyncio

        return asyncio.run(coro)
    return uvloop.run(coro)
