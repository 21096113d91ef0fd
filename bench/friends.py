"""Friends benchmark, driven by `wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/friends.py [--duration 20s] [--connections 64]

- List: one player with 1,000 friends reads the whole list a page at a time (GET /v2/friend,
  limit 100, following the cursors): the time of one full walk (10 pages, one after another), then
  page requests under load (each page is 100 friends with their users and online flags).
- Add: 200 players invite random users among 5,000 (POST /v2/friend?ids=..., one id a request):
  each new invite writes two edges, two edge counts and a stored notification in one transaction.

The social graph of the list scenario and the users of both are written with SQL (the edges as
the server writes them); every measured request goes through the API. Prints req/s, p50, p99,
errors and server RSS.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncpg
from common import HEADER, PG, BenchServer, cli_args, row, rss_kib

FRIENDS = 1000
PAGE = 100
PLAYERS = 200
TARGETS = 5000


async def _graph(db: str, star: str) -> list[str]:
    """1,000 users who are the star's friends, and 5,000 more users; the ids of the latter."""
    conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO users (id, username) SELECT gen_random_uuid(), 'fr' || g "
                "FROM generate_series(1, $1) g", FRIENDS)
            await conn.execute(
                "INSERT INTO user_edge (source_id, destination_id, state, position) "
                "SELECT s, d, 0, p FROM (SELECT id, (extract(epoch FROM now()) * 1e9)::bigint "
                "+ row_number() OVER (ORDER BY id) AS p FROM users WHERE username LIKE 'fr%') f, "
                "LATERAL (VALUES ($1::uuid, f.id), (f.id, $1::uuid)) AS e(s, d)", star)
            await conn.execute("UPDATE users SET edge_count = 1 WHERE username LIKE 'fr%'")
            await conn.execute("UPDATE users SET edge_count = $2 WHERE id = $1", star, FRIENDS)
            rows = await conn.fetch(
                "INSERT INTO users (id, username) SELECT gen_random_uuid(), 'tg' || g "
                "FROM generate_series(1, $1) g RETURNING id::text", TARGETS)
        return [r["id"] for r in rows]
    finally:
        await conn.close()


def _get(srv: BenchServer, path: str, token: str) -> dict:
    req = urllib.request.Request(srv.url + path, headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(req))


def _walk(srv: BenchServer, token: str) -> tuple[list[str], int, float]:
    """Read the whole list page by page: the cursors met, the friends read, the seconds taken."""
    cursors, seen, cursor = [""], 0, ""
    start = time.perf_counter()
    while True:
        page = _get(srv, f"/v2/friend?limit={PAGE}" + (f"&cursor={cursor}" if cursor else ""), token)
        seen += len(page.get("friends", []))
        cursor = page.get("cursor", "")
        if not cursor:
            break
        cursors.append(cursor)
    return cursors, seen, time.perf_counter() - start


def main() -> None:
    args = cli_args(__doc__)
    with BenchServer() as srv:
        tmp = Path(tempfile.mkdtemp(prefix="kizuna-bench-friends-"))
        star_token, star = srv.token("bench-device-friends-star")
        targets = asyncio.run(_graph(srv.db, star))
        tokens = [srv.token(f"bench-device-friends-{i:04d}")[0] for i in range(PLAYERS)]
        (tmp / "targets").write_text("\n".join(targets) + "\n")
        (tmp / "tokens").write_text("\n".join(tokens) + "\n")

        _walk(srv, star_token)  # warm up
        walks = [_walk(srv, star_token) for _ in range(5)]
        cursors, seen, _ = walks[0]
        assert seen == FRIENDS, seen
        best = min(w[2] for w in walks)
        (tmp / "cursors").write_text("\n".join(cursors) + "\n")
        print(f"list {FRIENDS} friends, {len(cursors)} pages of {PAGE} one after another: "
              f"best {best * 1000:.0f} ms, median {sorted(w[2] for w in walks)[2] * 1000:.0f} ms")

        print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
        print(HEADER)
        opts = dict(threads=args.threads, connections=args.connections, duration=args.duration)
        r = srv.wrk("friends_list.lua", **opts,
                    env={"TOKEN": star_token, "CURSORS": str(tmp / "cursors"), "LIMIT": str(PAGE)})
        print(row(f"GET /v2/friend (page of {PAGE} of {FRIENDS})", r, srv.proc.pid))
        print(f"  = {r['rps'] * PAGE:,.0f} friends listed/s, a full list every "
              f"{1000 * len(cursors) / r['rps']:.1f} ms of server time")
        r = srv.wrk("friends_add.lua", **opts,
                    env={"TOKENS": str(tmp / "tokens"), "TARGETS": str(tmp / "targets")})
        print(row("POST /v2/friend (invite 1 user)", r, srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
