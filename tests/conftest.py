"""Shared fixtures: a fresh PostgreSQL database per test, the `kizuna` CLI, and running servers.

Tests talk to the real PostgreSQL at $KZ_TEST_PG (default postgres@127.0.0.1:5432); each test that
needs a database gets its own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")
KIZUNA = shutil.which("kizuna", path=str(Path(sys.executable).parent)) or "kizuna"


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
