"""Leaderboard benchmark: one board of 1,000,000 records, driven by `wrk -t2 -c64 --latency`.

    .venv/bin/python bench/leaderboards.py [--records 1000000] [--duration 10s] [--connections 64]

A module creates the board (descending, best, ranks on); the records are written straight into
the database, then the server is restarted so that it builds the rank structure from them (the
time it takes is printed). Scenarios: record writes by 1,000 players with random scores (the
board's "best", and "set" which changes the record every time); the first page of 100 with ranks;
100 records around random owners; the reads both at 64 connections (throughput) and at 4
(latency below saturation: with 64 connections queued on one process, p99 is mostly queueing).
Prints req/s, p50, p99, RSS, and the rank structure's memory
per record (RSS after loading the board minus RSS of the same server with an empty board, and
the structure's own size measured in a separate process).
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from common import HEADER, PG, BenchServer, row, rss_kib

MODULE = '''
def init_module(ctx, logger, nk, initializer):
    nk.leaderboard_create("bench", False, "desc", "best", "", None, True)
'''
PLAYERS = 1000


async def seed(db: str, n: int) -> list[str]:
    conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
    try:
        await conn.execute(
            "INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score, subscore, "
            "num_score, metadata) SELECT 'bench', gen_random_uuid(), 'p' || i, "
            "(random() * 1e9)::bigint, (random() * 100)::bigint, 1, '{}' "
            "FROM generate_series(1, $1) AS i", n)
        await conn.execute("ANALYZE leaderboard_record")
        rows = await conn.fetch("SELECT owner_id::text FROM leaderboard_record "
                                "TABLESAMPLE SYSTEM (1) LIMIT 1000")
        return [r[0] for r in rows]
    finally:
        await conn.close()


def structure_bytes(n: int) -> float:
    """Bytes per record of kizuna.core.ranks.RankTable holding n records (tracemalloc)."""
    import tracemalloc

    from kizuna.core.ranks import RankTable
    rows = [(str(uuid.uuid4()), random.randrange(10**9), random.randrange(100)) for _ in range(n)]
    tracemalloc.start()
    table = RankTable(descending=True)
    table.merge(rows)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(table) == n
    return size / n


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap_args = ap.parse_args()
    n = ap_args.records
    tmp = Path(tempfile.mkdtemp())
    (tmp / "modules").mkdir()
    (tmp / "modules" / "bench_board.py").write_text(MODULE)
    flags = ["--runtime.path", str(tmp / "modules")]
    first = BenchServer(extra=flags)
    first.__enter__()
    empty_rss, _ = rss_kib(first.proc.pid)
    t0 = time.monotonic()
    owners = asyncio.run(seed(first.db, n))
    print(f"kizuna bench: {n} records seeded in {time.monotonic() - t0:.1f} s")
    first.proc.terminate()
    first.proc.wait(30)
    srv = BenchServer(extra=[*flags, "--logger.level", "info"])
    srv.db = first.db
    with srv:
        log = Path(srv.log.name).read_text()
        m = re.search(r"load_ms[=\": ]+(\d+)", log)
        loaded_rss, _ = rss_kib(srv.proc.pid)
        print(f"rank structure built at start in {m.group(1) if m else '?'} ms; server RSS "
              f"{empty_rss / 1024:.0f} MiB with an empty board, {loaded_rss / 1024:.0f} MiB "
              f"with {n} records: {(loaded_rss - empty_rss) * 1024 / n:.0f} bytes per record")
        tokens = [srv.token(f"bench-lb-{i:04d}-{uuid.uuid4().hex[:6]}")[0] for i in range(PLAYERS)]
        (tmp / "tokens").write_text("\n".join(tokens) + "\n")
        (tmp / "owners").write_text("\n".join(owners) + "\n")
        print(f"wrk -t{ap_args.threads} -c{ap_args.connections} -d{ap_args.duration} --latency")
        print(HEADER)
        failed = 0
        reads = {"first": {"TOKEN": tokens[0], "MODE": "first"},
                 "around": {"TOKEN": tokens[0], "MODE": "around", "OWNERS": str(tmp / "owners")}}
        for name, script, env, conns in (
                ("POST /v2/leaderboard/bench (best)", "leaderboard_write.lua",
                 {"TOKENS": str(tmp / "tokens")}, ap_args.connections),
                ("POST /v2/leaderboard/bench (set)", "leaderboard_write.lua",
                 {"TOKENS": str(tmp / "tokens"), "OPERATOR": "2"}, ap_args.connections),
                ("GET first page, limit 100", "leaderboard_read.lua", reads["first"],
                 ap_args.connections),
                ("GET around owner, limit 100", "leaderboard_read.lua", reads["around"],
                 ap_args.connections),
                ("GET first page, limit 100, 4 conns", "leaderboard_read.lua", reads["first"], 4),
                ("GET around owner, limit 100, 4 conns", "leaderboard_read.lua", reads["around"],
                 4),
                ("GET first page, limit 10, 4 conns", "leaderboard_read.lua",
                 {**reads["first"], "LIMIT": "10"}, 4),
                ("GET around owner, limit 10, 4 conns", "leaderboard_read.lua",
                 {**reads["around"], "LIMIT": "10"}, 4)):
            r = srv.wrk(script, threads=min(ap_args.threads, conns), connections=conns,
                        duration=ap_args.duration, env=env)
            print(row(name, r, srv.proc.pid))
            failed += r["errors"]
    print(f"rank structure alone (tracemalloc, 200,000 records): "
          f"{structure_bytes(200_000):.0f} bytes per record")
    if failed:
        sys.exit("bench: some requests failed")


if __name__ == "__main__":
    main()
