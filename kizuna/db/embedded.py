"""The embedded PostgreSQL used when no `database.address` is configured.

It comes from the `pgserver` wheel (PostgreSQL 16 binaries), lives under `<data_dir>/postgres`,
listens on a Unix socket only, and is stopped when the last Kizuna process using it exits. A second
Kizuna process on the same data dir (say `kizuna migrate status` beside a running server) shares the
running instance.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

from kizuna.db.address import DatabaseAddress

log = logging.getLogger("kizuna.db")

DATABASE = "kizuna"


class EmbeddedError(RuntimeError):
    pass


_server = None


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without releasing the embedded server (SIGKILL, crash).

    pgserver keeps a list of the processes using an instance and stops it when the last one
    exits; a killed process never removes itself, which would keep the server alive forever.
    """
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if isinstance(p, int) and _pid_alive(p)]
    if alive != pids:
        try:
            path.write_text(json.dumps(alive))
        except OSError:
            pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(data_dir: str | Path) -> DatabaseAddress:
    """Start (or join) the embedded PostgreSQL and return its address."""
    global _server
    data = Path(data_dir)
    pgdata = data / "postgres"
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddedError(f"cannot create data directory {data}: {exc.strerror or exc}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise EmbeddedError(f"the embedded database needs the pgserver package: {exc}") from None
        if pgdata.exists():
            _prune_dead_handles(pgdata)
        try:
            _server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises plain exceptions; report them in one line
            logfile = pgdata / "log"
            raise EmbeddedError(
                f"cannot start the embedded PostgreSQL in {pgdata}: {type(exc).__name__}: {exc} "
                f"(its log is {logfile})"
            ) from None
    info = _server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(pgdata)
    port = int(getattr(info, "port", None) or 5432)
    return DatabaseAddress(user="postgres", host=socket_dir, port=port, database=DATABASE,
                           sslmode="disable")


def stop() -> None:
    """Release this process's handle; the server stops when no other process uses it."""
    global _server
    if _server is not None:
        server, _server = _server, None
        try:
            server._cleanup()
        except Exception as exc:  # pragma: no cover
            log.warning("embedded database did not stop cleanly: %s", exc)
