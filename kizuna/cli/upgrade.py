"""`kizuna upgrade plan`: what upgrading a database to this release involves (the path through
required stops, the migrations and their locks, whether old nodes keep serving, whether a
rolling upgrade is possible, whether a downgrade is lossless, the backup `migrate up` will take,
whether the PostgreSQL engine needs or can have a major upgrade), changing nothing. Exits 3 when
the upgrade is blocked (`blocked:`)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click
from rich.markup import escape

from kizuna.cli.common import (
    CONFIG_FLAGS,
    VERDICT_STYLE,
    emit_json,
    load_config,
    migrate_options,
    out,
    run_with_engine,
    size,
)

# `blocked:`: the upgrade cannot go ahead as it is (the code `migrate plan` uses for steps that
# need attention).
EXIT_BLOCKED = 3


@click.group()
def upgrade() -> None:
    """Plan an upgrade of a database to this release."""


@upgrade.command("plan", context_settings=CONFIG_FLAGS)
@migrate_options
def upgrade_plan(ctx: click.Context, **opts: Any) -> None:
    """What upgrading the database to this release involves; changes nothing.

    Exits 0 when the upgrade can go ahead, 3 when it is blocked (the `blocked:` line: a database
    ahead of this release, changed migration files, a required stop), 1 on failure and 2 on bad
    usage."""
    from kizuna.ops import upgrade as ops
    from kizuna.release import manifest

    cfg, _ = load_config(ctx.args)
    embedded_info = None
    if cfg.embedded_database:
        from kizuna.db import embedded

        try:
            embedded_info = embedded.inspect(cfg.data_dir)
        except embedded.EmbeddedError as exc:
            embedded_info = {"upgrade": "required", "why": f"{exc.message}. {exc.hint}".strip()}
        if embedded_info["upgrade"] == "required":
            # This release cannot start the data directory: say so without trying.
            doc = {"database": f"embedded PostgreSQL in {cfg.data_dir}",
                   "release": manifest().release, "target_schema": manifest().schema_head,
                   "state": "engine upgrade required",
                   "engine": ops.embedded_engine(embedded_info),
                   "blocked_by": f"engine upgrade required: {embedded_info['why']}"}
            if opts["as_json"]:
                emit_json({"ok": True, **doc})
            else:
                _print_upgrade_plan(doc)
            sys.exit(EXIT_BLOCKED)

    async def body(engine, migrations, addr):
        server_conn = None
        if engine is None and embedded_info is None:
            # No database yet: the server's version still decides the engine line.
            from kizuna.db.connect import DatabaseUnavailable, connect

            with contextlib.suppress(DatabaseUnavailable):
                server_conn = await connect(addr.with_database("postgres"),
                                            application_name="kizuna upgrade plan")
        try:
            return await ops.plan(engine, manifest(), database=addr.display(),
                                  backup_dir=cfg.backup.dir, embedded_info=embedded_info,
                                  server_conn=server_conn)
        finally:
            if server_conn is not None:
                await server_conn.close()
    doc = run_with_engine(ctx, opts, False, body)
    if opts["as_json"]:
        emit_json({"ok": True, **doc})
    else:
        _print_upgrade_plan(doc)
    sys.exit(EXIT_BLOCKED if doc.get("blocked_by") else 0)


def _print_upgrade_plan(doc: dict) -> None:
    """The plan for people: the path, each step's verdict, then the answers an operator needs
    before starting (old nodes, downgrade, backup, tested clients)."""
    out.print(f"[bold]Upgrade of {escape(doc['database'])} to Kizuna {doc['release']}[/] "
              f"(schema {escape(doc['target_schema'])})")
    out.print(f"state: {doc['state']}; current schema {escape(str(doc.get('current_schema')))}; "
              f"applied by release(s) {', '.join(doc.get('running_releases') or []) or 'none'}")
    engine = doc.get("engine")
    if engine:
        style = {"required": "red", "available": "yellow"}.get(engine["upgrade"], "green")
        what = (f"embedded PostgreSQL {engine.get('major') or '(new)'}" if engine["kind"] == "embedded"
                else f"PostgreSQL {engine.get('version') or engine.get('major') or '?'}")
        line = f"engine: {what}; engine upgrade [{style}]{engine['upgrade']}[/]"
        if engine.get("to"):
            line += f" (to PostgreSQL {engine['to']}: `{engine['command']}`)"
        out.print(f"{line} — {escape(str(engine.get('why') or ''))}")
        if engine.get("interrupted_note"):
            out.print(f"[yellow]{escape(engine['interrupted_note'])}[/]")
    if doc.get("blocked_by"):
        out.print(f"[red]blocked: {escape(doc['blocked_by'])}[/]")
        return
    out.print(f"path: {' → '.join(doc.get('path') or [])}"
              + (f"; required stops: {', '.join(doc['required_stops'])}" if doc.get("required_stops") else ""))
    for step in doc.get("steps", []):
        out.print(f"  {escape(step['id'])} \\[{step['phase']}, "
                  f"{'transactional' if step['transactional'] else 'no-transaction'}] "
                  f"→ [{VERDICT_STYLE.get(step['verdict'], '')}]{step['verdict']}[/]")
        for f in step["findings"]:
            if f["verdict"] == "online":
                continue
            table = ""
            if f.get("table_rows") is not None:
                table = f" ({f['table']}: {f['table_rows']} rows, {size(f['table_bytes'] or 0)})"
            out.print(f"      {f['verdict']}: {escape(f['message'])}{escape(table)}")
    if doc["state"] == "fresh install":
        out.print(f"{len(doc['pending'])} migration(s) will create the schema")
    serve = doc["old_nodes_can_serve"]
    out.print(f"old nodes keep serving: {'[green]yes' if serve['answer'] else '[red]no'}[/] — {escape(serve['why'])}")
    rolling = doc.get("rolling_upgrade") or {}
    possible = rolling.get("possible")
    answer = "not applicable" if possible is None else "[green]yes[/]" if possible else "[yellow]no[/]"
    out.print(f"rolling upgrade: {answer} — {escape(rolling.get('why', ''))}")
    if doc.get("first_hop"):
        out.print(f"[yellow]first hop:[/] {escape(doc['first_hop'])}")
    down = doc["downgrade"]
    out.print(f"downgrade lossless: {'[green]yes' if down['lossless'] else '[yellow]no'}[/]")
    for d in down["details"]:
        out.print(f"   {escape(d)}")
    b = doc["backup"]
    if b["taken"]:
        out.print(f"backup: `migrate up` first writes ~{size(b['database_bytes'])} (before compression) "
                  f"to {escape(b['directory'])}")
    else:
        out.print(f"backup: none needed ({escape(b['why'])})")
    clients = ", ".join(f"{k} {' '.join(v)}" for k, v in doc.get("clients_tested", {}).items())
    out.print(f"clients tested with this release: {clients}")
