"""Storage benchmark: single-object writes and reads per request, driven by
`wrk -t2 -c64 -d20s --latency`.

    .venv/bin/python bench/storage.py [--duration 20s] [--connections 64]
    KZ_BENCH_BASELINE=/path/to/kizuna .venv/bin/python bench/storage.py   # compare, interleaved

Writes go to 1000 keys of one player's collection (unconditional writes, so they contend on rows
like a real save loop); reads fetch one of those keys. Prints req/s, p50, p99 and server RSS.
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
            envs = []
            for s in (old, srv):
                token, uid = s.token("bench-device-storage-0001")
                envs.append({"TOKEN": token, "USER_ID": uid})
            print(HEADER)
            compare([old, srv], "PUT /v2/storage (1 object)", "storage_write.lua", envs, opts)
            compare([old, srv], "POST /v2/storage (read 1 object)", "storage_read.lua", envs, opts)
        return
    with this_server() as srv:
        token, uid = srv.token("bench-device-storage-0001")
        env = {"TOKEN": token, "USER_ID": uid}
        print(HEADER)
        print(row("PUT /v2/storage (1 object)", srv.wrk("storage_write.lua", env=env, **opts),
                  srv.proc.pid))
        print(row("POST /v2/storage (read 1 object)", srv.wrk("storage_read.lua", env=env, **opts),
                  srv.proc.pid))
        cur, peak = rss_kib(srv.proc.pid)
        print(f"server RSS now {cur / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
