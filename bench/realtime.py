"""Realtime benchmark: chat fan-out and idle sockets.

    .venv/bin/python bench/realtime.py [--clients 200] [--room-size 11] [--rate 20] [--duration 15]
                                        [--idle 20000] [--persist] [--workers 1]
                                        [--skip-fanout] [--skip-idle]

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432 or
$KZ_TEST_PG), on loopback, and drives it from a separate load-generator process (this file run
with `--worker`), a minimal asyncio WebSocket client on uvloop so that the generator costs little
CPU next to the server on a small machine.

Chat fan-out: `--clients` sockets in rooms of `--room-size` (the last room may be smaller), each
sending `--rate` messages per second of about 100 bytes to its room; every message goes to every
member, sender included. After a warm-up, prints deliveries per second, delivery latency (send to
receive, p50/p99, same clock) and the server's CPU (percent of one core). Messages are not
persisted unless `--persist`.

Idle sockets: as many authenticated sockets as asked (bounded by the fd limit of both processes),
opened 200 at a time, then held: prints the server's RSS before and after, per socket, and checks
that a sample of them still answers. Their users are inserted in bulk with SQL and their session
tokens signed with the server's (default) key, so that preparing 20,000 accounts takes seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ==================================================================================================
# Load generator (runs in its own process)
# ==================================================================================================

_T = re.compile(rb'\\"t\\":(\d+)')


class Client(asyncio.Protocol):
    """Just enough of a WebSocket client: handshake, masked text frames, frame parsing, pongs."""

    def __init__(self, host: str, port: int, token: str, on_text=None, status: bool = False):
        self.request = (f"GET /ws?lang=en&status={'true' if status else 'false'}&token={token} "
                        f"HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: "
                        f"{base64.b64encode(os.urandom(16)).decode()}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.on_text = on_text
        self.buf = bytearray()
        self.open = False
        self.ready = asyncio.get_running_loop().create_future()
        self.replies: dict[str, asyncio.Future] = {}
        self.transport = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buf[:end]).decode(errors="replace")))
                self.transport.close()
                return
            del buf[:end + 4]
            self.open = True
            self.ready.set_result(None)
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                return
            payload = bytes(buf[off:off + n])
            del buf[:off + n]
            if opcode == 1:
                self.text(payload)
            elif opcode == 9:
                self.frame(0xA, payload)
            elif opcode == 8:
                self.closed = True

    def text(self, payload: bytes) -> None:
        if payload.startswith(b'{"cid"'):
            cid = payload[8:payload.index(b'"', 8)].decode()
            fut = self.replies.pop(cid, None)
            if fut is not None and not fut.done():
                fut.set_result(payload)
                return
        if self.on_text is not None:
            self.on_text(payload)

    def frame(self, opcode: int, data: bytes) -> None:
        n = len(data)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        self.transport.write(head + b"\0\0\0\0" + data)  # a zero mask leaves the payload as is

    def send(self, doc: dict) -> None:
        self.frame(0x1, json.dumps(doc, separators=(",", ":")).encode())

    async def call(self, cid: str, doc: dict, timeout: float = 10) -> dict:
        fut = asyncio.get_running_loop().create_future()
        self.replies[cid] = fut
        self.send({**doc, "cid": cid})
        return json.loads(await asyncio.wait_for(fut, timeout))


async def open_client(host: str, port: int, token: str, **kw) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(host, port, token, **kw), host, port)
    await asyncio.wait_for(client.ready, 30)
    return client


async def worker_fanout(cfg: dict) -> dict:
    host, ports = "127.0.0.1", cfg["ports"]
    tokens, room_size, rate = cfg["tokens"], cfg["room_size"], cfg["rate"]
    first_room = cfg.get("first_room", 0)
    warmup, duration, persist = cfg["warmup"], cfg["duration"], cfg["persist"]
    clock = time.time_ns
    latencies: list[int] = []
    counting = False
    received = 0

    def on_text(payload: bytes) -> None:
        nonlocal received
        if counting and payload.startswith(b'{"channel_message"'):
            m = _T.search(payload)
            if m is not None:
                received += 1
                latencies.append(clock() - int(m.group(1)))

    # With several nodes (--cluster), member j of every room connects to node j % N: every
    # delivery but one in N crosses nodes.
    clients = []
    for i in range(0, len(tokens), 100):
        clients += await asyncio.gather(*(
            open_client(host, ports[(i + j) % room_size % len(ports)], t, on_text=on_text)
            for j, t in enumerate(tokens[i:i + 100])))
    rooms = []
    for i, c in enumerate(clients):
        room = f"bench-room-{first_room + i // room_size}"
        r = await c.call("j", {"channel_join": {"target": room, "type": 1, "persistence": persist}})
        assert "channel" in r, r
        rooms.append(r["channel"]["id"])
    sizes = {}
    for room in rooms:
        sizes[room] = sizes.get(room, 0) + 1
    expected = sum(rate * sizes[room] for room in rooms)

    pad = "x" * 64
    period = 1.0 / rate
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    stop = start + warmup + duration
    sent = 0

    async def sender(c: Client, channel_id: str) -> None:
        nonlocal sent
        n = 0
        t = start + random.random() * period
        while t < stop:
            delay = t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            content = f'{{"t":{clock()},"p":"{pad}"}}'
            c.send({"channel_message_send": {"channel_id": channel_id, "content": content},
                    "cid": str(n)})
            sent += 1
            t += period

    tasks = [asyncio.create_task(sender(c, rooms[i])) for i, c in enumerate(clients)]
    await asyncio.sleep(start + warmup - loop.time())
    counting = True
    cpu0, t0 = time.process_time(), time.monotonic()
    print(json.dumps({"event": "measuring"}), flush=True)
    await asyncio.sleep(duration)
    counting = False
    elapsed = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    await asyncio.gather(*tasks)
    for c in clients:
        c.transport.close()
    return {"clients": len(clients), "rooms": len(sizes), "expected_per_s": expected,
            "deliveries_per_s": received / elapsed, "sent": sent,
            "latencies_us": [x // 1000 for x in latencies], "client_cpu_pct": 100 * cpu / elapsed}


async def worker_idle(cfg: dict) -> dict:
    host, port, tokens = "127.0.0.1", cfg["port"], cfg["tokens"]
    clients: list[Client] = []
    failures = 0
    started = time.monotonic()
    sem = asyncio.Semaphore(200)

    async def one(token: str) -> None:
        nonlocal failures
        async with sem:
            try:
                clients.append(await open_client(host, port, token))
            except (TimeoutError, OSError, ConnectionError):
                failures += 1

    await asyncio.gather(*(one(t) for t in tokens))
    ramp = time.monotonic() - started
    print(json.dumps({"event": "connected", "count": len(clients), "failures": failures}),
          flush=True)
    # Hold until the parent has measured, then check a sample still answers.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    sample = random.sample(clients, min(200, len(clients)))
    replies = await asyncio.gather(*(c.call("p", {"ping": {}}) for c in sample),
                                   return_exceptions=True)
    alive = sum(1 for r in replies if isinstance(r, dict) and "pong" in r)
    still_open = sum(1 for c in clients if not c.closed)
    for c in clients:
        c.transport.close()
    return {"connected": len(clients), "failures": failures, "ramp_s": ramp,
            "sample": len(sample), "sample_alive": alive, "still_open": still_open}


def worker_main(kind: str) -> None:
    raise_fd_limit()
    cfg = json.loads(sys.stdin.readline())
    try:
        import uvloop
        run = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    result = run(worker_fanout(cfg) if kind == "fanout" else worker_idle(cfg))
    print(json.dumps({"event": "result", **result}), flush=True)


# ==================================================================================================
# Orchestration
# ==================================================================================================


def spawn_worker(kind: str, cfg: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", kind],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps(cfg) + "\n")
    proc.stdin.flush()
    return proc


def read_event(proc: subprocess.Popen, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({proc.wait()})")
        doc = json.loads(line)
        if doc.get("event") == name:
            return doc
    raise RuntimeError(f"no {name} from the load generator in {timeout}s")


def fanout(srv, args, ports: list[int] | None = None, pids=None) -> None:
    """Chat fan-out against `srv` (and, in a cluster, the other nodes' `ports`); CPU and RSS
    are summed over `pids()` (every process of every node)."""
    from common import cpu_seconds, rss_kib

    ports = ports or [srv.port]
    pids = pids or srv.pids

    def cpu() -> float:
        total = 0.0
        for pid in pids():
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass
        return total

    tokens = [srv.token(f"bench-rt-{i:05d}-{uuid.uuid4().hex[:8]}")[0] for i in range(args.clients)]
    # Split the clients between the generator processes along room boundaries.
    rooms = (args.clients + args.room_size - 1) // args.room_size
    per = (rooms + args.workers - 1) // args.workers
    procs = []
    for w in range(args.workers):
        chunk = tokens[w * per * args.room_size:(w + 1) * per * args.room_size]
        if chunk:
            procs.append(spawn_worker("fanout", {
                "ports": ports, "tokens": chunk, "room_size": args.room_size, "rate": args.rate,
                "warmup": args.warmup, "duration": args.duration, "persist": args.persist,
                "first_room": w * per}))
    for proc in procs:
        read_event(proc, "measuring", 120)
    cpu0, t0 = cpu(), time.monotonic()
    time.sleep(args.duration)
    server_cpu = 100 * (cpu() - cpu0) / (time.monotonic() - t0)
    results = [read_event(proc, "result", 120) for proc in procs]
    for proc in procs:
        proc.wait(30)
    lat = sorted(x for r in results for x in r["latencies_us"])

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e3 if lat else float("nan")
    r = {"clients": sum(x["clients"] for x in results), "rooms": sum(x["rooms"] for x in results),
         "expected_per_s": sum(x["expected_per_s"] for x in results),
         "deliveries_per_s": sum(x["deliveries_per_s"] for x in results),
         "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": lat[-1] / 1e3 if lat else 0,
         "client_cpu_pct": sum(x["client_cpu_pct"] for x in results)}
    cur = 0
    for pid in pids():
        try:
            cur += rss_kib(pid)[0]
        except OSError:
            pass
    last = r["clients"] % args.room_size
    rooms = f"{r['rooms']} rooms of {args.room_size}" + (f" (the last of {last})" if last else "")
    where = (f"{len(ports)} nodes, each room spread over them" if len(ports) > 1 else
             f"one node, {args.server_workers} worker process(es)")
    print(f"chat fan-out ({where}): {r['clients']} clients in {rooms}, "
          f"{args.rate} msg/s each, ~100-byte messages, persistence "
          f"{'on' if args.persist else 'off'}, {args.duration:g} s after {args.warmup:g} s warm-up")
    print(f"  deliveries/s   {r['deliveries_per_s']:>10.0f}   (offered {r['expected_per_s']:.0f})")
    print(f"  latency ms     p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f}  max {r['max_ms']:.1f}")
    print(f"  server CPU     {server_cpu:>9.0f}%  of one core, all processes "
          f"(load generator {r['client_cpu_pct']:.0f}% in "
          f"{len(procs)} process{'es' if len(procs) > 1 else ''})")
    print(f"  server RSS     {cur / 1024:>9.0f} MiB")


async def make_users(srv, n: int) -> list[str]:
    import asyncpg
    from common import PG

    ids = [str(uuid.uuid4()) for _ in range(n)]
    conn = await asyncpg.connect(f"postgresql://{PG}/{srv.db}")
    try:
        await conn.copy_records_to_table(
            "users", columns=["id", "username"],
            records=[(uuid.UUID(i), f"idle-{i[:23]}") for i in ids])
    finally:
        await conn.close()
    return ids


def sign(uid: str, username: str, key: str = "defaultencryptionkey") -> str:
    import warnings

    import jwt
    warnings.filterwarnings("ignore")
    now = int(time.time())
    return jwt.encode({"tid": str(uuid.uuid4()), "uid": uid, "usn": username, "exp": now + 7200,
                       "iat": now}, key, algorithm="HS256")


def idle(srv, args) -> None:
    from common import rss_kib

    limit = raise_fd_limit()
    want = min(args.idle, limit - 200)
    ids = asyncio.run(make_users(srv, want))
    tokens = [sign(i, f"idle-{i[:23]}") for i in ids]
    time.sleep(1)

    def rss() -> tuple[int, int]:  # every process of the node: supervisor, workers, NATS
        cur = peak = 0
        for pid in srv.pids():
            try:
                c, p = rss_kib(pid)
            except OSError:
                continue
            cur, peak = cur + c, peak + p
        return cur, peak

    before, _ = rss()
    proc = spawn_worker("idle", {"port": srv.port, "tokens": tokens})
    connected = read_event(proc, "connected", 300)
    time.sleep(3)
    after, peak = rss()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    r = read_event(proc, "result", 120)
    proc.wait(30)
    n = connected["count"]
    print(f"idle sockets: {n} authenticated sockets open ({connected['failures']} failed; "
          f"fd limit {limit}), opened in {r['ramp_s']:.1f} s ({n / r['ramp_s']:.0f}/s)")
    print(f"  server RSS     {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB with them "
          f"(peak {peak / 1024:.0f} MiB): {(after - before) / max(n, 1):.1f} KiB per socket")
    print(f"  check          {r['sample_alive']}/{r['sample']} sampled sockets answered a ping; "
          f"{r['still_open']} still open")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worker", choices=("fanout", "idle"), help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--room-size", type=int, default=11)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--persist", action="store_true", help="persist chat messages")
    ap.add_argument("--workers", type=int, default=1, help="load generator processes")
    ap.add_argument("--idle", type=int, default=20000,
                    help="idle sockets to open (fd limit permitting)")
    ap.add_argument("--server-workers", type=int, default=1,
                    help="the server's worker processes (socket.workers)")
    ap.add_argument("--cluster", type=int, default=0, metavar="N",
                    help="fan-out across N single-process nodes on a private NATS")
    ap.add_argument("--skip-fanout", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker)
        return

    sys.path.insert(0, str(HERE))
    from common import BenchServer

    raise_fd_limit()
    print(f"kizuna realtime bench ({os.cpu_count()} CPUs, loopback)")
    if args.cluster > 1:
        cluster_fanout(args)
        return
    if not args.skip_fanout:
        with BenchServer(needs_wrk=False, workers=args.server_workers) as srv:
            fanout(srv, args)
    if not args.skip_idle:
        with BenchServer(needs_wrk=False, workers=args.server_workers) as srv:
            idle(srv, args)


def cluster_fanout(args) -> None:
    """Chat fan-out over a cluster of `args.cluster` nodes (one process each) on a private NATS
    server, on one database: every room's members spread over the nodes."""
    from common import KIZUNA, PG, BenchServer, free_port

    from kizuna.cluster import embedded_nats

    nats = embedded_nats.start()
    flags = ["--cluster.nats_url", nats.url, "--database.max_open_conns", "20"]
    others: list[subprocess.Popen] = []
    try:
        with BenchServer(needs_wrk=False, extra=[*flags, "--name", "bench1"]) as srv:
            ports = [srv.port]
            for i in range(2, args.cluster + 1):
                port = free_port()
                others.append(subprocess.Popen(
                    [KIZUNA, "server", "--database.address", f"{PG}/{srv.db}", "--name",
                     f"bench{i}", "--socket.port", str(port), "--console.port", str(free_port()),
                     "--socket.workers", "1", "--logger.level", "warn", *flags],
                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
                ports.append(port)
            import urllib.request
            for port in ports[1:]:
                for _ in range(300):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1)
                        break
                    except OSError:
                        time.sleep(0.1)
            time.sleep(1)  # every node has heard every other's presences
            fanout(srv, args, ports, pids=lambda: [srv.proc.pid, *(p.pid for p in others)])
    finally:
        for p in others:
            p.terminate()
            p.wait(30)
        nats.stop()


if __name__ == "__main__":
    main()
