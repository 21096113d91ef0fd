"""The schema guard: a node refuses to serve a database whose schema it does not match.

Unlike Nakama, which only compares the *number* of applied migrations, this compares
identities and checksums: pending migrations, migrations this release does not know (the
database is ahead), changed files and interrupted runs each refuse the start with the exact
command to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from kizuna.migrate import journal
from kizuna.migrate.executor import Status, compute_status
from kizuna.migrate.loader import Migration


@dataclass(frozen=True)
class GuardResult:
    ok: bool
    status: Status
    message: str = ""

    @property
    def schema_version(self) -> str:
        return self.status.current or "none"


async def check(conn: asyncpg.Connection, migrations: list[Migration], migrate_cmd: str) -> GuardResult:
    """`migrate_cmd` is the command to print, with `{}` where the subcommand goes."""
    up, verify = migrate_cmd.format("up"), migrate_cmd.format("verify")
    applied = await journal.read(conn)
    st = compute_status(migrations, applied)
    if not applied:
        return GuardResult(False, st, f"the database has no Kizuna schema yet: run `{up}` "
                                      f"(or start the server with --migrate)")
    if st.changed:
        return GuardResult(False, st, (
            f"migration files changed since they were applied ({', '.join(st.changed)}): this build "
            f"does not match the schema; run `{verify}` for details"))
    if st.unknown:
        return GuardResult(False, st, (
            f"the database schema is newer than this release: it has {', '.join(st.unknown)}, which "
            f"this release does not know. Upgrade Kizuna, or downgrade the schema with the newer "
            f"release (`kizuna migrate down --to {st.current or 'zero'}`) before starting this one"))
    if st.partial:
        return GuardResult(False, st, (
            f"a migration run was interrupted ({', '.join(st.partial)}): run `{up}` "
            f"to finish it"))
    if st.pending:
        return GuardResult(False, st, (
            f"the database schema is behind this release: {len(st.pending)} pending migration(s) "
            f"({', '.join(st.pending)}); run `{up}` first (or start with --migrate)"))
    return GuardResult(True, st)
