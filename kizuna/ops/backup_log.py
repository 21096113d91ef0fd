"""The record of every backup Kizuna writes (`kizuna_backup_log`, from 0011_console).

One row per archive: `kizuna backup` (kind `manual`), and the automatic ones: before
`migrate up`/`down`/`redo`, before `kizuna db upgrade` and `kizuna import` (`auto_backup`), and
the safety backup of `kizuna restore --force` (kind `automatic`). The console's upgrade-health page
shows the last of each kind, so an operator sees, before an upgrade, when the database was last
saved, where, by which host and at which schema.

Recording never gets in the way of the backup itself: the archive is what matters, the row is a
note about it. So a missing table (a schema before 0011_console; or one a restore or a `migrate
down` just replaced) skips the record silently, and any other database error is logged and
ignored. A backup taken before `migrate up` creates the table, or one taken before a `migrate down`
that removes it, leaves no row (the table does not exist yet, or goes with the down): the archive
file in `backup.dir` is still listed by the page (`backup_files`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger("kizuna.backup")

TABLE = "kizuna_backup_log"
KINDS = ("manual", "automatic")

_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class BackupRecord:
    """One row of kizuna_backup_log."""
    id: str
    create_time: dt.datetime
    kind: str
    reason: str
    path: str
    host: str
    size_bytes: int
    schema_head: str
    kizuna_version: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "create_time": self.create_time.isoformat(), "kind": self.kind,
                "reason": self.reason, "path": self.path, "host": self.host,
                "size_bytes": self.size_bytes, "schema_head": self.schema_head,
                "kizuna_version": self.kizuna_version}


async def table_exists(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", TABLE))


async def record_backup(conn: asyncpg.Connection, *, kind: str, reason: str, path: str,
                        size_bytes: int, schema_head: str | None, version: str,
                        host: str | None = None) -> bool:
    """Add a row for a backup just written; False when nothing was recorded (no table, or a
    database error, which is logged: the backup itself is fine). Runs in its own transaction, or
    in a savepoint inside a caller's, so a failure never aborts the caller's work."""
    if kind not in KINDS:
        raise ValueError(f"backup kind {kind!r}: one of {', '.join(KINDS)}")
    try:
        async with conn.transaction():
            if not await table_exists(conn):
                return False
            await conn.execute(
                f"INSERT INTO {TABLE} (id, kind, reason, path, host, size_bytes, schema_head, "
                f"kizuna_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                uuid.uuid4(), kind, reason, os.path.abspath(path),
                host if host is not None else socket.gethostname(), int(size_bytes),
                schema_head or "", version)
    except _DB_ERRORS as exc:
        log.warning("could not record the backup in %s (the backup itself is written)", TABLE,
                    extra={"path": path, "error": str(exc)})
        return False
    return True


async def last_backup(conn: asyncpg.Connection | asyncpg.Pool, kind: str) -> BackupRecord | None:
    """The newest backup of `kind` (index kizuna_backup_log_time_idx: kind, create_time DESC)."""
    row = await conn.fetchrow(
        f"SELECT id, create_time, kind, reason, path, host, size_bytes, schema_head, "
        f"kizuna_version FROM {TABLE} WHERE kind = $1 ORDER BY create_time DESC LIMIT 1", kind)
    if row is None:
        return None
    return BackupRecord(str(row["id"]), row["create_time"], row["kind"], row["reason"],
                        row["path"], row["host"], int(row["size_bytes"]), row["schema_head"],
                        row["kizuna_version"])


# -- the archives in a backup directory ------------------------------------------------------------

_AUTO = re.compile(r"^kizuna-auto-(?P<stamp>\d{8}T\d{6,12}Z)-(?P<head>.+)-before-(?P<reason>[a-z]+)"
                   r"\.kzb$")
_MANUAL = re.compile(r"^kizuna-(?P<stamp>\d{8}T\d{6}Z)-(?P<head>.+)\.kzb$")


@dataclass(frozen=True)
class BackupFile:
    """An archive found in a backup directory (what its name and the file system say)."""
    name: str
    path: str
    size_bytes: int
    modified: dt.datetime
    kind: str  # automatic (kizuna-auto-...), manual (kizuna-...) or "" (any other name)
    schema_head: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "size_bytes": self.size_bytes,
                "modified": self.modified.isoformat(), "kind": self.kind,
                "schema_head": self.schema_head, "reason": self.reason}


def backup_files(directory: str | Path, limit: int = 20) -> tuple[list[BackupFile], int]:
    """The newest `limit` archives (`*.kzb`) in `directory` and how many there are in all;
    ([], 0) when the directory does not exist. Blocking: call it in a thread."""
    found: list[BackupFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return [], 0
    for entry in entries:
        if not entry.name.endswith(".kzb"):
            continue
        try:
            if not entry.is_file():
                continue
            st = entry.stat()
        except OSError:
            continue  # removed meanwhile (pruned by a running backup)
        kind, head, reason = "", "", ""
        m = _AUTO.match(entry.name)
        if m:
            kind, head, reason = "automatic", m.group("head"), f"before {m.group('reason')}"
        else:
            m = _MANUAL.match(entry.name)
            if m:
                kind, head = "manual", m.group("head")
        found.append(BackupFile(entry.name, os.path.abspath(entry.path), st.st_size,
                                dt.datetime.fromtimestamp(st.st_mtime, dt.UTC), kind,
                                "" if head == "empty" else head, reason))
    found.sort(key=lambda f: (f.modified, f.name), reverse=True)
    return found[:limit], len(found)
