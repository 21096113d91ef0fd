"""Running a node: `kizuna server`, `kizuna check` (the server modules alone) and
`kizuna healthcheck` (the probe a container runtime calls)."""

from __future__ import annotations

import logging
import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click
import orjson
from rich.markup import escape

from kizuna import config as config_mod
from kizuna import logs
from kizuna.cli.common import CONFIG_FLAGS, EXIT_FAILURE, err, load_config, loop, out


@click.command(context_settings=CONFIG_FLAGS)
@click.option("--migrate", is_flag=True, help="Run `migrate up` before serving (the compose pattern).")
@click.option("--dev", is_flag=True,
              help="Reload the server modules of runtime.path when one of their files changes.")
@click.option("--no-backup", is_flag=True,
              help="Do not back the database up before `--migrate` (or the embedded database's "
                   "migration at start) changes it; the same as backup.before_migrate: false.")
@click.option("--workers", type=click.IntRange(0, 256), default=None, metavar="N",
              help="Worker processes serving this node's ports, each a node named <name>-<i> "
                   "(the same as --socket.workers N; 0: one per core, the default; 1: a single "
                   "process).")
@click.pass_context
def server(ctx: click.Context, migrate: bool, dev: bool, no_backup: bool,
           workers: int | None) -> None:
    """Start a node. Takes Nakama-style config flags (--socket.port 7350, --config FILE, ...).

    With socket.workers above 1 this process supervises that many worker processes
    (docs/cluster.md)."""
    args = list(ctx.args)
    if workers is not None:  # after the operator's flags: it wins, as a later flag does
        args += ["--socket.workers", str(workers)]
    cfg, files = load_config(args, show_unknown=False)  # the node logs every warning
    if no_backup:
        cfg.backup.before_migrate = False
    logs.setup(cfg.logger.level, cfg.logger.format, cfg.logger.stdout, cfg.logger.file)
    from kizuna.workers import worker_count

    count = worker_count(cfg)
    if count > 1 and not os.environ.get("KIZUNA_WORKER"):  # a worker never supervises
        if dev:
            logging.getLogger("kizuna").info(
                "--dev runs a single process (it reloads the server modules in place): "
                "socket.workers is ignored", extra={"workers": count})
        else:
            from kizuna.workers import run as supervise

            sys.exit(supervise(cfg, args, migrate=migrate, config_files=files))
    from kizuna.server import run
    sys.exit(run(cfg, migrate=migrate, config_files=files, dev=dev))


@click.command(context_settings=CONFIG_FLAGS)
@click.pass_context
def check(ctx: click.Context) -> None:
    """Load the server modules of runtime.path without serving; report what each registers, or
    where it fails (file:line: message), and warn about hooks on methods or socket messages this
    server does not serve yet. Exit 1 if any module fails to load."""
    cfg, _ = load_config(ctx.args)
    logs.setup("warn", "text")
    from kizuna.api.app import served_methods
    from kizuna.runtime.loader import display, unserved_hooks
    from kizuna.runtime.service import check as check_modules
    from kizuna.services import served_socket_kinds

    path = Path(cfg.runtime.path)
    if not path.is_dir():
        err.print(f"[red]kizuna check: runtime.path {escape(display(path))} is not a directory[/]")
        sys.exit(EXIT_FAILURE)
    result = loop(check_modules(cfg))
    for name, note in result.notes.items():
        out.print(f"[green]ok[/] {escape(name)}: {escape(note)}")
    for warning in unserved_hooks(result.registry, served_methods(), served_socket_kinds()):
        err.print(f"[yellow]warning[/] {escape(warning)}")
    for e in result.errors:
        err.print(f"[red]error[/] {escape(str(e))}")
    failed = len(set(result.failed))
    total = len(result.notes) + failed
    if result.errors:
        err.print(f"[red]{failed} of {total} module(s) failed to load[/]")
        sys.exit(EXIT_FAILURE)
    out.print(f"{total} module(s) loaded from {escape(display(path))}" if total else
              f"no modules in {escape(display(path))}")


def probe_url(cfg: config_mod.Config, port: int | None = None) -> str:
    """The URL `kizuna healthcheck` asks: the node's own socket.address (localhost when it
    listens on every interface) and socket.port, over HTTPS when the node serves TLS."""
    host = cfg.socket.address or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if cfg.socket.ssl_certificate else "http"
    return f"{scheme}://{host}:{port or cfg.socket.port}/"


@click.command(context_settings=CONFIG_FLAGS, options_metavar="[PORT] [CONFIG FLAGS]")
@click.pass_context
def healthcheck(ctx: click.Context) -> None:
    """Exit 0 if the node answers GET / (liveness), 1 otherwise.

    It reads the configuration as the server does (--config files, config flags, KIZUNA_*
    variables) and asks the node at its socket.address and socket.port (PORT overrides the
    port). In a container, the HEALTHCHECK sees the image's environment, not the server's
    flags: set KIZUNA_SOCKET_PORT (or pass the same flags) when the node does not use 7350."""
    args = list(ctx.args)
    port: int | None = None
    if args and not args[0].startswith("-"):  # `kizuna healthcheck 7351`, as before
        word = args.pop(0)
        port = int(word) if word.isdigit() else None
        if port is None or not 1 <= port <= 65535:
            raise click.UsageError(f"PORT must be a port number (1-65535), got {word!r}", ctx)
    cfg, _ = load_config(args)
    url = probe_url(cfg, port)
    context = None
    if url.startswith("https:"):  # the node's own certificate, asked by its own name or address
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError):
        ok = False
    line = {"level": "info" if ok else "error", "msg": "healthcheck ok" if ok else "healthcheck failed",
            "url": url}
    print(orjson.dumps(line).decode())
    sys.exit(0 if ok else EXIT_FAILURE)
