"""`kizuna import nakama` benchmark: a Nakama 3.40-shaped database with N users (one device
each) and M storage objects per user, imported into a fresh Kizuna database by the real command.

    .venv/bin/python bench/import_nakama.py [--users 1000000] [--storage-per-user 5] [--catch-up]

Prints rows per second per table and overall, the command's wall time and its peak RSS (the
importer streams: memory should not grow with the data). With --catch-up, runs the import a
second time (nothing changed in the source) and reports that too. Uses the local PostgreSQL
(127.0.0.1:5432, or $KZ_TEST_PG) for both databases and drops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.importer import nakama_fixture as nf  # noqa: E402

KIZUNA = str(Path(sys.executable).parent / "kizuna")


def run_import(source: str, target: str, backup_dir: str) -> tuple[dict, float, int]:
    """(report, seconds, peak RSS in KiB of the import process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    proc = subprocess.run([KIZUNA, "import", "nakama", "--from", source, "--database.address",
                           target, "--backup.dir", backup_dir, "--json"],
                          capture_output=True, text=True)
    seconds = time.monotonic() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    # ru_maxrss of children is the largest of any child so far: report it only when it grew.
    return json.loads(proc.stdout), seconds, max(peak, before)


def report(title: str, doc: dict, seconds: float, peak_kib: int) -> None:
    total = sum(t["source_rows"] for t in doc["tables"])
    print(f"\n{title}: {total:,} rows in {seconds:.1f}s wall "
          f"({total / seconds:,.0f} rows/s), peak RSS {peak_kib / 1024:.0f} MiB, "
          f"verified={doc['verified']}")
    print(f"  {'table':<20} {'rows':>11} {'seconds':>8} {'rows/s':>10}")
    for t in doc["tables"]:
        if t["source_rows"]:
            rate = t["source_rows"] / t["seconds"] if t["seconds"] else 0
            print(f"  {t['name']:<20} {t['source_rows']:>11,} {t['seconds']:>8.1f} {rate:>10,.0f}")


async def drop(name: str) -> None:
    conn = await asyncpg.connect(nf.admin_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--storage-per-user", type=int, default=5)
    ap.add_argument("--catch-up", action="store_true", help="also time a second (catch-up) run")
    args = ap.parse_args()

    async def make() -> tuple[str, nf.BulkStats]:
        dsn = await nf.create_nakama_database()
        conn = await asyncpg.connect(dsn)
        try:
            stats = await nf.fill_bulk(conn, args.users, args.storage_per_user)
        finally:
            await conn.close()
        return dsn, stats

    print(f"building a Nakama database: {args.users:,} users with a device each, "
          f"{args.users * args.storage_per_user:,} storage objects ...", flush=True)
    dsn, stats = asyncio.run(make())
    print(f"  built in {stats.seconds:.0f}s {stats.phases}")
    source = nf.address_for(nf.database_name(dsn))
    target_db = f"kzbench_{uuid.uuid4().hex[:12]}"
    target = nf.address_for(target_db)
    backup_dir = f"/tmp/{target_db}-backups"
    try:
        doc, seconds, peak = run_import(source, target, backup_dir)
        report("import", doc, seconds, peak)
        if args.catch_up:
            doc, seconds, peak = run_import(source, target, backup_dir)
            report("catch-up (no change; includes the automatic backup)", doc, seconds, peak)
    finally:
        asyncio.run(nf.drop_nakama_database(dsn))
        asyncio.run(drop(target_db))
        subprocess.run(["rm", "-rf", backup_dir])
    print(f"\nmachine: {os.cpu_count()} cores; PostgreSQL shared by the source and the target")


if __name__ == "__main__":
    main()
