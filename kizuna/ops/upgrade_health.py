"""What the console's upgrade-health page reads: one view of where the cluster stands before (and
during) an upgrade, from the same functions the command line uses.

- schema: the database's applied head, this release's head and window, and the schema guard's
  verdict (`migrate.guard.check`, what a node of this release says at start);
- nodes: every live node (the registry's rows, and nodes seen only by their connections), with
  its release and schema window, and whether the database's schema is inside that window;
- migrations: pending, unknown (the database is ahead), changed (checksum) and interrupted ones,
  as `kizuna migrate status` computes them (`executor.compute_status` through the guard), and
  which nodes would make `migrate up` refuse the next contract migration (`nodes.contract_guard`);
- backups: the last manual and automatic backups (`kizuna_backup_log`) and the archives in this
  node's backup.dir;
- plan: `ops.upgrade.plan`, the function behind `kizuna upgrade plan`, for this node's release,
  read-only: the pending steps are linted but not tried against the database (the command
  line tries them in a rolled-back transaction, under the migration lock; a page view must not
  take locks in front of game traffic). Cached while the journal does not change (60 s at most):
  its size estimate reads every small table;
- clients: the client SDKs and versions seen in the last 7 days (`kizuna_client_seen`), against
  the release manifest's `clients_tested`.

Sections that read 0011_console's tables say "needs kizuna migrate up" while it is pending (a
node of this release serves schemas back to its window's oldest).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from kizuna.config import Config
from kizuna.errors import invalid
from kizuna.migrate import guard, journal
from kizuna.migrate.errors import MigrateError
from kizuna.migrate.executor import Engine, Options, PlanStep, Status
from kizuna.migrate.loader import Migration
from kizuna.ops import backup_log
from kizuna.ops.nodes import contract_guard, live_nodes, node_rows
from kizuna.ops.upgrade import plan as upgrade_plan
from kizuna.release import Manifest
from kizuna.version import __version__
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor

CONSOLE_MIGRATION = "0011_console"
CLIENT_DAYS = 7
PLAN_TTL_SEC = 60.0
NOT_TRIED = ("not tried against the database: the console only reads (`kizuna upgrade plan` "
             "tries each step in a transaction that is rolled back)")


def needs_migrate(table: str) -> str:
    return (f"Needs kizuna migrate up: this section reads {table}, which {CONSOLE_MIGRATION} "
            f"adds, and it is not applied to this database yet.")


# -- schema windows ------------------------------------------------------------------------------

_NUMBER = re.compile(r"^(\d+)")


def _number(mid: str | None) -> int | None:
    """A migration's order: the number its id starts with (NNNN_slug or a timestamp)."""
    m = _NUMBER.match(mid or "")
    return int(m.group(1)) if m else None


def in_window(head: str | None, oldest: str, newest: str) -> bool | None:
    """Whether schema `head` lies in oldest..newest; None when either end is unknown."""
    h, lo, hi = _number(head), _number(oldest), _number(newest)
    if h is None or lo is None or hi is None:
        return None
    return lo <= h <= hi


def database_head(status: Status) -> str | None:
    """The newest applied migration, known to this release or not (a database ahead of it)."""
    if status.unknown:
        return max(status.unknown, key=lambda mid: (_number(mid) or 0, mid))
    return status.current


# -- schema and migrations -----------------------------------------------------------------------


async def schema_and_migrations(conn: asyncpg.Connection, migrations: list[Migration],
                                manifest: Manifest) -> tuple[Status, dict[str, Any], dict[str, Any]]:
    result = await guard.check(conn, migrations, "kizuna migrate {}", oldest=manifest.oldest_schema)
    st = result.status
    resolutions = await journal.resolutions(conn)
    for row in st.rows:
        row.resolved = resolutions.get(row.id)
    head = database_head(st)
    schema = {
        "database_head": head,
        "current": st.current,
        "release": manifest.release,
        "release_head": manifest.schema_head,
        "window": {"oldest": manifest.oldest_schema, "newest": manifest.newest_schema},
        "in_window": in_window(head, manifest.oldest_schema, manifest.newest_schema),
        "at_release_head": head == manifest.schema_head and st.up_to_date,
        "up_to_date": st.up_to_date,
        "guard": {"ok": result.ok, "message": result.message, "warnings": list(result.warnings)},
    }

    def rows(state: set[str]) -> list[dict[str, Any]]:
        return [{"id": r.id, "phase": r.phase, "state": r.state, "detail": r.detail or None,
                 "transactional": r.transactional,
                 "resolved": r.resolved.describe() if r.resolved else None}
                for r in st.rows if r.state in state]

    by_id = {m.id: m for m in migrations}
    next_contract = next((mid for mid in st.pending if by_id[mid].phase == "contract"), None)
    migrations_doc = {
        "pending": rows({"pending"}),
        "unknown": rows({"unknown"}),
        "changed": rows({"changed"}),
        "interrupted": rows({"partial_up", "partial_down"}),
        "applied_count": sum(1 for r in st.rows if r.state == "applied"),
        "next_contract": next_contract,
    }
    return st, schema, migrations_doc


@dataclass(frozen=True)
class _Probe:
    """Stands for "the next contract migration" when none is pending (the guard needs an id)."""
    id: str
    phase: str = "contract"


async def contract_blockers(conn: asyncpg.Connection, next_contract: str | None) -> dict[str, Any]:
    """Who would make `migrate up` refuse the next contract migration: `nodes.contract_guard`
    itself (nodes of other releases that still serve), asked without running anything."""
    probe = _Probe(next_contract or "the next contract migration")
    try:
        await contract_guard(conn, __version__)(probe)
    except MigrateError as exc:
        names = exc.data.get("nodes")
        message = exc.message
        if next_contract is None:  # the guard's words name a migration: say "a future one"
            _, sep, who = message.partition("still serve this database: ")
            message = ("a contract migration would be refused now: nodes of other releases "
                       "still serve this database: " + who) if sep else message
        return {"blocked": True, "migration": next_contract,
                "nodes": list(names) if isinstance(names, list) else [],
                "message": message,
                "hint": exc.hint.replace(" The migrations before it were applied.", "")}
    return {"blocked": False, "migration": next_contract, "nodes": [],
            "message": "no node of another release serves: a contract migration may run",
            "hint": ""}


# -- nodes ---------------------------------------------------------------------------------------


async def nodes_section(conn: asyncpg.Connection, manifest: Manifest, head: str | None, *,
                        node_name: str, instance: str, blockers: list[str]) -> list[dict[str, Any]]:
    windows = {r["version"]: r.get("schema_window") or {} for r in manifest.releases}
    out: list[dict[str, Any]] = []
    for r in await node_rows(conn):
        out.append(_node(r.name, r.instance, r.version, r.state, r.address, r.schema_oldest,
                         r.schema_newest, "registry", round(r.seconds_since_heartbeat, 1),
                         this=r.name == node_name and (not instance or r.instance == instance),
                         head=head, blockers=blockers))
    registered = {n["name"] for n in out}
    for n in await live_nodes(conn, expire=False):
        if n.source != "connections" or n.name in registered:
            continue
        window = windows.get(n.version, {})
        out.append(_node(n.name, "", n.version, n.state, n.address, window.get("oldest", ""),
                         window.get("newest", ""), "connections", None,
                         this=n.name == node_name, head=head, blockers=blockers))
    if not any(n["this_node"] for n in out):
        # Not registered (a schema before the node registry): this process still serves.
        out.append(_node(node_name, instance, __version__, "serving", "",
                         manifest.oldest_schema, manifest.newest_schema, "this process", None,
                         this=True, head=head, blockers=blockers))
    out.sort(key=lambda n: (not n["this_node"], n["name"], n["instance"]))
    return out


def _node(name: str, instance: str, version: str, state: str, address: str, oldest: str,
          newest: str, source: str, age: float | None, *, this: bool, head: str | None,
          blockers: list[str]) -> dict[str, Any]:
    inside = in_window(head, oldest, newest)
    if inside is None:
        problem = ("its schema window is unknown (a release without the node registry, or one "
                   "this release's manifest does not list)") if head else ""
    elif not inside:
        problem = (f"the database's schema {head} is outside its window {oldest} … {newest}: "
                   f"its release does not serve this schema")
    else:
        problem = ""
    return {"name": name, "instance": instance, "version": version, "state": state,
            "address": address, "schema_oldest": oldest, "schema_newest": newest,
            "in_window": inside, "problem": problem, "source": source,
            "seconds_since_heartbeat": age, "this_node": this,
            "other_release": version != __version__,
            "blocks_contract": name in blockers and version != __version__}


# -- backups -------------------------------------------------------------------------------------


async def backups_section(conn: asyncpg.Connection, cfg: Config) -> dict[str, Any]:
    files, total = await asyncio.to_thread(backup_log.backup_files, cfg.backup.dir, 20)
    doc: dict[str, Any] = {
        "directory": cfg.backup.dir, "retention": cfg.backup.retention,
        "before_migrate": cfg.backup.before_migrate,
        "files": [f.to_json() for f in files], "files_total": total,
    }
    if not await backup_log.table_exists(conn):
        doc.update(available=False, message=needs_migrate(backup_log.TABLE),
                   last_manual=None, last_automatic=None)
        return doc
    manual = await backup_log.last_backup(conn, "manual")
    auto = await backup_log.last_backup(conn, "automatic")
    doc.update(available=True, message="",
               last_manual=manual.to_json() if manual else None,
               last_automatic=auto.to_json() if auto else None)
    return doc


# -- clients -------------------------------------------------------------------------------------

CLIENTS_TABLE = "kizuna_client_seen"


def _sdk_key(name: str) -> str:
    """`@heroiclabs/nakama-js` (the manifest's npm name) and `nakama-js` (the User-Agent's) alike."""
    return name.rsplit("/", 1)[-1].lower()


async def clients_section(conn: asyncpg.Connection, manifest: Manifest, limit: int,
                          cursor: str | None) -> dict[str, Any]:
    """The SDKs seen in the last CLIENT_DAYS days, newest first, `limit` a page (keyset on
    last_seen, sdk, version: kizuna_client_seen_last_idx)."""
    tested = {_sdk_key(k): (k, [str(v) for v in vs]) for k, vs in manifest.clients_tested.items()}
    doc: dict[str, Any] = {"days": CLIENT_DAYS, "tested": manifest.clients_tested}
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", CLIENTS_TABLE):
        doc.update(available=False, message=needs_migrate(CLIENTS_TABLE), clients=[],
                   next_cursor="")
        return doc
    args: list[Any] = [CLIENT_DAYS]
    where = "last_seen > now() - make_interval(days => $1)"
    if cursor:
        seen, sdk, version = _client_position(cursor)
        args += [seen, sdk, version]
        where += " AND (last_seen, sdk, version) < ($2, $3, $4)"
    args.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT sdk, version, user_agent, first_seen, last_seen, requests FROM {CLIENTS_TABLE} "
        f"WHERE {where} ORDER BY last_seen DESC, sdk DESC, version DESC LIMIT ${len(args)}", *args)
    clients = []
    for r in rows[:limit]:
        sdk, version = r["sdk"], r["version"]
        match = tested.get(_sdk_key(sdk))
        if match is not None:
            ok = version in match[1]
            note = "" if ok else (f"this version is not tested with this release (tested: "
                                  f"{match[0]} {', '.join(match[1])})")
        elif sdk.startswith("nakama-"):
            ok, note = False, "this SDK is not tested with this release"
        else:
            ok, note = False, "not a Nakama client SDK (a tool, a browser or an unknown client)"
        clients.append({"sdk": sdk, "version": version, "user_agent": r["user_agent"],
                        "first_seen": r["first_seen"].isoformat(),
                        "last_seen": r["last_seen"].isoformat(), "requests": int(r["requests"]),
                        "tested": ok, "note": note})
    nxt = ""
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_cursor([last["last_seen"].isoformat(), last["sdk"], last["version"]])
    doc.update(available=True, message="", clients=clients, next_cursor=nxt)
    return doc


def _client_position(cursor: str) -> tuple[dt.datetime, str, str]:
    values = decode_cursor(cursor)
    try:
        seen = dt.datetime.fromisoformat(values[0])
        sdk, version = values[1], values[2]
        if not isinstance(sdk, str) or not isinstance(version, str) or seen.tzinfo is None:
            raise ValueError
        return seen, sdk, version
    except (IndexError, TypeError, ValueError):
        raise invalid(MALFORMED_CURSOR) from None


# -- the upgrade plan ----------------------------------------------------------------------------


class _ReadingEngine(Engine):
    """An Engine whose plan lints the pending steps without trying them: no migration lock, no
    statement run (what `kizuna upgrade plan` adds on the command line)."""

    async def plan(self, direction: str = "up", limit: int | None = None, to: str | None = None,
                   check: bool = False) -> tuple[list[PlanStep], dict[str, tuple[int, int]]]:
        steps, stats = await super().plan(direction, limit, to, check=False)
        for s in steps:
            s.check = s.check or NOT_TRIED
        return steps, stats


@dataclass
class PlanCache:
    """The last plan, reused while the journal reads the same (and for PLAN_TTL_SEC at most)."""
    key: tuple[Any, ...] = ()
    at: float = 0.0
    value: dict[str, Any] = field(default_factory=dict)

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        if self.value and key == self.key and time.monotonic() - self.at < PLAN_TTL_SEC:
            return self.value
        return None

    def put(self, key: tuple[Any, ...], value: dict[str, Any]) -> None:
        self.key, self.at, self.value = key, time.monotonic(), value


def _status_key(st: Status) -> tuple[Any, ...]:
    return (st.current, tuple(st.pending), tuple(st.unknown), tuple(st.changed),
            tuple(st.partial))


async def plan_section(conn: asyncpg.Connection, cfg: Config, manifest: Manifest,
                       migrations: list[Migration], st: Status,
                       cache: PlanCache | None = None) -> dict[str, Any]:
    key = _status_key(st)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    embedded_info: dict[str, Any] | None = None
    if cfg.embedded_database:
        from kizuna.db import embedded

        try:
            embedded_info = await asyncio.to_thread(embedded.inspect, cfg.data_dir)
        except embedded.EmbeddedError as exc:
            embedded_info = {"upgrade": "required", "why": f"{exc.message}. {exc.hint}".strip()}
        database = f"embedded PostgreSQL in {cfg.data_dir}"
    else:
        from kizuna.db.address import parse_address

        database = parse_address(cfg.database.address[0]).display()
    engine = _ReadingEngine(conn, migrations, Options(version=__version__))
    computed = dt.datetime.now(dt.UTC).isoformat()
    try:
        doc = await upgrade_plan(engine, manifest, database=database, backup_dir=cfg.backup.dir,
                                 embedded_info=embedded_info)
    except MigrateError as exc:
        value = {"ok": False, "error": exc.message, "hint": exc.hint, "doc": None,
                 "lines": [{"style": "bad", "text": f"blocked: {exc.message}"}],
                 "computed_at": computed}
    else:
        value = {"ok": not doc.get("blocked_by"), "error": "", "hint": "", "doc": doc,
                 "lines": plan_lines(doc), "computed_at": computed}
    if cache is not None:
        cache.put(key, value)
    return value


_VERDICT_STYLE = {"online": "ok", "brief lock": "ok", "blocks writes": "warn",
                  "maintenance window": "warn", "breaks old nodes": "bad", "will fail": "bad"}


def _size(n: Any) -> str:
    size = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def plan_lines(doc: dict[str, Any]) -> list[dict[str, str]]:
    """The verdict lines `kizuna upgrade plan` prints, as {style: ok|warn|bad|info, text}."""
    lines: list[dict[str, str]] = []

    def say(text: str, style: str = "info") -> None:
        lines.append({"style": style, "text": text})

    say(f"Upgrade of {doc['database']} to Kizuna {doc['release']} (schema "
        f"{doc['target_schema']}): {doc.get('state', '?')}; current schema "
        f"{doc.get('current_schema') or 'none'}; applied by release(s) "
        f"{', '.join(doc.get('running_releases') or []) or 'none'}")
    engine = doc.get("engine")
    if engine:
        what = (f"embedded PostgreSQL {engine.get('major') or '(new)'}"
                if engine.get("kind") == "embedded"
                else f"PostgreSQL {engine.get('version') or engine.get('major') or '?'}")
        line = f"engine: {what}; engine upgrade {engine.get('upgrade')}"
        if engine.get("to"):
            line += f" (to PostgreSQL {engine['to']}: `{engine.get('command')}`)"
        say(f"{line} — {engine.get('why') or ''}",
            {"required": "bad", "available": "warn"}.get(str(engine.get("upgrade")), "ok"))
        if engine.get("interrupted_note"):
            say(str(engine["interrupted_note"]), "warn")
    if doc.get("blocked_by"):
        say(f"blocked: {doc['blocked_by']}", "bad")
        return lines
    stops = doc.get("required_stops") or []
    say(f"path: {' → '.join(doc.get('path') or [])}"
        + (f"; required stops: {', '.join(stops)}" if stops else "; no required stop"),
        "warn" if stops else "info")
    steps = doc.get("steps") or []
    pending = doc.get("pending") or []
    if pending:
        say(f"migrations to run: {len(pending)} ({', '.join(pending)})", "warn")
    else:
        say("migrations to run: none", "ok")
    for step in steps:
        kind = "transactional" if step.get("transactional") else "no-transaction"
        say(f"{step['id']} [{step['phase']}, {kind}] → {step['verdict']}",
            _VERDICT_STYLE.get(step["verdict"], "info"))
        for f in step.get("findings") or []:
            if f.get("verdict") == "online":
                continue
            table = ""
            if f.get("table_rows") is not None:
                table = f" ({f['table']}: {f['table_rows']} rows, {_size(f.get('table_bytes'))})"
            say(f"    {f['verdict']}: {f['message']}{table}",
                _VERDICT_STYLE.get(f["verdict"], "info"))
    serve = doc.get("old_nodes_can_serve") or {}
    if serve:
        say(f"old nodes keep serving: {'yes' if serve.get('answer') else 'no'} — "
            f"{serve.get('why', '')}", "ok" if serve.get("answer") else "bad")
    rolling = doc.get("rolling_upgrade") or {}
    if rolling:
        possible = rolling.get("possible")
        answer = "not applicable" if possible is None else "yes" if possible else "no"
        say(f"rolling upgrade: {answer} — {rolling.get('why', '')}",
            "info" if possible is None else "ok" if possible else "warn")
    if doc.get("first_hop"):
        say(f"first hop: {doc['first_hop']}", "warn")
    down = doc.get("downgrade") or {}
    if down:
        say(f"downgrade lossless: {'yes' if down.get('lossless') else 'no'}",
            "ok" if down.get("lossless") else "warn")
        for d in down.get("details") or []:
            say(f"    {d}")
    b = doc.get("backup") or {}
    if b:
        if b.get("taken"):
            say(f"backup: `migrate up` first writes ~{_size(b.get('database_bytes'))} (before "
                f"compression) to {b.get('directory')}")
        else:
            say(f"backup: none needed ({b.get('why', '')})")
    clients = ", ".join(f"{k} {' '.join(v)}" for k, v in (doc.get("clients_tested") or {}).items())
    say(f"clients tested with this release: {clients or 'none listed'}")
    return lines


# -- all of it -----------------------------------------------------------------------------------


async def report(conn: asyncpg.Connection, cfg: Config, manifest: Manifest,
                 migrations: list[Migration], *, node_name: str, instance: str,
                 clients_limit: int, clients_cursor: str | None,
                 plan_cache: PlanCache | None = None) -> dict[str, Any]:
    """Every section of the page, read through one connection (no lock, nothing written but the
    registry's own expiry of dead nodes' rows, which `contract_guard` does as every heartbeat)."""
    st, schema, migrations_doc = await schema_and_migrations(conn, migrations, manifest)
    contract = await contract_blockers(conn, migrations_doc["next_contract"])
    nodes = await nodes_section(conn, manifest, schema["database_head"], node_name=node_name,
                                instance=instance, blockers=contract["nodes"])
    return {
        "schema": schema,
        "nodes": nodes,
        "migrations": {**migrations_doc, "contract": contract},
        "backups": await backups_section(conn, cfg),
        "plan": await plan_section(conn, cfg, manifest, migrations, st, plan_cache),
        "clients": await clients_section(conn, manifest, clients_limit, clients_cursor),
        "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
