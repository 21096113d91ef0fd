"""Compare two Kizuna installs side by side: the same scenarios against each, interleaved, with
the server's CPU time per request (a figure a noisy machine disturbs far less than req/s).

    .venv/bin/python bench/compare.py --baseline /path/to/other/.venv/bin/kizuna [--rounds 3]

Each round runs every scenario on the baseline, then on this checkout's `kizuna` (or the reverse
on odd rounds), each on a fresh database. Prints per-scenario medians of req/s and of server CPU
microseconds per request, and the ratio this/baseline.
"""

from __future__ import annotations

import argparse
import statistics

from common import KIZUNA, BenchServer

SCENARIOS = (
    ("authenticate/device (new account)", "auth_device.lua", False),
    ("GET /v2/account", "get_account.lua", True),
    ("PUT /v2/storage (1 object)", "storage_write.lua", True),
    ("POST /v2/storage (read 1 object)", "storage_read.lua", True),
    ("rpc echo (async def)", "rpc_echo.lua", True),
)

ECHO_MODULE = '''
async def echo(ctx, logger, nk, payload):
    return payload

def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("echo", echo)
'''


def run_side(kizuna: str, duration: str, connections: int, modules: str) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    with BenchServer(kizuna=kizuna, extra=["--runtime.path", modules]) as srv:
        token, uid = srv.token("bench-compare-device-0001")
        env = {"TOKEN": token, "USER_ID": uid, "RPC_ID": "echo"}
        for name, script, _ in SCENARIOS:
            # One pass per round (rounds interleave the two installs), after a warm-up.
            r = srv.wrk(script, threads=2, connections=connections, duration=duration, env=env,
                        passes=1)
            out[name] = (r["rps"], r["cpu_us"], r["errors"])
    return out


def main() -> None:
    import pathlib
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="the other install's kizuna executable")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="8s")
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    modules = tempfile.mkdtemp(prefix="kizuna-compare-modules-")
    (pathlib.Path(modules) / "echo.py").write_text(ECHO_MODULE)
    sides = {"baseline": args.baseline, "this": KIZUNA}
    results: dict[str, dict[str, list[tuple]]] = {k: {} for k in sides}
    for i in range(args.rounds):
        order = ("baseline", "this") if i % 2 == 0 else ("this", "baseline")
        for side in order:
            for name, value in run_side(sides[side], args.duration, args.connections,
                                        modules).items():
                results[side].setdefault(name, []).append(value)
            print(f"round {i + 1}: {side} done", flush=True)
    print(f"\n{'scenario':<36} {'req/s base':>10} {'req/s this':>10} {'ratio':>6}   "
          f"{'cpu us/req base':>15} {'this':>8} {'ratio':>6}")
    for name, _, _ in SCENARIOS:
        b = results["baseline"][name]
        t = results["this"][name]
        rb, rt = statistics.median(x[0] for x in b), statistics.median(x[0] for x in t)
        cb, ct = statistics.median(x[1] for x in b), statistics.median(x[1] for x in t)
        errors = sum(x[2] for x in b) + sum(x[2] for x in t)
        note = f"  ({errors} non-2xx)" if errors else ""
        print(f"{name:<36} {rb:>10.0f} {rt:>10.0f} {_ratio(rt, rb):>6}   {cb:>15.1f} {ct:>8.1f} "
              f"{_ratio(ct, cb):>6}{note}")
    print("\nraw (req/s, cpu us/req, non-2xx) per round:")
    for side in sides:
        for name, values in results[side].items():
            print(f"  {side:<8} {name:<36} " + "  ".join(
                f"({v[0]:.0f}, {v[1]:.1f}, {v[2]})" for v in values))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    main()
