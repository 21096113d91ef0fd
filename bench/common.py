"""Shared pieces of the benchmarks: a kizuna server on a fresh database, wrk, RSS."""

from __future__ import annotations

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
BASIC = "Basic " + base64.b64encode(b"defaultkey:").decode()


def rss_kib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    cur = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return cur, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(out: str) -> dict:
    def ms(text: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1) if m else ""
    return res


class BenchServer:
    """`kizuna server` on a fresh database of the local PostgreSQL; dropped afterwards."""

    def __init__(self, port: int = 17350, extra: list[str] | None = None,
                 needs_wrk: bool = True, kizuna: str = KIZUNA) -> None:
        self.kizuna = kizuna
        self.port = port
        self.db = f"kzbench_{uuid.uuid4().hex[:10]}"
        self.extra = extra or []
        self.url = f"http://127.0.0.1:{port}"
        self.needs_wrk = needs_wrk

    def __enter__(self) -> BenchServer:
        if self.needs_wrk and not shutil.which("wrk"):
            sys.exit("bench: wrk is required (apt-get install wrk)")
        self.log = tempfile.NamedTemporaryFile(prefix="kizuna-bench-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [self.kizuna, "server", "--migrate", "--database.address", f"{PG}/{self.db}",
             "--socket.port", str(self.port), "--session.token_expiry_sec", "7200",
             "--logger.level", "warn", *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=tempfile.mkdtemp())
        for _ in range(300):
            if self.proc.poll() is not None:  # e.g. the port is taken by another server
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(self.url + "/healthcheck", timeout=1)
                time.sleep(0.2)
                if self.proc.poll() is None:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.log.name}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(30)

        async def drop() -> None:
            conn = await asyncpg.connect(f"postgresql://{PG}/postgres")
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            await conn.close()
        asyncio.run(drop())

    def token(self, device_id: str) -> tuple[str, str]:
        req = urllib.request.Request(
            self.url + "/v2/account/authenticate/device", data=json.dumps({"id": device_id}).encode(),
            headers={"Authorization": BASIC, "Content-Type": "application/json"}, method="POST")
        token = json.load(urllib.request.urlopen(req))["token"]
        payload = token.split(".")[1]
        uid = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["uid"]
        return token, uid

    def wrk(self, script: str, *, threads: int, connections: int, duration: str,
            env: dict[str, str] | None = None) -> dict:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency",
             "-s", str(ROOT / "bench" / "wrk" / script), self.url],
            capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True).stdout
        return parse_wrk(out)


HEADER = f"{'scenario':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'RSS MiB':>8}"


def row(name: str, r: dict, pid: int) -> str:
    cur, _ = rss_kib(pid)
    extra = f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else ""
    return (f"{name:<44} {r['rps']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['errors']:>8} {cur / 1024:>8.0f}{extra}")


def cli_args(description: str):
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()
