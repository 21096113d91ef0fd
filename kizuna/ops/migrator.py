"""The one place a migration `Engine` is wired for a live database.

Every path that changes the schema — `kizuna migrate`, `kizuna backup`/`restore`,
`kizuna upgrade plan`, and a node started with `--migrate` or on the embedded database — must
obey the same operational rules: refuse a contract migration while nodes of another release still
serve, and back the database up before the schema changes. Building the Engine here keeps the
command line and the server from drifting apart on those rules; the callers only choose how
progress is shown and which command-line overrides apply.

It lives in `ops/`, not `migrate/`, because both hooks are ops concerns (the node registry, the
backup archive) and `ops/` already imports `migrate/`: the engine stays free of them. It imports
no click, so the server uses it as the CLI does.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from kizuna.config import Config
from kizuna.migrate.executor import Engine, Options, Reporter
from kizuna.migrate.loader import Migration
from kizuna.ops.backup import auto_backup_hook
from kizuna.ops.nodes import contract_guard
from kizuna.version import __version__


def _quiet(text: str) -> None:
    """The `say` of a caller that wants no words about the automatic backup (e.g. --json)."""


def build_engine(conn: asyncpg.Connection, migrations: list[Migration], cfg: Config, *,
                 reporter: Reporter, say: Callable[[str], None] = _quiet,
                 back_up: bool = True, lock_timeout_ms: int | None = None,
                 retries: int = Options.retries,
                 lock_wait_sec: float = Options.lock_wait_sec) -> Engine:
    """An Engine for this release's `migrations` on `conn`, the migrator's own connection
    (`executor.open_connection`), which the caller opens and closes.

    - `reporter` shows migration progress: a console for the command line, the log for a node.
    - `say` tells what the automatic backup does, in the same voice as `reporter`.
    - `back_up`: write an automatic backup to `backup.dir` (keeping `backup.retention` of them)
      before the schema changes. Off for `--no-backup`, and where a backup would be pointless or
      harmful (reading commands, a restore that fills an empty database).
    - `lock_timeout_ms`: how long a statement may wait for a table lock; None or 0 means the
      configured `database.lock_timeout_ms`. `retries` and `lock_wait_sec` default to the
      engine's own defaults.

    The contract guard is always wired: nothing may contract the schema under older nodes.
    """
    engine = Engine(conn, migrations, Options(
        version=__version__,
        lock_timeout_ms=lock_timeout_ms or cfg.database.lock_timeout_ms,
        retries=retries, lock_wait_sec=lock_wait_sec), reporter)
    engine.before_contract = contract_guard(conn, __version__)
    if back_up:
        engine.before_change = auto_backup_hook(
            conn, directory=cfg.backup.dir, retention=cfg.backup.retention,
            migrations=migrations, version=__version__, say=say)
    return engine
