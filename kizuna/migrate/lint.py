"""What a migration statement will lock, scan or rewrite, and whether old nodes survive it.

Rules follow PostgreSQL's lock levels (see docs/migrations-bar §4) and the checks that squawk and
strong_migrations made common. Each finding carries a verdict an operator can plan around:

- ``online``: no blocking beyond an instant catalog lock
- ``brief lock``: an ACCESS EXCLUSIVE lock held only for a catalog change (guarded by lock_timeout)
- ``blocks writes``: writes to the table wait for the whole statement (a scan or build)
- ``maintenance window``: the table is rewritten or unreadable for the duration
- ``breaks old nodes``: nodes of the previous release still serving would fail (rolling upgrade)
- ``will fail``: the statement cannot run as written
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kizuna.migrate.loader import Migration, Statement

VERDICTS = ("online", "brief lock", "blocks writes", "maintenance window", "breaks old nodes",
            "will fail")
_BLOCKING = {"blocks writes", "maintenance window", "breaks old nodes", "will fail"}


@dataclass(frozen=True)
class Finding:
    rule: str
    verdict: str
    table: str | None
    message: str
    statement: int  # index in the section

    @property
    def blocking(self) -> bool:
        return self.verdict in _BLOCKING


def _norm(sql: str) -> str:
    no_comments = re.sub(r"--[^\n]*", " ", sql)
    no_comments = re.sub(r"/\*.*?\*/", " ", no_comments, flags=re.S)
    return re.sub(r"\s+", " ", no_comments).strip()


_IDENT = r'((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)'


def _table(name: str) -> str:
    return name.split(".")[-1].strip('"').lower()


_VOLATILE = re.compile(r"\b(random|gen_random_uuid|uuid_generate_v[14]|clock_timestamp|nextval|timeofday)\s*\(", re.I)


def created_tables(m: Migration) -> set[str]:
    out = set()
    for st in m.up:
        mm = re.match(rf"CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?{_IDENT}", _norm(st.sql), re.I)
        if mm:
            out.add(_table(mm.group(1)))
    return out


def lint_statement(st: Statement, index: int, m: Migration, new_tables: set[str]) -> list[Finding]:
    sql = _norm(st.sql)
    up = sql.upper()
    out: list[Finding] = []

    def add(rule: str, verdict: str, table: str | None, message: str) -> None:
        out.append(Finding(rule, verdict, table, message, index))

    if "CONCURRENTLY" in up and m.transactional:
        add("concurrently-in-transaction", "will fail", None,
            "CONCURRENTLY cannot run inside a transaction: mark the file '-- +kizuna no-transaction'")

    mm = re.match(rf"CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_IDENT} )?"
                  rf"ON (?:ONLY )?{_IDENT}", sql, re.I)
    if mm:
        table = _table(mm.group(4))
        if not mm.group(2) and table not in new_tables:
            add("index-not-concurrent", "blocks writes", table,
                f"CREATE INDEX takes a SHARE lock: writes to {table} wait for the whole build; "
                "use CREATE INDEX CONCURRENTLY in a no-transaction migration")
        elif mm.group(2):
            add("index-concurrent", "online", table, "concurrent index build: reads and writes go on")
            if not mm.group(3):
                add("index-concurrent-unnamed", "online", table,
                    "name the index: an interrupted concurrent build leaves an INVALID index that "
                    "a re-run can only find, drop and rebuild by its name")

    mm = re.match(r"DROP INDEX (CONCURRENTLY )?", sql, re.I)
    if mm and not mm.group(1):
        add("drop-index-not-concurrent", "brief lock", None,
            "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table; DROP INDEX CONCURRENTLY avoids it")

    mm = re.match(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_IDENT} (.*)$", sql, re.I)
    if mm:
        table, rest = _table(mm.group(1)), mm.group(2)
        fresh = table in new_tables
        for action in _split_actions(rest):
            a = action.upper()
            if re.match(r"ADD (COLUMN )?", a) and not re.match(
                    r"ADD (CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN|EXCLUDE)\b", a):
                if _VOLATILE.search(action) or re.search(r"\b(BIG|SMALL)?SERIAL\b|GENERATED .* STORED", a):
                    add("add-column-volatile-default", "maintenance window", table,
                        f"a volatile default or stored generated column rewrites all of {table} "
                        "under ACCESS EXCLUSIVE; add the column nullable, then backfill in batches")
                elif "NOT NULL" in a and "DEFAULT" not in a and not fresh:
                    add("add-column-not-null-no-default", "will fail", table,
                        f"NOT NULL without DEFAULT fails if {table} has rows")
                else:
                    add("add-column", "brief lock", table, "adds a column (catalog change only)")
            elif re.match(r"ALTER (COLUMN )?\S+ (SET DATA )?TYPE ", a):
                add("alter-column-type", "maintenance window", table,
                    f"changing a column type rewrites {table} and its indexes under ACCESS EXCLUSIVE "
                    "(unless binary-coercible); add a new column, dual-write, backfill, swap")
            elif re.match(r"ALTER (COLUMN )?\S+ SET NOT NULL", a) and not fresh:
                add("set-not-null", "blocks writes", table,
                    f"SET NOT NULL scans all of {table} under ACCESS EXCLUSIVE; add "
                    "CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL")
            elif re.match(r"ADD (CONSTRAINT \S+ )?(CHECK|FOREIGN KEY)", a) and "NOT VALID" not in a and not fresh:
                add("constraint-validates", "blocks writes", table,
                    f"adding a CHECK or FOREIGN KEY scans {table} under lock; add it NOT VALID, "
                    "then VALIDATE CONSTRAINT in a later statement")
            elif re.match(r"ADD (CONSTRAINT \S+ )?(UNIQUE|PRIMARY KEY)", a) and "USING INDEX" not in a and not fresh:
                add("unique-builds-index", "blocks writes", table,
                    f"a UNIQUE/PRIMARY KEY constraint builds its index under ACCESS EXCLUSIVE on {table}; "
                    "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX")
            elif re.match(r"DROP (COLUMN )?(?!CONSTRAINT)", a) and m.phase != "contract" and not fresh:
                add("drop-column-in-expand", "breaks old nodes", table,
                    f"dropping a column of {table} breaks nodes of the previous release that still "
                    "read it; do it in a '-- +kizuna phase: contract' migration")
            elif re.match(r"RENAME ", a) and m.phase != "contract" and not fresh:
                add("rename-in-expand", "breaks old nodes", table,
                    f"renaming in {table} breaks nodes of the previous release; add the new name, "
                    "dual-write, and drop the old one in a contract migration")
            elif re.match(r"SET (LOGGED|UNLOGGED|TABLESPACE)", a):
                add("table-rewrite", "maintenance window", table, f"rewrites all of {table}")

    mm = re.match(rf"DROP TABLE (?:IF EXISTS )?{_IDENT}", sql, re.I)
    if mm and m.phase != "contract" and _table(mm.group(1)) not in new_tables:
        add("drop-table-in-expand", "breaks old nodes", _table(mm.group(1)),
            "dropping a table breaks nodes of the previous release; do it in a contract migration")
    mm = re.match(rf"(VACUUM FULL|CLUSTER|TRUNCATE)(?: TABLE)? ?{_IDENT}?", sql, re.I)
    if mm:
        add("table-rewrite", "maintenance window", _table(mm.group(2)) if mm.group(2) else None,
            f"{mm.group(1).upper()} takes ACCESS EXCLUSIVE for its whole run")
    mm = re.match(rf"(UPDATE|DELETE FROM) (?:ONLY )?{_IDENT}", sql, re.I)
    if mm and _table(mm.group(2)) not in new_tables:
        add("unbatched-data-change", "blocks writes", _table(mm.group(2)),
            "one statement changes every matching row in a single transaction (row locks held "
            "to the end); on a big table prefer a batched backfill")
    return out


def _split_actions(rest: str) -> list[str]:
    """Split ALTER TABLE actions at top-level commas."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in rest:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def lint(m: Migration, direction: str = "up") -> list[Finding]:
    new_tables = created_tables(m) if direction == "up" else set()
    out: list[Finding] = []
    for i, st in enumerate(m.section(direction)):
        out.extend(lint_statement(st, i, m, new_tables))
    if direction == "down":
        out = [_on_the_way_down(f) for f in out]
    return out


def _on_the_way_down(f: Finding) -> Finding:
    """A down step removes what its own up step added: nodes of the release being returned to
    never used it, so "breaks old nodes" (a rolling-upgrade rule for up steps) is a false alarm.
    What it can break is a node that does use it, of this release or a newer one: `migrate down`
    refuses while such a node is alive (see `Engine.before_down`). The lock it takes stays."""
    if f.verdict != "breaks old nodes":
        return f
    rule = f.rule.replace("-in-expand", "-on-down")
    what = f"table {f.table}" if rule.startswith("drop-table") else f"columns or names of {f.table}"
    return Finding(rule, "brief lock", f.table,
                   f"removes {what}, which the up step added: nodes that use it (this release's) "
                   f"must be stopped first; `migrate down` refuses while live nodes depend on it",
                   f.statement)


def destructive_targets(m: Migration) -> list[tuple[str, str | None]]:
    """(table, column or None) that the down section drops or empties: what a down would lose."""
    out: list[tuple[str, str | None]] = []
    for st in m.down:
        sql = _norm(st.sql)
        for dropped in re.finditer(rf"DROP TABLE (?:IF EXISTS )?((?:{_IDENT}(?:, ?)?)+)", sql, re.I):
            for name in dropped.group(1).split(","):
                name = name.strip().split(" ")[0]
                if name.upper() not in ("CASCADE", "RESTRICT", ""):
                    out.append((_table(name), None))
        mm = re.match(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_IDENT} (.*)$", sql, re.I)
        if mm:
            for action in _split_actions(mm.group(2)):
                dm = re.match(rf"DROP (?:COLUMN )?(?:IF EXISTS )?{_IDENT}", action, re.I)
                if dm and dm.group(1).upper() != "CONSTRAINT":
                    out.append((_table(mm.group(1)), dm.group(1).strip('"').lower()))
        mm = re.match(rf"(?:TRUNCATE(?: TABLE)?|DELETE FROM) (?:ONLY )?{_IDENT}", sql, re.I)
        if mm:
            out.append((_table(mm.group(1)), None))
    return out
