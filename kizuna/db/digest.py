"""Row counts and digests of every user table of a database, to prove two copies hold the same data.

Each table's rows are streamed with COPY in a fixed order (its primary key, or the whole row's
text when it has none; text columns compared byte-wise, `COLLATE "C"`, so the order does not
depend on the engine's collation library) and hashed on the client as they arrive: memory stays
constant however big a table is. COPY's text format is the same across PostgreSQL majors, so
a digest taken before `pg_upgrade` equals the one taken after when no row changed. Sequences are
compared by their last value.
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY n.nspname, c.relname
"""

_PRIMARY_KEY = """
SELECT a.attname, a.attcollation <> 0 AS collatable
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.pos
"""

_SEQUENCES = """
SELECT schemaname || '.' || sequencename AS name, last_value
FROM pg_sequences ORDER BY 1
"""


_FIXED_OUTPUT = """
SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def digests(conn: asyncpg.Connection) -> dict[str, Any]:
    """`{"tables": {schema.table: {"rows", "sha256"}}, "sequences": {name: last_value}}`, read in
    one REPEATABLE READ snapshot."""
    tables: dict[str, dict[str, Any]] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # The text of a value must not depend on the server's configuration, which two
        # clusters need not share (initdb takes the time zone from the machine).
        await conn.execute(_FIXED_OUTPUT)
        for oid, schema, name in await conn.fetch(_TABLES):
            key = await conn.fetch(_PRIMARY_KEY, oid)
            if key:
                order = ", ".join(_ident(r["attname"]) + (' COLLATE "C"' if r["collatable"] else "")
                                  for r in key)
            else:
                order = 't::text COLLATE "C"'
            digest = hashlib.sha256()
            rows = 0

            async def sink(chunk: bytes, digest: Any = digest) -> None:
                nonlocal rows
                digest.update(chunk)
                rows += chunk.count(b"\n")

            await conn.copy_from_query(
                f"SELECT t.* FROM {_ident(schema)}.{_ident(name)} t ORDER BY {order}",
                output=sink, format="text")
            tables[f"{schema}.{name}"] = {"rows": rows, "sha256": digest.hexdigest()}
        sequences = {r["name"]: r["last_value"] for r in await conn.fetch(_SEQUENCES)}
    return {"tables": tables, "sequences": sequences}


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The differences between two `digests()` documents, worded for the operator (empty: equal)."""
    problems: list[str] = []
    bt, at = before["tables"], after["tables"]
    for name in sorted(set(bt) | set(at)):
        if name not in at:
            problems.append(f"table {name} is missing after ({bt[name]['rows']} rows before)")
        elif name not in bt:
            problems.append(f"table {name} appeared ({at[name]['rows']} rows)")
        elif bt[name]["rows"] != at[name]["rows"]:
            problems.append(f"table {name}: {bt[name]['rows']} rows before, {at[name]['rows']} after")
        elif bt[name]["sha256"] != at[name]["sha256"]:
            problems.append(f"table {name}: same row count, different contents (digest "
                            f"{bt[name]['sha256'][:12]} before, {at[name]['sha256'][:12]} after)")
    bs, as_ = before.get("sequences", {}), after.get("sequences", {})
    for name in sorted(set(bs) | set(as_)):
        if bs.get(name) != as_.get(name):
            problems.append(f"sequence {name}: {bs.get(name)} before, {as_.get(name)} after")
    return problems
