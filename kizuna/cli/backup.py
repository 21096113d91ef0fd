"""`kizuna backup` and `kizuna restore`: write an archive of all of Kizuna's data, and load one
into an empty database (then migrate it up to this release).

Progress bars go to stderr, so `--json` (or a redirected stdout) carries only the result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from kizuna.cli.common import (
    CONFIG_FLAGS,
    EXIT_FAILURE,
    emit_json,
    err,
    load_config,
    migrate_options,
    out,
    run_with_engine,
    size,
)
from kizuna.version import __version__

if TYPE_CHECKING:  # both imported where used, to keep the command's start fast
    from rich.progress import Progress as ProgressBar
    from rich.progress import TaskID

    from kizuna.ops.backup import Progress


def _progress_bar() -> ProgressBar:
    """One bar per table, on stderr, left on screen when done (a record of what was copied)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False)


def _progress_callback(bar: ProgressBar) -> Progress:
    """The `progress(table, done, total)` callback of `ops.backup` that drives `bar`."""
    tasks: dict[str, TaskID] = {}

    def update(table: str, done: int, total: int) -> None:
        if total == 0 and done == 0:
            total = done = 1  # an empty table is complete, not stuck at 0/1
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=max(total, 1))
        bar.update(tasks[table], completed=done, total=max(total, done, 1))
    return update


@click.command(context_settings=CONFIG_FLAGS)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Archive to write (default: <backup.dir>/kizuna-<time>-<schema>.kzb).")
@migrate_options
def backup(ctx: click.Context, out_path: str | None, **opts: Any) -> None:
    """Write a consistent, compressed, checksummed snapshot of all of Kizuna's data."""
    from datetime import UTC, datetime

    from kizuna.ops import backup as ops

    async def body(engine, migrations, addr):
        if engine is None:
            raise ops.BackupError(f"database {addr.database!r} does not exist at {addr.display()}")
        known = [m.id for m in migrations]
        head = await ops.schema_head(engine.conn, known)
        cfg, _ = load_config(ctx.args)
        path = out_path or str(Path(cfg.backup.dir) / (
            f"kizuna-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{head or 'empty'}.kzb"))
        if opts["as_json"]:
            summary = await ops.backup(engine.conn, path, kizuna_version=__version__,
                                       known_migrations=known)
        else:
            with _progress_bar() as bar:
                summary = await ops.backup(engine.conn, path, kizuna_version=__version__,
                                           known_migrations=known,
                                           progress=_progress_callback(bar))
        # The console's upgrade-health page shows the last manual backup (kizuna_backup_log).
        from kizuna.ops.backup_log import record_backup

        await record_backup(engine.conn, kind="manual", reason="kizuna backup", path=summary.path,
                            size_bytes=summary.bytes_file, schema_head=summary.schema_head,
                            version=__version__)
        return summary
    summary = run_with_engine(ctx, opts, False, body)
    if opts["as_json"]:
        emit_json({"ok": True, **summary.to_json()})
    else:
        out.print(f"[green]backup written:[/] {escape(summary.path)}")
        out.print(f"  {summary.tables} tables, {summary.rows} rows, {size(summary.bytes_raw)} of "
                  f"data ({size(summary.bytes_file)} compressed) in {summary.seconds:.1f}s; "
                  f"schema {escape(summary.schema_head or 'none')}, Kizuna {summary.kizuna_version}, "
                  f"sha256 {summary.sha256[:16]}")


@click.command(context_settings=CONFIG_FLAGS)
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True,
              help="Restore into a non-empty database, replacing what it holds (backed up first "
                   "into backup.dir).")
@click.option("--no-migrate", is_flag=True,
              help="Leave the schema as the archive had it (to run the release that wrote it); "
                   "by default the restored database is migrated up to this release.")
@click.option("--ignore-live-nodes", is_flag=True,
              help="Restore even while Kizuna nodes use the database (they fail until restarted).")
@click.option("--no-backup", is_flag=True,
              help="With --force: do not back up what the database holds before replacing it.")
@migrate_options
def restore(ctx: click.Context, archive: str, force: bool, no_migrate: bool,
            ignore_live_nodes: bool, no_backup: bool, **opts: Any) -> None:
    """Restore an archive written by `kizuna backup` into an empty database, then migrate up.

    All or nothing: the archive is loaded into a staging schema that replaces the live one in one
    transaction once every row count matches; an interrupted or failed restore changes nothing.
    """
    from kizuna.migrate import loader
    from kizuna.migrate.errors import MigrateError
    from kizuna.ops import backup as ops

    try:
        # Before touching (or creating) any database: every checksum, and a schema this
        # release can build.
        verified = ops.inspect(archive)
        ops.check_schema(verified, [m.id for m in loader.load(opts.get("migrations_dir"))])
    except MigrateError as exc:
        if opts["as_json"]:
            emit_json({"ok": False, "error": exc.message, "hint": exc.hint or None})
        else:
            err.print(f"[red]kizuna restore: {escape(exc.message)}[/]")
            if exc.hint:
                err.print(escape(exc.hint))
            err.print("Nothing was changed.")
        sys.exit(EXIT_FAILURE)
    if not opts["as_json"]:
        h = verified.header
        out.print(f"archive {escape(archive)}: Kizuna {h.get('kizuna_version')}, schema "
                  f"{escape(str(h.get('schema_head')))}, {verified.trailer.get('rows')} rows, "
                  f"taken {h.get('created_at')}; checksums verified")
    cfg, _ = load_config(ctx.args)
    say = (lambda text: None) if opts["as_json"] else (lambda text: out.print(escape(text)))
    swapped: list[bool] = []

    async def body(engine, migrations, addr):
        kw: dict[str, Any] = {"force": force, "migrate_after": not no_migrate,
                              "ignore_live_nodes": ignore_live_nodes, "say": say,
                              "safety_dir": None if no_backup else cfg.backup.dir,
                              "on_swapped": lambda: swapped.append(True)}
        if opts["as_json"]:
            return await ops.restore(engine.conn, verified, engine, **kw)
        with _progress_bar() as bar:
            return await ops.restore(engine.conn, verified, engine,
                                     progress=_progress_callback(bar), **kw)
    try:
        result = run_with_engine(ctx, opts, True, body)
    except KeyboardInterrupt:
        if swapped:
            msg = ("interrupted after the archive was restored (row counts matched), while "
                   "migrating it up: run `kizuna migrate up` to finish")
        else:
            msg = ("interrupted: nothing was restored, the database is as it was (the archive "
                   "was being loaded into a staging schema, which the next restore drops)")
        if opts["as_json"]:
            emit_json({"ok": False, "error": msg})
        else:
            err.print(f"[red]kizuna restore: {escape(msg)}[/]")
        sys.exit(130)
    total = sum(result["restored_rows"].values())
    if opts["as_json"]:
        emit_json({"ok": True, "archive": archive, "rows": total, **result})
    else:
        out.print(f"[green]restored {total} rows into {len(result['restored_rows'])} tables; row counts "
                  f"match the archive[/]")
        if result["migrated_after"]:
            out.print(f"then applied {len(result['migrated_after'])} newer migration(s): "
                      f"{', '.join(result['migrated_after'])}")
        if result["safety_backup"]:
            out.print(f"what the database held before is in {escape(result['safety_backup'])}")
