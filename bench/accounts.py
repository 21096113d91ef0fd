"""Accounts benchmark: device authentication creating a new account per request, and
GET /v2/account with a valid token, each driven by `wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/accounts.py [--duration 20] [--connections 64]

Starts its own `kizuna server` on a fresh database on the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG) and prints req/s, p50, p99 and the server's RSS. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")
KIZUNA = str(Path(sys.executable).parent / "kizuna")


def rss_kib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    cur = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return cur, peak


def parse_wrk(out: str) -> dict:
    def ms(text: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1) if m else ""
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is required (apt-get install wrk)")
    db = f"kzbench_{uuid.uuid4().hex[:10]}"
    port = 17350
    log = tempfile.NamedTemporaryFile(prefix="kizuna-bench-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [KIZUNA, "server", "--migrate", "--database.address", f"{PG}/{db}", "--socket.port", str(port),
         "--session.token_expiry_sec", "7200", "--logger.level", "warn"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tempfile.mkdtemp())
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/healthcheck", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        req = urllib.request.Request(
            url + "/v2/account/authenticate/device", data=json.dumps({"id": "bench-device-token-0001"}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(b"defaultkey:").decode(),
                     "Content-Type": "application/json"}, method="POST")
        token = json.load(urllib.request.urlopen(req))["token"]
        print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency, "
              f"server pid {proc.pid}, db {db}")
        print(f"{'scenario':<40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'RSS MiB':>8}")
        for name, script, env in (
            ("authenticate/device (new account each)", "auth_device.lua", {}),
            ("GET /v2/account (valid token)", "get_account.lua", {"TOKEN": token}),
        ):
            out = subprocess.run(
                ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}", "--latency",
                 "-s", str(ROOT / "bench" / "wrk" / script), url],
                capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
            r = parse_wrk(out)
            cur, peak = rss_kib(proc.pid)
            print(f"{name:<40} {r['rps']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                  f"{r['errors']:>8} {cur / 1024:>8.0f}" + (f"  socket errors: {r['socket_errors']}" if r['socket_errors'] else ""))
        cur, peak = rss_kib(proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(30)
        async def drop() -> None:
            conn = await asyncpg.connect(f"postgresql://{PG}/postgres")
            await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await conn.close()
        asyncio.run(drop())


if __name__ == "__main__":
    main()
