"""The `kizuna` command.

    kizuna server [--migrate] [--dev] [config flags]  serve (also: `kizuna [config flags]`, as Nakama)
    kizuna check [config flags]                   load the server modules of runtime.path, report errors
    kizuna migrate up|down|redo|status|plan|verify [options] [config flags]
    kizuna backup | restore ARCHIVE [options] [config flags]
    kizuna upgrade plan [options] [config flags]
    kizuna healthcheck [port] [config flags]
    kizuna --version | version
    kizuna help [COMMAND...]

Config flags are Nakama's dotted names (`--database.address ...`, `--config FILE`, ...); every
command that takes them says so at the end of its --help (`common.document_config`). Bad usage
exits 2 in every command group.

One module per command group: `server` (server, check, healthcheck), `migrate`, `backup`
(backup, restore) and `upgrade`; `common` holds what they share, including the one way a
command runs against the migration engine. This module only assembles the group.
"""

from __future__ import annotations

import sys

import click

from kizuna.cli import backup, config_cmd, import_cmd, migrate, server, upgrade
from kizuna.cli import db as db_group
from kizuna.cli.common import EXIT_USAGE, document_config, err
from kizuna.version import full_version

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(full_version(), "--version", message="%(version)s")
def cli() -> None:
    """Kizuna: a game server that speaks Nakama's client protocol."""


for _command in (server.server, server.check, server.healthcheck, migrate.migrate,
                 backup.backup, backup.restore, upgrade.upgrade, db_group.db,
                 import_cmd.import_group, config_cmd.config):
    cli.add_command(_command)
    document_config(_command)
del _command


@cli.command("help")
@click.argument("words", nargs=-1)
@click.pass_context
def help_command(ctx: click.Context, words: tuple[str, ...]) -> None:
    """Show the help of kizuna or of a command: `kizuna help migrate up`."""
    cmd: click.Command = cli
    parent = ctx.parent
    assert parent is not None
    sub_ctx = parent
    for word in words:
        found = cmd.get_command(sub_ctx, word) if isinstance(cmd, click.Group) else None
        if found is None:
            raise click.UsageError(f"no such command: kizuna {' '.join(words)}", ctx)
        cmd = found
        sub_ctx = click.Context(cmd, info_name=word, parent=sub_ctx)
    click.echo(cmd.get_help(sub_ctx))

# What `main` passes to click as is; any other first word is a config flag of the server.
SUBCOMMANDS = {*cli.commands, "version", "--version", "-h", "--help", "help"}


def main(argv: list[str] | None = None) -> None:
    """The `kizuna` entry point. As Nakama, anything that is not a subcommand starts the server,
    so `kizuna --database.address ...` serves; `kizuna version` is `kizuna --version`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        args = ["server", *args]
    if args[0] == "version":
        if len(args) > 1:
            err.print(f"kizuna version: unexpected argument {args[1]!r} (it takes none)")
            sys.exit(EXIT_USAGE)
        args = ["--version"]
    cli.main(args=args, prog_name="kizuna")
