"""Shared pieces of the benchmarks: a kizuna server on a fresh database, wrk, RSS.

Every wrk scenario runs a warm-up (`KZ_BENCH_WARMUP`, 3s) and then `KZ_BENCH_PASSES` (3) measured
passes: printed figures are medians, with the spread of req/s across passes and the server's CPU
time per answered request (the figure a shared machine disturbs least); failed requests are
counted apart and never in req/s."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")
KIZUNA = str(Path(sys.executable).parent / "kizuna")
BASIC = "Basic " + base64.b64encode(b"defaultkey:").decode()
# Every wrk scenario: a warm-up run (discarded) then this many measured passes (medians printed).
PASSES = int(os.environ.get("KZ_BENCH_PASSES", "3"))
WARMUP = os.environ.get("KZ_BENCH_WARMUP", "3s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    requests = int(m.group(1))
    seconds = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    res: dict = {"requests": requests, "seconds": seconds}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    # Failed requests are not throughput: req/s counts the answered 2xx only.
    res["rps"] = (requests - res["errors"]) / seconds if seconds else 0.0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1) if m else ""
    return res


class BenchServer:
    """`kizuna server` on a fresh database of the local PostgreSQL; dropped afterwards."""

    def __init__(self, port: int = 17350, extra: list[str] | None = None,
                 needs_wrk: bool = True, kizuna: str = KIZUNA, workers: int = 1) -> None:
        self.kizuna = kizuna
        # socket.workers: 1 (a single process) unless the bench is about worker processes.
        self.workers = workers
        self.port = port
        self.db = f"kzbench_{uuid.uuid4().hex[:10]}"
        self.extra = extra or []
        self.url = f"http://127.0.0.1:{port}"
        self.console_port = free_port()
        self.console = f"http://127.0.0.1:{self.console_port}"
        self.needs_wrk = needs_wrk

    def __enter__(self) -> BenchServer:
        if self.needs_wrk and not shutil.which("wrk"):
            sys.exit("bench: wrk is required (apt-get install wrk)")
        self.log = tempfile.NamedTemporaryFile(prefix="kizuna-bench-", suffix=".log", delete=False)
        env = dict(os.environ)
        workers: list[str] = []
        if self.kizuna == KIZUNA or self.workers != 1:
            workers = ["--socket.workers", str(self.workers)]
        else:  # another install (bench/compare.py's baseline) may predate the key: as a
            env["KIZUNA_SOCKET_WORKERS"] = "1"  # variable, a release without it only warns
        self.proc = subprocess.Popen(
            [self.kizuna, "server", "--migrate", "--database.address", f"{PG}/{self.db}",
             "--socket.port", str(self.port), "--console.port", str(self.console_port),
             "--session.token_expiry_sec", "7200",
             "--logger.level", "warn", *workers, *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=tempfile.mkdtemp(), env=env)
        for _ in range(300):
            if self.proc.poll() is not None:  # e.g. the port is taken by another server
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(self.url + "/healthcheck", timeout=1)
                time.sleep(0.2)
                if self.proc.poll() is None and self._serving() >= self.workers:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.log.name}")

    def _serving(self) -> int:
        """How many nodes (worker processes) serve: every one of them, before measuring."""
        if self.workers == 1:
            return 1

        async def count() -> int:
            conn = await asyncpg.connect(f"postgresql://{PG}/{self.db}")
            try:
                return await conn.fetchval("SELECT count(*) FROM kizuna_node WHERE state = 'serving'")
            finally:
                await conn.close()
        return asyncio.run(count())

    def pids(self) -> list[int]:
        """The server's processes: the node, or its supervisor and its workers (and NATS)."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:  # exited meanwhile
                    pass
        return found

    def cpu_seconds(self) -> float:
        """CPU time used so far by all the server's processes."""
        total = 0.0
        for pid in self.pids():
            try:
                total += cpu_seconds(pid)
            except OSError:  # exited meanwhile
                pass
        return total

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

    def wrk_once(self, script: str, *, threads: int, connections: int, duration: str,
                 env: dict[str, str] | None = None) -> dict:
        """One wrk run, with the server's CPU time per answered request (`cpu_us`)."""
        before = self.cpu_seconds()
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency",
             "-s", str(ROOT / "bench" / "wrk" / script), self.url],
            capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True).stdout
        used = self.cpu_seconds() - before
        res = parse_wrk(out)
        good = res["requests"] - res["errors"]
        res["cpu_us"] = used / good * 1e6 if good else float("nan")
        return res

    def wrk(self, script: str, *, threads: int, connections: int, duration: str,
            env: dict[str, str] | None = None, passes: int = PASSES,
            warmup: str = WARMUP) -> dict:
        """A scenario measured the way a noisy machine needs: a warm-up run (discarded), then
        `passes` runs; medians of req/s (2xx only), p50, p99 and server CPU per request, the
        spread of req/s (min, max), and the errors of every pass."""
        if warmup and warmup != "0s":
            self.wrk_once(script, threads=threads, connections=connections, duration=warmup,
                          env=env)
        runs = [self.wrk_once(script, threads=threads, connections=connections,
                              duration=duration, env=env) for _ in range(max(passes, 1))]
        med = statistics.median
        return {"rps": med(r["rps"] for r in runs), "rps_min": min(r["rps"] for r in runs),
                "rps_max": max(r["rps"] for r in runs),
                "p50_ms": med(r["p50_ms"] for r in runs), "p99_ms": med(r["p99_ms"] for r in runs),
                "cpu_us": med(r["cpu_us"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "socket_errors": "; ".join(r["socket_errors"] for r in runs if r["socket_errors"]),
                "passes": len(runs)}


HEADER = (f"{'scenario':<44} {'req/s':>9} {'spread':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU us':>7} {'non-2xx':>8} {'RSS MiB':>8}")


def row(name: str, r: dict, pid: int) -> str:
    """One line: median req/s (2xx only) and its spread over the passes (half the min-max range,
    in % of the median), median p50 and p99, server CPU microseconds per request, errors, RSS."""
    cur, _ = rss_kib(pid)
    extra = f"  socket errors: {r['socket_errors']}" if r["socket_errors"] else ""
    spread = (r.get("rps_max", r["rps"]) - r.get("rps_min", r["rps"])) / 2 / r["rps"] * 100 \
        if r["rps"] else float("nan")
    return (f"{name:<44} {r['rps']:>9.0f} {spread:>6.0f}% {r['p50_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r.get('cpu_us', float('nan')):>7.0f} {r['errors']:>8} "
            f"{cur / 1024:>8.0f}{extra}")


def cli_args(description: str):
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


# -- comparing with a baseline (bench/storage.py, rpc.py, accounts.py) ----------------------
# KZ_BENCH_BASELINE=<a kizuna executable> (e.g. a launcher running an older copy of the package:
# `PYTHONPATH=/tmp/old exec .venv/bin/python -m kizuna "$@"`) runs each scenario on that server
# and on this tree's at once, passes interleaved (baseline, this tree, baseline, ...), and prints
# both rows and the ratios this/baseline. Both servers are up together but only one is measured
# at a time. Two servers at once may open twice the connections: each gets at most
# KZ_BENCH_COMPARE_CONNS (30) pool connections, so that both fit in PostgreSQL's 100 with room
# left for others (a server refused a connection answers 500s, which would count as errors).
BASELINE = os.environ.get("KZ_BENCH_BASELINE", "")
COMPARE_EXTRA = ["--socket.workers", "1",
                 "--database.max_open_conns", os.environ.get("KZ_BENCH_COMPARE_CONNS", "30")]
# KZ_BENCH_WORKERS=N: this tree's server runs N worker processes (the baseline stays one
# process; N workers share the same database.max_open_conns).
WORKERS = int(os.environ.get("KZ_BENCH_WORKERS", "1"))
NEW_EXTRA = [*COMPARE_EXTRA, "--socket.workers", str(WORKERS)]
# KZ_BENCH_BASELINE_WORKERS=N: the baseline runs N worker processes too (1 by default), to compare
# two trees that both have workers.
BASELINE_WORKERS = int(os.environ.get("KZ_BENCH_BASELINE_WORKERS", "1"))
BASELINE_EXTRA = [*COMPARE_EXTRA, "--socket.workers", str(BASELINE_WORKERS)]


@contextmanager
def compared_servers(extra: list[str] | None = None) -> Iterator[tuple[BenchServer, BenchServer]]:
    """The baseline's server (KZ_BENCH_BASELINE, KZ_BENCH_BASELINE_WORKERS) and this tree's
    (KZ_BENCH_WORKERS), both up, each with `extra` flags: (baseline, this tree)."""
    extra = extra or []
    with BenchServer(port=free_port(), kizuna=BASELINE, extra=extra + BASELINE_EXTRA,
                     workers=BASELINE_WORKERS) as old, \
            BenchServer(extra=extra + NEW_EXTRA, workers=WORKERS) as new:
        yield old, new


def this_server(extra: list[str] | None = None) -> BenchServer:
    """This tree's server alone, with KZ_BENCH_WORKERS workers."""
    return BenchServer(extra=extra or [], workers=WORKERS)


def compare(servers: list, name: str, script: str, envs: list[dict], opts: dict) -> None:
    """One scenario on every server, passes interleaved; a row per server, then the ratios."""
    for srv, env in zip(servers, envs, strict=True):  # warm-ups, discarded
        srv.wrk_once(script, env=env, **{**opts, "duration": WARMUP})
    runs: list[list[dict]] = [[] for _ in servers]
    for _ in range(max(PASSES, 1)):
        for i, (srv, env) in enumerate(zip(servers, envs, strict=True)):
            runs[i].append(srv.wrk_once(script, env=env, **opts))
    med = statistics.median
    results = []
    for srv, label, rs in zip(servers, ("baseline", "this tree"), runs, strict=False):
        r = {"rps": med(x["rps"] for x in rs), "rps_min": min(x["rps"] for x in rs),
             "rps_max": max(x["rps"] for x in rs), "p50_ms": med(x["p50_ms"] for x in rs),
             "p99_ms": med(x["p99_ms"] for x in rs), "cpu_us": med(x["cpu_us"] for x in rs),
             "errors": sum(x["errors"] for x in rs),
             "socket_errors": "; ".join(x["socket_errors"] for x in rs if x["socket_errors"])}
        results.append(r)
        print(row(f"{name} [{label}]", r, srv.proc.pid))
    old, new = results
    print(f"{'  ratio this/baseline':<44} {new['rps'] / old['rps']:>9.2f} {'':>7} "
          f"{new['p50_ms'] / old['p50_ms']:>8.2f} {new['p99_ms'] / old['p99_ms']:>8.2f} "
          f"{new['cpu_us'] / old['cpu_us']:>7.2f}")
