"""`kizuna config import-nakama`: turn a Nakama YAML configuration into a Kizuna one.

The translation is `kizuna.importer.nakama_config`; this module reads the file, checks that the
result loads with Kizuna's own loader before anything is written, writes it (to stdout, or to
`-o FILE`, never over an existing file without `--force`, never over the Nakama file) and reports
what was translated, kept with a note and not carried over, on stderr (or as `--json`).

Exit codes: 0 written; 2 the Nakama file cannot be read, is not YAML or not a mapping (the
operator's mistake, as a bad `--config` file elsewhere); 1 the output exists, cannot be written,
or the translation does not load (the Nakama file breaks a rule Nakama has too).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from rich.markup import escape

from kizuna.cli.common import EXIT_FAILURE, EXIT_USAGE, emit_json, err, out
from kizuna.config import ConfigError
from kizuna.importer import nakama_config as nc

Fail = Callable[[str, int], NoReturn]

_NAME = "kizuna config import-nakama"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def config() -> None:
    """Kizuna's configuration files: bring a Nakama one over.

    Kizuna reads Nakama's key names (--config FILE, --socket.server_key, --database.address,
    ...); `import-nakama` writes the Kizuna file for a Nakama deployment's YAML.
    """


@config.command("import-nakama")
@click.argument("nakama_yml", metavar="NAKAMA_YML")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write the Kizuna YAML to this file (created with mode 600: it holds the "
                   "keys and the database password) instead of stdout.")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable report on stdout (with the YAML in it when there is no -o).")
def import_nakama(nakama_yml: str, out_path: str | None, force: bool, as_json: bool) -> None:
    """Translate the Nakama configuration NAKAMA_YML ("-": stdin) into Kizuna's.

    Keys Kizuna shares keep their names and values: Kizuna reads Nakama's names, in files
    (--config FILE) and flags (--socket.server_key, --database.address, ...).

    \b
    Translated:
      database.address     the first address, naming a database `kizuna` of Kizuna's own on
                           the same server (Nakama's stays, for `kizuna import nakama` to read);
                           a CockroachDB address is left out (Kizuna needs PostgreSQL)
      logger.level/format  lower case
      name                 letters, digits, '-' and '_' only

    Nakama keys Kizuna has no equivalent for (Lua/JavaScript VM settings, log rotation, social
    logins, in-app purchases, Satori, ...) are left out: the report on stderr lists every one
    with the reason, and the file repeats it in comments. The result is checked with Kizuna's
    loader before it is written; start a node with `kizuna server --config kizuna.yml`.

    \b
    Exit codes: 0 done; 2 NAKAMA_YML unreadable, not YAML or not a mapping; 1 the output
    file exists (see --force) or cannot be written, or the result does not load.
    """
    def fail(message: str, code: int) -> NoReturn:
        if as_json:
            emit_json({"ok": False, "error": message})
        else:
            err.print(f"[red]{_NAME}: {escape(message)}[/]")
        sys.exit(code)

    target = Path(out_path) if out_path else None
    if target is not None:
        if nakama_yml != "-" and _same_file(Path(nakama_yml), target):
            fail(f"{out_path} is the Nakama file being read: give -o another file", EXIT_FAILURE)
        if target.is_dir():
            fail(f"{out_path} is a directory", EXIT_FAILURE)
        if target.exists() and not force:
            fail(f"{out_path} exists: not replacing it without --force", EXIT_FAILURE)

    doc = _read(nakama_yml, fail)
    mapping, notes = nc.translate(doc)
    source = "<stdin>" if nakama_yml == "-" else nakama_yml
    text = nc.render(mapping, notes, source)
    try:
        warnings = nc.check(text)
    except ConfigError as exc:
        fail(f"the translation does not load in Kizuna: {exc} (nothing written)", EXIT_FAILURE)

    if target is not None:
        try:
            _write(target, text, force)
        except FileExistsError:
            fail(f"{out_path} exists: not replacing it without --force", EXIT_FAILURE)
        except OSError as exc:
            fail(f"cannot write {out_path}: {exc.strerror or exc}", EXIT_FAILURE)

    kept = nc.kept_keys(mapping, notes)
    if as_json:
        doc_out: dict[str, Any] = {
            "ok": True, "source": source, "output": out_path,
            "kept": kept, "notes": [n.to_json() for n in notes], "warnings": warnings}
        if target is None:
            doc_out["config"] = text
        emit_json(doc_out)
        return
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    _report(notes, kept, warnings)
    if target is not None:
        out.print(f"[green]written:[/] {escape(str(target))} (start a node with `kizuna server "
                  f"--config {escape(str(target))}`)")


def _read(path: str, fail: Fail) -> dict[Any, Any]:
    """The parsed Nakama file: a mapping (an empty file is one, as for Nakama), or `fail`."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    except UnicodeDecodeError:
        fail(f"{path} is not a text file (not UTF-8)", EXIT_USAGE)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"{path} is not valid YAML{where}: {problem}", EXIT_USAGE)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        fail(f"{path} is not a Nakama configuration: expected a mapping of keys at the top "
             f"level, got {type(doc).__name__}", EXIT_USAGE)
    return doc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.exists() and a.samefile(b))
    except OSError:
        return False


def _write(target: Path, text: str, force: bool) -> None:
    """Write `text` to `target` with mode 600. Without `force`, an existing file is refused even
    if it appeared since the command started (FileExistsError); with it, the file is replaced all
    at once (a temporary file in the same directory moved into place)."""
    if not force:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _report(notes: list[nc.Note], kept: list[str], warnings: list[str]) -> None:
    """The report on stderr: translated, kept with a note, not carried over (keys that share a
    reason together), what was copied as it was, and the warnings Kizuna will give at start."""
    titles = {"translated": "Translated", "kept": "Kept, with a note",
              "dropped": "Not carried over"}
    for action, title in titles.items():
        mine = [n for n in notes if n.action == action]
        if not mine:
            continue
        err.print(f"[bold]{title}[/] ({len(mine)}):")
        for reason, keys in nc.group_by_reason(mine):
            err.print(f"  [cyan]{escape(', '.join(keys))}[/]: {escape(reason)}")
    if kept:
        err.print(f"[bold]Kept as they were[/] ({len(kept)}): {escape(', '.join(kept))}")
    for warning in warnings:
        err.print(f"[yellow]Kizuna will warn at start:[/] {escape(warning)}")
