"""Accounts benchmark: device authentication creating a new account per request, and
GET /v2/account with a valid token, each driven by `wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/accounts.py [--duration 20s] [--connections 64]
    KZ_BENCH_BASELINE=/path/to/kizuna .venv/bin/python bench/accounts.py   # compare, interleaved

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG) and prints req/s, p50, p99 and the server's RSS. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

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


def main() -> None:
    args = cli_args(__doc__)
    opts = dict(threads=args.threads, connections=args.connections, duration=args.duration)
    print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
    if BASELINE:
        with compared_servers() as (old, srv):
            envs = [{"TOKEN": s.token("bench-device-token-0001")[0]} for s in (old, srv)]
            print(HEADER)
            compare([old, srv], "authenticate/device (new account each)", "auth_device.lua",
                    [{}, {}], opts)
            compare([old, srv], "GET /v2/account (valid token)", "get_account.lua", envs, opts)
        return
    with this_server() as srv:
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
