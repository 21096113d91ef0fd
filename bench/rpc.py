"""RPC benchmark: an echo RPC over REST (POST /v2/rpc/{id}), driven by
`wrk -t2 -c64 -d20s --latency`, as a coroutine (`async def`, on the event loop) and as a plain
function (`def`, in a worker thread), with a session token and with the HTTP key.

    .venv/bin/python bench/rpc.py [--duration 20s] [--connections 64]
    KZ_BENCH_BASELINE=/path/to/kizuna .venv/bin/python bench/rpc.py   # compare, interleaved

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG) with a module written to a temporary directory, and prints req/s, p50, p99 and the
server's RSS. Needs `wrk`. For scale: Nakama publishes about 635 RPC/s per 1-vCPU node.
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
from pathlib import Path

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

MODULE = '''
async def echo(ctx, logger, nk, payload):
    return payload


def echo_sync(ctx, logger, nk, payload):
    return payload


def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("echo", echo)
    initializer.register_rpc("echo_sync", echo_sync)
'''


def main() -> None:
    args = cli_args(__doc__)
    modules = Path(tempfile.mkdtemp(prefix="kizuna-bench-modules-"))
    (modules / "bench_echo.py").write_text(MODULE)
    extra = ["--runtime.path", str(modules)]
    key = base64.b64encode(b"defaulthttpkey:").decode()
    opts = dict(threads=args.threads, connections=args.connections, duration=args.duration)
    print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
    scenarios = (("rpc echo, async def, session token", {"RPC_ID": "echo"}),
                 ("rpc echo, def (worker thread), session", {"RPC_ID": "echo_sync"}),
                 ("rpc echo, async def, HTTP key", {"HTTP_KEY": key, "RPC_ID": "echo"}))
    if BASELINE:
        with BenchServer(port=free_port(), kizuna=BASELINE, extra=extra + COMPARE_EXTRA) as old, \
                BenchServer(extra=extra + NEW_EXTRA, workers=WORKERS) as srv:
            tokens = [s.token("bench-device-rpc-0001")[0] for s in (old, srv)]
            print(HEADER)
            for name, env in scenarios:
                envs = [env if "HTTP_KEY" in env else {**env, "TOKEN": t} for t in tokens]
                compare([old, srv], name, "rpc_echo.lua", envs, opts)
        return
    with BenchServer(extra=[*extra, "--socket.workers", str(WORKERS)], workers=WORKERS) as srv:
        token, _ = srv.token("bench-device-rpc-0001")
        print(HEADER)
        for name, env in scenarios:
            env = env if "HTTP_KEY" in env else {**env, "TOKEN": token}
            print(row(name, srv.wrk("rpc_echo.lua", env=env, **opts), srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
