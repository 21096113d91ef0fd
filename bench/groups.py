"""Groups benchmark: search by name prefix among 100,000 groups, driven by
`wrk -t2 -c64 -d20s --latency`, and the query plan that keeps it index-backed.

    .venv/bin/python bench/groups.py [--duration 20s] [--connections 64] [--groups 100000]

The groups (names are hex digests, each with its superadmin's two edges) are written straight
into the database; every request searches a random 3-character prefix (`name=abc%`, about 24
matches, a page of 20). Prints req/s, p50, p99, server RSS and the plan of one search.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from common import HEADER, PG, BenchServer, row, rss_kib

# The search kizuna/core/groups.py runs for `name=abc%` (first page): keep the two in step.
RANGE = ("AND lower(g.name) COLLATE \"C\" >= lower($3) COLLATE \"C\" "
         "AND lower(g.name) COLLATE \"C\" < (lower($3) || chr(1114111)) COLLATE \"C\" ")
SEARCH = ("SELECT g.id FROM groups g WHERE g.disable_time = '1970-01-01 00:00:00 UTC' "
          "AND lower(g.name) COLLATE \"C\" LIKE lower($2) COLLATE \"C\" " + RANGE +
          "ORDER BY lower(g.name) COLLATE \"C\", g.id LIMIT $1")
NEXT_PAGE = ("SELECT g.id FROM groups g WHERE g.disable_time = '1970-01-01 00:00:00 UTC' "
             "AND lower(g.name) COLLATE \"C\" LIKE lower($2) COLLATE \"C\" " + RANGE +
             "AND (lower(g.name) COLLATE \"C\", g.id) > ($4, $5::uuid) "
             "ORDER BY lower(g.name) COLLATE \"C\", g.id LIMIT $1")


async def seed(db: str, owner: str, n: int) -> list[str]:
    conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
    try:
        await conn.execute(
            "INSERT INTO groups (id, creator_id, name, lang_tag, state, edge_count) "
            "SELECT gen_random_uuid(), $1, md5(i::text) || '-guild', 'en', i % 2, 1 "
            "FROM generate_series(1, $2) AS i", owner, n)
        await conn.execute(
            "INSERT INTO group_edge (position, state, source_id, destination_id) "
            "SELECT (extract(epoch FROM now()) * 1e9)::bigint + row_number() OVER (), 0, id, $1 "
            "FROM groups UNION ALL "
            "SELECT (extract(epoch FROM now()) * 1e9)::bigint + row_number() OVER (), 0, $1, id "
            "FROM groups", owner)
        await conn.execute("ANALYZE groups; ANALYZE group_edge")
        plans = []
        # As a generic plan (what a prepared statement may settle on): still a range scan.
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        for i, (sql, args) in enumerate((
                (SEARCH, (21, "abc%", "abc")),
                (NEXT_PAGE, (21, "abc%", "abc", "abc", "00000000-0000-0000-0000-000000000000")))):
            types = "int, text, text" + (", text, uuid" if i else "")
            await conn.execute(f"PREPARE q{i}({types}) AS {sql}")
            params = ", ".join(f"'{a}'" if isinstance(a, str) else str(a) for a in args)
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q{i}({params})")
            plans.append("\n".join(r[0] for r in rows))
        return plans
    finally:
        await conn.close()


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--groups", type=int, default=100_000)
    args = ap.parse_args()
    with BenchServer() as srv:
        token, uid = srv.token("bench-device-groups-0001")
        plans = asyncio.run(seed(srv.db, uid, args.groups))
        print(f"kizuna bench: {args.groups} groups; wrk -t{args.threads} -c{args.connections} "
              f"-d{args.duration} --latency")
        print(HEADER)
        r = srv.wrk("groups_search.lua", threads=args.threads, connections=args.connections,
                    duration=args.duration, env={"TOKEN": token})
        print(row("GET /v2/group?name=abc%&limit=20", r, srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")
        for title, plan in zip(("first page", "next page (cursor)"), plans, strict=True):
            print(f"\nplan, {title}:\n{plan}")
        if r["errors"]:
            sys.exit("bench: some requests failed")


if __name__ == "__main__":
    main()
