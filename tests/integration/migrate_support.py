"""Helpers for the migration tests: synthetic migration directories, the `kizuna migrate` CLI
bound to one database and directory, and synchronous queries against that database."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from tests.conftest import KIZUNA, _env, pg_dsn, run_kizuna


def write_migration(directory: Path, name: str, up: str, down: str | None = None,
                    *directives: str, description: str = "") -> Path:
    """Write `directory/name.sql` with the given sections and `-- +kizuna` directives."""
    lines = []
    if description:
        lines.append(f"-- {description}")
    lines += [f"-- +kizuna {d}" for d in directives]
    lines += ["-- +migrate Up", up.strip()]
    if down is not None:
        lines += ["-- +migrate Down", down.strip()]
    path = directory / f"{name}.sql"
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of `path` that contains `needle`."""
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


class DB:
    """Synchronous access to one test database (each call opens its own connection)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def _run(self, fn: Callable[[asyncpg.Connection], Any], database: str | None = None) -> Any:
        conn = await asyncpg.connect(pg_dsn(database or self.name))
        try:
            return await fn(conn)
        finally:
            await conn.close()

    def execute(self, sql: str, *args: Any) -> str:
        return asyncio.run(self._run(lambda c: c.execute(sql, *args)))

    def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in asyncio.run(self._run(lambda c: c.fetch(sql, *args)))]

    def val(self, sql: str, *args: Any) -> Any:
        return asyncio.run(self._run(lambda c: c.fetchval(sql, *args)))

    def exists(self) -> bool:
        return bool(asyncio.run(self._run(
            lambda c: c.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", self.name),
            database="postgres")))

    def table_exists(self, table: str) -> bool:
        return bool(self.val("SELECT to_regclass($1) IS NOT NULL", table))

    def journal(self) -> dict[str, dict[str, Any]]:
        """id -> row of kizuna_migration ({} when the journal does not exist yet)."""
        if not self.table_exists("kizuna_migration"):
            return {}
        return {r["id"]: r for r in self.fetch("SELECT * FROM kizuna_migration ORDER BY id")}

    def log(self) -> list[tuple[str, str]]:
        if not self.table_exists("kizuna_migration_log"):
            return []
        return [(r["migration_id"], r["action"]) for r in
                self.fetch("SELECT migration_id, action FROM kizuna_migration_log ORDER BY seq")]

    def set_guc(self, name: str, value: str | None) -> None:
        """A per-database setting that new connections (the migrator's) pick up."""
        ident = self.name.replace('"', '""')
        if value is None:
            asyncio.run(self._run(lambda c: c.execute(f'ALTER DATABASE "{ident}" RESET {name}'),
                                  database="postgres"))
        else:
            asyncio.run(self._run(
                lambda c: c.execute(f"ALTER DATABASE \"{ident}\" SET {name} = '{value}'"),
                database="postgres"))

    def migrator_backends(self) -> list[dict[str, Any]]:
        return self.fetch(
            "SELECT pid, state, query, wait_event_type FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name LIKE 'kizuna migrate%'", self.name)


class Migrator:
    """`kizuna migrate ...` against one database with one migrations directory."""

    def __init__(self, directory: Path, address: str) -> None:
        self.dir = directory
        self.address = address

    def args(self, *args: str) -> list[str]:
        return ["migrate", *args, "--migrations-dir", str(self.dir),
                "--database.address", self.address]

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_kizuna(*self.args(*args), timeout=timeout)

    def ok(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        r = self(*args, timeout=timeout)
        assert r.returncode == 0, f"kizuna {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        return r

    def fails(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        r = self(*args, timeout=timeout)
        assert r.returncode != 0, f"kizuna {' '.join(args)} should have failed:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
        return r

    def popen(self, *args: str, log: Path) -> subprocess.Popen:
        fh = open(log, "w")
        return subprocess.Popen([KIZUNA, *self.args(*args)], stdout=fh, stderr=subprocess.STDOUT,
                                env=_env())


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition",
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def one_line(text: str) -> str:
    """Collapse rich's output (which may wrap) into one line for substring checks."""
    return " ".join(text.split())
