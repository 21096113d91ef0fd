"""`kizuna import nakama --from <address>`: copy a live game's data from Nakama's database into
Kizuna's (`kizuna.importer.nakama`). The target is the database the configuration names
(`database.address`, or the embedded one under `data_dir`), created and migrated when it does
not exist yet. Progress goes to stderr; the report (and `--json`) to stdout."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from kizuna.cli.common import (
    CONFIG_FLAGS,
    EXIT_FAILURE,
    EXIT_USAGE,
    emit_json,
    err,
    load_config,
    loop,
    migrate_options,
    out,
    run_with_engine,
    size,
)
from kizuna.version import __version__


@click.group("import")
def import_group() -> None:
    """Bring a live game's data into Kizuna from another server."""


@import_group.command("nakama", context_settings=CONFIG_FLAGS)
@click.option("--from", "source", required=True, metavar="ADDRESS",
              help="Nakama's database, as Nakama's database.address gives it (e.g. "
                   "root@db:26257/nakama or postgresql://user:pass@db:5432/nakama); the database "
                   "name defaults to nakama.")
@click.option("--dry-run", is_flag=True,
              help="Print what would be imported per table (rows, size, what cannot be carried "
                   "over and why) and change nothing.")
@click.option("--merge", is_flag=True,
              help="Import into a Kizuna database that already holds other data: add Nakama's "
                   "rows beside it, keep rows already there, skip (and report) rows that clash on "
                   "a unique value.")
@click.option("--no-backup", is_flag=True,
              help="Do not back up Kizuna's database first (it is backed up when it holds data).")
@click.option("--ignore-live-nodes", is_flag=True,
              help="Import while Kizuna nodes use the database (restart them afterwards: they "
                   "hold leaderboards and ranks in memory).")
@migrate_options
def nakama(ctx: click.Context, source: str, dry_run: bool, merge: bool, no_backup: bool,
           ignore_live_nodes: bool, **opts: Any) -> None:
    """Copy accounts, logins, storage, friends, groups, leaderboards, tournaments, wallets,
    notifications and chat from a Nakama 3.x database, keeping every id.

    Reads the source in one consistent snapshot (Nakama can keep serving), streams each table in
    batches, and ends with a verification: row counts and content digests per table. Safe to
    re-run: a later run from the same source is a catch-up that brings Kizuna's copy up to date
    (run it in a short maintenance window with Nakama stopped, then switch). Refuses a Kizuna
    database that holds other data unless --merge. Exits 0 when imported and verified (or a dry
    run), 1 when refused or when the verification failed."""
    from kizuna.db.address import AddressError
    from kizuna.importer import nakama as imp

    as_json = opts["as_json"]
    try:
        addr = imp.source_address(source)
    except AddressError as exc:
        err.print(f"[red]kizuna import: --from: {escape(str(exc))}[/]")
        sys.exit(EXIT_USAGE)
    cfg, _ = load_config(ctx.args)
    say = (lambda text: None) if as_json else (lambda text: err.print(escape(text)))

    # The source first: a wrong --from must not create (or migrate) Kizuna's database.
    _fail_unless(loop(_probe(addr)), as_json)

    async def body(engine: Any, migrations: Any, target_addr: Any) -> Any:
        from kizuna.db.connect import DatabaseUnavailable, connect
        from kizuna.ops.nodes import live_nodes

        status = await engine.status() if engine is not None else None
        if status is None or (dry_run and status.current is None):
            target = None  # a dry run before Kizuna's database exists: the source's side only
        elif not status.up_to_date:
            if status.current is None:
                say(f"Kizuna's database {target_addr.display()} is new: migrating it to "
                    f"{status.head}")
                await engine.up()
                target = engine.conn
            else:
                raise imp.ImportRefused(
                    f"Kizuna's database {target_addr.display()} is at schema "
                    f"{status.current or 'none'}, not this release's {status.head}",
                    "Run `kizuna migrate up` first (it backs the database up).")
        else:
            target = engine.conn
        if not dry_run and not ignore_live_nodes:
            nodes = await live_nodes(engine.conn)
            if nodes:
                raise imp.ImportRefused(
                    "Kizuna nodes are using this database: "
                    + "; ".join(n.describe() for n in nodes),
                    "Stop them first (they hold boards and ranks in memory and would not see "
                    "the import), or pass --ignore-live-nodes and restart them afterwards.")
        try:
            src = await connect(addr, application_name="kizuna import")
        except DatabaseUnavailable as exc:
            raise imp.ImportRefused(f"cannot read the Nakama database: {exc}") from None

        async def before_change() -> str | None:
            if no_backup:
                say("not backing up Kizuna's database (--no-backup)")
                return None
            return await _backup(engine.conn, migrations, cfg, say)

        try:
            job = imp.NakamaImport(src, target, addr, merge=merge, dry_run=dry_run,
                                   say=say, before_change=before_change, version=__version__)
            if as_json:
                return await job.run()
            from kizuna.cli.backup import _progress_bar, _progress_callback

            with _progress_bar() as bar:
                job.progress = _progress_callback(bar)
                return await job.run()
        finally:
            await src.close()

    try:
        result = run_with_engine(ctx, opts, not dry_run, body)
    except KeyboardInterrupt:
        msg = ("interrupted: Nakama's database was not changed; in Kizuna's, the tables loaded "
               "so far are kept (a table being loaded into an empty database is rolled back "
               "whole). Run the same command again to finish: it picks up as a catch-up")
        if as_json:
            emit_json({"ok": False, "error": msg})
        else:
            err.print(f"[red]kizuna import: {escape(msg)}[/]")
        sys.exit(130)
    if as_json:
        emit_json({"ok": result.verified, **result.to_json()})
    else:
        _print(result)
    if not result.verified:
        sys.exit(EXIT_FAILURE)


async def _probe(addr: Any) -> tuple[str, str] | None:
    """(error, hint) when the source cannot be read or is not a Nakama database we know."""
    from kizuna.db.connect import DatabaseUnavailable, connect
    from kizuna.importer import nakama as imp

    try:
        conn = await connect(addr, application_name="kizuna import")
    except DatabaseUnavailable as exc:
        return (f"cannot read the Nakama database: {exc}",
                "Check --from (Nakama's database.address) and that this machine can reach it.")
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await imp.check_source(conn, addr)
    except imp.ImportRefused as exc:
        return exc.message, exc.hint
    finally:
        await conn.close()
    return None


def _fail_unless(problem: tuple[str, str] | None, as_json: bool) -> None:
    if problem is None:
        return
    message, hint = problem
    if as_json:
        emit_json({"ok": False, "error": message, "hint": hint or None})
    else:
        err.print(f"[red]kizuna import: {escape(message)}[/]")
        if hint:
            err.print(escape(hint))
        err.print("Nothing was changed.")
    sys.exit(EXIT_FAILURE)


async def _backup(conn: Any, migrations: Any, cfg: Any, say: Any) -> str:
    """Kizuna's usual automatic backup, before the import changes a database that holds data."""
    from kizuna.ops import backup as ops

    return await ops.auto_backup(
        conn, directory=cfg.backup.dir, retention=cfg.backup.retention,
        known=[m.id for m in migrations], version=__version__, reason="import",
        what="the import", say=say)


def _print(result: Any) -> None:
    src = result.source
    out.print(f"source: Nakama database {escape(src.address)} ({escape(src.server)}), schema "
              f"{escape(src.schema)}; snapshot at {src.snapshot_time:%Y-%m-%d %H:%M:%S} UTC")
    out.print(f"target: {escape(result.target_state)}; mode: {result.mode}")
    if result.dry_run:
        out.print("[bold]dry run: nothing was changed[/]")
        out.print(f"  {'table':<20} {'rows':>10} {'size':>10}  carries")
        for t in result.tables:
            sz = size(t.source_bytes) if t.source_bytes is not None else "?"
            out.print(f"  {t.name:<20} {t.source_rows:>10} {sz:>10}  {escape(t.what)}")
            _columns_notes(t)
    else:
        out.print(f"  {'table':<20} {'source':>9} {'new':>9} {'updated':>8} {'same':>9} "
                  f"{'deleted':>8} {'skipped':>8}  verification")
        for t in result.tables:
            skipped = sum(t.skipped.values())
            if t.verified is None:
                check = ""
            elif t.target_digest is None:
                check = ("[green]all present[/]" if t.verified else "[red]ROWS MISSING[/]")
            else:
                check = (f"[green]equal[/] ({t.target_rows} rows, digest {t.target_digest})"
                         if t.verified else
                         f"[red]DIFFERENT[/]: {t.target_rows} rows, digest {t.target_digest} "
                         f"against {t.source_rows} rows, digest {t.source_digest}")
            out.print(f"  {t.name:<20} {t.source_rows:>9} {t.inserted:>9} {t.updated:>8} "
                      f"{t.unchanged:>9} {t.deleted:>8} {skipped:>8}  {check}")
            for why, n in t.skipped.items():
                out.print(f"      [yellow]{n} skipped: {escape(why)}[/]")
            if t.replaced:
                out.print(f"      {t.replaced} row(s) gave up a unique value (a username, an "
                          f"email ...) that another player now holds in Nakama")
            _columns_notes(t)
    if result.not_carried:
        out.print("not carried over:")
        for name, info in result.not_carried.items():
            out.print(f"  {name:<20} {info['rows']:>10} rows  {escape(info['why'])}")
    if result.backup:
        out.print(f"Kizuna's database before the import is in {escape(result.backup)}")
    if result.dry_run:
        return
    total = sum(t.source_rows for t in result.tables)
    rate = total / result.seconds if result.seconds else 0
    if result.verified:
        out.print(f"[green]imported {total} rows from {len(result.tables)} tables in "
                  f"{result.seconds:.1f}s ({rate:,.0f} rows/s); verification passed[/]")
    else:
        out.print(f"[red]imported in {result.seconds:.1f}s, but the verification failed for "
                  f"{', '.join(t.name for t in result.tables if not t.verified)}[/]")


def _columns_notes(t: Any) -> None:
    if t.dropped_columns:
        out.print(f"      [yellow]Nakama columns not carried over: "
                  f"{escape(', '.join(t.dropped_columns))} (Kizuna has no such column)[/]")
    if t.defaulted_columns:
        out.print(f"      columns this Nakama release does not have, given Kizuna's default: "
                  f"{escape(', '.join(t.defaulted_columns))}")
