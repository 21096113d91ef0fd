"""The nakama-js suites against one node run as two worker processes (`--socket.workers 2`, the
default on this 2-core machine): the kernel spreads the client's connections over the workers
(SO_REUSEPORT), so players of one test land on either worker and meet through the workers'
private NATS. Everything must behave as on a single process."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, server_on_fresh_database
from tests.e2e.test_nakama_js import FLAGS, HERE, MODULES

pytestmark = pytest.mark.timeout(300)
SUITES = ["realtime", "single_socket", "streams", "matches", "matchmaker", "parties", "runtime"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, ServerProcess]]:
    """Two-worker nodes shared by the suites: one per set of flags, with every module the
    suites need (each suite makes its own players)."""
    tmp_path = tmp_path_factory.mktemp("workers-js")
    modules = tmp_path / "modules"
    modules.mkdir()
    for suite in SUITES:
        for f in MODULES.get(f"{suite}.test.mjs", []):
            shutil.copy(f, modules / f.name)
    started: dict[str, ServerProcess] = {}
    contexts = []
    try:
        for flags in sorted({tuple(FLAGS.get(f"{s}.test.mjs", [])) for s in SUITES}):
            ctx = server_on_fresh_database(tmp_path, "--socket.workers", "2",
                                           "--database.max_open_conns", "20",
                                           "--runtime.path", str(modules), *flags)
            started[" ".join(flags)] = ctx.__enter__()
            contexts.append(ctx)
        yield started
    finally:
        for ctx in contexts:
            ctx.__exit__(None, None, None)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_on_two_workers(suite: str, servers: dict[str, ServerProcess]) -> None:
    name = f"{suite}.test.mjs"
    server = servers[" ".join(FLAGS.get(name, []))]
    node = shutil.which("node")
    assert node
    proc = subprocess.run([node, "--test", "--test-reporter=spec", str(HERE / "js" / name)],
                          cwd=HERE, capture_output=True, text=True, timeout=280,
                          env={**os.environ, "KZ_E2E_PORT": str(server.port)})
    if proc.returncode != 0:
        pytest.fail(f"nakama-js suite {name} failed on two workers:\n{proc.stdout}\n"
                    f"{proc.stderr}\n--- server log ---\n{server.log()[-6000:]}")
