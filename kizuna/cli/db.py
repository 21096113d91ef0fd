"""`kizuna db`: the embedded PostgreSQL's engine: which major runs the data directory, creating
one on a chosen major, and upgrading it to a newer major (`kizuna.db.engine_upgrade`: backup,
`pg_upgrade --check`, upgrade into a new directory, verification by row counts and digests,
swap, the old directory kept until removed on request).

With `database.address` (an external PostgreSQL), these commands only say so: that server is
upgraded with its own tools (docs/upgrading.md, "Upgrading PostgreSQL itself").
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from kizuna.cli.common import (
    CONFIG_FLAGS,
    EXIT_FAILURE,
    emit_json,
    err,
    load_config,
    loop,
    out,
)
from kizuna.version import __version__


@click.group()
def db() -> None:
    """The embedded PostgreSQL: engine status, creation and major upgrades."""


def _fail(as_json: bool, message: str, hint: str = "", data: dict[str, Any] | None = None) -> None:
    if as_json:
        emit_json({"ok": False, "error": message, "hint": hint or None, **(data or {})})
    else:
        err.print(f"[red]kizuna db: {escape(message)}[/]")
        if hint:
            err.print(escape(hint))
    sys.exit(EXIT_FAILURE)


def _embedded_only(cfg: Any, as_json: bool, what: str) -> None:
    if not cfg.embedded_database:
        _fail(as_json, f"{what} is for the embedded PostgreSQL, and database.address is set",
              "Upgrade an external PostgreSQL with its own tools (pg_upgrade, or a logical copy "
              "with `kizuna backup` and `kizuna restore`); see docs/upgrading.md, "
              "\"Upgrading PostgreSQL itself\".")


def _json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)


@db.command("status", context_settings=CONFIG_FLAGS)
@_json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Which PostgreSQL major the embedded data directory is, the engines this release runs,
    and whether an engine upgrade is available, required or was interrupted. Starts nothing."""
    from kizuna.db import embedded

    cfg, _ = load_config(ctx.args)
    doc: dict[str, Any]
    if not cfg.embedded_database:
        doc = {"embedded": False, "why": "database.address is set: an external PostgreSQL"}
        if as_json:
            emit_json({"ok": True, **doc})
        else:
            out.print("external PostgreSQL (database.address); `kizuna upgrade plan` reports its "
                      "version")
        return
    try:
        doc = embedded.inspect(cfg.data_dir)
    except embedded.EmbeddedError as exc:
        _fail(as_json, exc.message, exc.hint)
    if as_json:
        emit_json({"ok": True, "embedded": True, **doc})
        return
    engines = ", ".join(f"{v}" for v in doc["engines"].values())
    out.print(f"embedded PostgreSQL data directory: {escape(doc['data_dir'])}")
    if doc["exists"]:
        out.print(f"  PostgreSQL {doc['major']} ({'running' if doc['running'] else 'stopped'})")
    else:
        out.print("  not created yet")
    out.print(f"  engines of this release ({doc['package']}): {engines}; a new data directory "
              f"gets {doc['default_major']}")
    out.print(f"  engine upgrade: {doc['upgrade']} — {escape(doc['why'])}")
    if doc["upgrade_marker"]:
        m = doc["upgrade_marker"]
        if m.get("running"):
            out.print(f"  [yellow]an engine upgrade {m.get('from')} → {m.get('to')} is running "
                      f"(pid {m.get('pid')}, phase {m.get('phase')})[/]")
        else:
            out.print(f"  [yellow]an engine upgrade {m.get('from')} → {m.get('to')} stopped in "
                      f"phase {m.get('phase')} (its process {m.get('pid')} is gone); the next "
                      f"start stops what it left running and puts the PostgreSQL "
                      f"{m.get('from')} directory back in service[/]")
    for kept in doc["kept_old"]:
        out.print(f"  kept by an earlier upgrade: {escape(kept)} (remove with `kizuna db remove-old`)")


@db.command("init", context_settings=CONFIG_FLAGS)
@click.option("--engine", "major", type=int, default=None,
              help="PostgreSQL major for the new data directory (default: the release's).")
@_json_option
@click.pass_context
def init(ctx: click.Context, major: int | None, as_json: bool) -> None:
    """Create the embedded data directory on a chosen PostgreSQL major (a node creates it on
    the release's default major by itself; this is for matching another installation)."""
    from kizuna.db import embedded, engine_upgrade

    cfg, _ = load_config(ctx.args)
    _embedded_only(cfg, as_json, "`kizuna db init`")
    try:
        doc = engine_upgrade.init(cfg.data_dir, major)
    except embedded.EmbeddedError as exc:
        _fail(as_json, exc.message, exc.hint)
    if as_json:
        emit_json({"ok": True, **doc})
    else:
        out.print(f"created {escape(doc['data_dir'])} on PostgreSQL {doc['major']}")


@db.command("upgrade", context_settings=CONFIG_FLAGS)
@click.option("--to", "to", type=int, default=None,
              help="Target PostgreSQL major (default: the newest of this release).")
@click.option("--check", "check_only", is_flag=True,
              help="Only run pg_upgrade --check; change nothing.")
@click.option("--remove-old", is_flag=True,
              help="Delete the old directory once the upgrade is verified (default: keep it).")
@_json_option
@click.pass_context
def upgrade(ctx: click.Context, to: int | None, check_only: bool, remove_old: bool,
            as_json: bool) -> None:
    """Upgrade the embedded data directory to a newer PostgreSQL major.

    With every node on this data_dir stopped: a backup first (to backup.dir), row counts and
    digests of every table, `pg_upgrade --check`, the upgrade into a new directory, the same
    counts and digests on the new engine, then the swap. The old directory is kept as
    `postgres.pg<major>` until `--remove-old` or `kizuna db remove-old`; a failed or
    interrupted upgrade leaves it serving. Exits 0 when upgraded (or nothing to do), 1 when
    it stopped."""
    from kizuna import logs
    from kizuna.db import embedded, engine_upgrade

    cfg, _ = load_config(ctx.args)
    logs.setup("warn", "text", stderr=True)
    _embedded_only(cfg, as_json, "`kizuna db upgrade`")
    say = (lambda text: None) if as_json else (lambda text: out.print(escape(text)))

    async def before_change(addr: Any) -> str | None:
        return await _backup(addr, cfg, say)

    try:
        doc = loop(engine_upgrade.upgrade(cfg.data_dir, to=to, check_only=check_only,
                                          remove_old=remove_old, before_change=before_change,
                                          say=say))
    except engine_upgrade.UpgradeError as exc:
        _fail(as_json, exc.message, exc.hint, exc.data)
    except embedded.EmbeddedError as exc:
        _fail(as_json, exc.message, exc.hint)
    except Exception as exc:  # a database or OS error: one line, the old directory serving
        from kizuna.migrate.errors import MigrateError

        if isinstance(exc, MigrateError):
            _fail(as_json, exc.message, getattr(exc, "hint", ""))
        _fail(as_json, f"the engine upgrade stopped: {type(exc).__name__}: {exc}",
              "The old directory was not changed and keeps serving.")
    if as_json:
        emit_json({"ok": True, **doc})
        return
    _print_verification(doc)


def _print_verification(doc: dict[str, Any]) -> None:
    before, after = doc.get("before"), doc.get("after")
    if before is None or after is None:
        if doc.get("state") == "upgraded":
            out.print("no kizuna database in it: nothing to compare")
        return
    out.print("verification (rows, sha256 of the rows in key order), before → after:")
    for name, b in before["tables"].items():
        a = after["tables"].get(name, {"rows": "missing", "sha256": "-"})
        same = "[green]equal[/]" if a == b else "[red]DIFFERENT[/]"
        out.print(f"  {escape(name):<36} {b['rows']:>9} {b['sha256'][:16]} → "
                  f"{a['rows']:>9} {str(a['sha256'])[:16]}  {same}")
    for name, value in before.get("sequences", {}).items():
        out.print(f"  sequence {escape(name):<27} {value} → {after['sequences'].get(name)}")
    out.print(f"[green]upgraded PostgreSQL {doc['old_version']} → {doc['new_version']} in "
              f"{doc['seconds']}s; verification: {len(before['tables'])} tables equal[/]")
    if doc.get("kept_old"):
        out.print(f"the old directory is kept at {escape(doc['kept_old'])}: remove it with "
                  f"`kizuna db remove-old` once you no longer need it")


async def _backup(addr: Any, cfg: Any, say: Any) -> str | None:
    """The automatic backup before an engine upgrade (as `migrate up` takes one)."""
    from kizuna.db.connect import connect
    from kizuna.migrate import loader
    from kizuna.ops import backup as ops

    conn = await connect(addr, application_name="kizuna db upgrade")
    try:
        return await ops.auto_backup(
            conn, directory=cfg.backup.dir, retention=cfg.backup.retention,
            known=[m.id for m in loader.load()], version=__version__, reason="engine",
            what="the engine upgrade", say=say)
    finally:
        await conn.close()


@db.command("remove-old", context_settings=CONFIG_FLAGS)
@_json_option
@click.pass_context
def remove_old(ctx: click.Context, as_json: bool) -> None:
    """Delete the directories that engine upgrades kept (`postgres.pg<major>`)."""
    from kizuna.db import embedded, engine_upgrade

    cfg, _ = load_config(ctx.args)
    _embedded_only(cfg, as_json, "`kizuna db remove-old`")
    try:
        gone = engine_upgrade.remove_old(cfg.data_dir)
    except embedded.EmbeddedError as exc:
        _fail(as_json, exc.message, exc.hint)
    if as_json:
        emit_json({"ok": True, "removed": gone})
    else:
        for g in gone:
            out.print(f"removed {escape(g)}")
        if not gone:
            out.print("no old engine directory to remove")
