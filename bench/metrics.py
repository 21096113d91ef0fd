"""What Prometheus metrics cost: the same scenarios on a node without metrics
(`metrics.prometheus_port` 0, the default) and on one with them, scraped every second while it
runs (a busier scraper than Prometheus' usual 15 s), in interleaved rounds on fresh databases.

    .venv/bin/python bench/metrics.py [--rounds 3] [--duration 8s] [--connections 64]

Scenarios: GET /v2/account (one REST method and one query: the request metrics and the query
timing), an RPC echo (`async def`: the request and the runtime call metrics), and socket pings
(`{"cid","ping":{}}` answered with a pong, over 16 sockets, each waiting for its answer: the
cheapest socket message, so the largest share of metrics in its cost). Prints medians of
throughput and of the server's CPU microseconds per request (the figure a noisy machine disturbs
least), and the ratio metrics on / off. Needs `wrk`; the local PostgreSQL as bench/common.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from common import BenchServer, cpu_seconds

METRICS_PORT = 17359
MODULE = '''
async def echo(ctx, logger, nk, payload):
    return payload

def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("echo", echo)
'''


def scraper(stop: threading.Event, scrapes: list[int]) -> None:
    """Scrape /metrics every second until stopped (a thread: it must not wait on the bench)."""
    while not stop.wait(1.0):
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as r:
            r.read()
        scrapes[0] += 1


async def pings(url: str, token: str, sockets: int, seconds: float) -> int:
    """Socket pings for `seconds`: each socket sends one, waits for the pong, sends the next."""
    done = 0
    async with aiohttp.ClientSession() as http:
        conns = [await http.ws_connect(f"{url.replace('http', 'ws')}/ws?token={token}")
                 for _ in range(sockets)]
        until = time.monotonic() + seconds

        async def loop(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal done
            n = 0
            while time.monotonic() < until:
                n += 1
                await ws.send_str(f'{{"cid":"{n}","ping":{{}}}}')
                await ws.receive()
                done += 1
        await asyncio.gather(*(loop(ws) for ws in conns))
        for ws in conns:
            await ws.close()
    return done


def socket_pings(srv: BenchServer, token: str, seconds: float) -> tuple[float, float]:
    asyncio.run(pings(srv.url, token, 16, 1.0))  # warm-up
    before = cpu_seconds(srv.proc.pid)
    started = time.monotonic()
    n = asyncio.run(pings(srv.url, token, 16, seconds))
    elapsed = time.monotonic() - started
    used = cpu_seconds(srv.proc.pid) - before
    return n / elapsed, used / n * 1e6


def run_side(metrics: bool, duration: str, connections: int, modules: str) -> dict[str, tuple]:
    extra = ["--runtime.path", modules]
    if metrics:
        extra += ["--metrics.prometheus_port", str(METRICS_PORT)]
    out: dict[str, tuple] = {}
    with BenchServer(extra=extra) as srv:
        token, _ = srv.token("bench-metrics-device-0001")
        stop, scrapes = threading.Event(), [0]
        if metrics:
            threading.Thread(target=scraper, args=(stop, scrapes), daemon=True).start()
        try:
            env = {"TOKEN": token, "RPC_ID": "echo"}
            for name, script in (("GET /v2/account", "get_account.lua"),
                                 ("rpc echo (async def)", "rpc_echo.lua")):
                r = srv.wrk(script, threads=2, connections=connections, duration=duration,
                            env=env, passes=1)
                out[name] = (r["rps"], r["cpu_us"], r["errors"])
            rate, cpu = socket_pings(srv, token, float(duration.rstrip("s")))
            out["socket ping (16 sockets)"] = (rate, cpu, 0)
        finally:
            stop.set()
        if metrics:
            assert scrapes[0] > 0, "the metrics endpoint was never scraped"
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="8s")
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    modules = tempfile.mkdtemp(prefix="kizuna-bench-metrics-")
    (Path(modules) / "echo.py").write_text(MODULE)
    results: dict[bool, dict[str, list[tuple]]] = {False: {}, True: {}}
    for i in range(args.rounds):
        for metrics in ((False, True) if i % 2 == 0 else (True, False)):
            for name, value in run_side(metrics, args.duration, args.connections,
                                        modules).items():
                results[metrics].setdefault(name, []).append(value)
            figures = "; ".join(f"{name} {v[-1][0]:.0f}/s {v[-1][1]:.1f} us"
                                for name, v in results[metrics].items())
            print(f"round {i + 1}, metrics {'on' if metrics else 'off'}: {figures}", flush=True)
    print(f"\n{'scenario':<28} {'req/s off':>10} {'req/s on':>10} {'ratio':>6}   "
          f"{'cpu us/req off':>14} {'on':>8} {'ratio':>6}")
    med = statistics.median
    for name in results[False]:
        off, on = results[False][name], results[True][name]
        r_off, r_on = med(x[0] for x in off), med(x[0] for x in on)
        c_off, c_on = med(x[1] for x in off), med(x[1] for x in on)
        errors = sum(x[2] for x in off) + sum(x[2] for x in on)
        note = f"  ({errors} non-2xx)" if errors else ""
        print(f"{name:<28} {r_off:>10.0f} {r_on:>10.0f} {_ratio(r_on, r_off):>6}   "
              f"{c_off:>14.1f} {c_on:>8.1f} {_ratio(c_on, c_off):>6}{note}")


if __name__ == "__main__":
    main()
