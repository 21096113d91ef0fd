"""Shutdown functions, seen through the official client: a module's `register_shutdown` function
runs when the server stops (SIGTERM) and what it writes is there for players on the next server."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _node(phase: str, device: str, port: int) -> None:
    proc = subprocess.run(
        [shutil.which("node") or "node", str(HERE / "js" / "shutdown_phase.mjs"), phase, device],
        cwd=HERE, capture_output=True, text=True, timeout=120,
        env={**os.environ, "KZ_E2E_PORT": str(port)})
    assert proc.returncode == 0, f"{phase}:\n{proc.stdout}\n{proc.stderr}"


def test_a_shutdown_function_tells_players_about_the_restart(server_factory, db_address: str,
                                                            tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(HERE / "modules" / "shutdown.py", modules / "shutdown.py")
    args = ["--migrate", "--database.address", db_address, "--logger.format", "text",
            "--runtime.path", str(modules), "--shutdown_grace_sec", "10"]
    device = f"device-{uuid.uuid4()}"
    first = server_factory(*args)
    _node("before", device, first.port)
    assert first.stop() == 0  # SIGTERM: the shutdown function runs within the grace period
    assert "told 1 players about the restart" in first.log()
    second = server_factory(*args)
    _node("after", device, second.port)
