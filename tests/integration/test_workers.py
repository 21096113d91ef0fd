"""`kizuna server --workers N`: a supervisor and N worker processes serving one node's ports.

Each worker is a node of its own (`<name>-<i>` in the node registry); the supervisor starts a
private NATS server for them, restarts a worker that dies, stops them all on SIGTERM, and stops
everything (exit 1) when a worker cannot start. Nothing here depends on realtime state shared
between workers (the cluster's work, tested apart)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import (
    PG,
    ServerProcess,
    free_port,
    run_kizuna,
    server_on_fresh_database,
    start_server,
)

pytestmark = pytest.mark.timeout(60)

BASIC = "Basic ZGVmYXVsdGtleTo="  # defaultkey:


def wait_for(what: str, check, timeout: float = 20.0, srv: ServerProcess | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{srv.log()}" if srv else ""))


def log_pids(srv: ServerProcess, message: str) -> list[dict[str, str]]:
    """The key=value fields of every text log line with this message."""
    return [dict(re.findall(r"(\w+)=(\S+)", line.split(message, 1)[1]))
            for line in srv.log().splitlines() if f" {message} " in f"{line} "]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def nodes(db: str) -> list[tuple[str, str]]:
    """(name, state) of the node registry's rows (name: `<node>/<instance>`)."""
    async def query() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
        try:
            rows = await conn.fetch("SELECT name, state FROM kizuna_node ORDER BY name")
        finally:
            await conn.close()
        return [(r["name"], r["state"]) for r in rows]
    return asyncio.run(query())


def authenticate(url: str, device: str) -> int:
    req = urllib.request.Request(
        url + "/v2/account/authenticate/device?create=true",
        data=json.dumps({"id": device}).encode(), method="POST",
        headers={"Authorization": BASIC, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def all_serve(srv: ServerProcess) -> bool:
    return "All workers serve" in srv.log()


def three_free_ports() -> int:
    """A port p such that p, p + 1 and p + 2 are free (the node's metrics, then worker 0's and
    worker 1's)."""
    for _ in range(50):
        p = free_port()
        taken = False
        for q in (p + 1, p + 2):
            with socket.socket() as s:
                try:
                    s.bind(("0.0.0.0", q))
                except OSError:
                    taken = True
        if not taken:
            return p
    raise AssertionError("no three consecutive free ports")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def test_two_workers_serve_one_port(tmp_path: Path) -> None:
    config = tmp_path / "node.yml"
    config.write_text("name: kzw\n")  # --config still applies to the workers
    metrics = three_free_ports()
    with server_on_fresh_database(tmp_path, "--config", str(config), "--socket.workers", "2",
                                  "--metrics.prometheus_port", str(metrics)) as srv:
        wait_for("both workers", lambda: all_serve(srv), srv=srv)
        names = sorted(name.split("/")[0] for name, state in nodes(srv.db) if state == "serving")
        assert names == ["kzw-0", "kzw-1"], nodes(srv.db)
        workers = log_pids(srv, "Worker started")
        assert len(workers) == 2 and set(map(int, (w["pid"] for w in workers))) <= set(
            children(srv.proc.pid)), srv.log()
        # Every connection (urllib opens a new one each time) lands on one of the workers.
        for i in range(60):
            assert authenticate(srv.url, f"worker-device-{i:04d}") == 200
        # Worker i serves its own metrics on prometheus_port + 1 + i; the node's port serves
        # both workers' (each family once), as it served the single process's.
        own = []
        for i in range(2):
            own.append(scrape(metrics + 1 + i))
            assert f'node_name="kzw-{i}"' in own[i] and f'node_name="kzw-{1 - i}"' not in own[i]
        node = scrape(metrics)
        families = [line.split()[2] for line in node.splitlines() if line.startswith("# TYPE")]
        assert len(families) == len(set(families)) and "kizuna_api_requests_total" in families
        answered = {i: sum(float(line.rsplit(" ", 1)[1]) for line in node.splitlines()
                           if line.startswith("kizuna_api_requests_total{")
                           and f'node_name="kzw-{i}"' in line and 'status="200"' in line)
                    for i in range(2)}
        assert sum(answered.values()) >= 60, answered  # every request, whichever worker took it
        # prometheus-client's own series (no node_name of their own) are told apart by worker.
        assert 'process_resident_memory_bytes{node_name="kzw-0"}' in node
        assert 'process_resident_memory_bytes{node_name="kzw-1"}' in node
        assert "prometheus_port + 1 + i" in srv.log()


def test_a_killed_worker_is_restarted(tmp_path: Path) -> None:
    with server_on_fresh_database(tmp_path, "--socket.workers", "2", "--name", "kzk") as srv:
        wait_for("both workers", lambda: all_serve(srv), srv=srv)
        first = {name for name, _ in nodes(srv.db)}
        victim = next(w for w in log_pids(srv, "Worker started") if w["worker"] == "1")
        os.kill(int(victim["pid"]), signal.SIGKILL)
        died = wait_for("the restart", lambda: log_pids(srv, "Worker died: restarting it"),
                        srv=srv)
        assert died[0]["worker"] == "1" and died[0]["signal"] == "SIGKILL", died
        ready = wait_for("the new worker", lambda: [
            w for w in log_pids(srv, "Worker ready") if w["worker"] == "1"
            and w["pid"] != victim["pid"]], srv=srv)
        assert pid_alive(int(ready[0]["pid"]))
        new = {name for name, _ in nodes(srv.db)} - first
        assert [n.split("/")[0] for n in new] == ["kzk-1"], nodes(srv.db)
        for i in range(20):
            assert authenticate(srv.url, f"restart-device-{i:04d}") == 200
        # The private NATS server is started again too, on the same port.
        nats = log_pids(srv, "Started the private NATS server")[0]
        os.kill(int(nats["pid"]), signal.SIGKILL)
        again = wait_for("NATS again", lambda: log_pids(srv, "Started the private NATS server")[1:],
                         srv=srv)
        assert again[0]["url"] == nats["url"] and pid_alive(int(again[0]["pid"]))
        assert srv.proc.poll() is None


def test_sigterm_stops_everything(tmp_path: Path) -> None:
    with server_on_fresh_database(tmp_path, "--socket.workers", "2") as srv:
        wait_for("both workers", lambda: all_serve(srv), srv=srv)
        nats = int(log_pids(srv, "Started the private NATS server")[0]["pid"])
        workers = [int(w["pid"]) for w in log_pids(srv, "Worker started")]
        assert pid_alive(nats) and all(map(pid_alive, workers))
        started = time.monotonic()
        assert srv.stop(signal.SIGTERM, timeout=20) == 0, srv.log()
        assert time.monotonic() - started < 15
        assert not pid_alive(nats) and not any(map(pid_alive, workers)), srv.log()
        log = srv.log()
        assert "All workers stopped" in log and "Stopped the private NATS server" in log


def run_two_workers(tmp_path: Path, db_address: str, *flags: str):
    """`kizuna server` with two workers on a fresh database, run to its exit (a start that
    fails)."""
    return run_kizuna("server", "--migrate", "--database.address", db_address,
                      "--socket.port", str(free_port()), "--console.port", str(free_port()),
                      "--socket.workers", "2", "--logger.format", "text", *flags,
                      cwd=tmp_path, timeout=60)


def test_a_worker_that_cannot_start_stops_the_node(tmp_path: Path, db_address: str) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "broken.py").write_text(
        "def init_module(ctx, logger, nk, initializer):\n    raise ValueError('no way')\n")
    started = time.monotonic()
    r = run_two_workers(tmp_path, db_address, "--runtime.path", str(modules))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert time.monotonic() - started < 20
    assert "Worker exited before it served: stopping the node" in out
    assert "no way" in out  # the worker's own reason
    # The first worker starts alone: its error shows once, and nothing restarts it.
    assert out.count("Worker started") == 1
    assert out.count("kizuna: runtime module failed to load") == 1, out


def test_a_taken_metrics_port_stops_the_node_in_one_line(tmp_path: Path, db_address: str) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_two_workers(tmp_path, db_address, "--metrics.prometheus_port", str(port))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert f"cannot listen on metrics.prometheus_port {port}" in out
    assert "Worker started" not in out and "Traceback" not in out, out


def test_one_worker_is_one_process(tmp_path: Path, db_address: str) -> None:
    srv = start_server(["--workers", "1", "--migrate", "--database.address", db_address,
                        "--logger.format", "text"], tmp_path)
    try:
        assert children(srv.proc.pid) == []
        assert "Supervising workers" not in srv.log()
        assert authenticate(srv.url, "single-process-device") == 200
    finally:
        assert srv.stop() == 0
