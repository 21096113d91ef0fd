"""The `kizuna` command.

    kizuna server [--migrate] [--dev] [config flags]  serve (also: `kizuna [config flags]`, as Nakama)
    kizuna check [config flags]                   load the server modules of runtime.path, report errors
    kizuna migrate up|down|redo|status|plan|verify [options] [config flags]
    kizuna healthcheck [port]
    kizuna --version

Config flags are Nakama's dotted names (`--database.address ...`, `--config FILE`, ...).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
import urllib.error
import urllib.request
from typing import Any, Awaitable, Callable

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kizuna import config as config_mod
from kizuna import logs
from kizuna.version import __version__, full_version

EXIT_FAILURE = 1
EXIT_USAGE = 2
CONFIG_FLAGS = {"ignore_unknown_options": True, "allow_extra_args": True,
                "help_option_names": ["-h", "--help"]}
SUBCOMMANDS = {"server", "check", "migrate", "healthcheck", "backup", "restore", "upgrade", "version", "--version", "-h", "--help", "help"}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def load_config(args: list[str]) -> tuple[config_mod.Config, list[str]]:
    try:
        files, _ = config_mod.split_flags(args)
        return config_mod.load(args), files
    except config_mod.ConfigError as exc:
        err.print(f"[red]kizuna: config error:[/] {escape(str(exc))}")
        sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(full_version(), "--version", message="%(version)s")
def cli() -> None:
    """Kizuna: a game server that speaks Nakama's client protocol."""


@cli.command(context_settings=CONFIG_FLAGS)
@click.option("--migrate", is_flag=True, help="Run `migrate up` before serving (the compose pattern).")
@click.option("--dev", is_flag=True,
              help="Reload the server modules of runtime.path when one of their files changes.")
@click.pass_context
def server(ctx: click.Context, migrate: bool, dev: bool) -> None:
    """Start a node. Takes Nakama-style config flags (--socket.port 7350, --config FILE, ...)."""
    cfg, files = load_config(ctx.args)
    logs.setup(cfg.logger.level, cfg.logger.format, cfg.logger.stdout, cfg.logger.file)
    from kizuna.server import run
    sys.exit(run(cfg, migrate=migrate, config_files=files, dev=dev))


@cli.command(context_settings=CONFIG_FLAGS)
@click.pass_context
def check(ctx: click.Context) -> None:
    """Load the server modules of runtime.path without serving; report what each registers, or
    where it fails (file:line: message). Exit 1 if any module fails to load."""
    cfg, _ = load_config(ctx.args)
    logs.setup("warn", "text")
    from kizuna.runtime.loader import display
    from kizuna.runtime.service import check as check_modules

    path = Path(cfg.runtime.path)
    if not path.is_dir():
        err.print(f"[red]kizuna check: runtime.path {escape(display(path))} is not a directory[/]")
        sys.exit(EXIT_FAILURE)
    result = _loop(check_modules(cfg))
    for name, note in result.notes.items():
        out.print(f"[green]ok[/] {escape(name)}: {escape(note)}")
    for e in result.errors:
        err.print(f"[red]error[/] {escape(str(e))}")
    total = len(result.notes) + len(result.errors)
    if result.errors:
        err.print(f"[red]{len(result.errors)} of {total} module(s) failed to load[/]")
        sys.exit(EXIT_FAILURE)
    out.print(f"{total} module(s) loaded from {escape(display(path))}" if total else
              f"no modules in {escape(display(path))}")


@cli.command()
@click.argument("port", required=False, type=int)
def healthcheck(port: int | None) -> None:
    """Exit 0 if the node on localhost:PORT (default 7350) answers, 1 otherwise."""
    url = f"http://127.0.0.1:{port or 7350}/"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError):
        ok = False
    line = {"level": "info" if ok else "error", "msg": "healthcheck ok" if ok else "healthcheck failed",
            "url": url}
    print(orjson.dumps(line).decode())
    sys.exit(0 if ok else EXIT_FAILURE)


# ----------------------------------------------------------------------------------------------
# migrate
# ----------------------------------------------------------------------------------------------


@cli.group()
def migrate() -> None:
    """Apply, revert and inspect schema migrations (safe to run on many nodes at once)."""


def _migrate_options(fn: Callable) -> Callable:
    fn = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)
    fn = click.option("--lock-wait", type=float, default=1800.0, show_default=True,
                      help="Seconds to wait for another node's migration to finish.")(fn)
    fn = click.option("--lock-timeout", type=int, default=None,
                      help="Milliseconds a statement may wait for a table lock before retrying "
                           "(default: database.lock_timeout_ms, 2000).")(fn)
    fn = click.option("--lock-retries", type=int, default=8, show_default=True,
                      help="Retries of a statement that hit the lock timeout.")(fn)
    fn = click.option("--migrations-dir", type=click.Path(), default=None, hidden=True)(fn)
    return click.pass_context(fn)


def _run(ctx: click.Context, opts: dict[str, Any], create: bool,
         body: Callable[[Any], Awaitable[Any]], auto_backup: bool = False) -> Any:
    """Resolve config and database, open the migrator connection, run `body(engine)`."""
    cfg, _ = load_config(ctx.args)
    logs.setup("warn", "text")
    import asyncpg

    from kizuna.db import embedded
    from kizuna.db.connect import (DatabaseMissing, DatabaseUnavailable, ensure_database,
                                   resolve_address)
    from kizuna.migrate import loader
    from kizuna.migrate.errors import MigrateError
    from kizuna.migrate.executor import Engine, Options, open_connection
    from kizuna.migrate.executor import SilentReporter, connection_lost
    from kizuna.migrate.report import ConsoleReporter

    as_json = opts["as_json"]

    async def main() -> Any:
        migrations = loader.load(opts.get("migrations_dir"))
        addr = resolve_address(cfg)
        if create:
            await ensure_database(addr)
        try:
            conn = await open_connection(addr, version=__version__)
        except DatabaseMissing:
            if create:
                raise
            return await body(None, migrations, addr)
        try:
            engine = Engine(conn, migrations, Options(
                version=__version__,
                lock_timeout_ms=opts["lock_timeout"] or cfg.database.lock_timeout_ms,
                retries=opts["lock_retries"], lock_wait_sec=opts["lock_wait"]),
                SilentReporter() if as_json else ConsoleReporter(out))
            from kizuna.ops.nodes import contract_guard
            engine.before_contract = contract_guard(conn, __version__)
            if auto_backup and not opts.get("no_backup"):
                from kizuna.ops.backup import auto_backup_hook
                engine.before_change = auto_backup_hook(
                    conn, directory=cfg.backup.dir, retention=cfg.backup.retention,
                    migrations=migrations, version=__version__,
                    say=(lambda text: None) if as_json else (lambda text: out.print(escape(text))))
            return await body(engine, migrations, addr)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise connection_lost(exc, f"`kizuna migrate {ctx.info_name}`") from None
        finally:
            await conn.close()

    try:
        return _loop(main())
    except (MigrateError, DatabaseUnavailable) as exc:
        hint = getattr(exc, "hint", "")
        msg = getattr(exc, "message", str(exc))
        if as_json:
            print(orjson.dumps({"ok": False, "error": msg, "hint": hint or None,
                                **getattr(exc, "data", {})}, option=orjson.OPT_INDENT_2).decode())
        else:
            where = "migrate" if ctx.parent is not None and ctx.parent.info_name == "migrate" else ctx.info_name
            err.print(f"[red]kizuna {where}: {escape(msg)}[/]")
            if hint:
                err.print(escape(hint))
        sys.exit(EXIT_FAILURE)
    finally:
        embedded.stop()


def _loop(coro: Awaitable[Any]) -> Any:
    try:
        import uvloop
        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)  # type: ignore[arg-type]


def _emit_json(doc: Any) -> None:
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode())


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--limit", type=int, default=None, help="Apply at most N migrations (0 or -1: all).")
@click.option("--to", "to", default=None, help="Apply up to and including this migration id.")
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@_migrate_options
def up(ctx: click.Context, limit: int | None, to: str | None, **opts: Any) -> None:
    """Apply pending migrations."""
    async def body(engine, migrations, addr):
        if not opts["as_json"]:
            out.print(f"database {escape(addr.display())}")
        done = await engine.up(limit=limit, to=to)
        st = await engine.status()
        return done, st
    done, st = _run(ctx, opts, True, body, auto_backup=True)
    if opts["as_json"]:
        _emit_json({"ok": True, "applied": done, "current": st.current, "head": st.head})
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
@_migrate_options
def down(ctx: click.Context, limit: int, to: str | None, force: bool, **opts: Any) -> None:
    """Revert applied migrations (one by default)."""
    async def body(engine, migrations, addr):
        if engine is None:
            return [], None
        done = await engine.down(limit=limit, to=to, force=force)
        return done, await engine.status()
    done, st = _run(ctx, opts, False, body, auto_backup=True)
    current = st.current if st else None
    if opts["as_json"]:
        _emit_json({"ok": True, "reverted": done, "current": current})
    elif done:
        out.print(f"[green]reverted {len(done)} migration(s); schema at {escape(current or 'none')}[/]")
    else:
        out.print("nothing to revert")


@migrate.command(context_settings=CONFIG_FLAGS)
@click.option("--force", is_flag=True, help="Redo even when the down step destroys data.")
@click.option("--limit", type=int, default=None, hidden=True)
@click.option("--no-backup", is_flag=True, help="Do not back up the database first.")
@_migrate_options
def redo(ctx: click.Context, force: bool, limit: int | None, **opts: Any) -> None:
    """Revert the last applied migration and apply it again."""
    if limit is not None and not opts["as_json"]:
        err.print("[yellow]--limit is ignored by redo[/]")

    async def body(engine, migrations, addr):
        if engine is None:
            return None
        return await engine.redo(force=force)
    mid = _run(ctx, opts, False, body, auto_backup=True)
    if opts["as_json"]:
        _emit_json({"ok": True, "redone": mid})
    else:
        out.print(f"[green]redid {escape(mid)}[/]" if mid else "nothing to redo")


_STATE_STYLE = {"applied": "green", "pending": "yellow", "partial_up": "red", "partial_down": "red",
                "changed": "bold red", "unknown": "magenta"}


@migrate.command(context_settings=CONFIG_FLAGS)
@_migrate_options
def status(ctx: click.Context, **opts: Any) -> None:
    """Show every migration and whether it is applied."""
    from kizuna.migrate.executor import compute_status

    from kizuna.ops.nodes import live_nodes

    async def body(engine, migrations, addr):
        if engine is None:
            return compute_status(migrations, {}), addr, False, []
        return await engine.status(), addr, True, await live_nodes(engine.conn)
    st, addr, exists, nodes = _run(ctx, opts, False, body)
    if opts["as_json"]:
        _emit_json({"ok": True, "database": addr.display(), "database_exists": exists, **st.to_json(),
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
@_migrate_options
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
    steps, stats = _run(ctx, opts, False, body)
    blocking = any(f.blocking for s in steps for f in s.findings)
    if opts["as_json"]:
        _emit_json({"ok": True, "direction": direction, "blocking": blocking,
                    "steps": [s.to_json(stats) for s in steps]})
    else:
        _print_plan(steps, stats, direction)
    sys.exit(3 if blocking else 0)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.0f} PB"


_VERDICT_STYLE = {"online": "green", "brief lock": "cyan", "blocks writes": "yellow",
                  "maintenance window": "red", "breaks old nodes": "red", "will fail": "bold red"}


def _print_plan(steps: list, stats: dict, direction: str) -> None:
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
                    rows, size = stats[f.table]
                    extra = f" [{f.table}: {rows} rows, {_size(size)}]"
                style = _VERDICT_STYLE.get(f.verdict, "")
                out.print(f"   [{style}]{f.verdict}[/] {f.rule}: {escape(f.message)}{escape(extra)}")
    worst = {f.verdict for s in steps for f in s.findings}
    if worst & {"will fail", "breaks old nodes", "maintenance window", "blocks writes"}:
        out.print("[yellow]some steps block traffic or break old nodes: see the findings above[/]")
    else:
        out.print("[green]every step runs online or with brief locks[/]")


@migrate.command(context_settings=CONFIG_FLAGS)
@_migrate_options
def verify(ctx: click.Context, **opts: Any) -> None:
    """Check checksums and that the live schema matches what the applied migrations define."""
    async def body(engine, migrations, addr):
        if engine is None:
            return None, ["the database does not exist"]
        return await engine.verify()
    st, problems = _run(ctx, opts, False, body)
    if opts["as_json"]:
        _emit_json({"ok": not problems, "problems": problems,
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


# ----------------------------------------------------------------------------------------------
# backup / restore
# ----------------------------------------------------------------------------------------------


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False)


def _progress_callback(bar):
    tasks: dict[str, int] = {}

    def update(table: str, done: int, total: int) -> None:
        if total == 0 and done == 0:
            total = done = 1  # an empty table is complete, not stuck at 0/1
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=max(total, 1))
        bar.update(tasks[table], completed=done, total=max(total, done, 1))
    return update


@cli.command(context_settings=CONFIG_FLAGS)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Archive to write (default: <backup.dir>/kizuna-<time>-<schema>.kzb).")
@_migrate_options
def backup(ctx: click.Context, out_path: str | None, **opts: Any) -> None:
    """Write a consistent, compressed, checksummed snapshot of all of Kizuna's data."""
    from datetime import datetime, timezone

    from kizuna.ops import backup as ops

    async def body(engine, migrations, addr):
        if engine is None:
            raise ops.BackupError(f"database {addr.database!r} does not exist at {addr.display()}")
        known = [m.id for m in migrations]
        head = await ops.schema_head(engine.conn, known)
        cfg, _ = load_config(ctx.args)
        path = out_path or str(Path(cfg.backup.dir) / (
            f"kizuna-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{head or 'empty'}.kzb"))
        if opts["as_json"]:
            return await ops.backup(engine.conn, path, kizuna_version=__version__,
                                    known_migrations=known)
        with _progress_bar() as bar:
            return await ops.backup(engine.conn, path, kizuna_version=__version__,
                                    known_migrations=known, progress=_progress_callback(bar))
    summary = _run(ctx, opts, False, body)
    if opts["as_json"]:
        _emit_json({"ok": True, **summary.to_json()})
    else:
        out.print(f"[green]backup written:[/] {escape(summary.path)}")
        out.print(f"  {summary.tables} tables, {summary.rows} rows, {_size(summary.bytes_raw)} of "
                  f"data ({_size(summary.bytes_file)} compressed) in {summary.seconds:.1f}s; "
                  f"schema {escape(summary.schema_head or 'none')}, Kizuna {summary.kizuna_version}, "
                  f"sha256 {summary.sha256[:16]}")


@cli.command(context_settings=CONFIG_FLAGS)
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Restore into a non-empty database, dropping what it holds.")
@click.option("--no-migrate", is_flag=True,
              help="Leave the schema as the archive had it (to run the release that wrote it); "
                   "by default the restored database is migrated up to this release.")
@_migrate_options
def restore(ctx: click.Context, archive: str, force: bool, no_migrate: bool, **opts: Any) -> None:
    """Restore an archive written by `kizuna backup` into an empty database, then migrate up."""
    from kizuna.ops import backup as ops

    from kizuna.migrate import loader
    from kizuna.migrate.errors import MigrateError

    try:
        # Before touching (or creating) any database: every checksum, and a schema this
        # release can build.
        verified = ops.inspect(archive)
        ops.check_schema(verified, [m.id for m in loader.load(opts.get("migrations_dir"))])
    except MigrateError as exc:
        if opts["as_json"]:
            _emit_json({"ok": False, "error": exc.message, "hint": exc.hint or None})
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

    async def body(engine, migrations, addr):
        if opts["as_json"]:
            return await ops.restore(engine.conn, verified, engine, force=force,
                                     migrate_after=not no_migrate)
        with _progress_bar() as bar:
            return await ops.restore(engine.conn, verified, engine, force=force,
                                     migrate_after=not no_migrate,
                                     progress=_progress_callback(bar))
    result = _run(ctx, opts, True, body)
    total = sum(result["restored_rows"].values())
    if opts["as_json"]:
        _emit_json({"ok": True, "archive": archive, "rows": total, **result})
    else:
        out.print(f"[green]restored {total} rows into {len(result['restored_rows'])} tables; row counts "
                  f"match the archive[/]")
        if result["migrated_after"]:
            out.print(f"then applied {len(result['migrated_after'])} newer migration(s): "
                      f"{', '.join(result['migrated_after'])}")


# ----------------------------------------------------------------------------------------------
# upgrade
# ----------------------------------------------------------------------------------------------


@cli.group()
def upgrade() -> None:
    """Plan an upgrade of a database to this release."""


@upgrade.command("plan", context_settings=CONFIG_FLAGS)
@_migrate_options
def upgrade_plan(ctx: click.Context, **opts: Any) -> None:
    """What upgrading the database to this release involves; changes nothing."""
    from kizuna.ops import upgrade as ops
    from kizuna.release import manifest

    cfg, _ = load_config(ctx.args)

    async def body(engine, migrations, addr):
        return await ops.plan(engine, manifest(), database=addr.display(),
                              backup_dir=cfg.backup.dir)
    doc = _run(ctx, opts, False, body)
    if opts["as_json"]:
        _emit_json({"ok": True, **doc})
        return
    _print_upgrade_plan(doc)


def _print_upgrade_plan(doc: dict) -> None:
    out.print(f"[bold]Upgrade of {escape(doc['database'])} to Kizuna {doc['release']}[/] "
              f"(schema {escape(doc['target_schema'])})")
    out.print(f"state: {doc['state']}; current schema {escape(str(doc.get('current_schema')))}; "
              f"applied by release(s) {', '.join(doc.get('running_releases') or []) or 'none'}")
    if doc.get("blocked_by"):
        out.print(f"[red]blocked: {escape(doc['blocked_by'])}[/]")
        return
    out.print(f"path: {' → '.join(doc.get('path') or [])}"
              + (f"; required stops: {', '.join(doc['required_stops'])}" if doc.get("required_stops") else ""))
    for step in doc.get("steps", []):
        out.print(f"  {escape(step['id'])} \\[{step['phase']}, "
                  f"{'transactional' if step['transactional'] else 'no-transaction'}] "
                  f"→ [{_VERDICT_STYLE.get(step['verdict'], '')}]{step['verdict']}[/]")
        for f in step["findings"]:
            if f["verdict"] == "online":
                continue
            size = ""
            if f.get("table_rows") is not None:
                size = f" ({f['table']}: {f['table_rows']} rows, {_size(f['table_bytes'] or 0)})"
            out.print(f"      {f['verdict']}: {escape(f['message'])}{escape(size)}")
    if doc["state"] == "fresh install":
        out.print(f"{len(doc['pending'])} migration(s) will create the schema")
    serve = doc["old_nodes_can_serve"]
    out.print(f"old nodes keep serving: {'[green]yes' if serve['answer'] else '[red]no'}[/] — {escape(serve['why'])}")
    down = doc["downgrade"]
    out.print(f"downgrade lossless: {'[green]yes' if down['lossless'] else '[yellow]no'}[/]")
    for d in down["details"]:
        out.print(f"   {escape(d)}")
    b = doc["backup"]
    if b["taken"]:
        out.print(f"backup: `migrate up` first writes ~{_size(b['database_bytes'])} (before compression) "
                  f"to {escape(b['directory'])}")
    else:
        out.print(f"backup: none needed ({escape(b['why'])})")
    clients = ", ".join(f"{k} {' '.join(v)}" for k, v in doc.get("clients_tested", {}).items())
    out.print(f"clients tested with this release: {clients}")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        args = ["server", *args]  # as Nakama: anything that is not a subcommand starts the server
    if args[0] in ("version",):
        args = ["--version"]
    cli.main(args=args, prog_name="kizuna")


if __name__ == "__main__":  # pragma: no cover
    main()
