"""The operator procedure of docs/upgrading.md, run as written (issues 18 and 21).

A scripted operator upgrades a two-node cluster from the previous release to this one, then goes
back, while players keep playing through the test's load balancer. The commands it runs are the
```sh blocks of docs/upgrading.md marked `<!-- procedure: <section> step <n> -->`, taken from the
markdown at run time: only the documented placeholders are replaced (`/etc/kizuna/kizuna.yml`
by the machine's configuration file, `NODE:7350` by the node's address, `<previous head>`, the
backup path) and `kizuna` is the release the docs name (the new one, for every command of these
two sections). A marked block that is missing, a command the operator cannot run (not `kizuna`,
`curl` or `until`), a placeholder left over, or a command that exits non-zero fails the test.

What the docs say in prose is done the way they say it:

- nodes start as `deploy/kizuna.service` starts them (its `ExecStartPre` and `ExecStart` lines,
  with `/opt/kizuna/bin/kizuna` the release of the machine), and stop as systemd stops them
  (`KillSignal`, then up to `TimeoutStopSec` for the exit, which must be 0);
- each machine has its own configuration file, with the keys of `deploy/kizuna.yml`
  (`shutdown_grace_sec: 30`, `shutdown_drain_sec: 5`) and `shutdown_drain_sec` only while it
  runs this release;
- the load balancer checks every node each second and takes it out after 2 failed checks, on
  `/kizuna/ready`; the previous release has no readiness, so this upgrade is the first hop: its
  nodes are checked on `/healthcheck` and taken out of the load balancer by hand before they
  stop, once no request reaches them;
- downgrade step 2 (find the previous head) reads the target schema of the previous release's
  `kizuna upgrade plan`, the first of the three places the docs give.

The previous release is synthetic (a commit of this repository, see support.py); this release's
manifest says `rolling_upgrade: no` because it is the first real release, so the plan's
`rolling upgrade:` line says `no`. The test checks that that is the only reason and follows the
rolling procedure all the same: that is what the procedure is for from the next release on.

The load is the one of test_rolling_upgrade.py, with its accounting: every request and every
chat message must succeed; a chat message whose socket closed first is sent again after the
reconnect and must then be acknowledged, and every acknowledged message must be in the channel's
history at the end. While the downgrade has no node serving (its step 1 stops every node of this
release), requests wait in the load balancer's queue, as behind a real one; none may fail.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import _env, free_port, pg_dsn
from tests.upgrade.support import (
    CURRENT,
    LIVENESS,
    PREVIOUS_HEAD,
    READY,
    ChatLedger,
    HealthCheckedBalancer,
    Stats,
    channel_history,
    http_player,
    install_previous,
    socket_player,
)

ROOT = Path(__file__).resolve().parents[2]
UPGRADING = ROOT / "docs" / "upgrading.md"
UNIT = ROOT / "deploy" / "kizuna.service"

ROLLING = [f"rolling-upgrade step {n}" for n in ("1", "2", "3", "4.3", "5", "6")]
DOWNGRADE = [f"downgrade step {n}" for n in ("3", "4")]
# What an operator's shell runs in these blocks; anything else is a change the test cannot follow.
RUNNABLE = {"kizuna", "curl", "until"}
# Substituted by the test; any of these left in a command (outside a comment) fails the test.
PLACEHOLDER = re.compile(r"<[^>]*>|\bNODE\b|/etc/|/srv/|/var/|/opt/")
DRAIN_SEC = 5  # deploy/kizuna.yml
GRACE_SEC = 30


# ----------------------------------------------------------------------------------------------
# the docs
# ----------------------------------------------------------------------------------------------

def procedure_blocks(text: str) -> dict[str, list[str]]:
    """The marked ```sh blocks: `<!-- procedure: NAME -->` right before the fence -> its lines
    (continuations joined; blank lines and whole-line comments dropped)."""
    blocks: dict[str, list[str]] = {}
    pattern = r"<!-- procedure: ([^>]+?) -->\n[ \t]*```sh\n(.*?)\n[ \t]*```"
    for m in re.finditer(pattern, text, re.S):
        body = textwrap.dedent(m.group(2)).replace("\\\n", " ")
        assert m.group(1) not in blocks, f"docs/upgrading.md marks {m.group(1)!r} twice"
        blocks[m.group(1)] = [ln.strip() for ln in body.splitlines()
                              if ln.strip() and not ln.strip().startswith("#")]
    return blocks


def check_runnable(name: str, line: str) -> None:
    words = shlex.split(line, comments=True)
    assert words and words[0] in RUNNABLE, (
        f"docs/upgrading.md, {name}: the scripted operator cannot run {line!r} "
        f"(it runs {sorted(RUNNABLE)}): update tests/upgrade/test_documented_procedure.py")


def substitute(name: str, line: str, subs: dict[str, str]) -> str:
    for placeholder, value in subs.items():
        line = line.replace(placeholder, value)
    left = [w for w in shlex.split(line, comments=True) if PLACEHOLDER.search(w)]
    assert not left, (f"docs/upgrading.md, {name}: {line!r} has placeholders the test does not "
                      f"know: {left}")
    return line


def unit_command(key: str) -> tuple[bool, str]:
    """deploy/kizuna.service's `key=` line: (failure allowed, command)."""
    m = re.search(rf"^{key}=(.*)$", UNIT.read_text(), re.M)
    assert m, f"deploy/kizuna.service has no {key}="
    cmd = m.group(1).strip()
    return cmd.startswith("-"), cmd.lstrip("-")


def unit_stop_timeout() -> float:
    m = re.search(r"^TimeoutStopSec=(\d+)s?$", UNIT.read_text(), re.M)
    assert m, "deploy/kizuna.service has no TimeoutStopSec="
    return float(m.group(1))


def test_procedure_blocks_are_marked_and_runnable() -> None:
    blocks = procedure_blocks(UPGRADING.read_text())
    for name in ROLLING + DOWNGRADE:
        assert name in blocks, (f"docs/upgrading.md has no ```sh block marked "
                                f"`<!-- procedure: {name} -->`")
        assert blocks[name], name
        for line in blocks[name]:
            check_runnable(name, line)


# ----------------------------------------------------------------------------------------------
# the machines
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> list[str]:
    return install_previous(tmp_path_factory.mktemp("previous-release"))


def shim(directory: Path, argv: list[str]) -> Path:
    """A `kizuna` on PATH (and as /opt/kizuna/bin/kizuna) that runs the given release."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kizuna"
    path.write_text(f"#!/bin/sh\nexec {shlex.join(argv)} \"$@\"\n")
    path.chmod(0o755)
    return path


@dataclass
class Machine:
    name: str
    port: int
    home: Path  # its /var/lib/kizuna (data_dir, WorkingDirectory)
    db_address: str
    proc: subprocess.Popen | None = None
    release: str = ""
    console_port: int = field(default_factory=free_port)  # two machines share this host

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:  # its /etc/kizuna/kizuna.yml
        return self.home / "kizuna.yml"

    @property
    def log_path(self) -> Path:
        return self.home / "journal.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def write_config(self, new_release: bool) -> None:
        doc: dict = {"name": self.name, "data_dir": str(self.home),
                     "shutdown_grace_sec": GRACE_SEC,
                     "logger": {"format": "text"}, "socket": {"port": self.port},
                     "console": {"port": self.console_port},
                     "database": {"address": [self.db_address]}}
        if new_release:  # the first hop: the previous release refuses a key it does not know
            doc["shutdown_drain_sec"] = DRAIN_SEC
            doc["socket"]["workers"] = 1  # one process per machine, as the old release runs
        self.config.write_text(json.dumps(doc, indent=2) + "\n")  # JSON is YAML

    def start(self, kizuna: Path, release: str) -> subprocess.CompletedProcess:
        """`systemctl start kizuna`: the unit's ExecStartPre, then its ExecStart."""
        self.release = release
        subs = {"/opt/kizuna/bin/kizuna": str(kizuna), "/etc/kizuna/kizuna.yml": str(self.config)}
        may_fail, pre = unit_command("ExecStartPre")
        for a, b in subs.items():
            pre = pre.replace(a, b)
        r = subprocess.run(shlex.split(pre), capture_output=True, text=True, timeout=120,
                           env=_env(), cwd=self.home)
        with open(self.log_path, "a") as fh:
            fh.write(f"--- ExecStartPre ({release}): exit {r.returncode}\n{r.stdout}{r.stderr}")
        assert r.returncode == 0 or may_fail, r.stdout + r.stderr
        _, start = unit_command("ExecStart")
        for a, b in subs.items():
            start = start.replace(a, b)
        fh = open(self.log_path, "a")
        self.proc = subprocess.Popen(shlex.split(start), stdout=fh, stderr=subprocess.STDOUT,
                                     env=_env(), cwd=self.home)
        return r

    def stop(self) -> int:
        """`systemctl stop kizuna`: the unit's KillSignal (SIGTERM), then TimeoutStopSec."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(unit_stop_timeout())
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"{self.name} did not stop within TimeoutStopSec:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Operator:
    """Runs the marked blocks of docs/upgrading.md and keeps a transcript."""

    blocks: dict[str, list[str]]
    transcript: list[str]

    def run(self, name: str, kizuna: Path, machine: Machine, extra: dict[str, str] | None = None,
            ok_codes: tuple[int, ...] = (0,), timeout: float = 120) -> list[subprocess.CompletedProcess]:
        subs = {"/etc/kizuna/kizuna.yml": str(machine.config),
                "NODE:7350": f"127.0.0.1:{machine.port}", **(extra or {})}
        env = {**_env(), "PATH": f"{kizuna.parent}:{_env().get('PATH', '')}"}
        results = []
        for line in self.blocks[name]:
            check_runnable(name, line)
            cmd = substitute(name, line, subs)
            r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True,
                               timeout=timeout, env=env, cwd=machine.home)
            self.transcript.append(f"[{machine.name}] {name}: $ {cmd}\n  -> exit {r.returncode}")
            assert r.returncode in ok_codes, (
                f"docs/upgrading.md, {name}, on {machine.name}: `{cmd}` exited {r.returncode}\n"
                f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
            results.append(r)
        return results


# ----------------------------------------------------------------------------------------------
# the procedure
# ----------------------------------------------------------------------------------------------

def test_documented_upgrade_and_downgrade_under_load(previous, db_address, db_name, tmp_path,
                                                     capsys) -> None:
    blocks = procedure_blocks(UPGRADING.read_text())
    for name in ROLLING + DOWNGRADE:
        assert name in blocks, f"docs/upgrading.md has no block marked {name!r}"
    old_kizuna = shim(tmp_path / "previous-bin", previous)
    new_kizuna = shim(tmp_path / "new-bin", CURRENT)
    machines = []
    for i in (1, 2):
        home = tmp_path / f"kizuna{i}"
        home.mkdir()
        machines.append(Machine(f"kizuna{i}", free_port(), home, db_address))
    op = Operator(blocks, [])
    try:
        asyncio.run(asyncio.wait_for(
            _procedure(op, machines, old_kizuna, new_kizuna, db_name, tmp_path, capsys), 220))
    except BaseException:
        print("\n".join(op.transcript))
        for m in machines:
            print(f"--- {m.name} log\n{m.log()[-4000:]}")
        raise
    finally:
        for m in machines:
            m.kill()


async def _until(pred, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def _procedure(op: Operator, machines: list[Machine], old_kizuna: Path, new_kizuna: Path,
                     db_name: str, tmp_path: Path, capsys) -> None:
    m1 = machines[0]
    lb = HealthCheckedBalancer(interval=1.0, fall=2)
    checks = asyncio.create_task(lb.run())

    # The cluster before the upgrade: two nodes of the previous release (no readiness: the load
    # balancer checks them on /healthcheck, as the first hop says).
    for m in machines:
        m.write_config(new_release=False)
        await asyncio.to_thread(m.start, old_kizuna, "previous")
        lb.add(m.url, LIVENESS)
    for m in machines:
        await lb.in_rotation(m.url, timeout=60)

    stats, ledger, stop = Stats(), ChatLedger(), asyncio.Event()
    players = [asyncio.create_task(http_player(lb, stats, stop, f"p{i}")) for i in range(4)]
    sockets = [asyncio.create_task(socket_player(lb, stats, stop, f"s{i}", ledger)) for i in range(4)]
    await _until(lambda: stats.sent > 50 and len(ledger.per_player()) == 4, what="load running")

    async def more_load(n: int = 30) -> None:
        before, chats = stats.sent, ledger.per_player()
        await _until(lambda: stats.sent > before + n
                     and all(ledger.per_player()[t] > chats[t] for t in chats),
                     what="load served")

    run = asyncio.to_thread

    # Rolling upgrade, step 1: read the plan (with the new release).
    [plan] = await run(op.run, "rolling-upgrade step 1", new_kizuna, m1)
    out = plan.stdout
    assert "blocked:" not in out, out
    assert re.search(r"^old nodes keep serving: yes", out, re.M), out
    assert re.search(r"^first hop:", out, re.M), out  # from a release without readiness
    rolling = re.search(r"^rolling upgrade: (.*)$", out, re.M)
    assert rolling, out
    # The synthetic previous release is not in this release's manifest: see the docstring.
    assert rolling.group(1).startswith("yes") or "first release" in rolling.group(1), out
    target = re.search(r"^Upgrade of .* to Kizuna \S+ \(schema (\S+)\)$", out, re.M)
    assert target, out
    verdicts = re.findall(r"^\s+\d{4}_\w+ \[[^\]]*\] → (.*)$", out, re.M)
    assert verdicts and all(v.strip() in ("online", "brief lock") for v in verdicts), out
    assert re.search(r"^backup: ", out, re.M) and re.search(r"^clients tested", out, re.M), out

    # Step 2: a copy of the backup elsewhere.
    backup = tmp_path / "srv-backups" / "before-upgrade.kzb"
    backup.parent.mkdir()
    await run(op.run, "rolling-upgrade step 2", new_kizuna, m1,
              {"/srv/backups/before-upgrade.kzb": str(backup)})
    assert backup.stat().st_size > 0

    # Step 3: expand, under the old nodes' traffic. A contract step would be refused (exit 1,
    # expected by the docs); this release has none, so it must succeed.
    [expand] = await run(op.run, "rolling-upgrade step 3", new_kizuna, m1, ok_codes=(0, 1))
    assert expand.returncode == 0 or "contract migration" in expand.stderr, \
        expand.stdout + expand.stderr
    assert "0005_cluster_node" in expand.stdout, expand.stdout
    await more_load()

    # Step 4: one machine at a time.
    for m in machines:
        # 4.1, the first hop's way: out of the load balancer first, no request reaching it, stop.
        lb.disable(m.url)
        await lb.idle(m.url)
        code = await run(m.stop)
        assert code == 0, m.log()
        lb.remove(m.url)
        # 4.2: install the new release (its keys with it) and start it as the unit does.
        m.write_config(new_release=True)
        pre = await run(m.start, new_kizuna, "new")
        assert pre.returncode == 0, pre.stdout + pre.stderr  # nothing to do: no contract step
        # 4.3: wait until it is ready; the load balancer checks it on /kizuna/ready.
        await run(op.run, "rolling-upgrade step 4.3", new_kizuna, m, timeout=90)
        lb.add(m.url, READY)
        await lb.in_rotation(m.url)
        await more_load()

    # Step 5: contract (nothing to apply in this release).
    await run(op.run, "rolling-upgrade step 5", new_kizuna, m1)

    # Step 6: verify each node.
    version = (await run(lambda: subprocess.run([str(new_kizuna), "--version"], capture_output=True,
                                                text=True, env=_env()))).stdout.strip()
    for m in machines:
        results = await run(op.run, "rolling-upgrade step 6", new_kizuna, m)
        text = "\n".join(r.stdout for r in results)
        assert re.search(r"^kizuna-version: ", text, re.M | re.I), text
        found = re.search(r'"version":\s*"([^"]+)"', text)
        assert found and found.group(1) in version, (version, text)
        assert f'"schema": "{target.group(1)}"' in text.replace('":"', '": "'), text
    await more_load()

    # Downgrade, step 1: stop the nodes of the new release. Readiness turns 503 and the load
    # balancer takes each out within the drain; the last stop leaves no node serving.
    for m in machines:
        m.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        took = await lb.out_of_rotation(m.url, timeout=DRAIN_SEC + 10)
        assert took < DRAIN_SEC, f"the load balancer took {took:.1f} s to take {m.name} out"
        code = await run(m.proc.wait, unit_stop_timeout())  # type: ignore[union-attr]
        assert code == 0, m.log()
        lb.remove(m.url)
        # The previous release refuses this release's keys (docs: downgrade step 1).
        m.write_config(new_release=False)

    # Step 2: the previous head, as the previous release's plan names its target schema.
    r = await run(subprocess.run, [str(old_kizuna), "upgrade", "plan", "--config", str(m1.config)],
                  capture_output=True, text=True, env=_env(), cwd=m1.home, timeout=120)
    op.transcript.append(f"[kizuna1] downgrade step 2: previous release's upgrade plan -> exit "
                         f"{r.returncode}\n{r.stdout}{r.stderr}")
    head = re.search(r"^Upgrade of .* \(schema (\S+)\)$", r.stdout, re.M)
    assert head, r.stdout + r.stderr
    assert head.group(1) == PREVIOUS_HEAD
    previous_head = {"<previous head>": head.group(1)}

    # Steps 3 and 4, with the new release.
    await run(op.run, "downgrade step 3", new_kizuna, m1, previous_head)
    [down] = await run(op.run, "downgrade step 4", new_kizuna, m1, previous_head)
    assert "0005_cluster_node" in down.stdout, down.stdout

    # Step 5: the previous release (without this release's keys) starts; its `migrate up` (the
    # unit's ExecStartPre) finds nothing to apply.
    for m in machines:
        pre = await run(m.start, old_kizuna, "previous")
        assert pre.returncode == 0, pre.stdout + pre.stderr
        lb.add(m.url, LIVENESS)
    for m in machines:
        await lb.in_rotation(m.url, timeout=60)
    await more_load()

    stop.set()
    saved = [pair for res in await asyncio.gather(*players) for pair in res]
    await asyncio.wait_for(asyncio.gather(*sockets), 60)

    assert stats.failed == 0, stats.errors
    assert ledger.lost() == [], ledger.summary()
    assert ledger.refused == [] and ledger.unanswered == [], ledger.summary()
    assert ledger.closes[1001] >= 1, ledger.summary()  # the drains of this release's nodes
    history = await channel_history(lb)
    assert ledger.missing_from(history) == [], ledger.summary()
    conn = await asyncpg.connect(pg_dsn(db_name))
    try:
        rows = await conn.fetch(
            "SELECT d.id AS device, s.value::text AS value FROM storage s "
            "JOIN user_device d ON d.user_id = s.user_id WHERE s.collection = 'saves'")
    finally:
        await conn.close()
    stored = {r["device"]: r["value"] for r in rows}
    for device, value in saved:
        assert json.loads(stored[device]) == json.loads(value), device
    checks.cancel()
    with capsys.disabled():
        print(f"\ndocumented procedure: {len(op.transcript)} documented commands run; "
              f"{stats.sent} requests/chat messages, {stats.failed} failed, longest "
              f"{stats.longest_ms:.0f} ms, longest wait for a node {lb.longest_wait:.1f} s; "
              f"{ledger.summary()}, {len(history)} in the history; {len(saved)} saves checked")
