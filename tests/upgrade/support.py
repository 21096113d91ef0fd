"""Support for the upgrade tests: the previous release in its own virtual environment, node
processes of either release, and a client that plays a load balancer in front of them.

The previous release is a commit of this repository (PREVIOUS_RELEASE). Until Kizuna has a tagged
release, it is a synthetic one: the tree just before the node registry and graceful drain were
added. Its code is exported with `git archive` into its own virtual environment, which shares the
third-party packages of the current one (the dependencies did not change between the two).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.conftest import KIZUNA, ROOT, _env, free_port

PREVIOUS_RELEASE = "79e95d3cc822bc61c698e37d406547199a67a336"
PREVIOUS_HEAD = "0004_chat_notifications"
BASIC = "Basic " + base64.b64encode(b"defaultkey:").decode()


def install_previous(dest: Path) -> list[str]:
    """Export PREVIOUS_RELEASE into `dest` and make a venv for it; return its `kizuna` argv."""
    src = dest / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE],
                             capture_output=True, check=False)
    if archive.returncode != 0:  # a shallow clone: fetch the history, then try again
        subprocess.run(["git", "-C", str(ROOT), "fetch", "--quiet", "--unshallow"],
                       capture_output=True, check=False)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE],
                                 capture_output=True, check=False)
    if archive.returncode != 0:
        raise RuntimeError(
            f"cannot export the previous release {PREVIOUS_RELEASE} from git history "
            f"(a shallow clone?): {archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    venv = dest / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    current_site = sysconfig.get_paths()["purelib"]
    # The old code first, then the current environment's third-party packages.
    (site / "kizuna_previous_release.pth").write_text(f"{src}\n{current_site}\n")
    # -P: never put the working directory (maybe this checkout) ahead of the old code.
    return [str(venv / "bin" / "python"), "-P", "-m", "kizuna"]


@dataclass
class Node:
    argv: list[str]
    name: str
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *args: str, wait: float = 60) -> Node:
        fh = open(self.log_path, "a")
        # This release's node is one process (socket.workers); the previous release does not
        # know the key and would refuse it.
        single = ["--socket.workers", "1"] if self.argv == CURRENT else []
        self.proc = subprocess.Popen(
            [*self.argv, "server", "--name", self.name, "--socket.port", str(self.port),
             "--console.port", str(free_port()), "--logger.format", "text", *single, *args],
            stdout=fh, stderr=subprocess.STDOUT, env=_env(), cwd=self.log_path.parent)
        deadline = time.monotonic() + wait
        import urllib.request
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited {self.proc.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(self.url + "/healthcheck", timeout=1)
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"node {self.name} did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def kizuna_cli(argv: list[str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout, env=_env())


CURRENT = [KIZUNA]


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    longest_ms: float = 0.0
    reconnects: int = 0

    def record(self, ok: bool, ms: float, what: str) -> None:
        self.sent += 1
        self.longest_ms = max(self.longest_ms, ms)
        if not ok:
            self.failed += 1
            if len(self.errors) < 20:
                self.errors.append(what)


class Balancer:
    """Round-robin over the nodes in rotation, like a load balancer in front of the cluster.

    A request waits (as in a load balancer's queue) while no node is in rotation, for the short
    stop of a downgrade; `longest_wait` is the longest such wait. `inflight` counts the requests
    each node is serving, so that the test can wait until no request reaches a node any more."""

    def __init__(self) -> None:
        self.rotation: list[str] = []
        self._i = 0
        self.inflight: Counter[str] = Counter()
        self.longest_wait = 0.0

    def pick(self) -> str:
        self._i += 1
        return self.rotation[self._i % len(self.rotation)]

    async def get(self, timeout: float = 120.0) -> str:
        t0 = time.monotonic()
        while not self.rotation:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"no node in the load balancer's rotation for {timeout:.0f} s")
            await asyncio.sleep(0.02)
        self.longest_wait = max(self.longest_wait, time.monotonic() - t0)
        return self.pick()

    @contextlib.asynccontextmanager
    async def request(self):
        url = await self.get()
        self.inflight[url] += 1
        try:
            yield url
        finally:
            self.inflight[url] -= 1

    async def idle(self, url: str, timeout: float = 30.0) -> None:
        """Wait until no request is in flight to `url` (taken out of rotation before)."""
        deadline = time.monotonic() + timeout
        while self.inflight[url] > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} still serves {self.inflight[url]} request(s)")
            await asyncio.sleep(0.02)


READY = "/kizuna/ready"
LIVENESS = "/healthcheck"  # only for a release without readiness (the first hop)


@dataclass
class Backend:
    url: str
    check: str
    enabled: bool = True
    up: bool = False
    fails: int = 0
    checks: int = 0


class HealthCheckedBalancer(Balancer):
    """A load balancer that routes on health checks, as docs/upgrading.md tells operators to: it
    checks every node each `interval` seconds (`/kizuna/ready`, or `/healthcheck` for a node of a
    release without readiness), takes a node out after `fall` failed checks in a row and puts it
    back after one good one. `disable` takes a node out by hand (the first hop's old nodes)."""

    def __init__(self, interval: float = 1.0, fall: int = 2) -> None:
        super().__init__()
        self.interval = interval
        self.fall = fall
        self.backends: dict[str, Backend] = {}

    def _update(self) -> None:
        self.rotation = [b.url for b in self.backends.values() if b.enabled and b.up]

    def add(self, url: str, check: str = READY) -> None:
        self.backends[url] = Backend(url, check)
        self._update()

    def disable(self, url: str) -> None:
        self.backends[url].enabled = False
        self._update()

    def remove(self, url: str) -> None:
        self.backends.pop(url, None)
        self._update()

    async def _check(self, http: aiohttp.ClientSession, b: Backend) -> None:
        try:
            async with http.get(b.url + b.check,
                                timeout=aiohttp.ClientTimeout(total=self.interval)) as r:
                ok = r.status == 200
        except (TimeoutError, aiohttp.ClientError):
            ok = False
        b.checks += 1
        if ok:
            b.up, b.fails = True, 0
        else:
            b.fails += 1
            if b.fails >= self.fall:
                b.up = False
        self._update()

    async def run(self) -> None:
        """The health checks; cancel the task to stop them."""
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            while True:
                backends = list(self.backends.values())
                await asyncio.gather(*(self._check(http, b) for b in backends))
                await asyncio.sleep(self.interval)

    async def in_rotation(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while url not in self.rotation:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not join the load balancer's rotation")
            await asyncio.sleep(0.02)

    async def out_of_rotation(self, url: str, timeout: float = 30.0) -> float:
        t0 = time.monotonic()
        while url in self.rotation:
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"{url} is still in the load balancer's rotation")
            await asyncio.sleep(0.01)
        return time.monotonic() - t0


async def http_player(lb: Balancer, stats: Stats, stop: asyncio.Event, tag: str) -> list[tuple[str, str]]:
    """A player hitting the cluster: log in, then save and load storage and read the account, in
    a loop. Returns the (device id, last value written) pairs it saved, to check afterwards."""
    saved: list[tuple[str, str]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        async def call(method: str, path: str, **kw) -> dict | None:
            t0 = time.monotonic()
            url = path
            try:
                async with lb.request() as base:
                    url = base + path
                    t0 = time.monotonic()
                    async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=20),
                                            **kw) as r:
                        body = await r.json(content_type=None)
                        ok = 200 <= r.status < 300
                        stats.record(ok, (time.monotonic() - t0) * 1000,
                                     f"{method} {url}: {r.status} {body}")
                        return body if ok else None
            except (TimeoutError, aiohttp.ClientError) as exc:
                stats.record(False, (time.monotonic() - t0) * 1000, f"{method} {url}: {exc!r}")
                return None
        n = 0
        while not stop.is_set():
            device = f"upgrade-{tag}-{n}-{uuid.uuid4().hex[:8]}"
            n += 1
            s = await call("POST", "/v2/account/authenticate/device", json={"id": device},
                           headers={"Authorization": BASIC})
            if not s:
                await asyncio.sleep(0.05)
                continue
            bearer = {"Authorization": "Bearer " + s["token"]}
            value = f'{{"n": {n}}}'
            ack = await call("PUT", "/v2/storage", headers=bearer,
                             json={"objects": [{"collection": "saves", "key": "slot", "value": value}]})
            if ack:
                saved.append((device, value))
            await call("GET", "/v2/account", headers=bearer)
            await asyncio.sleep(0.02)
    return saved


CHANNEL = "upgrade"
CHANNEL_ID = "2..." + CHANNEL  # a room


@dataclass
class ChatLedger:
    """Every chat message the socket players send, keyed by the id in its content.

    A message is sent until it is acknowledged: when its socket closes first (a node draining
    closes its sockets with 1001), the player reconnects through the load balancer and sends it
    again with the same content, as a real client would. `lost()` lists what was sent and never
    acknowledged; `missing_from()` what was acknowledged and is not in a channel history."""

    sent: dict[str, str] = field(default_factory=dict)  # message key -> player tag
    acked: dict[str, str] = field(default_factory=dict)  # message key -> message_id of the ack
    attempts: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)  # an error reply instead of an ack
    unanswered: list[str] = field(default_factory=list)  # no reply within 10 s on an open socket
    closes: Counter[int | None] = field(default_factory=Counter)  # close codes seen
    in_flight_at_close: int = 0  # messages whose socket closed before their ack

    def per_player(self) -> Counter[str]:
        return Counter(self.sent[k] for k in self.acked)

    @property
    def resent(self) -> int:
        return sum(n - 1 for n in self.attempts.values())

    def lost(self) -> list[str]:
        return sorted(k for k in self.sent if k not in self.acked)

    def missing_from(self, history: list[dict]) -> list[str]:
        seen = set()
        for m in history:
            try:
                seen.add(json.loads(m["content"]).get("key"))
            except (KeyError, ValueError, AttributeError):
                continue
        return sorted(k for k in self.acked if k not in seen)

    def summary(self) -> str:
        return (f"{len(self.sent)} chat messages sent, {len(self.acked)} acknowledged, "
                f"{self.in_flight_at_close} caught by a socket close and {self.resent} re-sent, "
                f"close codes {dict(self.closes)}")


async def socket_player(lb: Balancer, stats: Stats, stop: asyncio.Event, tag: str,
                        ledger: ChatLedger) -> None:
    """A player on the realtime socket: joins a room and chats, one message at a time. When its
    socket closes (a node goes), it reconnects through the load balancer, joins again, and sends
    the message that was not acknowledged again, then goes on. It stops once `stop` is set and
    its last message is acknowledged."""
    async with aiohttp.ClientSession() as http:
        async with lb.request() as base, http.post(base + "/v2/account/authenticate/device",
                             json={"id": f"socket-{tag}-{uuid.uuid4().hex}"},
                             headers={"Authorization": BASIC}) as r:
            token = (await r.json())["token"]
        pending: str | None = None
        n = 0
        while True:
            if pending is None and stop.is_set():
                return
            base = (await lb.get()).replace("http://", "ws://")
            try:
                async with http.ws_connect(f"{base}/ws?token={token}&status=true",
                                           heartbeat=None) as ws:
                    cid = 0

                    async def call(body: dict) -> dict:
                        nonlocal cid
                        cid += 1
                        try:
                            await ws.send_json({"cid": str(cid), **body})
                        except ConnectionResetError:
                            # The socket is closing: read its close frame, for the close code.
                            with contextlib.suppress(Exception):
                                while (await ws.receive(timeout=2)).type not in (
                                        aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                        aiohttp.WSMsgType.ERROR):
                                    pass
                            raise ConnectionResetError(ws.close_code) from None
                        while True:
                            msg = await ws.receive(timeout=10)
                            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                                raise ConnectionResetError(ws.close_code)
                            if msg.type == aiohttp.WSMsgType.TEXT:
                                doc = msg.json()
                                if doc.get("cid") == str(cid):
                                    return doc

                    joined = await call({"channel_join": {"target": CHANNEL, "type": 1}})
                    if "channel" not in joined:
                        stats.record(False, 0, f"channel_join: {joined}")
                        await asyncio.sleep(0.5)
                        continue
                    while True:
                        if pending is None:
                            if stop.is_set():
                                return
                            n += 1
                            pending = f"{tag}-{n}"
                            ledger.sent[pending] = tag
                        ledger.attempts[pending] += 1
                        t0 = time.monotonic()
                        try:
                            doc = await call({"channel_message_send": {
                                "channel_id": CHANNEL_ID,
                                "content": json.dumps({"key": pending, "from": tag})}})
                        except ConnectionResetError:
                            ledger.in_flight_at_close += 1
                            raise
                        except TimeoutError:
                            ledger.unanswered.append(pending)
                            stats.record(False, (time.monotonic() - t0) * 1000,
                                         f"chat {pending}: no reply within 10 s")
                            raise
                        ack = doc.get("channel_message_ack")
                        stats.record(bool(ack), (time.monotonic() - t0) * 1000,
                                     f"chat {pending}: {doc}")
                        if ack:
                            ledger.acked[pending] = ack.get("message_id", "")
                        else:
                            ledger.refused.append(pending)
                        pending = None
                        # A pause, reading what comes (a close frame among it, for its code).
                        until = time.monotonic() + 0.1
                        while (left := until - time.monotonic()) > 0:
                            try:
                                msg = await ws.receive(timeout=left)
                            except TimeoutError:
                                break
                            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                                raise ConnectionResetError(ws.close_code)
            except ConnectionResetError as exc:
                ledger.closes[exc.args[0] if exc.args else None] += 1
                stats.reconnects += 1
                await asyncio.sleep(0.05)
            except (TimeoutError, aiohttp.ClientError):
                stats.reconnects += 1
                await asyncio.sleep(0.05)


async def channel_history(lb: Balancer, channel_id: str = CHANNEL_ID) -> list[dict]:
    """Every message of a channel's history, read through the load balancer (Nakama's
    `GET /v2/channel/{channel_id}`, page by page)."""
    from urllib.parse import quote

    async with aiohttp.ClientSession() as http:
        async with lb.request() as base, http.post(base + "/v2/account/authenticate/device",
                             json={"id": f"history-reader-{uuid.uuid4().hex}"},
                             headers={"Authorization": BASIC}) as r:
            assert r.status == 200, await r.text()
            token = (await r.json())["token"]
        messages: list[dict] = []
        cursor = ""
        while True:
            params = {"limit": "100", "forward": "true"}
            if cursor:
                params["cursor"] = cursor
            async with lb.request() as base, http.get(f"{base}/v2/channel/{quote(channel_id, safe='')}",
                                params=params,
                                headers={"Authorization": "Bearer " + token}) as r:
                assert r.status == 200, await r.text()
                page = await r.json(content_type=None)
            messages.extend(page.get("messages", []))
            cursor = page.get("next_cursor", "")
            if not cursor or not page.get("messages"):
                return messages
