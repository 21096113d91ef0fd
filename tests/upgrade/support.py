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
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.conftest import KIZUNA, ROOT, _env

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
        self.proc = subprocess.Popen(
            [*self.argv, "server", "--name", self.name, "--socket.port", str(self.port),
             "--logger.format", "text", *args],
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
    """Round-robin over the nodes in rotation, like a load balancer in front of the cluster."""

    def __init__(self) -> None:
        self.rotation: list[str] = []
        self._i = 0

    def pick(self) -> str:
        self._i += 1
        return self.rotation[self._i % len(self.rotation)]


async def http_player(lb: Balancer, stats: Stats, stop: asyncio.Event, tag: str) -> list[tuple[str, str]]:
    """A player hitting the cluster: log in, then save and load storage and read the account, in
    a loop. Returns the (device id, last value written) pairs it saved, to check afterwards."""
    saved: list[tuple[str, str]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        async def call(method: str, path: str, **kw) -> dict | None:
            url = lb.pick() + path
            t0 = time.monotonic()
            try:
                async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=20), **kw) as r:
                    body = await r.json(content_type=None)
                    ok = 200 <= r.status < 300
                    stats.record(ok, (time.monotonic() - t0) * 1000, f"{method} {url}: {r.status} {body}")
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


async def socket_player(lb: Balancer, stats: Stats, stop: asyncio.Event, tag: str,
                        chats: dict[str, int]) -> None:
    """A player on the realtime socket: joins a room and chats; reconnects when a node goes."""
    async with aiohttp.ClientSession() as http:
        async with http.post(lb.pick() + "/v2/account/authenticate/device",
                             json={"id": f"socket-{tag}-{uuid.uuid4().hex}"},
                             headers={"Authorization": BASIC}) as r:
            token = (await r.json())["token"]
        while not stop.is_set():
            base = lb.pick().replace("http://", "ws://")
            try:
                async with http.ws_connect(f"{base}/ws?token={token}&status=true") as ws:
                    await ws.send_json({"cid": "1", "channel_join": {"target": "upgrade", "type": 1}})
                    cid = 1
                    while not stop.is_set():
                        cid += 1
                        t0 = time.monotonic()
                        await ws.send_json({"cid": str(cid), "channel_message_send": {
                            "channel_id": "2...upgrade", "content": '{"hi": 1}'}})
                        acked = False
                        while not acked:
                            msg = await ws.receive(timeout=10)
                            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.CLOSING):
                                raise ConnectionResetError(f"closed {ws.close_code}")
                            if msg.type == aiohttp.WSMsgType.TEXT:
                                doc = msg.json()
                                if doc.get("cid") == str(cid):
                                    acked = "channel_message_ack" in doc
                                    stats.record(acked, (time.monotonic() - t0) * 1000, f"chat: {doc}")
                                    if not acked:
                                        break
                        chats[tag] = chats.get(tag, 0) + 1
                        await asyncio.sleep(0.1)
            except (TimeoutError, aiohttp.ClientError, ConnectionResetError):
                if stop.is_set():
                    return
                stats.reconnects += 1
                await asyncio.sleep(0.05)
