"""What the `kizuna` command groups share: consoles, exit codes, config loading, the migrator
options, and running a command body against a migration Engine.

Every database command (migrate, backup, restore, upgrade) goes through `run_with_engine`, so
they resolve the database the same way, get the same Engine (`kizuna.ops.migrator`), and fail
the same way: a one-line error and a hint on stderr (or a JSON document), exit code 1, never a
traceback. Heavy imports (asyncpg, the migration engine) happen inside the functions, so that
`kizuna --help` and `kizuna healthcheck` start fast.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
import orjson
from rich.console import Console
from rich.markup import escape

from kizuna import config as config_mod
from kizuna import logs
from kizuna.version import __version__

EXIT_FAILURE = 1
EXIT_USAGE = 2
# Commands that take Nakama's dotted config flags (`--database.address ...`): click leaves the
# flags it does not know in `ctx.args`, and `load_config` reads them.
CONFIG_FLAGS = {"ignore_unknown_options": True, "allow_extra_args": True,
                "help_option_names": ["-h", "--help"]}

# The end of the --help of every command that takes config flags (`document_config`): how the
# database and the configuration are given, and where backups go. `\b` keeps click from
# re-wrapping the lines.
CONFIG_HELP = """\b
Configuration, as for `kizuna server` (later sources win):
  --config FILE               YAML file with Nakama's key names (repeatable, in order)
  --section.key VALUE         any key: --database.address user:pass@host:5432/kizuna
                              (repeatable), --data_dir DIR, --backup.dir DIR
  KIZUNA_SECTION_KEY=VALUE    environment: KIZUNA_DATABASE_ADDRESS=...
Without database.address: the embedded PostgreSQL under <data_dir>/postgres.
data_dir defaults to ./data (of the current directory): give one-off commands the
node's --config so they use its database, data_dir and backup.dir.
Backups: backup.dir, default <data_dir>/backups (a relative backup.dir is under
data_dir).
Unknown keys: a likely typo stops the command (exit 2); a key of another release is
ignored with a warning."""

_SHOWN: set[str] = set()  # config warnings already printed by this process

# Shared by the plan of `migrate plan` and of `upgrade plan`, so a verdict reads the same in both.
VERDICT_STYLE = {"online": "green", "brief lock": "cyan", "blocks writes": "yellow",
                 "maintenance window": "red", "breaks old nodes": "red", "will fail": "bold red"}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def load_config(args: list[str], *, show_unknown: bool = True,
                ) -> tuple[config_mod.Config, list[str]]:
    """The config from the command's leftover flags, and the --config files it named.

    A bad flag or file is the operator's mistake: say so and exit with the usage code. Keys and
    KIZUNA_* variables this release does not know are printed as warnings on stderr, once per
    process (`show_unknown=False` for the server, which logs every warning itself)."""
    try:
        files, _ = config_mod.split_flags(args)
        cfg = config_mod.load(args)
    except config_mod.ConfigError as exc:
        err.print(f"[red]kizuna: config error:[/] {escape(str(exc))}")
        sys.exit(EXIT_USAGE)
    if show_unknown:
        for line in cfg.unknown:
            if line not in _SHOWN:
                _SHOWN.add(line)
                err.print(f"[yellow]kizuna: config warning:[/] {escape(line)}")
    return cfg, files


def document_config(cmd: click.Command) -> None:
    """Append CONFIG_HELP to the --help of `cmd` and of every subcommand that takes config flags
    (and mention them in the help of a group), so that every command says how the database and
    the configuration are given."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            document_config(sub)
        if cmd.help and "--database.address" not in cmd.help:
            cmd.help += ("\n\nEvery subcommand takes the configuration of `kizuna server`: "
                         "--config FILE, --database.address ..., KIZUNA_* (see its --help).")
        return
    if cmd.context_settings.get("ignore_unknown_options") and CONFIG_HELP not in (cmd.epilog or ""):
        cmd.epilog = ((cmd.epilog + "\n\n") if cmd.epilog else "") + CONFIG_HELP


def loop(coro: Awaitable[Any]) -> Any:
    """Run `coro` to completion on uvloop when it is installed (as the server does)."""
    try:
        import uvloop
        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)  # type: ignore[arg-type]


def emit_json(doc: Any) -> None:
    """Print the `--json` answer of a command: indented, anything unusual as its str()."""
    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2, default=str).decode())


def size(n: int) -> str:
    """A byte count for people (1024-based, no decimals)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.0f} PB"


def migrate_options(fn: Callable) -> Callable:
    """The options of every command that runs the migration engine (and `pass_context`).

    The config flags are checked before the command does anything (reads an archive, connects):
    a bad one exits 2, whatever the command would have done first."""
    body = fn

    @functools.wraps(body)
    def checked(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        load_config(ctx.args)
        return body(ctx, *args, **kwargs)

    fn = checked
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


def run_with_engine(ctx: click.Context, opts: dict[str, Any], create: bool,
                    body: Callable[..., Awaitable[Any]], auto_backup: bool = False) -> Any:
    """Resolve config and database, open the migrator connection, return `body(engine,
    migrations, addr)`.

    `create`: create the database when it is missing; otherwise a missing database calls
    `body(None, migrations, addr)`, so reading commands can say what they would see.
    `auto_backup`: back up before the schema changes, unless `--no-backup` was given.
    A migration or database error ends the command with exit code 1."""
    cfg, _ = load_config(ctx.args)
    logs.setup("warn", "text", stderr=True)
    import asyncpg

    from kizuna.db import embedded
    from kizuna.db.connect import (
        DatabaseMissing,
        DatabaseUnavailable,
        ensure_database,
        resolve_address,
    )
    from kizuna.migrate import loader
    from kizuna.migrate.errors import MigrateError
    from kizuna.migrate.executor import SilentReporter, connection_lost, open_connection
    from kizuna.migrate.report import ConsoleReporter
    from kizuna.ops.migrator import build_engine

    as_json = opts["as_json"]
    say = (lambda text: None) if as_json else _backup_say(cfg)

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
            engine = build_engine(
                conn, migrations, cfg,
                reporter=SilentReporter() if as_json else ConsoleReporter(out),
                say=say,
                back_up=auto_backup and not opts.get("no_backup") and cfg.backup.before_migrate,
                lock_timeout_ms=opts["lock_timeout"], retries=opts["lock_retries"],
                lock_wait_sec=opts["lock_wait"])
            return await body(engine, migrations, addr)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise connection_lost(exc, f"`kizuna migrate {ctx.info_name}`") from None
        finally:
            await conn.close()

    try:
        return loop(main())
    except (MigrateError, DatabaseUnavailable) as exc:
        hint = getattr(exc, "hint", "")
        msg = getattr(exc, "message", str(exc))
        if as_json:
            print(orjson.dumps({"ok": False, "error": msg, "hint": hint or None,
                                **getattr(exc, "data", {})}, option=orjson.OPT_INDENT_2).decode())
        else:
            group = ctx.parent.info_name if ctx.parent is not None else None
            name = group if group in ("migrate", "import") else ctx.info_name
            err.print(f"[red]kizuna {name}: {escape(msg)}[/]")
            if hint:
                err.print(escape(hint))
        sys.exit(EXIT_FAILURE)
    finally:
        embedded.stop()


def _backup_say(cfg: config_mod.Config) -> Callable[[str], None]:
    """What the automatic backup says, printed; the first time, when neither data_dir nor
    backup.dir was configured, a note that the backup went under the current directory."""
    noted = False

    def say(text: str) -> None:
        nonlocal noted
        out.print(escape(text))
        if not noted and "data_dir" not in cfg.sources and "backup.dir" not in cfg.sources:
            noted = True
            err.print(f"[yellow]note: neither data_dir nor backup.dir is configured, so backups go "
                      f"to {escape(cfg.backup.dir)} under the current directory; give the node's "
                      f"--config (or --data_dir / --backup.dir) to keep them with its data[/]")
    return say
