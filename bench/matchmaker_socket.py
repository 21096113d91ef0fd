"""Matchmaker benchmark through real sockets: how long from the add that completes a group to the
`matchmaker_matched` push, and how long the server's passes take with 10,000 tickets waiting.

    .venv/bin/python bench/matchmaker_socket.py [--rate 100] [--duration 30] [--waiting 10000]
        [--sockets 400] [--interval-sec 15] [--skip-empty] [--skip-waiting]

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432 or
$KZ_TEST_PG) with its Prometheus endpoint on, and drives it from this process (a minimal asyncio
WebSocket client on uvloop, bench/realtime.py's), on loopback. Users are inserted with SQL and
their session tokens signed with the server's default key.

Arrivals: `--rate` matchmaker_add a second, each from a socket holding no ticket (a pool of
`--sockets`), for `--duration` seconds: 2-player tickets spread over 24 (region, mode) buckets,
each accepting anyone of its bucket (`+properties.region:R +properties.mode:M`). For every group,
the latency is from the sending of the add that completed it (the later of the two) to the
receipt of each member's push; printed as p50/p99/max over all pushes.

Scenarios:
- empty pool: the arrivals alone;
- waiting: first `--waiting` tickets that nobody matches (their query requires a rank no one has)
  in the same buckets, so every arrival's search examines and rejects its bucket's share of them
  (about 10,000 / 24 = 420), Kizuna's pessimistic case; then the arrivals. With the default
  `--interval-sec` 15 the waiting tickets all reach their last interval (and search again) during
  the run, which the figures include. The server's pass times (the last 256 passes: median, p99,
  longest) are read from its metrics (`kizuna_matchmaker_pass_seconds`), as is the longest pass
  while the waiting tickets arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import BenchServer, free_port, rss_kib  # noqa: E402
from realtime import Client, make_users, open_client, raise_fd_limit, sign  # noqa: E402

REGIONS = ["eu", "us-east", "us-west", "asia", "sa", "oce", "me", "af"]
MODES = ["ranked", "casual", "custom"]
BUCKETS = [(r, m) for r in REGIONS for m in MODES]
HOST = "127.0.0.1"


_SAMPLE = re.compile(r'^(kizuna_matchmaker_\w+)(?:\{(.*)\})? (\S+)$')
_QUANTILE = re.compile(r'quantile="([^"]*)"')


def metrics(port: int) -> dict[str, float]:
    """The server's kizuna_matchmaker_* samples: name (or name:quantile) -> value."""
    text = urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m is not None:
            q = _QUANTILE.search(m.group(2) or "")
            out[m.group(1) + (f":{q.group(1)}" if q else "")] = float(m.group(3))
    return out


def pass_figures(m: dict[str, float]) -> str:
    q = {k: m.get(f"kizuna_matchmaker_pass_seconds:{k}", float("nan")) * 1000
         for k in ("0.5", "0.99", "1")}
    return f"p50 {q['0.5']:.1f} ms, p99 {q['0.99']:.1f} ms, max {q['1']:.1f} ms"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p))]


class Socket:
    """One player's socket: at most one arrival ticket at a time."""

    def __init__(self, uid: str, bench: Bench) -> None:
        self.uid = uid
        self.bench = bench
        self.client: Client | None = None
        self.busy = False
        self.bucket = BUCKETS[0]
        self.sent_at = 0.0
        self.cids = itertools.count(1)

    def on_text(self, payload: bytes) -> None:
        if payload.startswith(b'{"matchmaker_matched"'):
            self.bench.matched(self, json.loads(payload)["matchmaker_matched"], time.perf_counter())


class Bench:
    def __init__(self, port: int, sockets: list[Socket]) -> None:
        self.port = port
        self.sockets = sockets
        self.by_uid = {s.uid: s for s in sockets}
        self.latencies: list[float] = []
        self.groups = 0
        self.errors = 0
        self.pending: set[Socket] = set()

    def matched(self, sock: Socket, push: dict, now: float) -> None:
        members = [self.by_uid[u["presence"]["user_id"]] for u in push["users"]]
        last_add = max(m.sent_at for m in members)
        self.latencies.append(now - last_add)
        if push["self"]["presence"]["user_id"] == members[-1].uid:
            self.groups += 1
        sock.busy = False
        self.pending.discard(sock)

    async def add(self, sock: Socket, region: str, mode: str) -> None:
        sock.busy = True
        sock.bucket = (region, mode)
        self.pending.add(sock)
        body = {"matchmaker_add": {
            "min_count": 2, "max_count": 2,
            "query": f"+properties.region:{region} +properties.mode:{mode}",
            "string_properties": {"region": region, "mode": mode},
            "numeric_properties": {"rank": 50}}}
        sock.sent_at = time.perf_counter()
        r = await sock.client.call(str(next(sock.cids)), body)
        if "matchmaker_ticket" not in r:
            self.errors += 1
            sock.busy = False
            self.pending.discard(sock)

    async def arrivals(self, rate: float, duration: float) -> float:
        """`rate` adds a second for `duration` seconds; then waits for the last groups."""
        rng = random.Random(7)
        loop = asyncio.get_running_loop()
        period = 1.0 / rate
        start = loop.time()
        t = start
        n = 0
        tasks = []
        while t < start + duration:
            delay = t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            free = [s for s in self.sockets if not s.busy]
            if not free:
                self.errors += 1  # the pool is exhausted: not counted as an arrival
            else:
                sock = rng.choice(free)
                region, mode = rng.choice(BUCKETS)
                tasks.append(asyncio.create_task(self.add(sock, region, mode)))
                n += 1
            t += period
        await asyncio.gather(*tasks)
        # The odd ticket of a bucket waits for a partner: give it one, then wait for all.
        await asyncio.sleep(1.0)
        for sock in list(self.pending):
            free = [s for s in self.sockets if not s.busy]
            if free:
                await self.add(free[0], *sock.bucket)
                n += 1
        deadline = loop.time() + 30
        while self.pending and loop.time() < deadline:
            await asyncio.sleep(0.2)
        return n


async def connect_all(port: int, socks: list[Socket], tokens: list[str]) -> None:
    for i in range(0, len(socks), 100):
        batch = socks[i:i + 100]
        clients = await asyncio.gather(*(open_client(HOST, port, tokens[i + j], on_text=s.on_text)
                                         for j, s in enumerate(batch)))
        for s, c in zip(batch, clients, strict=True):
            s.client = c


async def fill(port: int, fillers: list[Client], n: int) -> float:
    """`n` tickets nobody matches, from the filler sockets; seconds it took."""
    started = time.perf_counter()
    per = -(-n // len(fillers))
    errors = 0

    async def one(c: Client, k: int) -> None:
        nonlocal errors
        rng = random.Random(k)
        for i in range(min(per, n - k * per)):
            region, mode = rng.choice(BUCKETS)
            r = await c.call(f"f{i}", {"matchmaker_add": {
                "min_count": 2, "max_count": 2,
                "query": f"+properties.region:{region} +properties.mode:{mode} "
                         f"+properties.rank:>=200",
                "string_properties": {"region": region, "mode": mode},
                "numeric_properties": {"rank": 50}}})
            if "matchmaker_ticket" not in r:
                errors += 1
    await asyncio.gather(*(one(c, k) for k, c in enumerate(fillers)))
    if errors:
        print(f"  ({errors} filler adds refused)")
    return time.perf_counter() - started


async def scenario(srv, metrics_port: int, args, waiting: int) -> None:
    n_socks = args.sockets
    fillers_n = 10 if waiting else 0
    uids = await make_users(srv, n_socks + fillers_n)
    tokens = [sign(u, f"idle-{u[:23]}") for u in uids]
    socks_list: list[Socket] = []
    bench = Bench(srv.port, socks_list)
    socks_list += [Socket(u, bench) for u in uids[:n_socks]]
    bench.by_uid = {s.uid: s for s in socks_list}
    await connect_all(srv.port, socks_list, tokens[:n_socks])
    fillers = [await open_client(HOST, srv.port, t) for t in tokens[n_socks:]]
    label = f"{waiting} waiting" if waiting else "empty pool"
    if waiting:
        took = await fill(srv.port, fillers, waiting)
        await asyncio.sleep(1.0)
        m = metrics(metrics_port)
        print(f"{label}: {int(m.get('kizuna_matchmaker_tickets', 0))} tickets waiting, "
              f"added in {took:.1f} s ({waiting / took:.0f}/s); passes while they arrived: "
              f"{pass_figures(m)}")
    n = await bench.arrivals(args.rate, args.duration)
    m = metrics(metrics_port)
    lat = [x * 1000 for x in bench.latencies]
    if lat:
        print(f"{label}: {n} adds at {args.rate:.0f}/s over {args.duration:.0f} s, {bench.groups} "
              f"groups, {len(lat)} pushes; add -> matchmaker_matched p50 "
              f"{statistics.median(lat):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms"
              f"; errors {bench.errors}, unmatched {len(bench.pending)}")
    print(f"{label}: server passes (last 256): {pass_figures(m)}; "
          f"{int(m.get('kizuna_matchmaker_tickets', 0))} tickets waiting at the end; "
          f"server RSS {rss_kib(srv.proc.pid)[0] / 1024:.0f} MiB")
    for s in socks_list:
        s.client.transport.close()
    for c in fillers:
        c.transport.close()
    await asyncio.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rate", type=float, default=100, help="adds a second")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--waiting", type=int, default=10000)
    ap.add_argument("--sockets", type=int, default=400)
    ap.add_argument("--interval-sec", type=int, default=15)
    ap.add_argument("--skip-empty", action="store_true")
    ap.add_argument("--skip-waiting", action="store_true")
    args = ap.parse_args()
    raise_fd_limit()
    try:
        import uvloop
        run = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    print(f"kizuna matchmaker socket bench (loopback; matchmaker.interval_sec "
          f"{args.interval_sec})")
    for waiting in ([] if args.skip_empty else [0]) + ([] if args.skip_waiting else [args.waiting]):
        metrics_port = free_port()
        extra = ["--metrics.prometheus_port", str(metrics_port),
                 "--matchmaker.interval_sec", str(args.interval_sec),
                 "--matchmaker.max_tickets", str(max(3, -(-args.waiting // 10)))]
        with BenchServer(port=free_port(), needs_wrk=False, extra=extra) as srv:
            run(scenario(srv, metrics_port, args, waiting))


if __name__ == "__main__":
    main()
