"""The one place a migration `Engine` is wired for a live database.

Every path that changes the schema — `kizuna migrate`, `kizuna backup`/`restore`,
`kizuna upgrade plan`, and a node started with `--migrate` or on the embedded database — must
obey the same operational rules: refuse a contract migration while nodes of another release still
serve, refuse a down step while live nodes use what it removes, and back the database up before
the schema changes. Building the Engine here keeps the
command line and the server from drifting apart on those rules; the callers only choose how
progress is shown and which command-line overrides apply.

It lives in `ops/`, not `migrate/`, because both hooks are ops concerns (the node registry, the
backup archive) and `ops/` already imports `migrate/`: the engine stays free of them. It imports
no click, so the server uses it as the CLI does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from kizuna.config import Config
from kizuna.migrate.executor import Engine, Options, Reporter
from kizuna.migrate.loader import Migration
from kizuna.ops.backup import auto_backup_hook
from kizuna.ops.nodes import contract_guard, live_nodes
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

    The contract guard and the down guard are always wired: nothing may contract the schema
    under older nodes, nor revert what live nodes use.
    """
    engine = Engine(conn, migrations, Options(
        version=__version__,
        lock_timeout_ms=lock_timeout_ms or cfg.database.lock_timeout_ms,
        retries=retries, lock_wait_sec=lock_wait_sec), reporter)
    engine.before_contract = contract_guard(conn, __version__)
    engine.before_down = down_guard(conn, migrations)
    if back_up and cfg.backup.before_migrate:
        engine.before_change = auto_backup_hook(
            conn, directory=cfg.backup.dir, retention=cfg.backup.retention,
            migrations=migrations, version=__version__, say=say)
    return engine


def down_guard(conn: asyncpg.Connection, migrations: list[Migration]
               ) -> Callable[[list[Migration]], Awaitable[list[str]]]:
    """The Engine's `before_down` hook: the live nodes that use a migration about to be reverted.

    The nodes are those `contract_guard` sees (`nodes.live_nodes`: fresh heartbeats in the
    registry, and connections named `kizuna <node> [<version>]`, draining nodes included). A
    node uses every migration up to the newest schema its release knows: the `schema_newest` it
    registered, else the schema window of its release in the manifest. A node whose window is
    unknown (an unregistered older release, or a newer one) is taken to use them all. So
    reverting, while the previous release serves, the expand steps only a newer release knows is
    allowed; reverting what a serving node reads is not."""
    from kizuna.release import manifest

    order = {m.id: m.number for m in migrations}

    async def hook(targets: list[Migration]) -> list[str]:
        nodes = await live_nodes(conn)
        if not nodes:
            return []
        windows = {r["version"]: r.get("schema_window", {}).get("newest")
                   for r in manifest().releases}
        users: list[str] = []
        for n in nodes:
            newest = getattr(n, "schema_newest", "") or windows.get(n.version)
            if newest in order:
                used = [m.id for m in targets if m.number <= order[newest]]
                known = f"its release knows the schema up to {newest}"
            else:
                used = [m.id for m in targets]
                known = "its schema window is unknown, so it may use any of them"
            if used:
                users.append(f"{n.describe()} uses {', '.join(used)} ({known})")
        return users
    return hook
