"""Backup and restore benchmark: 1 million storage rows.

    .venv/bin/python bench/backup.py [--rows 1000000]

Fills a fresh database on the local PostgreSQL with N storage objects (one realistic ~150-byte
JSON value each), then times `kizuna backup` and `kizuna restore` (into another fresh database)
as separate processes and prints seconds, MB/s of table data, archive size and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

PG = os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")
KIZUNA = str(Path(sys.executable).parent / "kizuna")


def timed(args: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS KiB, stdout) of a kizuna command."""
    started = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", KIZUNA, *args], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"bench: kizuna {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = int(proc.stderr.strip().splitlines()[-1])
    return elapsed, rss, proc.stdout


async def fill(db: str, rows: int) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
    try:
        uid = str(uuid.uuid4())
        await conn.execute("INSERT INTO users (id, username) VALUES ($1, 'bench-owner')", uid)
        await conn.execute(
            """
            INSERT INTO storage (collection, key, user_id, value, version, read, write)
            SELECT 'saves', 'slot-' || g, $1::uuid,
                   jsonb_build_object('level', g % 100, 'hp', 42, 'name', 'player ' || g,
                                      'items', jsonb_build_array('sword', 'shield', 'potion')),
                   md5(g::text), 1, 1
            FROM generate_series(1, $2) AS g
            """, uid, rows)
        await conn.execute("ANALYZE storage")
    finally:
        await conn.close()


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    src, dst = f"kzbench_{uuid.uuid4().hex[:8]}", f"kzbench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-backup-"))
    archive = work / "bench.kzb"
    try:
        subprocess.run([KIZUNA, "migrate", "up", "--database.address", f"{PG}/{src}"],
                       check=True, capture_output=True)
        t0 = time.monotonic()
        asyncio.run(fill(src, args.rows))
        print(f"filled {args.rows} storage rows in {time.monotonic() - t0:.1f}s")
        secs, rss, out = timed(["backup", "--json", "--out", str(archive),
                                "--database.address", f"{PG}/{src}"])
        summary = json.loads(out)
        mb = summary["bytes_raw"] / 1e6
        print(f"backup:  {secs:6.1f} s  {mb / secs:6.1f} MB/s  {summary['rows']} rows, "
              f"{mb:.0f} MB data -> {summary['bytes_file'] / 1e6:.0f} MB archive, peak RSS {rss / 1024:.0f} MiB")
        secs, rss, out = timed(["restore", "--json", str(archive), "--database.address", f"{PG}/{dst}"])
        result = json.loads(out)
        print(f"restore: {secs:6.1f} s  {mb / secs:6.1f} MB/s  {result['rows']} rows, "
              f"peak RSS {rss / 1024:.0f} MiB")
    finally:
        for db in (src, dst):
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        archive.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
