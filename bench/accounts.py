"""Accounts benchmark: device authentication creating a new account per request, and
GET /v2/account with a valid token, each driven by `wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/accounts.py [--duration 20s] [--connections 64]
    KZ_BENCH_BASELINE=/path/to/kizuna .venv/bin/python bench/accounts.py   # compare, interleaved

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG) and prints req/s, p50, p99 and the server's RSS. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import os
import statistics

from common import HEADER, PASSES, WARMUP, BenchServer, cli_args, free_port, row, rss_kib

# -- comparing with a baseline ---------------------------------------------------------------------
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


def main() -> None:
    args = cli_args(__doc__)
    opts = dict(threads=args.threads, connections=args.connections, duration=args.duration)
    print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
    if BASELINE:
        with BenchServer(port=free_port(), kizuna=BASELINE, extra=COMPARE_EXTRA) as old, \
                BenchServer(extra=NEW_EXTRA, workers=WORKERS) as srv:
            envs = [{"TOKEN": s.token("bench-device-token-0001")[0]} for s in (old, srv)]
            print(HEADER)
            compare([old, srv], "authenticate/device (new account each)", "auth_device.lua",
                    [{}, {}], opts)
            compare([old, srv], "GET /v2/account (valid token)", "get_account.lua", envs, opts)
        return
    with BenchServer(extra=["--socket.workers", str(WORKERS)], workers=WORKERS) as srv:
        token, _ = srv.token("bench-device-token-0001")
        print(HEADER)
        print(row("authenticate/device (new account each)",
                  srv.wrk("auth_device.lua", **opts), srv.proc.pid))
        print(row("GET /v2/account (valid token)",
                  srv.wrk("get_account.lua", env={"TOKEN": token}, **opts), srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
