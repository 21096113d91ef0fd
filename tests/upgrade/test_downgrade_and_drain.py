"""Going back: `migrate down --to <previous head>` with this release, then the previous release
serves what this one wrote. And the graceful drain of a node under load."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from tests.conftest import free_port
from tests.upgrade.support import (
    BASIC,
    CURRENT,
    PREVIOUS_HEAD,
    Balancer,
    Node,
    Stats,
    http_player,
    install_previous,
    kizuna_cli,
)


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> list[str]:
    return install_previous(tmp_path_factory.mktemp("previous-release"))


def _post(url: str, body: dict, auth: str) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def test_downgrade_then_the_previous_release_serves_the_new_data(previous, db_address, tmp_path) -> None:
    addr = ["--database.address", db_address]
    r = kizuna_cli(CURRENT, "migrate", "up", *addr)
    assert r.returncode == 0, r.stderr
    new = Node(CURRENT, "newnode", free_port(), tmp_path / "new.log").start(*addr)
    session = _post(new.url + "/v2/account/authenticate/device", {"id": "downgrade-device-01"}, BASIC)
    uid = json.loads(__import__("base64").urlsafe_b64decode(session["token"].split(".")[1] + "=="))["uid"]
    req = urllib.request.Request(new.url + "/v2/storage", method="PUT", headers={
        "Authorization": "Bearer " + session["token"], "Content-Type": "application/json"},
        data=json.dumps({"objects": [{"collection": "saves", "key": "slot1",
                                      "value": '{"level": 7}', "permission_read": 2}]}).encode())
    urllib.request.urlopen(req, timeout=10)
    new.signal()
    assert new.wait(30) == 0, new.log()

    # Back to the previous release's schema, with this release.
    r = kizuna_cli(CURRENT, "migrate", "down", "--to", PREVIOUS_HEAD, "--backup.dir",
                   str(tmp_path / "backups"), *addr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0005_cluster_node" in r.stdout and list((tmp_path / "backups").glob("*.kzb"))

    old = Node(previous, "oldnode", free_port(), tmp_path / "old.log").start(*addr)
    try:
        again = _post(old.url + "/v2/account/authenticate/device", {"id": "downgrade-device-01"}, BASIC)
        assert "created" not in again
        req = urllib.request.Request(old.url + "/v2/storage", method="POST", headers={
            "Authorization": "Bearer " + again["token"], "Content-Type": "application/json"},
            data=json.dumps({"object_ids": [{"collection": "saves", "key": "slot1", "user_id": uid}]}).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            objects = json.load(resp)["objects"]
        assert [json.loads(o["value"]) for o in objects] == [{"level": 7}]
    finally:
        old.kill()


def _ready(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/kizuna/ready", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def test_drain_under_load(db_address, tmp_path) -> None:
    addr = ["--database.address", db_address]
    r = kizuna_cli(CURRENT, "migrate", "up", *addr)
    assert r.returncode == 0, r.stderr
    # Readiness must be seen turning 503 within the drain (5 s: far longer than one request takes
    # on any machine); the node must then exit on its own, well before the 60 s grace forces it.
    node = Node(CURRENT, "drainnode", free_port(), tmp_path / "node.log").start(
        *addr, "--shutdown_grace_sec", "60", "--shutdown_drain_sec", "5")
    try:
        assert _ready(node.url) == 200
        stats, exit_code, elapsed, close_code = asyncio.run(_drain_scenario(node))
        assert stats.failed == 0, stats.errors
        assert stats.sent > 50
        assert exit_code == 0, node.log()
        assert elapsed < 45, elapsed
        assert close_code == 1001
        assert "Draining" in node.log()
    finally:
        node.kill()


async def _drain_scenario(node: Node):
    lb = Balancer()
    lb.rotation = [node.url]
    stats = Stats()
    stop = asyncio.Event()

    async def health_checker() -> None:
        # The load balancer takes the node out of rotation when readiness says 503.
        while not stop.is_set():
            status = await asyncio.to_thread(_ready, node.url)
            if status != 200:
                stop.set()
            await asyncio.sleep(0.05)

    async with aiohttp.ClientSession() as http:
        async with http.post(node.url + "/v2/account/authenticate/device",
                             json={"id": "drain-socket-0001"}, headers={"Authorization": BASIC}) as r:
            token = (await r.json())["token"]
        ws = await http.ws_connect(node.url.replace("http", "ws") + f"/ws?token={token}")
        players = [asyncio.create_task(http_player(lb, stats, stop, f"d{i}")) for i in range(8)]
        checker = asyncio.create_task(health_checker())
        while stats.sent < 60:
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        node.signal(signal.SIGTERM)
        # Readiness turns 503 at once, while requests are still being served (the drain).
        deadline = time.monotonic() + 30
        while (status := await asyncio.to_thread(_ready, node.url)) == 200 \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert status == 503
        await asyncio.gather(*players)
        await checker
        msg = await ws.receive(timeout=60)
        close_code = ws.close_code if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) else None
        code = await asyncio.to_thread(node.wait, 60)
        elapsed = time.monotonic() - t0
    return stats, code, elapsed, close_code


def test_second_signal_forces_exit(db_address, tmp_path) -> None:
    addr = ["--database.address", db_address]
    r = kizuna_cli(CURRENT, "migrate", "up", *addr)
    assert r.returncode == 0, r.stderr
    # The drain alone would last 600 s: an exit (not 0) within the wait is the second signal's.
    node = Node(CURRENT, "stubborn", free_port(), tmp_path / "node.log").start(
        *addr, "--shutdown_grace_sec", "900", "--shutdown_drain_sec", "600")
    try:
        node.signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while "Draining" not in node.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Draining" in node.log()
        node.signal(signal.SIGTERM)
        code = node.wait(60)
        assert code != 0
        assert "Second signal" in node.log()
    finally:
        node.kill()
