"""Starting a node the way an operator does: `kizuna` with no flags in an empty directory
(embedded PostgreSQL under ./data), liveness endpoints, `kizuna healthcheck`, SIGTERM, --version,
and a one-line refusal when the database cannot be reached."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kizuna.version import __version__
from tests.conftest import KIZUNA, ROOT, _env, free_port, run_kizuna


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def request(url: str, method: str = "GET") -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


@pytest.fixture
def bare_node(tmp_path: Path):
    """`kizuna` run with no arguments at all in an empty directory.

    It listens on Nakama's 7350; when another node on this machine already has that port, the
    port comes from the environment instead (still no flags)."""
    cwd = tmp_path / "node"
    cwd.mkdir()
    env = _env()
    port = 7350
    if not _port_free(port):
        port = free_port()
        env["KIZUNA_SOCKET_PORT"] = str(port)
    if not _port_free(7351):  # the console's default port
        env["KIZUNA_CONSOLE_PORT"] = str(free_port())
    log = open(tmp_path / "node.log", "w")
    proc = subprocess.Popen([KIZUNA], cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"kizuna exited {proc.returncode}:\n{(tmp_path / 'node.log').read_text()}")
        try:
            if request(url + "/healthcheck")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("kizuna did not answer in 90s:\n" + (tmp_path / "node.log").read_text())
        time.sleep(0.1)
    yield proc, port, cwd, tmp_path / "node.log"
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_bare_start_with_embedded_postgres(bare_node) -> None:
    proc, port, cwd, log_path = bare_node
    url = f"http://127.0.0.1:{port}"
    assert (cwd / "data" / "postgres" / "PG_VERSION").exists()

    status, body, _ = request(url + "/healthcheck")
    assert (status, body) == (200, b"{}")
    status, body, _ = request(url + "/")
    assert (status, body) == (200, b"")
    status, body, headers = request(url + "/v2/no/such/path")
    assert status == 404
    assert json.loads(body) == {"code": 5, "message": "Not Found"}
    assert headers["Content-Type"].startswith("application/json")
    status, body, _ = request(url + "/healthcheck", method="DELETE")
    assert status == 501
    assert json.loads(body)["code"] == 12

    r = run_kizuna("healthcheck", str(port), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["msg"] == "healthcheck ok"
    closed = free_port()
    r = run_kizuna("healthcheck", str(closed), timeout=30)
    assert r.returncode == 1
    assert json.loads(r.stdout)["msg"] == "healthcheck failed"

    # the log: JSON lines, the insecure-defaults warning, the embedded database, startup done
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    msgs = [doc["msg"] for doc in lines]
    assert any("insecure default" in m for m in msgs)
    assert "Using the embedded PostgreSQL" in msgs and "Startup done" in msgs

    # `kizuna migrate ...` beside the running node shares its embedded PostgreSQL, and leaving
    # does not stop it under the node
    pidfile = cwd / "data" / "postgres" / "postmaster.pid"
    postmaster = pidfile.read_text().split()[0]
    env = {"KIZUNA_SOCKET_PORT": str(port)}
    r = run_kizuna("migrate", "status", "--json", cwd=cwd, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["database_exists"] and st["up_to_date"] and st["current"] == st["head"]
    assert run_kizuna("migrate", "verify", cwd=cwd, env=env, timeout=60).returncode == 0
    assert pidfile.read_text().split()[0] == postmaster
    assert proc.poll() is None
    assert request(url + "/healthcheck")[0] == 200

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "Shutdown complete" in log_path.read_text()
    # the embedded PostgreSQL stopped with its last user
    deadline = time.monotonic() + 20
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pidfile.exists()
    with pytest.raises(OSError):
        request(url + "/healthcheck")


def test_version() -> None:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "dev"
    for args in (("--version",), ("version",)):
        r = run_kizuna(*args, timeout=30)
        assert r.returncode == 0
        assert r.stdout.strip() == f"{__version__}+{commit}"


@pytest.mark.parametrize("command", [("server", "--socket.port", "1"), ("migrate", "up"),
                                     ("migrate", "status")])
def test_unreachable_database_is_one_line(command, tmp_path: Path) -> None:
    r = run_kizuna(*command, "--database.address", "postgres@127.0.0.1:1/x", cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stdout + r.stderr
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1, r.stderr
    assert "cannot reach PostgreSQL at postgres@127.0.0.1:1/x: connection refused" in err[0]


def test_port_in_use_is_one_line(server_factory, db_address: str, tmp_path: Path) -> None:
    node = server_factory("--migrate", "--database.address", db_address)
    r = run_kizuna("server", "--database.address", db_address, "--socket.port", str(node.port),
                   cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stdout + r.stderr, r.stderr
    assert f"cannot listen on *:{node.port}" in err[0]
    assert request(node.url + "/healthcheck")[0] == 200  # the first node is untouched


def test_password_never_shows_in_errors(tmp_path: Path) -> None:
    for command in (("server",), ("migrate", "up")):
        r = run_kizuna(*command, "--database.address", "postgres:hunter2@127.0.0.1:1/x",
                       cwd=tmp_path, timeout=60)
        assert r.returncode == 1
        assert "hunter2" not in r.stdout + r.stderr
        assert "postgres@127.0.0.1:1/x" in r.stderr
