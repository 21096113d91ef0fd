"""`kizuna migrate up|down|redo|status|plan|verify`: apply, revert and inspect the schema.

Each command is a body run by `common.run_with_engine` and the printing of what it returned;
the commands that change the schema back the database up first unless told `--no-backup`.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from kizuna.cli.common import (
    CONFIG_FLAGS,
    EXIT_FAILURE,
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


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--limit", type=int, default=None, help="Apply at most N migrations (0 or -1: all).")
@click.option("--to", "to", default=None, help="Apply up to and including this migration id.")
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def up(ctx: click.Context, limit: int | None, to: str | None, **opts: Any) -> None:
    """Apply pending migrations."""
    async def body(engine, migrations, addr):
        if not opts["as_json"]:
            out.print(f"database {escape(addr.display())}")
        done = await engine.up(limit=limit, to=to)
        st = await engine.status()
        return done, st
    done, st = run_with_engine(ctx, opts, True, body, auto_backup=True)
    if opts["as_json"]:
        emit_json({"ok": True, "applied": done, "current": st.current, "head": st.head})
    elif done:
        out.print(f"[green]applied {len(done)} migration(s); schema at {escape(st.current or 'none')}[/]")
    else:
        out.print(f"nothing to apply; schema at {escape(st.current or 'none')} (head)")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--limit", type=int, default=1, show_default=True, help="Revert N migrations.")
@click.option("--to", "to", default=None,
              help="Revert every migration after this id (it stays applied); 'zero' reverts all.")
@click.option("--force", is_flag=True, help="Revert even when that destroys data (lossy or irreversible).")
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def down(ctx: click.Context, limit: int, to: str | None, force: bool, **opts: Any) -> None:
    """Revert applied migrations (one by default)."""
    async def body(engine, migrations, addr):
        if engine is None:
            return [], None
        done = await engine.down(limit=limit, to=to, force=force)
        return done, await engine.status()
    done, st = run_with_engine(ctx, opts, False, body, auto_backup=True)
    current = st.current if st else None
    if opts["as_json"]:
        emit_json({"ok": True, "reverted": done, "current": current})
    elif done:
        out.print(f"[green]reverted {len(done)} migration(s); schema at {escape(current or 'none')}[/]")
    else:
        out.print("nothing to revert")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--force", is_flag=True, help="Redo even when the down step destroys data.")
@click.option("--limit", type=int, default=None, hidden=True)
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@migrate_options
def redo(ctx: click.Context, force: bool, limit: int | None, **opts: Any) -> None:
    """Revert the last applied migration and apply it again."""
    if limit is not None and not opts["as_json"]:
        err.print("[yellow]--limit is ignored by redo[/]")

    async def body(engine, migrations, addr):
        if engine is None:
            return None
        return await engine.redo(force=force)
    mid = run_with_engine(ctx, opts, False, body, auto_backup=True)
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


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--down", "direction", flag_value="down", help="Plan a revert instead of an upgrade.")
@click.option("--up", "direction", flag_value="up", default=True, hidden=True)
@click.option("--limit", type=int, default=None)
@click.option("--to", "to", default=None)
@migrate_options
def plan(ctx: click.Context, direction: str, limit: int | None, to: str | None, **opts: Any) -> None:
    """Print what `up` (or `down`) would run and what it would lock; change nothing.

    Exits 0 when every step is online or only briefly locks, 3 when a step would block writes,
    need a maintenance window or break nodes of the previous release.
    """
    from kizuna.migrate import lint
    from kizuna.migrate.executor import PlanStep

    async def body(engine, migrations, addr):
        if engine is None:
            if direction == "down":
                return [], {}
            return [PlanStep(m, "up", lint.lint(m, "up")) for m in migrations], {}
        if direction == "down" and limit is None and to is None:
            return await engine.plan("down", 1, None)
        return await engine.plan(direction, limit, to)
    steps, stats = run_with_engine(ctx, opts, False, body)
    blocking = any(f.blocking for s in steps for f in s.findings)
    if opts["as_json"]:
        emit_json({"ok": True, "direction": direction, "blocking": blocking,
                   "steps": [s.to_json(stats) for s in steps]})
    else:
        _print_plan(steps, stats, direction)
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
