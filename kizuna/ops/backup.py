"""Backup and restore: a consistent, compressed, checksummed snapshot of all of Kizuna's data.

Format (version 1): a gzip stream holding a magic line and then frames of
`type (1 byte) | length (4 bytes, big endian) | payload`:

- `H` header (JSON): Kizuna version, schema head, creation time, tables with columns, sequences
- `T` table start (JSON), then `D` chunks of PostgreSQL COPY text, then `E` table end (JSON with
  the row count and the SHA-256 of the table's COPY data)
- `Z` trailer (JSON): totals and the SHA-256 of every byte of every frame before it.

Every table is copied inside one REPEATABLE READ, READ ONLY transaction, so concurrent game
traffic cannot tear the snapshot; data is streamed (COPY) so memory stays constant however big a
table is. COPY text is portable across PostgreSQL versions (embedded 16 ↔ server 15).

Restore reads the archive twice: first to verify framing and every checksum (a corrupt or truncated
archive is refused before the database is touched), then to load it. It is all or nothing: the
schema is built in a staging schema (`kizuna_restore_in_progress`) by running this release's
migrations up to the archive's schema head, the rows are loaded there in one transaction with row
counts checked before it commits, and only then, in one transaction, does the staging schema
replace the live one. An interrupted or failed restore leaves the live schema exactly as it was
(the next restore drops the staging schema it left). The schema is then migrated up to this
release's head. A restore refuses while Kizuna nodes use the database, and `--force` first backs
up what it replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from kizuna.migrate.errors import MigrateError

MAGIC = b"KIZUNA-BACKUP 1\n"
FORMAT = 1
CHUNK = 1 << 20
_FRAME = struct.Struct(">cI")


class BackupError(MigrateError):
    """A backup or restore problem, worded for the operator."""


@dataclass
class TableInfo:
    name: str
    columns: list[str]
    rows: int = 0
    sha256: str = ""


@dataclass
class Summary:
    path: str
    tables: int
    rows: int
    bytes_raw: int
    bytes_file: int
    seconds: float
    schema_head: str | None
    kizuna_version: str
    sha256: str
    per_table: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "tables": self.tables, "rows": self.rows,
                "bytes_raw": self.bytes_raw, "bytes_file": self.bytes_file,
                "seconds": round(self.seconds, 3), "schema_head": self.schema_head,
                "kizuna_version": self.kizuna_version, "sha256": self.sha256,
                "per_table": self.per_table}


Progress = Callable[[str, int, int], None]  # (table, rows done, rows estimated)


# -- catalog helpers -----------------------------------------------------------------------------


async def list_tables(conn: asyncpg.Connection) -> list[TableInfo]:
    """Tables of the current schema, parents before children (foreign keys)."""
    rows = await conn.fetch(
        """
        SELECT c.relname AS name,
               array_agg(a.attname ORDER BY a.attnum) AS columns
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attgenerated = ''
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        GROUP BY c.relname ORDER BY c.relname
        """)
    deps = await conn.fetch(
        """
        SELECT child.relname AS child, parent.relname AS parent
        FROM pg_constraint k
        JOIN pg_class child ON child.oid = k.conrelid
        JOIN pg_class parent ON parent.oid = k.confrelid
        JOIN pg_namespace n ON n.oid = child.relnamespace
        WHERE k.contype = 'f' AND n.nspname = current_schema() AND child.oid <> parent.oid
        """)
    tables = {r["name"]: TableInfo(r["name"], list(r["columns"])) for r in rows}
    parents: dict[str, set[str]] = {name: set() for name in tables}
    for d in deps:
        if d["child"] in parents and d["parent"] in tables:
            parents[d["child"]].add(d["parent"])
    ordered: list[TableInfo] = []
    done: set[str] = set()
    while len(ordered) < len(tables):
        ready = sorted(n for n in tables if n not in done and parents[n] <= done)
        if not ready:  # a cycle: fall back to name order for the rest
            ready = sorted(n for n in tables if n not in done)
        for n in ready:
            ordered.append(tables[n])
            done.add(n)
    return ordered


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _sequences(conn: asyncpg.Connection) -> dict[str, int | None]:
    rows = await conn.fetch(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()")
    return {r["sequencename"]: r["last_value"] for r in rows}


async def _estimates(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint AS n FROM pg_class c "
        "JOIN pg_namespace ns ON ns.oid = c.relnamespace "
        "WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'p')")
    return {r["relname"]: r["n"] for r in rows}


# Tables up to this size are counted exactly for the estimate; bigger ones use the planner's count.
_EXACT_BELOW = 64 << 20
_SAMPLE_ROWS = 2000


async def estimate_bytes(conn: asyncpg.Connection) -> int:
    """What `backup` will write before compression (its `bytes_raw`), estimated cheaply.

    The archive holds the COPY text of every row plus a few frames of JSON, which has little to
    do with `pg_database_size()`: that counts the system catalogs (~8 MB in an empty database),
    indexes, free space and dead rows. So: for each table, the COPY text of a sample of rows
    (the first ones, or a TABLESAMPLE of a big table) gives the bytes per row, times the row
    count (exact under 64 MB, `pg_class.reltuples` above). Header frames are counted as written."""
    tables = await list_tables(conn)
    sizes = {r["relname"]: (r["bytes"], r["reltuples"]) for r in await conn.fetch(
        "SELECT c.relname, pg_relation_size(c.oid) AS bytes, c.reltuples::bigint AS reltuples "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')")}
    header = {"tables": [{"name": t.name, "columns": t.columns} for t in tables],
              "sequences": await _sequences(conn)}
    total = len(MAGIC) + 600 + len(json.dumps(header, default=str, separators=(",", ":")))
    for t in tables:
        table_bytes, reltuples = sizes.get(t.name, (0, -1))
        total += 3 * _FRAME.size + 2 * (len(t.name) + 130) + len(json.dumps(t.columns))
        if table_bytes == 0 and reltuples <= 0:
            continue  # never written to
        if table_bytes <= _EXACT_BELOW or reltuples < 0:
            rows = await conn.fetchval(f"SELECT count(*) FROM {_ident(t.name)}")
            source = f"{_ident(t.name)} LIMIT {_SAMPLE_ROWS}"
        else:
            rows = reltuples
            pct = min(100.0, max(0.01, 100.0 * 4 * _SAMPLE_ROWS / max(reltuples, 1)))
            source = f"{_ident(t.name)} TABLESAMPLE SYSTEM ({pct:.4f}) LIMIT {_SAMPLE_ROWS}"
        if not rows:
            continue
        sample = [0, 0]  # bytes, rows

        async def count(chunk: bytes, sample: list[int] = sample) -> None:
            sample[0] += len(chunk)
            sample[1] += chunk.count(b"\n")

        cols = ", ".join(_ident(c) for c in t.columns)
        await conn.copy_from_query(f"SELECT {cols} FROM {source}", output=count, format="text")
        if sample[1]:
            per_row = sample[0] / sample[1]
            data = int(per_row * rows)
            total += data + _FRAME.size * (data // CHUNK + 1)
    return total


async def schema_head(conn: asyncpg.Connection, known: list[str]) -> str | None:
    """The last applied migration this release knows (in file order)."""
    if not await conn.fetchval("SELECT to_regclass('kizuna_migration') IS NOT NULL"):
        return None
    applied = {r["id"] for r in await conn.fetch(
        "SELECT id FROM kizuna_migration WHERE state = 'applied'")}
    head = None
    for mid in known:
        if mid in applied:
            head = mid
    unknown = applied - set(known)
    if unknown:
        return sorted(unknown)[-1]
    return head


# -- writing -------------------------------------------------------------------------------------


_PATH_HINT = ("Choose a path in a directory that exists (or can be created) and that this user "
              "may write to, on a disk with room.")


def _unwritable(path: Path, exc: OSError) -> BackupError:
    """A backup file that cannot be written: the path is the problem, never the database."""
    reason = exc.strerror or str(exc)
    culprit = str(exc.filename or "")
    if culprit and culprit not in (str(path), str(path) + ".partial"):
        reason += f" ({culprit})"  # e.g. the parent directory that cannot be created
    return BackupError(f"cannot write the backup to {path}: {reason}", _PATH_HINT)


def _check_writable(path: Path, tmp: Path) -> None:
    """Fail before the database is read when the archive cannot be created at `path`."""
    if path.is_dir():
        raise BackupError(f"cannot write the backup to {path}: it is a directory",
                          f"Give a file name, e.g. {path / 'kizuna.kzb'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BackupError(f"cannot write the backup to {path}: {parent} is not a "
                                  f"directory", _PATH_HINT)
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb"):
            pass
    except OSError as exc:
        raise _unwritable(path, exc) from None


class _Writer:
    """Frames into the gzip file at `path`; any error of the file (disk full, I/O error) is
    reported against the path, so that it is never mistaken for a database problem."""

    def __init__(self, fh, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.digest = hashlib.sha256()
        self.raw = 0

    def frame(self, kind: bytes, payload: bytes) -> None:
        head = _FRAME.pack(kind, len(payload))
        self.digest.update(head)
        self.digest.update(payload)
        try:
            self.fh.write(head)
            self.fh.write(payload)
        except OSError as exc:
            raise _unwritable(self.path, exc) from None
        self.raw += len(payload)

    def json(self, kind: bytes, doc: Any) -> None:
        self.frame(kind, json.dumps(doc, default=str, separators=(",", ":")).encode())

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError as exc:
            raise _unwritable(self.path, exc) from None


async def backup(conn: asyncpg.Connection, path: str | Path, *, kizuna_version: str,
                 known_migrations: list[str], progress: Progress | None = None) -> Summary:
    """Write a snapshot of the current schema's tables to `path` (atomically: a temp file that
    is renamed when complete)."""
    started = time.monotonic()
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    per_table: dict[str, int] = {}
    _check_writable(path, tmp)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            tables = await list_tables(conn)
            head = await schema_head(conn, known_migrations)
            estimates = await _estimates(conn)
            sequences = await _sequences(conn)
            try:
                fh = gzip.open(tmp, "wb", compresslevel=3)  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise _unwritable(path, exc) from None
            w = _Writer(fh, path)
            try:
                fh.write(MAGIC)
                w.json(b"H", {
                    "format": FORMAT, "kizuna_version": kizuna_version, "schema_head": head,
                    "created_at": datetime.now(UTC).isoformat(),
                    "database": await conn.fetchval("SELECT current_database()"),
                    "server_version": await conn.fetchval("SHOW server_version"),
                    "tables": [{"name": t.name, "columns": t.columns} for t in tables],
                    "sequences": sequences,
                })
                for t in tables:
                    w.json(b"T", {"name": t.name, "columns": t.columns})
                    digest = hashlib.sha256()
                    rows = 0
                    estimate = estimates.get(t.name, 0)

                    async def sink(chunk: bytes, t: TableInfo = t, digest=digest,
                                   estimate: int = estimate) -> None:
                        nonlocal rows
                        digest.update(chunk)
                        rows += chunk.count(b"\n")
                        for i in range(0, len(chunk), CHUNK):
                            w.frame(b"D", chunk[i:i + CHUNK])
                        if progress:
                            progress(t.name, rows, max(estimate, rows))

                    cols = ", ".join(_ident(c) for c in t.columns)
                    await conn.copy_from_query(f"SELECT {cols} FROM {_ident(t.name)}",
                                               output=sink, format="text")
                    t.rows, t.sha256 = rows, digest.hexdigest()
                    per_table[t.name] = rows
                    if progress:
                        progress(t.name, rows, rows)
                    w.json(b"E", {"name": t.name, "rows": rows, "sha256": t.sha256})
                total = sum(per_table.values())
                overall = w.digest.hexdigest()
                w.json(b"Z", {"tables": len(tables), "rows": total, "bytes": w.raw,
                              "sha256": overall})
            except BaseException:
                with contextlib.suppress(OSError):
                    fh.close()
                raise
            w.close()
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _unwritable(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Summary(str(path), len(tables), total, w.raw, path.stat().st_size,
                   time.monotonic() - started, head, kizuna_version, overall, per_table)


# -- reading -------------------------------------------------------------------------------------


@dataclass
class Archive:
    path: str
    header: dict[str, Any]
    tables: dict[str, dict[str, Any]]  # name -> {"rows", "sha256"}
    trailer: dict[str, Any]


def _read(fh, length: int) -> bytes:
    """Up to `length` bytes, read a chunk at a time: a damaged length field (up to 4 GiB) must
    not make the reader allocate it up front."""
    if length <= CHUNK:
        return fh.read(length)
    parts: list[bytes] = []
    left = length
    while left:
        part = fh.read(min(left, CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _frames(path: str | Path) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(kind, payload, raw frame header) from an archive; raises BackupError when damaged."""
    try:
        with gzip.open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise BackupError(f"{path} is not a Kizuna backup (bad magic)")
            while True:
                head = fh.read(_FRAME.size)
                if not head:
                    return
                if len(head) < _FRAME.size:
                    raise BackupError(f"{path} is truncated (in a frame header)")
                kind, length = _FRAME.unpack(head)
                payload = _read(fh, length)
                if len(payload) < length:
                    raise BackupError(f"{path} is truncated (in a {kind.decode(errors='replace')} frame)")
                yield kind, payload, head
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise BackupError(f"{path}: no such file") from None
        raise BackupError(f"{path} is corrupt or truncated: {exc}") from None


def inspect(path: str | Path) -> Archive:
    """Read the whole archive and verify every checksum; nothing is loaded anywhere."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    tables: dict[str, dict[str, Any]] = {}
    trailer: dict[str, Any] | None = None
    current: str | None = None
    tdigest = hashlib.sha256()
    trows = 0
    for kind, payload, head in _frames(path):
        if trailer is not None:
            raise BackupError(f"{path} has data after its trailer")
        if kind == b"Z":
            trailer = _load(path, payload)
            if trailer.get("sha256") != digest.hexdigest():
                raise BackupError(f"{path} is corrupt: content checksum mismatch "
                                  f"(recorded {trailer.get('sha256')}, computed {digest.hexdigest()})")
            continue
        digest.update(head)
        digest.update(payload)
        if kind == b"H":
            header = _load(path, payload)
            if header.get("format") != FORMAT:
                raise BackupError(f"{path} has format {header.get('format')}, this release reads {FORMAT}")
        elif kind == b"T":
            current = _load(path, payload)["name"]
            tdigest, trows = hashlib.sha256(), 0
        elif kind == b"D":
            if current is None:
                raise BackupError(f"{path} is corrupt: data outside a table")
            tdigest.update(payload)
            trows += payload.count(b"\n")
        elif kind == b"E":
            end = _load(path, payload)
            if current is None or end.get("name") != current:
                raise BackupError(f"{path} is corrupt: table frames out of order")
            if end.get("rows") != trows or end.get("sha256") != tdigest.hexdigest():
                raise BackupError(f"{path} is corrupt: table {current} does not match its checksum")
            tables[current] = {"rows": trows, "sha256": end["sha256"]}
            current = None
        else:
            raise BackupError(f"{path} is corrupt: unknown frame {kind!r}")
    if header is None:
        raise BackupError(f"{path} is corrupt: no header")
    if trailer is None:
        raise BackupError(f"{path} is truncated: the trailer is missing")
    return Archive(str(path), header, tables, trailer)


def _load(path: str | Path, payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        raise BackupError(f"{path} is corrupt: a header frame is not JSON") from None
    if not isinstance(doc, dict):
        raise BackupError(f"{path} is corrupt: a header frame is not an object")
    return doc


async def is_empty(conn: asyncpg.Connection) -> bool:
    """No relation in the schema but an empty migration journal (which the lock step creates)."""
    from kizuna.migrate.journal import LOG_TABLE, TABLE

    others = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
        "AND c.relname <> ALL($1::text[]))", [TABLE, LOG_TABLE, f"{LOG_TABLE}_seq_seq"])
    if others:
        return False
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", TABLE):
        return not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {TABLE})")
    return True


async def load(conn: asyncpg.Connection, archive: Archive, progress: Progress | None = None) -> dict[str, int]:
    """Load the archive's rows into the (already migrated, otherwise empty) schema, in one
    transaction; the row count of every table is checked before it commits."""
    header = archive.header
    live = {t.name: t for t in await list_tables(conn)}
    order = [t["name"] for t in header["tables"]]
    missing = [n for n in order if n not in live]
    if missing:
        raise BackupError(f"the schema has no table(s) {', '.join(missing)} that the archive holds")
    specs = {t["name"]: t["columns"] for t in header["tables"]}
    for name, columns in specs.items():
        extra = set(columns) - set(live[name].columns)
        if extra:
            raise BackupError(f"table {name} has no column(s) {', '.join(sorted(extra))}")
    counts: dict[str, int] = {}
    frames = _frames(archive.path)  # one pass over the archive, table after table

    async def table_data() -> AsyncIterator[bytes]:
        for kind, payload, _ in frames:
            if kind == b"D":
                yield payload
            elif kind == b"E":
                return

    async with conn.transaction():
        if live:
            await conn.execute("TRUNCATE " + ", ".join(_ident(n) for n in live) + " CASCADE")
        for kind, payload, _ in frames:
            if kind != b"T":
                continue
            name = json.loads(payload)["name"]
            # Secondary indexes are built once after the load rather than row by row during it.
            indexes = await conn.fetch(
                """
                SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                WHERE n.nspname = current_schema() AND t.relname = $1
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """, name)
            for ix in indexes:
                await conn.execute(f"DROP INDEX {_ident(ix['name'])}")
            try:
                await conn.copy_to_table(name, source=table_data(), columns=specs[name],
                                         format="text")
            except asyncpg.PostgresError as exc:
                if (exc.sqlstate or "")[:2] in ("08", "57"):
                    raise  # the connection or the server went away: not the archive's rows
                raise BackupError(f"table {name}: the archive's rows do not load into the schema "
                                  f"this release builds: [{exc.sqlstate}] {exc}",
                                  "Nothing was restored: the database is as it was.") from None
            for ix in indexes:
                await conn.execute(ix["def"])
            n = await conn.fetchval(f"SELECT count(*) FROM {_ident(name)}")
            expected = archive.tables[name]["rows"]
            if n != expected:
                raise BackupError(f"table {name}: restored {n} rows, the archive holds {expected}; "
                                  f"nothing was restored")
            counts[name] = n
            if progress:
                progress(name, n, expected)
        for seq, value in (header.get("sequences") or {}).items():
            if value is not None and await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", seq):
                await conn.execute("SELECT setval($1::regclass, $2)", seq, value)
    return counts


# -- automatic backups and the restore procedure ---------------------------------------------------

AUTO_PREFIX = "kizuna-auto-"


def auto_path(directory: str | Path, head: str | None, reason: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(directory) / f"{AUTO_PREFIX}{stamp}-{head or 'empty'}-before-{reason}.kzb"


_AUTO_NAME = re.compile(r"^kizuna-auto-(?P<stamp>\d{8}T\d{12}Z)-(?P<head>.+)-before-(?P<reason>[a-z]+)\.kzb$")


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete the oldest automatic backups beyond `keep` (0 keeps all). Manual ones stay.

    The newest automatic backup of each schema version is never deleted and does not count
    towards `keep`: a run of backups at the new schema (restarts, redos) must not rotate away
    the one taken before the upgrade, which is the only way back to the old schema's data."""
    if keep <= 0:
        return []
    files = sorted(Path(directory).glob(f"{AUTO_PREFIX}*.kzb"))  # the name sorts by time
    newest_of: dict[str, Path] = {}
    for f in files:
        m = _AUTO_NAME.match(f.name)
        newest_of[m.group("head") if m else f.name] = f  # later files overwrite earlier ones
    protected = set(newest_of.values())
    others = [f for f in files if f not in protected]
    doomed = others[:-keep] if len(others) > keep else []
    for f in doomed:
        f.unlink(missing_ok=True)
    return doomed


def check_schema(archive: Archive, known: list[str]) -> str | None:
    """The archive's schema head; refused when this release does not know it (a newer one)."""
    head = archive.header.get("schema_head")
    if head is not None and head not in known:
        raise BackupError(
            f"{archive.path} holds schema {head} (written by Kizuna "
            f"{archive.header.get('kizuna_version')}), newer than this release knows "
            f"(head {known[-1] if known else 'none'})",
            "Restore it with the release that applied that migration, or a newer one.")
    return head


def _not_empty() -> BackupError:
    return BackupError(
        "the target database is not empty: restore refuses to overwrite it",
        "Restore into a new database (--database.address .../newdb), or pass --force "
        "to drop everything in it first.")


STAGING = "kizuna_restore_in_progress"
_REPLACED = "kizuna_restore_replaced"


def _live_nodes_error(nodes: list[Any]) -> BackupError:
    return BackupError(
        "Kizuna nodes are using this database: "
        + "; ".join(n.describe() for n in nodes)
        + ". A restore replaces every table under them: they would keep answering ready and "
          "fail every request",
        "Stop them first (`systemctl stop kizuna`: they drain and leave the node registry; a "
        "crashed node drops out within 15 s of its last heartbeat), then run the restore again. "
        "To restore anyway, pass --ignore-live-nodes and restart the nodes afterwards.")


async def _refuse_live_nodes(conn: asyncpg.Connection) -> None:
    from kizuna.ops.nodes import live_nodes

    nodes = await live_nodes(conn)  # the registry's heartbeats, and `kizuna <node>` connections
    if nodes:
        raise _live_nodes_error(nodes)


async def _swap_in(conn: asyncpg.Connection, target: str) -> None:
    """In one transaction: the staging schema becomes `target`, and what `target` held is
    dropped. The schema keeps its owner and privileges."""
    old = await conn.fetchrow(
        "SELECT nspowner::regrole::text AS owner, "
        "coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
        "ELSE quote_ident(a.grantee::regrole::text) END || ' ' || a.privilege_type) "
        "FROM aclexplode(nspacl) a), '{}') AS grants "
        "FROM pg_namespace WHERE nspname = $1", target)
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {_ident(_REPLACED)} CASCADE")
        if old is not None:
            await conn.execute(f"ALTER SCHEMA {_ident(target)} RENAME TO {_ident(_REPLACED)}")
        await conn.execute(f"ALTER SCHEMA {_ident(STAGING)} RENAME TO {_ident(target)}")
        if old is not None:
            try:  # best effort: a non-superuser may not hand the schema to its old owner
                async with conn.transaction():
                    await conn.execute(f"ALTER SCHEMA {_ident(target)} OWNER TO {old['owner']}")
                    for grant in old["grants"]:
                        who, _, what = grant.rpartition(" ")
                        await conn.execute(f"GRANT {what} ON SCHEMA {_ident(target)} TO {who}")
            except asyncpg.PostgresError:
                pass
            await conn.execute(f"DROP SCHEMA {_ident(_REPLACED)} CASCADE")


async def restore(conn: asyncpg.Connection, archive: Archive, engine: Any, *, force: bool,
                  migrate_after: bool = True, progress: Progress | None = None,
                  ignore_live_nodes: bool = False, safety_dir: str | None = None,
                  say: Callable[[str], None] | None = None,
                  on_swapped: Callable[[], None] | None = None) -> dict[str, Any]:
    """Restore a verified archive through `engine` (a migrate Engine on `conn`), holding the
    cluster lock throughout.

    All or nothing: the archive's schema is built and loaded in the staging schema, and
    replaces the live one in a single transaction once every row count matches. Until then,
    and if anything fails or the process is interrupted, the live schema is untouched.

    - Refused while Kizuna nodes use the database (registry heartbeats or `kizuna <node>`
      connections), unless `ignore_live_nodes`.
    - `force` allows replacing a non-empty database; what it holds is first backed up into
      `safety_dir` (None: no safety backup) and the path is returned as `safety_backup`.
    - `on_swapped` is called once the restored schema is live (before migrating it up)."""
    say = say or (lambda text: None)
    head = check_schema(archive, [m.id for m in engine.migrations])
    # Refuse before taking the lock: taking it creates the journal tables, and a refused
    # restore must leave the database exactly as it was.
    if not force and not await is_empty(conn):
        raise _not_empty()
    if not ignore_live_nodes:
        await _refuse_live_nodes(conn)

    async def body() -> dict[str, Any]:
        from kizuna.migrate import journal

        empty = await is_empty(conn)  # again, under the lock
        if not empty and not force:
            raise _not_empty()
        if not ignore_live_nodes:
            await _refuse_live_nodes(conn)
        safety = None
        safety_summary: Summary | None = None
        if not empty and safety_dir is not None:
            known = [m.id for m in engine.migrations]
            current = await schema_head(conn, known)
            safety = auto_path(safety_dir, current, "restore")
            say(f"backing up what the database holds now to {safety} (skip with --no-backup)")
            done = safety_summary = await backup(conn, safety, kizuna_version=engine.opts.version,
                                                 known_migrations=known)
            say(f"safety backup done: {done.tables} tables, {done.rows} rows, "
                f"{_human(done.bytes_file)}; `kizuna restore {safety} --force --no-migrate` "
                f"brings it back")
        target = await conn.fetchval("SELECT current_schema()") or "public"
        search_path = await conn.fetchval("SHOW search_path")
        # A restore that was interrupted left its staging schema: drop it (we hold the lock).
        await conn.execute(f"DROP SCHEMA IF EXISTS {_ident(STAGING)} CASCADE; "
                           f"CREATE SCHEMA {_ident(STAGING)}")
        swapped = False
        guard, engine.before_contract = engine.before_contract, None  # no node uses staging
        try:
            await conn.execute(f"SET search_path TO {_ident(STAGING)}")
            if head is not None:
                await engine.up(to=head)
            counts = await load(conn, archive, progress)
            await journal.log(conn, head or "none", "restore", engine.opts.version,
                              f"{archive.path} sha256 {archive.trailer.get('sha256')}")
            await conn.execute("SELECT set_config('search_path', $1, false)", search_path)
            await _swap_in(conn, target)
            swapped = True
            if on_swapped:
                on_swapped()
        finally:
            engine.before_contract = guard
            if not swapped:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(_drop_staging(conn, search_path), 10)
        later = await engine.up() if migrate_after else []
        if safety_summary is not None:
            # Recorded in the restored schema (the one it replaced, where a record would have
            # gone, is gone); skipped when that schema has no kizuna_backup_log.
            from kizuna.ops.backup_log import record_backup

            await record_backup(conn, kind="automatic", reason="before restore --force",
                                path=safety_summary.path, size_bytes=safety_summary.bytes_file,
                                schema_head=safety_summary.schema_head,
                                version=engine.opts.version)
        return {"restored_rows": counts, "schema_head": head, "migrated_after": later,
                "safety_backup": str(safety) if safety else None}
    return await engine.locked(body)


async def _drop_staging(conn: asyncpg.Connection, search_path: str) -> None:
    await conn.execute("SELECT set_config('search_path', $1, false)", search_path)
    await conn.execute(f"DROP SCHEMA IF EXISTS {_ident(STAGING)} CASCADE")


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} TB"


async def backup_pointless(conn: asyncpg.Connection, direction: str, targets: list[Any],
                           version: str) -> str | None:
    """Why an automatic backup before this run would be pointless, or None when one is needed.

    A backup is taken only when something will be applied. `migrate up` refuses a contract
    migration while nodes of another release serve (`nodes.contract_guard`); when the first
    pending migration is such a refused one, the run changes nothing, and the backup would only
    cost time and rotate older backups away (every node of a rolling upgrade runs `migrate up`
    at start)."""
    if not targets:
        return "nothing to apply"
    first = targets[0]
    if direction == "up" and getattr(first, "phase", "") == "contract":
        from kizuna.ops.nodes import contract_guard

        try:
            await contract_guard(conn, version)(first)
        except MigrateError:
            return (f"the first pending migration, {first.id}, is a contract migration that "
                    f"will be refused while nodes of other releases serve")
    return None


async def auto_backup(conn: asyncpg.Connection, *, directory: str, retention: int,
                      known: list[str], version: str, reason: str, what: str,
                      say: Callable[[str], None]) -> str:
    """Kizuna's automatic backup before a change (`migrate up`/`down`, an engine upgrade, an
    import): an archive named `kizuna-auto-<time>-<schema>-<reason>.kzb` in `directory`, then
    the older automatic backups beyond `retention` removed. `what` names the change for the
    operator ("up", "the engine upgrade"). Returns the archive's path."""
    head = await schema_head(conn, known)
    path = auto_path(directory, head, reason)  # `backup` creates the directory, or says why not
    say(f"backing up the database before {what} to {path} (skip with --no-backup)")
    try:
        summary = await backup(conn, path, kizuna_version=version, known_migrations=known)
    except BackupError as exc:
        raise BackupError(f"{exc.message} (the automatic backup before {what})",
                          "Free some space or set backup.dir, or pass --no-backup.") from None
    say(f"backup done: {summary.tables} tables, {summary.rows} rows, "
        f"{_human(summary.bytes_file)} in {summary.seconds:.1f}s")
    from kizuna.ops.backup_log import record_backup

    # Before the change, so the row exists even if the change fails (a down that removes
    # kizuna_backup_log takes it along; before the up that creates it, nothing is recorded).
    await record_backup(conn, kind="automatic", reason=_auto_reason(reason, what),
                        path=str(path), size_bytes=summary.bytes_file,
                        schema_head=summary.schema_head, version=version)
    for old in prune(directory, retention):
        say(f"removed old automatic backup {old.name} (backup.retention {retention}; the "
            f"newest backup of each schema is always kept)")
    return str(path)


def _auto_reason(reason: str, what: str) -> str:
    """The `reason` of an automatic backup's record: "before migrate up", "before the import"."""
    return f"before migrate {reason}" if reason in ("up", "down", "redo") else f"before {what}"


def auto_backup_hook(conn: asyncpg.Connection, *, directory: str, retention: int,
                     migrations: list[Any], version: str,
                     say: Callable[[str], None]) -> Callable[[str, list[Any]], Any]:
    """The `before_change` hook of a migrate Engine: back up before the schema changes."""
    known = [m.id for m in migrations]

    async def hook(direction: str, targets: list[Any]) -> str | None:
        if await backup_pointless(conn, direction, targets, version):
            return None  # the run changes nothing; the refusal that follows says why
        return await auto_backup(conn, directory=directory, retention=retention, known=known,
                                 version=version, reason=direction, what=direction, say=say)
    return hook
