"""Running a node: `kizuna server`, `kizuna check` (the server modules alone) and
`kizuna healthcheck` (the probe a container runtime calls)."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import click
import orjson
from rich.markup import escape

from kizuna import logs
from kizuna.cli.common import CONFIG_FLAGS, EXIT_FAILURE, err, load_config, loop, out


@click.command(context_settings=CONFIG_FLAGS)
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


@click.command(context_settings=CONFIG_FLAGS)
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
    result = loop(check_modules(cfg))
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


@click.command()
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
