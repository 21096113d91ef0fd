"""The nakama-js suites against one node run as two worker processes (`--socket.workers 2`, the
default on this 2-core machine): the kernel spreads the client's connections over the workers
(SO_REUSEPORT), so players of one test land on either worker and meet through the workers'
private NATS. Everything must behave as on a single process."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_nakama_js import FLAGS, HERE, MODULES

pytestmark = pytest.mark.timeout(300)
SUITES = ["realtime", "single_socket", "streams", "matches", "matchmaker", "parties", "runtime"]


@pytest.mark.parametrize("suite", SUITES)
def test_suite_on_two_workers(suite: str, server_factory, db_address: str, tmp_path: Path) -> None:
    name = f"{suite}.test.mjs"
    args = ["--migrate", "--database.address", db_address, "--logger.format", "text",
            "--socket.workers", "2", "--database.max_open_conns", "20"]
    if name in MODULES:
        modules = tmp_path / "modules"
        modules.mkdir()
        for f in MODULES[name]:
            shutil.copy(f, modules / f.name)
        args += ["--runtime.path", str(modules)]
    args += FLAGS.get(name, [])
    server = server_factory(*args)
    node = shutil.which("node")
    assert node
    proc = subprocess.run([node, "--test", "--test-reporter=spec", str(HERE / "js" / name)],
                          cwd=HERE, capture_output=True, text=True, timeout=280,
                          env={**os.environ, "KZ_E2E_PORT": str(server.port)})
    if proc.returncode != 0:
        pytest.fail(f"nakama-js suite {name} failed on two workers:\n{proc.stdout}\n"
                    f"{proc.stderr}\n--- server log ---\n{server.log()[-6000:]}")
