"""`kizuna import nakama`: copy a live game's data from Nakama's database into Kizuna's.

Kizuna's tables for what Nakama stores have Nakama's shapes (same names, columns and keys), so the
import is a copy, table by table, keeping every id: accounts with their logins (devices, email and
bcrypt password hash, custom and social ids), storage objects with versions and permissions,
friends, groups and memberships, leaderboards and tournaments with their records, wallet ledgers,
notifications, chat messages, tombstones.

How a run goes:
- The source is read in one REPEATABLE READ, READ ONLY transaction: every table comes from the
  same snapshot, while Nakama keeps serving. Its schema must be one this release knows (the ids
  in `migration_info`); a column added by a Nakama release Kizuna does not know stops the run.
- Each table is streamed with COPY (text format, engine-independent) and cut into batches of at
  most `BATCH_ROWS` rows / `BATCH_BYTES` bytes with at most `QUEUE_BATCHES` batches in flight,
  so memory stays constant whatever the size of the source. A batch is loaded into a temporary
  staging table and upserted by the table's identity (the key that says "the same row": a user's
  id, a storage object's collection, key and owner ...), one transaction per batch.
- Modes. `full` (the target holds nothing yet) and `catch-up` (the target holds an earlier import
  of the same source and has served no player since): the target ends up mirroring the source;
  rows that changed are updated, rows gone from the source are deleted at the end, and a target
  row that holds a value another source row now owns (a username that moved) is replaced.
  `merge` (asked for with `--merge`, when the target holds other data): only adds; a source row
  whose identity is already there is left as Kizuna has it, and one that clashes with a Kizuna
  row on another unique value (a username, an email) is skipped and reported.
- Rows whose parent is missing (a device of a user that was skipped) are skipped and reported.
- Verification: per table, the source's row count and an order-independent digest of its rows
  (in the snapshot) against the same over the target. In `merge` only counts are compared (rows
  already in Kizuna were kept as they were).

A run is recorded in `kizuna_import` (migration 0010): a later run from the same source knows the
target holds its earlier copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import asyncpg
import orjson

from kizuna.db.address import DatabaseAddress, parse_address
from kizuna.migrate.errors import MigrateError

NIL = "00000000-0000-0000-0000-000000000000"

BATCH_ROWS = 50_000
BATCH_BYTES = 8 << 20
QUEUE_BATCHES = 3

# Every migration of Nakama 3.x up to 3.40, in order: a source whose `migration_info` holds an
# id outside this list was written by a Nakama release this importer was not built for.
KNOWN_MIGRATIONS = (
    "20180103142001_initial_schema.sql",
    "20180805174141-tournaments.sql",
    "20200116134800-facebook-instant-games.sql",
    "20200615102232-apple.sql",
    "20201005180855-console.sql",
    "20210416090601-purchase.sql",
    "20220426122825-subscription.sql",
    "20221027145900-subscription-raw-columns.sql",
    "20230222172540-purchases-not-null-uid-1.sql",
    "20230222172540-purchases-not-null-uid-2.sql",
    "20230706095800-leaderboard-list-index.sql",
    "20240715155039-leaderboard-rank-enable.sql",
    "20240725115145-purchase-index-change.sql",
    "20240801100859-add-console-user-mfa.sql",
    "20250113112512_add_user_edge_metadata.sql",
    "20250703094700-add-console-settings.sql",
    "20250926112031-console-fine-grained-acl.sql",
    "20251015150737-add-user-notes-audit-acl-templates.sql",
    "20260319134532-add-display-name-index.sql",
)


@dataclass(frozen=True)
class Spec:
    """A table carried over: its name (the same in both databases), its identity (a unique key
    of Kizuna's table) and what it holds, for the report."""

    name: str
    identity: tuple[str, ...]
    what: str


# Parents before children (foreign keys), so each batch finds the rows it refers to.
TABLES = (
    Spec("users", ("id",), "accounts: usernames, display names, metadata, wallets, logins "
         "(email + password hash, custom and social ids), ban state"),
    Spec("user_device", ("id",), "device ids (device login)"),
    Spec("user_tombstone", ("user_id",), "deleted accounts"),
    Spec("user_edge", ("source_id", "destination_id"), "friends, invites and blocks"),
    Spec("groups", ("id",), "groups (clans)"),
    Spec("group_edge", ("source_id", "destination_id"), "group memberships and join requests"),
    Spec("leaderboard", ("id",), "leaderboards and tournaments"),
    Spec("leaderboard_record", ("owner_id", "leaderboard_id", "expiry_time"),
         "leaderboard and tournament records"),
    Spec("storage", ("collection", "key", "user_id"), "storage objects"),
    Spec("wallet_ledger", ("id",), "wallet ledger"),
    Spec("notification", ("id",), "notifications"),
    Spec("message", ("id",), "chat messages"),
)

# Nakama tables Kizuna does not carry over, and why.
NOT_CARRIED = {
    "purchase": "in-app purchase receipts: Kizuna has no purchase validation yet (its purchase "
                "routes answer 'not supported')",
    "subscription": "in-app subscriptions: Kizuna has no purchase validation yet",
    "console_user": "Nakama console accounts: Kizuna has no console yet",
    "console_audit_log": "Nakama console audit log: Kizuna has no console",
    "console_acl_template": "Nakama console permission templates: Kizuna has no console",
    "setting": "Nakama console settings: Kizuna has no console",
    "users_notes": "notes written about players in Nakama's console: Kizuna has no console",
}


class ImportRefused(MigrateError):
    """The import cannot run (or stopped): worded for the operator, with what to do."""


def source_address(text: str) -> DatabaseAddress:
    """Parse `--from` in the forms `database.address` takes; the database defaults to `nakama`
    (Nakama's default), not Kizuna's."""
    addr = parse_address(text)
    raw = text.strip()
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            raw = raw[len(prefix):]
    path = raw.split("?", 1)[0].split("#", 1)[0]
    host_part = path.rsplit("@", 1)[-1]
    if "/" not in host_part or not host_part.split("/", 1)[1]:
        addr = addr.with_database("nakama")
    return addr


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- what both databases hold --------------------------------------------------------------------


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None


@dataclass
class Plan:
    """One table's copy: the columns copied (in order), the expression that reads each from
    the source (cast to Kizuna's type, NULLs replaced by Kizuna's default where Kizuna requires
    a value), the target's unique keys and foreign keys."""

    spec: Spec
    columns: list[str]
    source_exprs: list[str]   # as copied
    types: list[str]          # Kizuna's column types, for the digests
    unique_keys: list[tuple[str, ...]]
    foreign_keys: list[tuple[tuple[str, ...], str, tuple[str, ...]]]
    dropped_columns: list[str]   # in Nakama's table, not in Kizuna's
    defaulted_columns: list[str]  # in Kizuna's table, not in this Nakama's (older release)
    target_columns: dict[str, Column] = field(default_factory=dict)

    def movable(self, key: tuple[str, ...]) -> Column | None:
        """A unique key of one text column (a username, an email, a group name): a target row
        that holds a value a source row now has can give it up instead of being deleted."""
        if len(key) != 1:
            return None
        col = self.target_columns.get(key[0])
        if col is None or not (col.type.startswith("character varying") or col.type == "text"):
            return None
        return col

    @property
    def name(self) -> str:
        return self.spec.name

    def digest_sql(self, exprs: list[str], table: str) -> str:
        """Row count and the sum of the first 64 bits of each row's md5 (order-independent),
        every value cast to Kizuna's type so both databases print it alike."""
        row = "ROW(" + ", ".join(f"CAST({e} AS {t})" for e, t in zip(exprs, self.types,
                                                                      strict=True)) + ")::text"
        return (f"SELECT count(*) AS n, COALESCE(sum(('x' || substr(md5({row}), 1, 16))"
                f"::bit(64)::bigint), 0) AS d FROM {table}")

    def source_select(self) -> str:
        """The COPY query (no ORDER BY: a sequential scan is the fastest way through a table,
        and nothing depends on the order). Values are not cast: one too long for Kizuna's
        column stops the run instead of being cut."""
        cols = ", ".join(f"{e} AS {_ident(c)}" for e, c in zip(self.source_exprs, self.columns,
                                                               strict=True))
        return f"SELECT {cols} FROM {_ident(self.name)} t"


async def _columns(conn: asyncpg.Connection, table: str) -> dict[str, Column]:
    rows = await conn.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid) AS def "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum", table)
    return {r["attname"]: Column(r["attname"], r["type"], r["attnotnull"], r["def"]) for r in rows}


async def _constraints(conn: asyncpg.Connection, table: str) -> tuple[
        list[tuple[str, ...]], list[tuple[tuple[str, ...], str, tuple[str, ...]]]]:
    rows = await conn.fetch(
        "SELECT con.contype::text AS contype, "
        "ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i) "
        "      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS cols, "
        "ref.relname AS ref_table, "
        "ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i) "
        "      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS ref_cols "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_class ref ON ref.oid = con.confrelid "
        "WHERE n.nspname = current_schema() AND c.relname = $1 AND con.contype IN ('p', 'u', 'f') "
        "ORDER BY con.contype, con.conname", table)
    unique = [tuple(r["cols"]) for r in rows if r["contype"] in ("p", "u")]
    fks = [(tuple(r["cols"]), r["ref_table"], tuple(r["ref_cols"])) for r in rows
           if r["contype"] == "f"]
    return unique, fks


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                            "AND c.relkind = 'r'")
    return {r["relname"] for r in rows}


async def plan_table(source: asyncpg.Connection, target: asyncpg.Connection, spec: Spec) -> Plan:
    src = await _columns(source, spec.name)
    dst = await _columns(target, spec.name)
    unique, fks = await _constraints(target, spec.name)
    if spec.identity not in unique:  # pragma: no cover - Kizuna's own schema
        raise ImportRefused(f"Kizuna's table {spec.name} has no unique key on "
                            f"({', '.join(spec.identity)})")
    columns: list[str] = []
    exprs: list[str] = []
    types: list[str] = []
    defaulted: list[str] = []
    for name, col in dst.items():
        if name in src:
            expr = f"t.{_ident(name)}"
            if col.not_null and not src[name].not_null:
                if col.default is None:
                    raise ImportRefused(
                        f"Nakama's {spec.name}.{name} may be empty where Kizuna requires a "
                        f"value and has no default", "Report this to Kizuna's maintainers with "
                        "your Nakama version.")
                expr = f"COALESCE({expr}, {col.default})"
            exprs.append(expr)
            types.append(col.type)
            columns.append(name)
        elif col.default is not None or not col.not_null:
            # A column a newer Nakama added (or Kizuna's own): the value Kizuna gives it.
            exprs.append(f"CAST({col.default or 'NULL'} AS {col.type})")
            types.append(col.type)
            columns.append(name)
            defaulted.append(name)
        else:
            raise ImportRefused(
                f"this Nakama database has no column {spec.name}.{name}, which Kizuna needs",
                "Upgrade Nakama to 3.x's latest release first (its migrations add it).")
    return Plan(spec, columns, exprs, types, [u for u in unique if u != spec.identity], fks,
                [c for c in src if c not in dst], defaulted, dst)


# -- the source ----------------------------------------------------------------------------------


@dataclass
class Source:
    address: str
    fingerprint: str
    schema: str
    migrations: list[str]
    snapshot_time: Any
    server: str


async def check_source(conn: asyncpg.Connection, addr: DatabaseAddress) -> Source:
    """Is this a Nakama database of a schema this release knows? Run inside the snapshot."""
    tables = await _tables(conn)
    if "migration_info" not in tables:
        raise ImportRefused(
            f"{addr.display()} is not a Nakama database: it has no migration_info table",
            "Give --from the address of Nakama's database (Nakama's database.address, "
            "e.g. root@db:26257/nakama).")
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM migration_info ORDER BY id")]
    unknown = [i for i in ids if i not in KNOWN_MIGRATIONS]
    if unknown:
        raise ImportRefused(
            f"the Nakama database at {addr.display()} has migrations this release of Kizuna "
            f"does not know: {', '.join(unknown)}",
            f"It knows Nakama's schema up to {KNOWN_MIGRATIONS[-1]} (Nakama 3.40). Use a newer "
            f"Kizuna, or import from a copy of the database made before Nakama was upgraded.")
    if not ids:
        raise ImportRefused(f"the Nakama database at {addr.display()} has no migrations applied",
                            "Run `nakama migrate up` on it first, or check --from.")
    missing = [s.name for s in TABLES if s.name not in tables]
    if missing:
        raise ImportRefused(f"the Nakama database at {addr.display()} lacks tables "
                            f"{', '.join(missing)}", "Is its schema complete? (`nakama migrate "
                            "status`)")
    ident = None
    for query in ("SELECT system_identifier::text FROM pg_control_system()",
                  "SELECT crdb_internal.cluster_id()::text"):
        try:
            async with conn.transaction():  # a savepoint: a failure keeps the snapshot usable
                ident = await conn.fetchval(query)
            break
        except asyncpg.PostgresError:
            continue
    dbname = await conn.fetchval("SELECT current_database()")
    fingerprint = f"{ident or addr.host + ':' + str(addr.port)}/{dbname}"
    server = await conn.fetchval("SELECT version()")
    return Source(addr.display(), fingerprint, ids[-1], ids, await conn.fetchval("SELECT now()"),
                  str(server).split(" on ")[0])


# -- a run ---------------------------------------------------------------------------------------


@dataclass
class TableResult:
    name: str
    what: str
    source_rows: int = 0
    source_bytes: int | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    replaced: int = 0   # target rows removed because a source row took their unique value
    skipped: dict[str, int] = field(default_factory=dict)
    source_digest: str = ""
    target_rows: int | None = None
    target_digest: str | None = None
    verified: bool | None = None
    dropped_columns: list[str] = field(default_factory=list)
    defaulted_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Result:
    mode: str
    source: Source
    tables: list[TableResult]
    not_carried: dict[str, dict[str, Any]]
    dry_run: bool
    backup: str | None = None
    seconds: float = 0.0
    target_state: str = ""

    @property
    def verified(self) -> bool:
        return all(t.verified is not False for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "dry_run": self.dry_run, "backup": self.backup,
                "seconds": round(self.seconds, 2), "target_state": self.target_state,
                "verified": self.verified,
                "source": {"address": self.source.address, "schema": self.source.schema,
                           "server": self.source.server,
                           "snapshot_time": self.source.snapshot_time.isoformat()},
                "tables": [t.to_json() for t in self.tables], "not_carried": self.not_carried}


def _hex(d: Decimal | int) -> str:
    return f"{int(d) % (1 << 64):016x}"


Progress = Callable[[str, int, int], None]
Say = Callable[[str], None]


async def target_state(target: asyncpg.Connection, source: Source) -> tuple[str, str]:
    """(`empty` | `catch-up` | `other-data`, why)."""
    counts = []
    for spec in TABLES:
        where = f" WHERE id <> '{NIL}'" if spec.name == "users" else ""
        has = await target.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_ident(spec.name)}{where})")
        if has:
            counts.append(spec.name)
    if not counts:
        return "empty", "Kizuna's database holds no player data"
    last = await target.fetchrow(
        "SELECT id, source_id, end_time, start_time, status FROM kizuna_import "
        "WHERE source_kind = 'nakama' ORDER BY start_time DESC LIMIT 1")
    if last is None or last["source_id"] != source.fingerprint:
        whence = ("data of its own" if last is None else
                  "an import from another Nakama database")
        return "other-data", (f"Kizuna's database already holds {whence} "
                              f"({', '.join(counts)})")
    served = await target.fetchval(
        "SELECT count(*) FROM user_session WHERE create_time > $1", last["start_time"])
    if served:
        return "other-data", (f"Kizuna has served players since the last import from this "
                              f"source ({served} sessions started since "
                              f"{last['start_time']:%Y-%m-%d %H:%M:%S} UTC): a catch-up would "
                              f"delete what they did")
    return "catch-up", (f"Kizuna's database holds an earlier import of this source "
                        f"({last['status']}, started {last['start_time']:%Y-%m-%d %H:%M:%S} UTC)")


class NakamaImport:
    """One run of the import, from an open source connection to an open target connection (a
    Kizuna database migrated to this release)."""

    def __init__(self, source: asyncpg.Connection, target: asyncpg.Connection | None,
                 source_addr: DatabaseAddress, *, merge: bool = False, dry_run: bool = False,
                 progress: Progress | None = None, say: Say | None = None,
                 before_change: Callable[[], Awaitable[str | None]] | None = None,
                 version: str = "") -> None:
        self.src = source
        self.no_target = target is None  # a dry run before Kizuna's database exists
        self.dst = cast(asyncpg.Connection, target)
        self.addr = source_addr
        self.merge = merge
        self.dry_run = dry_run
        self.progress = progress or (lambda table, done, total: None)
        self.say = say or (lambda text: None)
        self.before_change = before_change
        self.version = version

    async def run(self) -> Result:
        started = time.monotonic()
        await self.src.execute("SET TIME ZONE 'UTC'")
        if not self.no_target:
            await self.dst.execute("SET TIME ZONE 'UTC'")
        async with self.src.transaction(isolation="repeatable_read", readonly=True):
            source = await check_source(self.src, self.addr)
            not_carried = await self._not_carried()
            if self.no_target:
                results = [TableResult(spec.name, spec.what) for spec in TABLES]
                await self._sizes(results, count=True)
                return Result("full", source, results, not_carried, True, seconds=(
                    time.monotonic() - started), target_state=(
                    "Kizuna's database does not exist yet: a real run creates and migrates it"))
            plans = [await plan_table(self.src, self.dst, spec) for spec in TABLES]
            state, why = await target_state(self.dst, source)
            results = [TableResult(p.name, p.spec.what, dropped_columns=p.dropped_columns,
                                   defaulted_columns=p.defaulted_columns) for p in plans]
            mode = {"empty": "full", "catch-up": "catch-up"}.get(state, "merge")
            result = Result(mode, source, results, not_carried, self.dry_run, target_state=why)
            if state == "other-data" and not self.merge and self.dry_run:
                result.target_state = f"{why}: a real run refuses it unless --merge is given"
            elif state == "other-data" and not self.merge:
                raise ImportRefused(
                    f"{why}: the import refuses to mix it with Nakama's data",
                    "Import into a new, empty Kizuna database (--database.address "
                    ".../newdb), or pass --merge to add Nakama's data beside it (rows already "
                    "there are kept; rows that clash on a username, email or other unique "
                    "value are skipped and reported).", state=state)
            if self.merge:
                mode = result.mode = "merge"
            await self._sizes(results, count=self.dry_run)
            if self.dry_run:
                result.seconds = time.monotonic() - started
                return result
            self.say(f"counting and digesting Nakama's {len(plans)} tables in the snapshot "
                     f"(taken {source.snapshot_time:%H:%M:%S} UTC)")
            for plan, res in zip(plans, results, strict=True):
                res.source_rows, digest = await self._source_digest(plan)
                res.source_digest = _hex(digest)
            if state != "empty" and self.before_change is not None:
                result.backup = await self.before_change()
            run_id = str(uuid.uuid4())
            await self.dst.execute(
                "INSERT INTO kizuna_import (id, source_kind, source_id, source_address, "
                "source_schema, mode, status, snapshot_time, kizuna_version) "
                "VALUES ($1, 'nakama', $2, $3, $4, $5, 'running', $6, $7)",
                run_id, source.fingerprint, source.address, source.schema, mode,
                source.snapshot_time, self.version)
            try:
                track = mode == "catch-up"
                for plan, res in zip(plans, results, strict=True):
                    await self._copy(plan, res, track, mode == "full")
                if track:
                    for plan, res in reversed(list(zip(plans, results, strict=True))):
                        res.deleted = await self._delete_missing(plan)
            except BaseException:
                await self._finish(run_id, "failed", result)
                raise
        self.say("verifying: counting and digesting Kizuna's copy")
        for plan, res in zip(plans, results, strict=True):
            await self._verify(plan, res, mode)
        result.seconds = time.monotonic() - started
        await self._finish(run_id, "done" if result.verified else "verify-failed", result)
        return result

    async def _finish(self, run_id: str, status: str, result: Result) -> None:
        try:
            await self.dst.execute(
                "UPDATE kizuna_import SET status = $2, end_time = now(), stats = $3::jsonb "
                "WHERE id = $1", run_id, status, orjson.dumps(
                    {t.name: {k: v for k, v in t.to_json().items() if k not in ("what",)}
                     for t in result.tables}).decode())
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # the connection is gone: the run stays `running`, which the next one reads

    async def _not_carried(self) -> dict[str, dict[str, Any]]:
        tables = await _tables(self.src)
        out: dict[str, dict[str, Any]] = {}
        for name, why in NOT_CARRIED.items():
            if name in tables:
                n = await self.src.fetchval(f"SELECT count(*) FROM {_ident(name)}")
                out[name] = {"rows": n, "why": why}
        return out

    async def _source_digest(self, plan: Plan) -> tuple[int, Decimal]:
        row = await self.src.fetchrow(plan.digest_sql(plan.source_exprs, f"{_ident(plan.name)} t"))
        return int(row["n"]), row["d"]

    async def _sizes(self, results: list[TableResult], count: bool) -> None:
        """Each source table's size on disk (None where the engine does not say), and with
        `count` its rows (a real run counts them with its digests instead)."""
        for res in results:
            try:
                async with self.src.transaction():  # a savepoint: the snapshot survives a refusal
                    res.source_bytes = int(await self.src.fetchval(
                        "SELECT pg_total_relation_size($1::regclass)", res.name))
            except (asyncpg.PostgresError, TypeError):
                res.source_bytes = None
            if count:
                res.source_rows = await self.src.fetchval(f"SELECT count(*) FROM {_ident(res.name)}")

    # -- copying one table ---------------------------------------------------------------------

    async def _set_aside(self, table: str) -> list[str]:
        """Drop `table`'s indexes that back no unique key, and its foreign keys; return the
        statements that recreate them as they were (adding a foreign key back checks every row)."""
        rows = await self.dst.fetch(
            "SELECT 'ALTER TABLE ' || quote_ident(c.relname) || ' DROP CONSTRAINT ' "
            "|| quote_ident(con.conname) AS drop_sql, 'ALTER TABLE ' || quote_ident(c.relname) "
            "|| ' ADD CONSTRAINT ' || quote_ident(con.conname) || ' ' "
            "|| pg_get_constraintdef(con.oid) AS create_sql "
            "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = $1 AND con.contype = 'f' "
            "UNION ALL "
            "SELECT 'DROP INDEX ' || quote_ident(ic.relname), pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT i.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)",
            table)
        for r in rows:
            await self.dst.execute(r["drop_sql"])
        return [r["create_sql"] for r in rows]

    async def _copy(self, plan: Plan, res: TableResult, track: bool, full: bool) -> None:
        started = time.monotonic()
        self.progress(plan.name, 0, res.source_rows)
        if full:
            try:
                await self._copy_direct(plan, res)
                res.seconds = round(time.monotonic() - started, 2)
                return
            except asyncpg.IntegrityConstraintViolationError as exc:
                # A row Kizuna's keys refuse (a source that broke its own constraints): load
                # the table again through the checking path, which skips and reports such rows.
                self.say(f"{plan.name}: {exc.__class__.__name__}: {exc}; loading it again, "
                         f"checking every row")
                res.inserted = 0
        await self._copy_checked(plan, res, track)
        res.seconds = round(time.monotonic() - started, 2)

    async def _copy_direct(self, plan: Plan, res: TableResult) -> None:
        """Kizuna's table is empty: COPY straight into it, in one transaction, with its plain
        indexes and foreign keys set aside and rebuilt at the end (several times faster than
        maintaining them row by row). Interrupted, the transaction rolls back whole: the table
        is as it was, indexes and keys included."""
        done = 0
        async with self.dst.transaction():
            rebuild = await self._set_aside(plan.name)
            if plan.name == "users":
                # The system user every Kizuna schema starts with comes from the source too.
                await self.dst.execute(f"DELETE FROM users WHERE id = '{NIL}'")

            async def load(batch: bytes) -> None:
                nonlocal done
                # A memoryview, not a file: asyncpg reads a file through a class it defines per
                # call (a reference cycle that keeps every batch alive until the cyclic GC runs)
                # and a thread hop per 512 KiB.
                await self.dst.copy_to_table(plan.name, source=memoryview(batch),
                                             columns=plan.columns, format="text")
                done += batch.count(b"\n")
                self.progress(plan.name, done, res.source_rows)

            await self._stream(plan, load)
            if plan.name == "users":
                await self.dst.execute(f"INSERT INTO users (id, username) VALUES ('{NIL}', '') "
                                       f"ON CONFLICT DO NOTHING")
            for ddl in rebuild:
                await self.dst.execute(ddl)
        res.inserted = done

    async def _copy_checked(self, plan: Plan, res: TableResult, track: bool) -> None:
        """Batch by batch through a staging table: parents checked, unique values made room
        for (or clashing rows skipped, in a merge), upserted by identity."""
        name = plan.name
        stage = f"kz_import_stage_{name}"
        cols = ", ".join(_ident(c) for c in plan.columns)
        ident = ", ".join(_ident(c) for c in plan.spec.identity)
        await self.dst.execute(f"DROP TABLE IF EXISTS {stage}")
        await self.dst.execute(
            f"CREATE TEMP TABLE {stage} AS SELECT {cols} FROM {_ident(name)} WITH NO DATA")
        if track:
            seen = f"kz_import_seen_{name}"
            await self.dst.execute(f"DROP TABLE IF EXISTS {seen}")
            await self.dst.execute(
                f"CREATE TEMP TABLE {seen} AS SELECT {ident} FROM {_ident(name)} WITH NO DATA")
        done = 0

        async def load(batch: bytes) -> None:
            nonlocal done
            done += await self._load_batch(plan, res, stage, batch, track)
            self.progress(name, done, res.source_rows)

        await self._stream(plan, load)

    async def _stream(self, plan: Plan, load: Callable[[bytes], Awaitable[None]]) -> None:
        """COPY the table out of the source (in the snapshot) and hand it to `load` in batches
        of whole rows, at most QUEUE_BATCHES waiting: reading and writing overlap, and memory
        stays bounded whatever the table's size."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_BATCHES)
        buf = bytearray()
        rows_in_buf = 0

        async def sink(chunk: bytes) -> None:
            nonlocal buf, rows_in_buf
            buf += chunk
            rows_in_buf += chunk.count(b"\n")
            if rows_in_buf >= BATCH_ROWS or len(buf) >= BATCH_BYTES:
                cut = buf.rfind(b"\n") + 1
                if cut:
                    batch = bytes(buf[:cut])
                    del buf[:cut]
                    rows_in_buf = buf.count(b"\n")
                    await queue.put(batch)

        async def produce() -> None:
            try:
                await self.src.copy_from_query(plan.source_select(), output=sink, format="text")
                if buf:
                    await queue.put(bytes(buf))
            finally:
                await queue.put(None)

        producer = asyncio.create_task(produce())
        failed: BaseException | None = None
        try:
            while True:
                batch = await queue.get()
                if batch is None:
                    break
                if failed is None:
                    try:
                        await load(batch)
                    except Exception as exc:
                        # Let the COPY out finish (discarding the rest): a COPY cut short
                        # would leave the source connection, and the snapshot, unusable.
                        failed = exc
            await producer
            if failed is not None:
                raise failed
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await producer

    async def _load_batch(self, plan: Plan, res: TableResult, stage: str, batch: bytes,
                          track: bool) -> int:
        name = _ident(plan.name)
        ident = plan.spec.identity
        differs = " OR ".join(f"t.{_ident(c)} IS DISTINCT FROM s.{_ident(c)}" for c in ident)
        cols = ", ".join(_ident(c) for c in plan.columns)
        async with self.dst.transaction():
            await self.dst.execute(f"TRUNCATE {stage}")
            await self.dst.copy_to_table(stage, source=memoryview(batch), columns=plan.columns,
                                         format="text")
            rows = batch.count(b"\n")
            for cols_fk, ref, ref_cols in plan.foreign_keys:
                cond = " AND ".join(f"r.{_ident(rc)} = s.{_ident(c)}"
                                    for c, rc in zip(cols_fk, ref_cols, strict=True))
                gone = await self.dst.fetchval(
                    f"WITH d AS (DELETE FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM "
                    f"{_ident(ref)} r WHERE {cond}) RETURNING 1) SELECT count(*) FROM d")
                if gone:
                    why = f"its {ref} row ({', '.join(cols_fk)}) is not in Kizuna"
                    res.skipped[why] = res.skipped.get(why, 0) + gone
            for key in plan.unique_keys:
                same = " AND ".join(f"t.{_ident(c)} = s.{_ident(c)}" for c in key)
                if self.merge:
                    gone = await self.dst.fetchval(
                        f"WITH d AS (DELETE FROM {stage} s USING {name} t WHERE {same} AND "
                        f"({differs}) RETURNING 1) SELECT count(*) FROM d")
                    if gone:
                        why = f"another row in Kizuna has the same ({', '.join(key)})"
                        res.skipped[why] = res.skipped.get(why, 0) + gone
                elif (col := plan.movable(key)) is not None:
                    # The row keeps its other data (and its children): it gives the value up,
                    # and gets its own from the source in this run, or is deleted at the end of
                    # a catch-up when the source no longer has it.
                    ids = " || '/' || ".join(f"t.{_ident(c)}::text" for c in ident)
                    value = "NULL" if not col.not_null else f"'~kz-import-' || md5({ids})"
                    res.replaced += await self.dst.fetchval(
                        f"WITH d AS (UPDATE {name} t SET {_ident(col.name)} = {value} "
                        f"FROM {stage} s WHERE {same} AND ({differs}) RETURNING 1) "
                        f"SELECT count(*) FROM d")
                else:
                    res.replaced += await self.dst.fetchval(
                        f"WITH d AS (DELETE FROM {name} t USING {stage} s WHERE {same} AND "
                        f"({differs}) RETURNING 1) SELECT count(*) FROM d")
            conflict = ", ".join(_ident(c) for c in ident)
            kept = 0
            if self.merge:
                action = "DO NOTHING"
                # Rows Kizuna already has under the same identity, with other contents: kept as
                # Kizuna has them, and reported (a device id another account holds, ...).
                on = " AND ".join(f"t.{_ident(c)} = s.{_ident(c)}" for c in ident)
                tcols = ", ".join(f"t.{_ident(c)}" for c in plan.columns)
                scols = ", ".join(f"s.{_ident(c)}" for c in plan.columns)
                system = f" AND t.id <> '{NIL}'" if plan.name == "users" else ""
                kept = await self.dst.fetchval(
                    f"SELECT count(*) FROM {stage} s JOIN {name} t ON {on} "
                    f"WHERE ({tcols}) IS DISTINCT FROM ({scols}){system}")
                if kept:
                    why = "already in Kizuna with other contents (Kizuna's kept)"
                    res.skipped[why] = res.skipped.get(why, 0) + kept
            else:
                others = [c for c in plan.columns if c not in ident]
                sets = ", ".join(f"{_ident(c)} = EXCLUDED.{_ident(c)}" for c in others)
                old = ", ".join(f"{name}.{_ident(c)}" for c in others)
                new = ", ".join(f"EXCLUDED.{_ident(c)}" for c in others)
                action = (f"DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
                          if others else "DO NOTHING")
            counts = await self.dst.fetchrow(
                f"WITH w AS (INSERT INTO {name} ({cols}) SELECT {cols} FROM {stage} "
                f"ON CONFLICT ({conflict}) {action} RETURNING (xmax = 0) AS ins) "
                f"SELECT count(*) FILTER (WHERE ins) AS ins, count(*) FILTER (WHERE NOT ins) AS upd "
                f"FROM w")
            staged = await self.dst.fetchval(f"SELECT count(*) FROM {stage}")
            res.inserted += counts["ins"]
            res.updated += counts["upd"]
            res.unchanged += staged - counts["ins"] - counts["upd"] - kept
            if track:
                idc = ", ".join(_ident(c) for c in ident)
                await self.dst.execute(f"INSERT INTO kz_import_seen_{plan.name} ({idc}) "
                                       f"SELECT {idc} FROM {stage}")
        return rows

    async def _delete_missing(self, plan: Plan) -> int:
        """Catch-up: delete target rows the source no longer has."""
        seen = f"kz_import_seen_{plan.name}"
        cond = " AND ".join(f"s.{_ident(c)} = t.{_ident(c)}" for c in plan.spec.identity)
        keep_nil = f" AND t.id <> '{NIL}'" if plan.name == "users" else ""
        await self.dst.execute(f"ANALYZE {seen}")
        async with self.dst.transaction():
            n = await self.dst.fetchval(
                f"WITH d AS (DELETE FROM {_ident(plan.name)} t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {seen} s WHERE {cond}){keep_nil} RETURNING 1) "
                f"SELECT count(*) FROM d")
        await self.dst.execute(f"DROP TABLE IF EXISTS {seen}")
        return int(n)

    async def _verify(self, plan: Plan, res: TableResult, mode: str) -> None:
        target_exprs = [f"t.{_ident(c)}" for c in plan.columns]
        row = await self.dst.fetchrow(plan.digest_sql(target_exprs, f"{_ident(plan.name)} t"))
        res.target_rows = int(row["n"])
        skipped = sum(res.skipped.values())
        if mode == "merge":
            # Rows already there were kept as Kizuna had them: check presence, not content.
            res.target_digest = None
            res.verified = res.inserted + res.unchanged + res.updated + skipped == res.source_rows
        else:
            res.target_digest = _hex(row["d"])
            res.verified = (res.target_rows == res.source_rows
                            and res.target_digest == res.source_digest)
        await self.dst.execute(f"DROP TABLE IF EXISTS kz_import_stage_{plan.name}")
