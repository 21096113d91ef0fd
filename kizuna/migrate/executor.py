"""Runs migrations: up, down, redo, status, plan and verify.

Every command that changes the schema takes the cluster lock first (`lock.acquire`), then reads
the journal, refuses what is unsafe (changed files, a database ahead of this release, lossy downs
without --force), and applies one migration at a time:

- a transactional migration runs in one transaction, with `SET LOCAL lock_timeout`, together with
  its journal row: it is applied whole or not at all;
- a no-transaction migration runs statement by statement and journals its progress after each
  one, so a re-run after a crash resumes where it stopped (an INVALID index left by an interrupted
  `CREATE INDEX CONCURRENTLY` is dropped and rebuilt, not silently skipped);
- a statement that cannot get its lock within `lock_timeout` is retried with exponential backoff
  and jitter, so a migration never queues an ACCESS EXCLUSIVE lock in front of live game traffic
  for long.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from kizuna.migrate import journal, lint, lock, schema
from kizuna.migrate.errors import MigrateError
from kizuna.migrate.journal import Applied
from kizuna.migrate.loader import Migration, Statement

ZERO = ("zero", "0", "base")


class Reporter(Protocol):
    def lock_waiting(self, holder: lock.Holder | None, waited: float) -> None: ...
    def begin(self, m: Migration, direction: str, resume_at: int) -> None: ...
    def statement(self, m: Migration, index: int, total: int, st: Statement) -> None: ...
    def retry(self, m: Migration, attempt: int, delay: float, why: str) -> None: ...
    def done(self, m: Migration, direction: str, ms: int) -> None: ...
    def note(self, text: str) -> None: ...


class SilentReporter:
    def lock_waiting(self, holder, waited): pass
    def begin(self, m, direction, resume_at): pass
    def statement(self, m, index, total, st): pass
    def retry(self, m, attempt, delay, why): pass
    def done(self, m, direction, ms): pass
    def note(self, text): pass


@dataclass
class Options:
    version: str
    lock_timeout_ms: int = 2000
    retries: int = 8
    lock_wait_sec: float = 1800.0
    namespace: str = "core"


@dataclass
class Row:
    """One line of `migrate status`."""
    id: str
    phase: str
    transactional: bool
    state: str  # applied | pending | partial_up | partial_down | changed | unknown
    applied: Applied | None = None
    detail: str = ""
    resolved: journal.Resolution | None = None  # the operator's `migrate resolve`, if last

    def to_json(self) -> dict[str, Any]:
        a = self.applied
        r = self.resolved
        return {
            "id": self.id, "phase": self.phase, "transactional": self.transactional,
            "state": self.state, "detail": self.detail or None,
            "resolved": {"as": r.outcome, "at": r.at.isoformat() + "Z", "by": r.actor,
                         "detail": r.detail} if r else None,
            "applied_at": a.applied_at.isoformat() if a else None,
            "duration_ms": a.duration_ms if a else None,
            "kizuna_version": a.kizuna_version if a else None,
            "applied_by": a.applied_by if a else None,
            "statements_done": a.statements_done if a and a.state != "applied" else None,
        }


@dataclass
class Status:
    rows: list[Row]
    current: str | None  # last applied known migration
    head: str | None  # last migration this release knows
    pending: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.pending or self.changed or self.unknown or self.partial)

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "head": self.head, "up_to_date": self.up_to_date,
                "pending": self.pending, "changed": self.changed, "unknown": self.unknown,
                "partial": self.partial, "migrations": [r.to_json() for r in self.rows]}


def compute_status(migrations: list[Migration], applied: dict[str, Applied],
                   resolutions: dict[str, journal.Resolution] | None = None) -> Status:
    rows: list[Row] = []
    st = Status(rows, None, migrations[-1].id if migrations else None)
    known = {m.id for m in migrations}
    for m in migrations:
        a = applied.get(m.id)
        if a is None:
            rows.append(Row(m.id, m.phase, m.transactional, "pending"))
            st.pending.append(m.id)
            continue
        if a.checksum != m.checksum:
            rows.append(Row(m.id, m.phase, m.transactional, "changed", a,
                            f"applied {a.checksum[:12]}, file {m.checksum[:12]}"))
            st.changed.append(m.id)
        elif a.state != "applied":
            total = len(m.up if a.state == "partial_up" else m.down)
            rows.append(Row(m.id, m.phase, m.transactional, a.state, a,
                            f"{a.statements_done}/{total} statements"))
            st.partial.append(m.id)
        else:
            rows.append(Row(m.id, m.phase, m.transactional, "applied", a))
        if a.state == "applied":
            st.current = m.id
    for mid, a in applied.items():
        if mid not in known:
            rows.append(Row(mid, a.phase, True, "unknown", a,
                            f"applied by Kizuna {a.kizuna_version or '?'}"))
            st.unknown.append(mid)
    for row in rows:
        row.resolved = (resolutions or {}).get(row.id)
    return st


@dataclass
class PlanStep:
    migration: Migration
    direction: str
    findings: list[lint.Finding]
    resume_at: int = 0
    losses: list[str] = field(default_factory=list)
    # How `plan` tried the statements against the database (`Engine.plan(check=True)`).
    check: str = ""

    def to_json(self, stats: dict[str, tuple[int, int]]) -> dict[str, Any]:
        m = self.migration
        stmts = m.section(self.direction)
        return {
            "id": m.id, "direction": self.direction, "phase": m.phase,
            "transactional": m.transactional, "resume_at_statement": self.resume_at or None,
            "irreversible": m.irreversible, "lossy_down": m.lossy_down,
            "losses": self.losses, "check": self.check or None,
            "statements": [{"line": s.line, "sql": s.sql} for s in stmts],
            "findings": [{"rule": f.rule, "verdict": f.verdict, "table": f.table,
                          "statement": f.statement + 1, "message": f.message,
                          "table_rows": stats.get(f.table or "", (None, None))[0],
                          "table_bytes": stats.get(f.table or "", (None, None))[1]}
                         for f in self.findings],
        }


class Engine:
    def __init__(self, conn: asyncpg.Connection, migrations: list[Migration], opts: Options,
                 reporter: Reporter | None = None) -> None:
        self.conn = conn
        self.migrations = migrations
        self.by_id = {m.id: m for m in migrations}
        self.opts = opts
        self.rep: Reporter = reporter or SilentReporter()
        self.key = lock.lock_key(opts.namespace)
        # Called under the lock before the schema changes, with the direction and the
        # migrations about to run; returns the path of the backup it took (or None).
        self.before_change: Callable[[str, list[Migration]], Awaitable[str | None]] | None = None
        self.backup_path: str | None = None
        # Called under the lock before a contract-phase migration runs; raises MigrateError to
        # refuse it (e.g. while nodes of an older release still serve).
        self.before_contract: Callable[[Migration], Awaitable[None]] | None = None
        # Called under the lock before down steps run, with the migrations about to be reverted;
        # returns one line per live node that still uses one of them (`ops.migrator`). `down`
        # and `redo` refuse while it returns anything, unless told `ignore_live_nodes`.
        self.before_down: Callable[[list[Migration]], Awaitable[list[str]]] | None = None

    # -- reading -------------------------------------------------------------------------------

    async def status(self) -> Status:
        return compute_status(self.migrations, await journal.read(self.conn),
                              await journal.resolutions(self.conn))

    async def plan(self, direction: str = "up", limit: int | None = None, to: str | None = None,
                   check: bool = False) -> tuple[list[PlanStep], dict[str, tuple[int, int]]]:
        """The steps `up` (or `down`) would run, linted, with the sizes of the tables involved.

        `check`: also try the pending up steps against the database (`_dry_run`), in a
        transaction that is rolled back, so a syntax error or a missing object shows here
        rather than in the middle of `migrate up`."""
        applied = await journal.read(self.conn)
        st = compute_status(self.migrations, applied)
        if direction == "up":
            self._check_up(st)
            steps = [PlanStep(m, "up", lint.lint(m, "up"),
                              resume_at=applied[m.id].statements_done if m.id in applied else 0)
                     for m in self._select_up(applied, limit, to)]
            if check and steps:
                await self._dry_run(steps)
        else:
            self._check_down(st)
            targets = self._select_down(applied, limit, to)
            steps = [PlanStep(m, "down", lint.lint(m, "down"),
                              resume_at=applied[m.id].statements_done
                              if applied[m.id].state == "partial_down" else 0,
                              losses=await self._losses(m)) for m in targets]
        tables = sorted({f.table for s in steps for f in s.findings if f.table})
        return steps, await schema.table_stats(self.conn, tables)

    async def _dry_run(self, steps: list[PlanStep]) -> None:
        """Try the pending up steps against the database without changing it.

        Transactional migrations run, in order, inside one transaction that is rolled back (a
        savepoint each), under a short lock_timeout and statement_timeout, so a plan never holds a
        lock in front of game traffic for long. Statements the linter says block writes or
        rewrite a table, and statements that cannot run in a transaction, are not run: they and
        the rest of their migration are only parsed (PostgreSQL parses without executing), as are
        no-transaction migrations, whose statements cannot be tried and rolled back. Each step's
        `check` says which it got; a statement PostgreSQL rejects becomes a `will fail` finding
        naming the file and statement."""
        if not await self.conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
            for s in steps:
                s.check = ("not tried against the database: another migration holds the cluster "
                           "lock (run `plan` again when it is done)")
            return
        failed: list[str] = []
        try:
            tx = self.conn.transaction()
            await tx.start()
            try:
                await self.conn.execute(
                    f"SET LOCAL lock_timeout = '{min(int(self.opts.lock_timeout_ms), 1000)}ms'")
                await self.conn.execute("SET LOCAL statement_timeout = '5s'")
                for s in steps:
                    await self._dry_run_step(s, failed)
            finally:
                await tx.rollback()
        finally:
            await lock.release(self.conn, self.key)

    async def _dry_run_step(self, s: PlanStep, failed: list[str]) -> None:
        m = s.migration
        stmts = m.section("up")
        after = f" (may follow from the failure of {', '.join(failed)})" if failed else ""

        def fail(i: int, exc: asyncpg.PostgresError, how: str) -> None:
            st = stmts[i]
            s.findings.append(lint.Finding(
                "dry-run", "will fail", None,
                f"{m.path}, statement {i + 1} (line {st.line}) {how}: [{exc.sqlstate}] {exc}{after}",
                i))

        if not m.transactional:
            await self._parse_only(stmts, range(s.resume_at, len(stmts)), fail)
            s.check = ("parsed only: a no-transaction migration cannot be tried in a rolled-back "
                       "transaction, so objects and types were not checked")
        else:
            heavy = {f.statement: f.verdict for f in s.findings
                     if f.verdict in ("blocks writes", "maintenance window", "will fail")}
            sp = self.conn.transaction()
            await sp.start()
            ran, stopped = 0, ""
            try:
                for i, st in enumerate(stmts):
                    why = ("cannot run in a transaction" if st.needs_autocommit
                           else heavy.get(i, ""))
                    if why:
                        stopped = f"statement {i + 1} was not run ({why})"
                        break
                    try:
                        await self.conn.execute(st.sql)
                        ran += 1
                    except (asyncpg.LockNotAvailableError, asyncpg.QueryCanceledError) as exc:
                        stopped = (f"statement {i + 1} could not run within the plan's short "
                                   f"timeouts ({exc.sqlstate}: live traffic or a big table)")
                        break
                    except asyncpg.PostgresError as exc:
                        fail(i, exc, "failed in a rolled-back trial")
                        failed.append(m.id)
                        stopped = f"statement {i + 1} failed"
                        break
            finally:
                if stopped:
                    await sp.rollback()
                else:
                    await sp.commit()  # RELEASE SAVEPOINT: the outer transaction still rolls back
            if not stopped:
                s.check = "tried in a transaction that was rolled back: every statement ran"
                return
            first = ran + 1 if m.id in failed else ran  # a failed statement was reported already
            await self._parse_only(stmts, range(first, len(stmts)), fail)
            rest = "it and the statements after it" if first == ran else "the statements after it"
            s.check = (f"tried in a transaction that was rolled back; {stopped}"
                       + (f", so {rest} were parsed only" if first < len(stmts) else ""))

    async def _parse_only(self, stmts: tuple[Statement, ...], indexes: range,
                          fail: Callable[[int, asyncpg.PostgresError, str], None]) -> None:
        """Syntax errors of `stmts[i]`: PostgreSQL parses a statement it is asked to prepare and
        executes nothing. Only syntax errors count: other errors (a table an earlier statement
        creates) may be false alarms here."""
        for i in indexes:
            sp = self.conn.transaction()
            await sp.start()
            try:
                await self.conn.prepare(stmts[i].sql)
            except asyncpg.PostgresSyntaxError as exc:
                fail(i, exc, "does not parse")
            except asyncpg.PostgresError:
                pass
            finally:
                await sp.rollback()

    async def verify(self) -> tuple[Status, list[str]]:
        """Problems that make the live schema differ from what the migrations define."""
        applied = await journal.read(self.conn)
        st = compute_status(self.migrations, applied)
        problems: list[str] = []
        for mid in st.changed:
            a, m = applied[mid], self.by_id[mid]
            problems.append(f"{mid}: file changed since it was applied "
                            f"(applied {a.checksum}, file {m.checksum}, {m.path})")
        for mid in st.unknown:
            problems.append(f"{mid}: applied (by Kizuna {applied[mid].kizuna_version or '?'}) "
                            f"but unknown to this release")
        for mid in st.partial:
            problems.append(f"{mid}: {applied[mid].state.replace('_', ' ')} stopped after "
                            f"{applied[mid].statements_done} statements")
        for name in await schema.invalid_indexes(self.conn):
            problems.append(f"index {name} is INVALID (an interrupted concurrent build); "
                            f"`kizuna migrate up` rebuilds it if a migration owns it")
        if not st.changed and not st.partial:
            if st.current is not None:
                expected = await journal.snapshot_of(self.conn, st.current)
            elif await journal.exists(self.conn):
                expected = schema.EMPTY  # everything reverted: nothing may be left behind
            else:
                expected = None
            if expected is not None:
                live = await schema.snapshot(self.conn)
                problems.extend(f"schema drift: {d}" for d in schema.diff(expected, live))
        return st, problems

    # -- writing -------------------------------------------------------------------------------

    async def _locked(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        await lock.acquire(self.conn, self.key, wait_sec=self.opts.lock_wait_sec,
                           on_wait=self.rep.lock_waiting)
        try:
            await journal.bootstrap(self.conn)
            return await fn()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # The connection broke (server restart, pg_terminate_backend, network) or a journal
            # statement failed: report it in the operator's terms, never as a traceback.
            raise connection_lost(exc) from None
        finally:
            try:
                await lock.release(self.conn, self.key)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                pass  # the lock goes with the connection anyway

    async def locked(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run `fn` holding the cluster lock (re-entrant: up/down inside it are fine)."""
        return await self._locked(fn)

    async def _backup_first(self, direction: str, targets: list[Migration],
                            applied: dict[str, Applied]) -> None:
        if self.before_change is not None and targets and applied:
            self.backup_path = await self.before_change(direction, targets)

    async def _with_backup_hint(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await fn()
        except MigrateError as exc:
            if self.backup_path:
                exc.hint = (exc.hint + "\n" if exc.hint else "") + (
                    f"A backup was taken before this run: {self.backup_path}. To return to it: "
                    f"`kizuna restore {self.backup_path} --force --no-migrate` (with the same "
                    f"database flags), then run the previous release.")
            raise

    async def up(self, limit: int | None = None, to: str | None = None) -> list[str]:
        async def run() -> list[str]:
            applied = await journal.read(self.conn)
            self._check_up(compute_status(self.migrations, applied))
            done: list[str] = []
            highest = max((m.number for m in self.migrations if m.id in applied), default=-1)
            targets = self._select_up(applied, limit, to)
            await self._backup_first("up", targets, applied)
            for m in targets:
                a = applied.get(m.id)
                if m.phase == "contract" and self.before_contract is not None:
                    await self.before_contract(m)
                if a is None and m.number < highest:
                    self.rep.note(f"{m.id} is older than migrations already applied: applying it "
                                  f"out of order (a late-merged branch?)")
                await self._apply(m, "up", a.statements_done if a else 0, a is not None)
                done.append(m.id)
            return done
        return await self._locked(lambda: self._with_backup_hint(run))

    async def down(self, limit: int | None = 1, to: str | None = None, force: bool = False,
                   ignore_live_nodes: bool = False) -> list[str]:
        async def run() -> list[str]:
            applied = await journal.read(self.conn)
            self._check_down(compute_status(self.migrations, applied))
            targets = self._select_down(applied, limit, to)
            users = await self._refuse_live_nodes(targets, ignore_live_nodes)
            await self._refuse_losses(targets, force)
            await self._journal_ignored(targets, users)
            await self._backup_first("down", targets, applied)
            done: list[str] = []
            for m in targets:
                a = applied[m.id]
                partial = a.state == "partial_down"
                await self._apply(m, "down", a.statements_done if partial else 0, partial)
                done.append(m.id)
            return done
        return await self._locked(lambda: self._with_backup_hint(run))

    async def redo(self, force: bool = False, ignore_live_nodes: bool = False) -> str | None:
        async def run() -> str | None:
            applied = await journal.read(self.conn)
            st = compute_status(self.migrations, applied)
            self._check_down(st)
            self._check_up(st)
            targets = self._select_down(applied, 1, None)
            if not targets:
                return None
            m = targets[0]
            users = await self._refuse_live_nodes(targets, ignore_live_nodes)
            await self._refuse_losses(targets, force)
            await self._journal_ignored(targets, users)
            await self._backup_first("redo", targets, applied)
            await self._apply(m, "down", 0, False)
            await self._apply(m, "up", 0, False)
            return m.id
        return await self._locked(lambda: self._with_backup_hint(run))

    async def resolve(self, mid: str, outcome: str, force: bool = False, reason: str = "") -> dict[str, Any]:
        """Record the operator's verdict on an interrupted (partial) migration, changing no table
        but the journal: `applied` (finished by hand: record it applied with its file's current
        checksum, so a fixed file is accepted) or `rolled-back` (undone by hand: forget it, so
        `up` runs the file again from its first statement). Refuses a migration that is not
        interrupted unless `force`. Journaled as `resolve-<outcome>` with who, when and what."""
        if outcome not in ("applied", "rolled-back"):
            raise ValueError(outcome)

        async def run() -> dict[str, Any]:
            applied = await journal.read(self.conn)
            a, m = applied.get(mid), self.by_id.get(mid)
            if a is None and m is None:
                raise MigrateError(
                    f"unknown migration {mid!r}: neither a file of this release nor in the journal",
                    "`kizuna migrate status` lists the migrations.", usage=True)
            was = a.state if a else "pending"
            if was not in ("partial_up", "partial_down") and not force:
                raise MigrateError(
                    f"migration {mid} is {was.replace('_', ' ')}, not interrupted: there is nothing "
                    f"to resolve",
                    "`migrate resolve` is for a no-transaction migration that stopped part-way "
                    "(`kizuna migrate status` shows it as partial_up or partial_down). Add --force "
                    "only to rewrite the journal of another migration by hand.")
            if outcome == "applied" and m is None:
                raise MigrateError(
                    f"migration {mid} is not a file of this release: it cannot be recorded as "
                    f"applied (there is no checksum to record)",
                    "Resolve it with the release that has its file, or as --rolled-back.")
            if outcome == "applied" and a is not None and a.state == "applied" \
                    and m is not None and a.checksum == m.checksum:
                raise MigrateError(f"migration {mid} is already applied with this file",
                                   "Nothing to do.")
            if outcome == "rolled-back" and a is None:
                raise MigrateError(f"migration {mid} is not in the journal: it is already pending",
                                   "Nothing to do.")
            parts = [f"by {journal.operator()}", f"was {was}"]
            if a is not None and was != "applied":
                parts.append(f"after {a.statements_done} statement(s)")
            if a is not None and m is not None and a.checksum != m.checksum:
                parts.append(f"journal checksum {a.checksum[:12]}, file {m.checksum[:12]}")
            if force and was not in ("partial_up", "partial_down"):
                parts.append("forced")
            if reason:
                parts.append(f"reason: {reason}")
            detail = "; ".join(parts)
            async with self.conn.transaction():
                if outcome == "applied":
                    assert m is not None
                    await journal.mark_applied(self.conn, mid, m.checksum, m.phase, self.opts.version,
                                               0, await schema.snapshot(self.conn))
                else:
                    await journal.remove(self.conn, mid)
                await journal.log(self.conn, mid, f"resolve-{outcome}", self.opts.version, detail)
            self.rep.note(f"{mid}: recorded as {outcome.replace('-', ' ')} ({detail})")
            return {"id": mid, "was": was, "now": "applied" if outcome == "applied" else "pending",
                    "detail": detail}
        return await self._locked(run)

    # -- selection and refusals ----------------------------------------------------------------

    def _known(self, mid: str) -> Migration:
        m = self.by_id.get(mid)
        if m is None:
            raise MigrateError(f"unknown migration {mid!r}",
                               "`kizuna migrate status` lists the migrations this release knows.",
                               usage=True)
        return m

    def _select_up(self, applied: dict[str, Applied], limit: int | None, to: str | None) -> list[Migration]:
        pending = [m for m in self.migrations
                   if m.id not in applied or applied[m.id].state == "partial_up"]
        if to is not None:
            target = self._known(to)
            pending = [m for m in pending if m.number <= target.number]
        if limit is not None and limit > 0:
            pending = pending[:limit]
        return pending

    def _select_down(self, applied: dict[str, Applied], limit: int | None, to: str | None) -> list[Migration]:
        live = [m for m in self.migrations if m.id in applied]
        live.reverse()
        if to is not None:
            if to.lower() in ZERO:
                return live
            target = self._known(to)
            if target.id not in applied:
                raise MigrateError(f"--to {to}: that migration is not applied, so it cannot be the target",
                                   "`kizuna migrate status` shows what is applied.", usage=True)
            return [m for m in live if m.number > target.number]
        if limit is None:
            limit = 1
        if limit <= 0:
            raise MigrateError(
                f"--limit {limit}: down never reverts everything by default",
                "Give a positive --limit, or name the target: --to <id> (or --to zero for everything).",
                usage=True)
        return live[:limit]

    def _check_integrity(self, st: Status) -> None:
        if st.changed:
            mid = st.changed[0]
            m = self.by_id[mid]
            row = next(r for r in st.rows if r.id == mid)
            assert row.applied is not None
            raise MigrateError(
                f"migration {mid} changed after it was applied: the database recorded checksum "
                f"{row.applied.checksum}, the file {m.path} now has {m.checksum}",
                "Released migrations never change. Restore the original file and fix forward with "
                "a new migration." + (
                    f" {mid} stopped part-way ({row.applied.state}): if its file had to be fixed, "
                    f"finish or undo it by hand, then record that with `kizuna migrate resolve "
                    f"{mid} --applied` or `--rolled-back` (see docs/upgrading.md)."
                    if row.applied.state != "applied" else ""), changed=st.changed)
        if st.unknown:
            versions = sorted({r.applied.kizuna_version for r in st.rows
                               if r.state == "unknown" and r.applied})
            raise MigrateError(
                f"the database is ahead of this release: it has migrations this release does not "
                f"know ({', '.join(st.unknown)}), applied by Kizuna {', '.join(versions) or '?'}",
                "Run the newer release, or downgrade the schema first with that release: "
                f"`kizuna migrate down --to {st.current or 'zero'}`.", unknown=st.unknown)

    def _check_up(self, st: Status) -> None:
        self._check_integrity(st)
        for mid in st.partial:
            row = next(r for r in st.rows if r.id == mid)
            if row.state == "partial_down":
                raise MigrateError(
                    f"migration {mid} was being reverted when it stopped ({row.detail})",
                    "Finish the revert first: `kizuna migrate down --limit 1` (or, if it cannot "
                    f"finish, complete or undo it by hand and run `kizuna migrate resolve {mid} "
                    "--rolled-back` or `--applied`).")

    def _check_down(self, st: Status) -> None:
        self._check_integrity(st)
        for mid in st.partial:
            row = next(r for r in st.rows if r.id == mid)
            if row.state == "partial_up":
                raise MigrateError(
                    f"migration {mid} was being applied when it stopped ({row.detail})",
                    "Finish it first with `kizuna migrate up`, then revert it (or, if it cannot "
                    f"finish, undo or complete it by hand and run `kizuna migrate resolve {mid} "
                    "--rolled-back` or `--applied`).")

    async def _losses(self, m: Migration) -> list[str]:
        losses: list[str] = []
        for table, column in lint.destructive_targets(m):
            if m.is_disposable(table, column):
                continue
            if not await self.conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                continue
            t = table.replace('"', '""')
            if column is None:
                n = await self.conn.fetchval(f'SELECT count(*) FROM "{t}"')
                if n:
                    losses.append(f"table {table}: {n} rows")
            else:
                c = column.replace('"', '""')
                try:
                    n = await self.conn.fetchval(f'SELECT count("{c}") FROM "{t}"')
                except asyncpg.UndefinedColumnError:
                    continue
                if n:
                    losses.append(f"column {table}.{column}: {n} values")
        return losses

    async def _refuse_live_nodes(self, targets: list[Migration], ignore: bool) -> list[str]:
        """A down step removes what nodes may be using: refuse while a live node depends on one of
        `targets` (whatever --force says: that is about data, this is about traffic). Returns the
        nodes ignored (with `ignore`)."""
        if self.before_down is None or not targets:
            return []
        users = await self.before_down(targets)
        if users and not ignore:
            raise MigrateError(
                "refusing to revert while live nodes use what it removes: " + "; ".join(users),
                "Stop those nodes first (they drain on SIGTERM; a crashed node drops out of the "
                "registry within 15 s), then run this again. --force does not override this; "
                "--ignore-live-nodes does, if you are sure they no longer use it.",
                nodes=users)
        return users

    async def _journal_ignored(self, targets: list[Migration], users: list[str]) -> None:
        if not users:
            return
        for m in targets:
            await journal.log(self.conn, m.id, "ignore-live-nodes", self.opts.version,
                              f"by {journal.operator()}: " + "; ".join(users))
        for u in users:
            self.rep.note(f"--ignore-live-nodes: reverting although {u}")

    async def _refuse_losses(self, targets: list[Migration], force: bool) -> None:
        reasons: list[str] = []
        for m in targets:
            if not m.has_down:
                raise MigrateError(
                    f"migration {m.id} is irreversible and has no down section: {m.irreversible}",
                    "The way back is the backup taken before it was applied "
                    "(`kizuna restore FILE`).")
            if m.irreversible:
                reasons.append(f"{m.id} is irreversible: {m.irreversible}")
            if m.lossy_down:
                reasons.append(f"{m.id} loses data on the way down: {m.lossy_down}")
            for loss in await self._losses(m):
                reasons.append(f"{m.id} would destroy {loss}")
        if reasons and not force:
            raise MigrateError(
                "refusing to revert: " + "; ".join(reasons),
                "Take a backup first, then re-run with --force if that loss is acceptable.",
                losses=reasons)
        for r in reasons:
            self.rep.note(f"forced: {r}")

    # -- applying ------------------------------------------------------------------------------

    async def _apply(self, m: Migration, direction: str, resume_at: int, resuming: bool) -> None:
        stmts = m.section(direction)
        self.rep.begin(m, direction, resume_at if resuming else 0)
        started = time.monotonic()
        if m.transactional:
            async def whole() -> None:
                async with self.conn.transaction():
                    await self._set_local_lock_timeout()
                    for i, st in enumerate(stmts):
                        self.rep.statement(m, i, len(stmts), st)
                        await self._exec(m, direction, i, st, partial=False)
                    if direction == "up":
                        await journal.mark_applied(self.conn, m.id, m.checksum, m.phase,
                                                   self.opts.version, _ms(started),
                                                   await schema.snapshot(self.conn))
                    else:
                        await journal.remove(self.conn, m.id)
                    await journal.log(self.conn, m.id, direction, self.opts.version)
            await self._retrying(m, whole)
        else:
            state = "partial_up" if direction == "up" else "partial_down"
            if not resuming:
                await journal.begin_partial(self.conn, m.id, m.checksum, m.phase,
                                            self.opts.version, state)
                resume_at = 0
            for i in range(resume_at, len(stmts)):
                st = stmts[i]
                self.rep.statement(m, i, len(stmts), st)
                if st.needs_autocommit:
                    if await self._prepare_concurrent(st, resumed=resuming and i == resume_at):
                        await self._retrying(m, functools.partial(self._exec, m, direction, i, st, partial=True))
                    await journal.set_progress(self.conn, m.id, i + 1)
                else:
                    async def one(st: Statement = st, i: int = i) -> None:
                        async with self.conn.transaction():
                            await self._set_local_lock_timeout()
                            await self._exec(m, direction, i, st, partial=True)
                            await journal.set_progress(self.conn, m.id, i + 1)
                    await self._retrying(m, one)
            async with self.conn.transaction():
                if direction == "up":
                    await journal.mark_applied(self.conn, m.id, m.checksum, m.phase,
                                               self.opts.version, _ms(started),
                                               await schema.snapshot(self.conn))
                else:
                    await journal.remove(self.conn, m.id)
                await journal.log(self.conn, m.id, direction, self.opts.version)
        self.rep.done(m, direction, _ms(started))

    async def _set_local_lock_timeout(self) -> None:
        await self.conn.execute(f"SET LOCAL lock_timeout = '{int(self.opts.lock_timeout_ms)}ms'")

    async def _exec(self, m: Migration, direction: str, i: int, st: Statement, partial: bool) -> None:
        try:
            await self.conn.execute(st.sql)
        except asyncpg.LockNotAvailableError:
            raise
        except asyncpg.PostgresError as exc:
            stmts = m.section(direction)
            verb = "migrate up" if direction == "up" else "migrate down --limit 1"
            if partial:
                hint = (f"{m.id} is a no-transaction migration: statements 1-{i} are done and "
                        f"journaled. Fix the cause, then `kizuna {verb}` resumes at statement {i + 1}.")
            else:
                hint = (f"Nothing of {m.id} was applied (its transaction was rolled back). Fix the "
                        f"cause and run `kizuna {verb}` again.")
            detail = f" ({exc.detail})" if getattr(exc, "detail", None) else ""
            raise MigrateError(
                f"{m.id} ({direction}): statement {i + 1} of {len(stmts)} (line {st.line}) failed: "
                f"[{exc.sqlstate}] {exc}{detail}\n    {_first_line(st.sql)}",
                hint, migration=m.id, statement=i + 1, sqlstate=exc.sqlstate) from None

    async def _retrying(self, m: Migration, fn: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await fn()
                return
            except asyncpg.LockNotAvailableError as exc:
                if attempt > self.opts.retries:
                    holders = await self._blockers()
                    raise MigrateError(
                        f"{m.id}: could not get a table lock within {self.opts.lock_timeout_ms} ms, "
                        f"{attempt} times: {exc}",
                        "Long transactions are holding it" + (f": {holders}" if holders else "") +
                        ". Retry when traffic is lower, or raise --lock-timeout/--lock-retries.",
                        migration=m.id) from None
                delay = min(30.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                holders = await self._blockers()
                self.rep.retry(m, attempt, delay,
                               f"lock_timeout ({self.opts.lock_timeout_ms} ms)"
                               + (f"; open transactions: {holders}" if holders else ""))
                await asyncio.sleep(delay)

    async def _blockers(self) -> str:
        rows = await self.conn.fetch(
            """
            SELECT pid, coalesce(application_name, '') AS app, state,
                   extract(epoch FROM now() - xact_start)::int AS secs
            FROM pg_stat_activity
            WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()
            ORDER BY xact_start LIMIT 5
            """)
        return ", ".join(f"pid {r['pid']} {r['app'] or '?'} ({r['state']}, {r['secs']}s)" for r in rows)

    async def _prepare_concurrent(self, st: Statement, resumed: bool) -> bool:
        """Before a statement that runs outside a transaction, look at the catalog rather than
        trust the journal: drop an INVALID leftover of a concurrent build and build it again;
        skip a build (or a drop) that finished just before an interruption, when the journal
        had not recorded it yet. False means: skip the statement."""
        sql = lint._norm(st.sql)
        dm = re.match(r"DROP\s+INDEX\s+CONCURRENTLY\s+(IF\s+EXISTS\s+)?(\"[^\"]+\"|[A-Za-z_][\w$]*)\s*"
                      r"(?:CASCADE|RESTRICT)?\s*$", sql, re.I)
        if dm:
            name = _ident(dm.group(2))
            if resumed and not dm.group(1) and await self._index_valid(name) is None:
                self.rep.note(f"index {name} was dropped before the interruption; not dropping it again")
                return False
            return True
        mm = re.match(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                      r"(?!ON\s)(\"[^\"]+\"|[A-Za-z_][\w$]*)\s+ON\s", sql, re.I)
        if not mm:
            return True  # an unnamed index cannot be found again (lint warns about it)
        name = _ident(mm.group(1))
        valid = await self._index_valid(name)
        if valid is None:
            return True
        if not valid:
            self.rep.note(f"dropping INVALID index {name} left by an interrupted build; rebuilding it")
            ident = name.replace('"', '""')
            await self.conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{ident}"')
            return True
        if resumed:
            self.rep.note(f"index {name} was built before the interruption; not rebuilding it")
            return False
        return True

    async def _index_valid(self, name: str) -> bool | None:
        """indisvalid of the index `name` in the current schema, None when there is none."""
        return await self.conn.fetchval(
            """
            SELECT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = i.relnamespace
            WHERE n.nspname = current_schema() AND i.relname = $1
            """, name)


def _ident(token: str) -> str:
    """An SQL identifier as the catalog stores it: quoted as written, unquoted folded to lower."""
    return token[1:-1].replace('""', '"') if token.startswith('"') else token.lower()


def connection_lost(exc: BaseException, doing: str = "the migration") -> MigrateError:
    """The MigrateError to show when the database failed under us outside a migration statement
    (connection lost, server shut down, a journal statement refused).

    When the failure surfaced first as a failed statement (then again while asyncpg cleaned up
    the transaction), that statement's error names the migration and statement: keep it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MigrateError):
            return seen
        seen = seen.__context__
    sqlstate = getattr(exc, "sqlstate", None) or ""
    detail = f"[{sqlstate}] {exc}" if sqlstate else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (asyncpg.InterfaceError, OSError)) or sqlstate[:2] in ("08", "57"):
        return MigrateError(
            f"lost the connection to PostgreSQL during {doing}: {detail}",
            "Transactional migrations roll back whole and no-transaction ones journal their "
            "progress: `kizuna migrate status` shows where it stopped, `kizuna migrate up` resumes.")
    return MigrateError(f"PostgreSQL error during {doing}: {detail}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _first_line(sql: str) -> str:
    lines = [line for line in sql.strip().splitlines()
             if line.strip() and not line.strip().startswith("--")]
    text = lines[0] if lines else sql.strip()
    return text[:160] + (" ..." if len(lines) > 1 or len(text) > 160 else "")


async def open_connection(addr, *, version: str) -> asyncpg.Connection:
    """The migrator's dedicated connection: autocommit, no statement timeout, and a
    client-connection check so a killed migrator's statement is cancelled promptly."""
    from kizuna.db.connect import connect

    conn = await connect(addr, application_name=f"kizuna migrate {journal.actor()} {version}",
                         server_settings={"statement_timeout": "0"})
    try:
        await conn.execute("SET client_connection_check_interval = '1s'")
    except asyncpg.PostgresError:
        pass  # PostgreSQL < 14
    return conn
