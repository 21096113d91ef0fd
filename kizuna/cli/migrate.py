"""`kizuna migrate up|down|redo|status|plan|verify|resolve`: apply, revert and inspect the schema.

Each command is a body run by `common.run_with_engine` (through `_run`, which turns the engine's
usage errors into exit code 2) and the printing of what it returned; the commands that change the
schema back the database up first unless told `--no-backup`.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
import orjson
from rich.markup import escape
from rich.table import Table

from kizuna.cli.common import (
    CONFIG_FLAGS,
    EXIT_FAILURE,
    EXIT_USAGE,
    VERDICT_STYLE,
    emit_json,
    err,
    migrate_options,
    out,
    run_with_engine,
    size,
)

_STATE_STYLE = {"applied": "green", "pending": "yellow", "partial_up": "red", "partial_down": "red",
                "changed": "bold red", "unknown": "magenta"}


@click.group()
def migrate() -> None:
    """Apply, revert and inspect schema migrations (safe to run on many nodes at once)."""


class _Usage(Exception):
    """Bad usage found once the database was read (an unknown id, a target not applied)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def usage_error(opts: dict[str, Any], message: str, hint: str = "") -> None:
    """Exit 2 for bad usage: a JSON document with --json, click's usage message otherwise."""
    if opts.get("as_json"):
        print(orjson.dumps({"ok": False, "error": message, "hint": hint or None, "usage": True},
                           option=orjson.OPT_INDENT_2).decode())
        sys.exit(EXIT_USAGE)
    raise click.UsageError(message + (f"\n{hint}" if hint else ""))


def _run(ctx: click.Context, opts: dict[str, Any], create: bool,
         body: Callable[..., Awaitable[Any]], auto_backup: bool = False) -> Any:
    """`run_with_engine`, with the engine's usage errors (MigrateError(..., usage=True)) ending
    the command with exit code 2 instead of 1."""
    from kizuna.migrate.errors import MigrateError

    async def guarded(*args: Any) -> Any:
        try:
            return await body(*args)
        except MigrateError as exc:
            if exc.data.get("usage"):
                raise _Usage(exc.message, exc.hint) from None
            raise
    try:
        return run_with_engine(ctx, opts, create, guarded, auto_backup=auto_backup)
    except _Usage as exc:
        usage_error(opts, exc.message, exc.hint)


def _limit_or_to(opts: dict[str, Any], limit: int | None, to: str | None) -> None:
    if limit is not None and to is not None:
        usage_error(opts, "--limit and --to cannot be combined: give one of them",
                    "--to ID names the last migration to apply (or, for down, the one to keep); "
                    "--limit N counts migrations.")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--limit", type=int, default=None, help="Apply at most N migrations (0 or -1: all).")
@click.option("--to", "to", default=None, help="Apply up to and including this migration id.")
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def up(ctx: click.Context, limit: int | None, to: str | None, **opts: Any) -> None:
    """Apply pending migrations."""
    _limit_or_to(opts, limit, to)

    async def body(engine, migrations, addr):
        if not opts["as_json"]:
            out.print(f"database {escape(addr.display())}")
        done = await engine.up(limit=limit, to=to)
        st = await engine.status()
        return done, st
    done, st = _run(ctx, opts, True, body, auto_backup=True)
    if opts["as_json"]:
        emit_json({"ok": True, "applied": done, "current": st.current, "head": st.head})
    elif done:
        out.print(f"[green]applied {len(done)} migration(s); schema at {escape(st.current or 'none')}[/]")
    else:
        out.print(f"nothing to apply; schema at {escape(st.current or 'none')} (head)")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--limit", type=int, default=None, help="Revert N migrations (default 1).")
@click.option("--to", "to", default=None,
              help="Revert every migration after this id (it stays applied); 'zero' reverts all.")
@click.option("--force", is_flag=True, help="Revert even when that destroys data (lossy or irreversible).")
@click.option("--ignore-live-nodes", is_flag=True,
              help="Revert even while live nodes use what the down steps remove (they may fail).")
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def down(ctx: click.Context, limit: int | None, to: str | None, force: bool,
         ignore_live_nodes: bool, **opts: Any) -> None:
    """Revert applied migrations (one by default).

    Refuses while live nodes use what it removes (--ignore-live-nodes overrides), and a step
    that destroys data (--force overrides)."""
    _limit_or_to(opts, limit, to)

    async def body(engine, migrations, addr):
        if engine is None:
            return [], None
        done = await engine.down(limit=limit if limit is not None else 1, to=to, force=force,
                                 ignore_live_nodes=ignore_live_nodes)
        return done, await engine.status()
    done, st = _run(ctx, opts, False, body, auto_backup=True)
    current = st.current if st else None
    if opts["as_json"]:
        emit_json({"ok": True, "reverted": done, "current": current})
    elif done:
        out.print(f"[green]reverted {len(done)} migration(s); schema at {escape(current or 'none')}[/]")
    else:
        out.print("nothing to revert")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--force", is_flag=True, help="Redo even when the down step destroys data.")
@click.option("--ignore-live-nodes", is_flag=True,
              help="Redo even while live nodes use what the down step removes.")
@click.option("--limit", type=int, default=None, hidden=True)
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def redo(ctx: click.Context, force: bool, ignore_live_nodes: bool, limit: int | None,
         **opts: Any) -> None:
    """Revert the last applied migration and apply it again."""
    if limit is not None and not opts["as_json"]:
        err.print("[yellow]--limit is ignored by redo[/]")

    async def body(engine, migrations, addr):
        if engine is None:
            return None
        return await engine.redo(force=force, ignore_live_nodes=ignore_live_nodes)
    mid = _run(ctx, opts, False, body, auto_backup=True)
    if opts["as_json"]:
        emit_json({"ok": True, "redone": mid})
    else:
        out.print(f"[green]redid {escape(mid)}[/]" if mid else "nothing to redo")


@migrate.command(context_settings=CONFIG_FLAGS)
@migrate_options
def status(ctx: click.Context, **opts: Any) -> None:
    """Show every migration and whether it is applied."""
    from kizuna.migrate.executor import compute_status
    from kizuna.ops.nodes import live_nodes

    async def body(engine, migrations, addr):
        if engine is None:
            return compute_status(migrations, {}), addr, False, []
        return await engine.status(), addr, True, await live_nodes(engine.conn)
    st, addr, exists, nodes = run_with_engine(ctx, opts, False, body)
    if opts["as_json"]:
        emit_json({"ok": True, "database": addr.display(), "database_exists": exists, **st.to_json(),
                   "nodes": [{"name": n.name, "version": n.version or None, "state": n.state,
                              "address": n.address or None, "seen_by": n.source} for n in nodes]})
        return
    table = Table(title=f"migrations on {addr.display()}", title_justify="left")
    # Ids are what the operator types next (`--to ID`): never cut them, whatever the width.
    table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in st.rows), default=2))
    table.add_column("phase")
    table.add_column("tx")
    table.add_column("state", min_width=max((len(r.state) for r in st.rows), default=5))
    for col in ("applied at (UTC)", "ms", "by"):
        table.add_column(col)
    for r in st.rows:
        a = r.applied
        state = f"[{_STATE_STYLE.get(r.state, '')}]{r.state}[/]" + (f" ({escape(r.detail)})" if r.detail else "")
        if r.resolved:
            state += f" [cyan]({escape(r.resolved.describe())})[/]"
        table.add_row(escape(r.id), r.phase, "yes" if r.transactional else "no", state,
                      a.applied_at.strftime("%Y-%m-%d %H:%M:%S") if a else "",
                      str(a.duration_ms) if a else "", escape(a.kizuna_version) if a else "")
    out.print(table)
    if not exists:
        out.print("[yellow]the database does not exist yet; `kizuna migrate up` creates it[/]")
    out.print(f"schema at [bold]{escape(st.current or 'none')}[/], head [bold]{escape(st.head or 'none')}[/]"
              + (f", [yellow]{len(st.pending)} pending[/]" if st.pending else ", up to date" if st.up_to_date else ""))
    if nodes:
        out.print("live nodes: " + "; ".join(escape(n.describe()) for n in nodes))
    for r in st.rows:
        if r.resolved:
            out.print(f"{escape(r.id)}: {escape(r.resolved.describe())}: {escape(r.resolved.detail)}")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--down", "direction", flag_value="down", help="Plan a revert instead of an upgrade.")
@click.option("--up", "direction", flag_value="up", default=True, hidden=True)
@click.option("--limit", type=int, default=None)
@click.option("--to", "to", default=None)
@migrate_options
def plan(ctx: click.Context, direction: str, limit: int | None, to: str | None, **opts: Any) -> None:
    """Print what `up` (or `down`) would run and what it would lock; change nothing.

    Pending up steps are also tried against the database: transactional migrations in a
    transaction that is rolled back, no-transaction ones parsed only (each step says which).
    Exits 0 when every step is online or only briefly locks, 3 when a step would block writes,
    need a maintenance window, break nodes of the previous release or fail.
    """
    from kizuna.migrate import lint
    from kizuna.migrate.executor import PlanStep

    _limit_or_to(opts, limit, to)

    async def body(engine, migrations, addr):
        if engine is None:
            if direction == "down":
                return [], {}, []
            return [PlanStep(m, "up", lint.lint(m, "up"),
                             check="not tried: the database does not exist yet")
                    for m in migrations], {}, []
        if direction == "down" and limit is None and to is None:
            steps, stats = await engine.plan("down", 1, None)
        else:
            steps, stats = await engine.plan(direction, limit, to, check=direction == "up")
        users = (await engine.before_down([s.migration for s in steps])
                 if direction == "down" and steps and engine.before_down is not None else [])
        return steps, stats, users
    steps, stats, users = _run(ctx, opts, False, body)
    blocking = any(f.blocking for s in steps for f in s.findings)
    if opts["as_json"]:
        emit_json({"ok": True, "direction": direction, "blocking": blocking,
                   "steps": [s.to_json(stats) for s in steps], "live_nodes_using": users})
    else:
        _print_plan(steps, stats, direction)
        for u in users:
            out.print(f"[yellow]`migrate down` refuses while this node is live: {escape(u)}[/]")
    sys.exit(3 if blocking else 0)


def _print_plan(steps: list, stats: dict, direction: str) -> None:
    """Every statement of the plan, each followed by what it would lock and for how long."""
    if not steps:
        out.print(f"nothing to {'apply' if direction == 'up' else 'revert'}")
        return
    for s in steps:
        m = s.migration
        kind = "one transaction" if m.transactional else "no transaction, statement by statement"
        out.rule(f"{m.id} ({direction}, {m.phase}, {kind})", align="left")
        if s.resume_at:
            out.print(f"[yellow]resumes at statement {s.resume_at + 1} (an earlier run stopped there)[/]")
        if s.check:
            out.print(f"[dim]check: {escape(s.check)}[/]")
        if direction == "down":
            if m.irreversible:
                out.print(f"[red]irreversible: {escape(m.irreversible)}[/]")
            if m.lossy_down:
                out.print(f"[red]lossy: {escape(m.lossy_down)}[/]")
            for loss in s.losses:
                out.print(f"[red]destroys {escape(loss)}[/]")
        for i, st in enumerate(m.section(direction)):
            out.print(f"[dim]-- statement {i + 1} (line {st.line})[/]")
            out.print(escape(st.sql) + ";")
            for f in s.findings:
                if f.statement != i:
                    continue
                extra = ""
                if f.table and f.table in stats:
                    rows, table_bytes = stats[f.table]
                    extra = f" [{f.table}: {rows} rows, {size(table_bytes)}]"
                style = VERDICT_STYLE.get(f.verdict, "")
                out.print(f"   [{style}]{f.verdict}[/] {f.rule}: {escape(f.message)}{escape(extra)}")
    parsed_only = [s.migration.id for s in steps if "parsed only" in s.check]
    if parsed_only:
        out.print(f"[yellow]not fully tried against the database (parsed only, see each check): "
                  f"{escape(', '.join(parsed_only))}[/]")
    worst = {f.verdict for s in steps for f in s.findings}
    if worst & {"will fail", "breaks old nodes", "maintenance window", "blocks writes"}:
        out.print("[yellow]some steps block traffic or break old nodes: see the findings above[/]")
    else:
        out.print("[green]every step runs online or with brief locks[/]")


@migrate.command(context_settings=CONFIG_FLAGS)
@migrate_options
def verify(ctx: click.Context, **opts: Any) -> None:
    """Check checksums and that the live schema matches what the applied migrations define."""
    async def body(engine, migrations, addr):
        if engine is None:
            return None, ["the database does not exist"]
        return await engine.verify()
    st, problems = run_with_engine(ctx, opts, False, body)
    if opts["as_json"]:
        emit_json({"ok": not problems, "problems": problems,
                   "current": st.current if st else None,
                   "pending": st.pending if st else []})
    elif problems:
        for p in problems:
            err.print(f"[red]✗[/] {escape(p)}")
    else:
        out.print(f"[green]✓ schema verified at {escape(st.current or 'none')}: checksums match, "
                  f"no drift, no invalid indexes[/]"
                  + (f" ({len(st.pending)} pending)" if st.pending else ""))
    sys.exit(EXIT_FAILURE if problems else 0)


@migrate.command(context_settings=CONFIG_FLAGS)
@click.argument("migration_id")
@click.option("--applied", "as_applied", is_flag=True,
              help="It was finished by hand: record it applied (with its file's current checksum).")
@click.option("--rolled-back", "as_rolled_back", is_flag=True,
              help="It was undone by hand: forget it, so `up` runs it again from the start.")
@click.option("--force", is_flag=True,
              help="Also rewrite the journal of a migration that is not interrupted.")
@click.option("--reason", default="", help="Why, for the journal.")
@migrate_options
def resolve(ctx: click.Context, migration_id: str, as_applied: bool, as_rolled_back: bool,
            force: bool, reason: str, **opts: Any) -> None:
    """Record by hand how an interrupted migration ended (as Flyway's repair); runs no SQL of it.

    For a no-transaction migration that stopped part-way and cannot be finished as it is (its
    file had to be fixed): finish or undo its statements by hand, then say which with --applied
    or --rolled-back. Journaled with who and when; `migrate status` shows it."""
    if as_applied == as_rolled_back:
        usage_error(opts, "say how the migration ended: --applied or --rolled-back (one of them)")
    outcome = "applied" if as_applied else "rolled-back"

    async def body(engine, migrations, addr):
        if engine is None:
            raise _Usage("the database does not exist: there is nothing to resolve")
        return await engine.resolve(migration_id, outcome, force=force, reason=reason)
    done = _run(ctx, opts, False, body)
    if opts["as_json"]:
        emit_json({"ok": True, **done})
    else:
        out.print(f"[green]{escape(done['id'])} recorded as {outcome.replace('-', ' ')} "
                  f"(was {escape(done['was'])}; now {done['now']})[/]")
