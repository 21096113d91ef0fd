"""Run the nakama-js end-to-end suites (tests/e2e/js/*.test.mjs) against a real kizuna server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SUITES = sorted(p.name for p in (HERE / "js").glob("*.test.mjs"))
# Suites that need server modules: the server loads these (a copy, in the test's tmp dir).
MODULES = {"runtime.test.mjs": [ROOT / "docs" / "examples" / "modules" / "example.py"],
           "leaderboards.test.mjs": [HERE / "modules" / "leaderboards.py"],
           "hooks.test.mjs": [HERE / "modules" / "hooks.py"],
           "streams.test.mjs": [HERE / "modules" / "streams.py"],
           "matches.test.mjs": [ROOT / "docs" / "examples" / "modules" / "tictactoe.py"],
           "matchmaker.test.mjs": [ROOT / "docs" / "examples" / "modules" / "tictactoe.py",
                                   ROOT / "docs" / "examples" / "modules" / "matchmaking.py"]}
# Suites that need a server started with extra flags (the others get the defaults).
FLAGS = {"single_socket.test.mjs": ["--session.single_socket", "true"],
         "presence.test.mjs": ["--socket.ping_period_ms", "400", "--socket.pong_wait_ms", "2500"]}


@pytest.mark.parametrize("suite", SUITES)
def test_nakama_js(suite: str, server_factory, db_address: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the end-to-end tests"
    assert (HERE / "node_modules" / "@heroiclabs" / "nakama-js").is_dir(), \
        "run `npm ci` in tests/e2e first (scripts/test does)"
    args = ["--migrate", "--database.address", db_address, "--logger.format", "text"]
    if suite in MODULES:
        modules = tmp_path / "modules"
        modules.mkdir()
        for f in MODULES[suite]:
            shutil.copy(f, modules / f.name)
        args += ["--runtime.path", str(modules)]
    args += FLAGS.get(suite, [])
    server = server_factory(*args)
    proc = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(HERE / "js" / suite)],
        cwd=HERE, capture_output=True, text=True, timeout=300,
        env={**os.environ, "KZ_E2E_PORT": str(server.port)})
    if proc.returncode != 0:
        pytest.fail(f"nakama-js suite {suite} failed:\n{proc.stdout}\n{proc.stderr}\n"
                    f"--- server log ---\n{server.log()[-4000:]}")
