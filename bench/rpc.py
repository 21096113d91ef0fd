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
import tempfile
from pathlib import Path

from common import (
    BASELINE,
    HEADER,
    cli_args,
    compare,
    compared_servers,
    row,
    rss_kib,
    this_server,
)

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
        with compared_servers(extra) as (old, srv):
            tokens = [s.token("bench-device-rpc-0001")[0] for s in (old, srv)]
            print(HEADER)
            for name, env in scenarios:
                envs = [env if "HTTP_KEY" in env else {**env, "TOKEN": t} for t in tokens]
                compare([old, srv], name, "rpc_echo.lua", envs, opts)
        return
    with this_server(extra) as srv:
        token, _ = srv.token("bench-device-rpc-0001")
        print(HEADER)
        for name, env in scenarios:
            env = env if "HTTP_KEY" in env else {**env, "TOKEN": token}
            print(row(name, srv.wrk("rpc_echo.lua", env=env, **opts), srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
