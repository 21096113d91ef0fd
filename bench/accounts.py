"""Accounts benchmark: device authentication creating a new account per request, and
GET /v2/account with a valid token, each driven by `wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/accounts.py [--duration 20s] [--connections 64]

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG) and prints req/s, p50, p99 and the server's RSS. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

from common import HEADER, BenchServer, cli_args, row, rss_kib


def main() -> None:
    args = cli_args(__doc__)
    with BenchServer() as srv:
        token, _ = srv.token("bench-device-token-0001")
        print(f"kizuna bench: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
        print(HEADER)
        opts = dict(threads=args.threads, connections=args.connections, duration=args.duration)
        print(row("authenticate/device (new account each)",
                  srv.wrk("auth_device.lua", **opts), srv.proc.pid))
        print(row("GET /v2/account (valid token)",
                  srv.wrk("get_account.lua", env={"TOKEN": token}, **opts), srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
