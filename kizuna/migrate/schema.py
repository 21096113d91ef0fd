"""Catalog snapshots of the live schema.

After each migration the engine stores a snapshot (tables, columns, indexes with validity,
constraints, sequences, functions, extensions) in the journal. `migrate verify` compares the live
catalog with the snapshot of the last applied migration, which catches hot-fixes made by hand,
down sections that forgot something, and INVALID indexes left by an interrupted
`CREATE INDEX CONCURRENTLY`.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from kizuna.migrate.journal import LOG_TABLE, TABLE

_OWN = (TABLE, LOG_TABLE, f"{LOG_TABLE}_seq_seq")

# The snapshot of a schema no migration has touched (what `down --to zero` must leave).
EMPTY: dict[str, Any] = {"tables": {}, "views": [], "sequences": [], "functions": [], "extensions": []}


async def snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for r in await conn.fetch(
        """
        SELECT c.relname AS table, a.attname AS column,
               format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
               pg_get_expr(d.adbin, d.adrelid) AS def
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        ORDER BY c.relname, a.attnum
        """):
        if r["table"] in _OWN:
            continue
        t = tables.setdefault(r["table"], {"columns": {}, "indexes": {}, "constraints": {}})
        desc = r["type"] + (" NOT NULL" if r["notnull"] else "")
        if r["def"] is not None:
            desc += f" DEFAULT {r['def']}"
        t["columns"][r["column"]] = desc
    for r in await conn.fetch(
        """
        SELECT t.relname AS table, i.relname AS index, pg_get_indexdef(i.oid) AS def,
               x.indisvalid AS valid
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema()
        """):
        if r["table"] in tables:
            tables[r["table"]]["indexes"][r["index"]] = r["def"] + ("" if r["valid"] else " [INVALID]")
    for r in await conn.fetch(
        """
        SELECT t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND c.contype <> 'n'
        """):
        if r["table"] in tables:
            tables[r["table"]]["constraints"][r["name"]] = r["def"]
    others: dict[str, list[str]] = {"views": [], "sequences": [], "functions": [], "extensions": []}
    for r in await conn.fetch(
        """
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm', 'S')
        """):
        if r["relname"] in _OWN:
            continue
        others["sequences" if r["relkind"] == "S" else "views"].append(r["relname"])
    for r in await conn.fetch(
        """
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS sig
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema()
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        """):
        others["functions"].append(r["sig"])
    for r in await conn.fetch("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"):
        others["extensions"].append(r["extname"])
    for v in others.values():
        v.sort()
    return {"tables": tables, **others}


def diff(expected: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Human-readable differences, `expected` being what the applied migrations produced."""
    out: list[str] = []
    et, lt = expected.get("tables", {}), live.get("tables", {})
    for name in sorted(set(et) | set(lt)):
        if name not in lt:
            out.append(f"table {name} is missing")
            continue
        if name not in et:
            out.append(f"table {name} exists but no migration created it")
            continue
        for part, label in (("columns", "column"), ("indexes", "index"), ("constraints", "constraint")):
            e, lv = et[name].get(part, {}), lt[name].get(part, {})
            if part == "constraints":  # NOT NULL as a constraint (PostgreSQL 18): columns say it
                e = {k: v for k, v in e.items() if not v.startswith("NOT NULL ")}
                lv = {k: v for k, v in lv.items() if not v.startswith("NOT NULL ")}
            for item in sorted(set(e) | set(lv)):
                if item not in lv:
                    out.append(f"{label} {name}.{item} is missing (expected: {e[item]})")
                elif item not in e:
                    out.append(f"{label} {name}.{item} exists but no migration created it: {lv[item]}")
                elif e[item] != lv[item]:
                    out.append(f"{label} {name}.{item} differs: expected {e[item]!r}, found {lv[item]!r}")
    for kind in ("views", "sequences", "functions", "extensions"):
        e, lv = set(expected.get(kind, [])), set(live.get(kind, []))
        for item in sorted(e - lv):
            out.append(f"{kind[:-1]} {item} is missing")
        for item in sorted(lv - e):
            out.append(f"{kind[:-1]} {item} exists but no migration created it")
    return out


async def invalid_indexes(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname = current_schema() AND NOT x.indisvalid ORDER BY 1
        """)
    return [r["relname"] for r in rows]


async def table_stats(conn: asyncpg.Connection, tables: list[str]) -> dict[str, tuple[int, int]]:
    """(estimated rows, total bytes) per existing table."""
    if not tables:
        return {}
    rows = await conn.fetch(
        """
        SELECT c.relname, greatest(c.reltuples, 0)::bigint AS rows,
               pg_total_relation_size(c.oid) AS bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)
        """, tables)
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        count = r["rows"]
        if r["bytes"] < 64 * 1024 * 1024:  # small enough to count exactly (reltuples lags)
            ident = r["relname"].replace('"', '""')
            count = await conn.fetchval(f'SELECT count(*) FROM "{ident}"')
        out[r["relname"]] = (count, r["bytes"])
    return out
