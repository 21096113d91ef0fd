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
    warnings: tuple[str, ...] = ()

    @property
    def schema_version(self) -> str:
        return self.status.current or "none"


async def check(conn: asyncpg.Connection, migrations: list[Migration], migrate_cmd: str,
                oldest: str | None = None) -> GuardResult:
    """Admit a node whose release can serve the live schema.

    `migrate_cmd` is the command to print, with `{}` where the subcommand goes. `oldest` is the
    oldest schema this release serves on (its manifest window): pending migrations after it are
    tolerated with a warning, so nodes of the new release can start before or after `migrate up`.
    Migrations this release does not know are tolerated when the journal records them as expand
    or backfill (additive by contract: the previous release keeps working on them); a contract
    migration it does not know means the schema has moved past it.
    """
    up, verify = migrate_cmd.format("up"), migrate_cmd.format("verify")
    applied = await journal.read(conn)
    st = compute_status(migrations, applied)
    warnings: list[str] = []
    if not applied:
        return GuardResult(False, st, f"the database has no Kizuna schema yet: run `{up}` "
                                      f"(or start the server with --migrate)")
    if st.changed:
        return GuardResult(False, st, (
            f"migration files changed since they were applied ({', '.join(st.changed)}): this build "
            f"does not match the schema; run `{verify}` for details"))
    if st.unknown:
        breaking = [mid for mid in st.unknown if applied[mid].phase not in ("expand", "backfill")]
        if breaking:
            return GuardResult(False, st, (
                f"the database schema is newer than this release: it has {', '.join(breaking)} "
                f"(phase {applied[breaking[0]].phase}), which this release does not know. Upgrade "
                f"Kizuna, or downgrade the schema with the newer release "
                f"(`kizuna migrate down --to {st.current or 'zero'}`) before starting this one"))
        warnings.append(f"the database has newer expand migrations this release does not know "
                        f"({', '.join(st.unknown)}): serving on them, as a rolling upgrade does")
    if st.partial:
        return GuardResult(False, st, (
            f"a migration run was interrupted ({', '.join(st.partial)}): run `{up}` "
            f"to finish it"))
    if st.pending:
        order = [m.id for m in migrations]
        floor = order.index(oldest) if oldest in order else len(order) - 1
        current = order.index(st.current) if st.current in order else -1
        if current < floor:
            return GuardResult(False, st, (
                f"the database schema is behind this release: {len(st.pending)} pending migration(s) "
                f"({', '.join(st.pending)}); run `{up}` first (or start with --migrate)"))
        warnings.append(f"{len(st.pending)} pending migration(s) ({', '.join(st.pending)}): this "
                        f"release can serve meanwhile; run `{up}` to apply them")
    return GuardResult(True, st, warnings=tuple(warnings))
