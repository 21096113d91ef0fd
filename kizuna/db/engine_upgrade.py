"""`kizuna db upgrade`: move the embedded data directory to a newer PostgreSQL major, safely.

PostgreSQL's own tool does the work (`pg_upgrade`, from the newer engine of the wheel, in copy
mode); this module makes it an operation that cannot lose the old data:

1. Take the data directory's lock (nodes cannot start; refuse while a node uses the database).
2. Start the old engine, back the database up (`before_change`, the same automatic backup
   `migrate up` takes) and record every table's row count and digest (`kizuna.db.digest`).
3. Create the new cluster in a NEW directory (`postgres.upgrading-<major>`) with the old one's
   encoding, locale and checksum setting, and run `pg_upgrade --check`: nothing was changed
   before it passes.
4. Run `pg_upgrade` into the new directory. Copy mode never writes the old directory's data.
5. Start the new engine on the new directory and compare the row counts and digests. On any
   difference, the new directory is deleted and the old one keeps serving. Then what pg_upgrade
   asks for afterwards: its `update_extensions.sql` when it wrote one, and planner statistics.
6. Swap: the old directory becomes `postgres.pg<old major>`, the new one `postgres`. The old
   directory is kept until the operator asks for it to go (`--remove-old`, `kizuna db remove-old`).

A marker file (`postgres.upgrade.json`, with the phase and pg_upgrade's pid) exists from step 2
to the end: a start after an upgrade that was killed at any point finds it, stops what the dead
upgrade left running and puts the old directory back in service (`embedded.recover`); on Linux
the engine programs are also killed with the command. Run as root, the engine runs as the
system user `pgserver` (as the wheel does): so do initdb and pg_upgrade here, in a working
directory that user can write (the wheel's own `upgrade_db` fails as root there, and it would
enable checksums in the old directory, which this never writes).

The steps block the event loop (subprocesses): this runs in a command, never in a server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kizuna.db import embedded
from kizuna.db.address import DatabaseAddress
from kizuna.db.digest import compare, digests
from kizuna.db.embedded import EmbeddedError, Layout

SYSTEM_USER = "pgserver"  # the user the wheel runs PostgreSQL as when started by root


class UpgradeError(EmbeddedError):
    """An engine upgrade that stopped; the old directory is still the one that serves."""

    def __init__(self, message: str, hint: str = "", data: dict[str, Any] | None = None) -> None:
        super().__init__(message, hint)
        self.data = data or {}


Say = Callable[[str], None]
BeforeChange = Callable[[DatabaseAddress], Awaitable[str | None]]


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_user() -> str | None:
    return SYSTEM_USER if _as_root() else None


def _give(path: Path) -> None:
    """Make `path` the engine's when running as root (pg_upgrade needs its cwd writable)."""
    if _as_root():
        import pwd

        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_marker(layout: Layout, doc: dict[str, Any]) -> None:
    tmp = layout.marker.with_name(layout.marker.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, layout.marker)
    _fsync_dir(layout.data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child killed when the command that started it dies (Linux
    PR_SET_PDEATHSIG), so that a killed `kizuna db upgrade` leaves no pg_upgrade working on.
    It runs after the switch to the engine's user, which would clear the setting; everything it
    needs is loaded here, in the parent (that user may not read this Python's files)."""
    if sys.platform != "linux":
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    kill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(1, kill, 0, 0, 0)  # PR_SET_PDEATHSIG

    return preexec


def _exec(argv: list[str], *, cwd: Path, layout: Layout | None = None,
          marker: dict[str, Any] | None = None, timeout: float | None = None) -> tuple[int, str]:
    """Run an engine program (as the engine's user when root); its exit code and output. With
    `marker`, its pid is recorded there, so a start after this process died can stop it (on
    Linux it also dies with this process; the servers it started do not: `embedded.recover`)."""
    log_path = cwd / "commands.log"
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        start = log.tell()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                user=_run_user(),
                                preexec_fn=_die_with_parent())
        if marker is not None and layout is not None:
            _write_marker(layout, {**marker, "pg_upgrade_pid": proc.pid})
        try:
            code = proc.wait(timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    with open(log_path) as fh:
        fh.seek(start)
        return code, fh.read()


async def _database_exists(addr: DatabaseAddress) -> bool:
    from kizuna.db.connect import DatabaseMissing, connect

    try:
        conn = await connect(addr)
    except DatabaseMissing:
        return False
    await conn.close()
    return True


async def _snapshot(addr: DatabaseAddress) -> dict[str, Any] | None:
    """Row counts and digests of the kizuna database (None when it does not exist)."""
    from kizuna.db.connect import connect

    if not await _database_exists(addr):
        return None
    conn = await connect(addr, application_name="kizuna db upgrade")
    try:
        return await digests(conn)
    finally:
        await conn.close()


async def _cluster_settings(addr: DatabaseAddress) -> dict[str, Any]:
    """What the new cluster must share with the old one for pg_upgrade: template0's encoding and
    locale, and whether data checksums are on."""
    from kizuna.db.connect import connect

    conn = await connect(addr.with_database("postgres"), application_name="kizuna db upgrade")
    try:
        # The ICU (or, from 17, builtin) locale column is `datlocale` from 17, `daticulocale` before.
        locale_column = "datlocale" if conn.get_server_version().major >= 17 else "daticulocale"
        row = await conn.fetchrow(
            "SELECT pg_encoding_to_char(encoding) AS encoding, datcollate, datctype, "
            f"datlocprovider::text AS provider, {locale_column} AS locale "
            "FROM pg_database WHERE datname = 'template0'")
        checksums = await conn.fetchval("SHOW data_checksums")
        return {"encoding": row["encoding"], "lc_collate": row["datcollate"],
                "lc_ctype": row["datctype"], "provider": row["provider"], "locale": row["locale"],
                "checksums": checksums == "on",
                "server_version": await conn.fetchval("SHOW server_version")}
    finally:
        await conn.close()


def _initdb_args(settings: dict[str, Any], new: Path, to: int) -> list[str]:
    args = [str(embedded.engine_bin(to) / "initdb"), "--auth=trust", "--auth-local=trust",
            "-U", "postgres", "-D", str(new), f"--encoding={settings['encoding']}",
            f"--lc-collate={settings['lc_collate']}", f"--lc-ctype={settings['lc_ctype']}"]
    if settings["provider"] == "i":
        args += ["--locale-provider=icu", f"--icu-locale={settings['locale']}"]
    elif settings["provider"] == "b":
        args += ["--locale-provider=builtin", f"--builtin-locale={settings['locale']}"]
    else:
        args += ["--locale-provider=libc"]
    args += ["--data-checksums"] if settings["checksums"] else (
        ["--no-data-checksums"] if to >= 18 else [])
    return args


def plan_target(data_dir: str | Path, to: int | None) -> tuple[int, int]:
    """(from, to) for an upgrade of `data_dir`, or an UpgradeError saying why there is none."""
    layout = Layout(Path(data_dir))
    frm = embedded.pgdata_major(layout.live)
    if frm is None:
        raise UpgradeError(f"there is no embedded data directory at {layout.live}",
                           "Check --data_dir (or the node's --config); with database.address, "
                           "upgrade that PostgreSQL with its own tools (docs/upgrading.md).")
    shipped = embedded.shipped_majors()
    target = to if to is not None else max(shipped)
    if target not in shipped:
        raise UpgradeError(f"this release has no PostgreSQL {target} (it runs "
                           f"{', '.join(map(str, shipped))})")
    if frm not in shipped:
        err = embedded._unsupported(layout.live, frm)
        raise UpgradeError(err.message, err.hint)
    if target < frm:
        raise UpgradeError(f"{layout.live} is PostgreSQL {frm}; going down to {target} is not "
                           f"possible in place", "Restore a `kizuna backup` into a new data_dir "
                           "created with `kizuna db init --engine N` instead.")
    return frm, target


def _dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _check_space(layout: Layout) -> None:
    """pg_upgrade in copy mode writes a second copy of the data directory next to the first."""
    need = _dir_size(layout.live)
    free = shutil.disk_usage(layout.data).free
    if free < need * 1.1 + 64 * 2**20:
        raise UpgradeError(
            f"not enough free space for the upgrade: it copies {layout.live} "
            f"({need / 2**20:.0f} MiB) and {layout.data} has {free / 2**20:.0f} MiB free",
            "Free some space (old backups in backup.dir, a kept old engine directory: "
            "`kizuna db remove-old`), then run the upgrade again.")


def _psql_file(bin_dir: Path, addr: DatabaseAddress, script: Path, cwd: Path) -> None:
    """Run a psql script that pg_upgrade wrote (it may `\\connect` to each database)."""
    code, output = _exec([str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                          "-h", addr.host, "-p", str(addr.port), "-U", "postgres",
                          "-d", "postgres", "-f", str(script)], cwd=cwd)
    if code != 0:
        raise UpgradeError(f"{script.name} failed on the new engine:\n{_tail(output)}")


def _analyze(bin_dir: Path, addr: DatabaseAddress, to: int, cwd: Path) -> None:
    """Planner statistics for the new cluster: from 18, pg_upgrade carries them over and only
    the missing ones (extended statistics) are computed; before, every table is analysed."""
    only = ["--missing-stats-only"] if to >= 18 else []
    code, output = _exec([str(bin_dir / "vacuumdb"), "--all", "--analyze-only", *only,
                          "-h", addr.host, "-p", str(addr.port), "-U", "postgres"], cwd=cwd)
    if code != 0:
        raise UpgradeError(f"vacuumdb --analyze-only failed on the new engine:\n{_tail(output)}")


async def upgrade(data_dir: str | Path, *, to: int | None = None, check_only: bool = False,
                  remove_old: bool = False, before_change: BeforeChange | None = None,
                  say: Say = lambda _: None) -> dict[str, Any]:
    """Upgrade the embedded data directory under `data_dir` to PostgreSQL `to` (default: the
    newest this release runs). Returns what was done; raises UpgradeError with the old directory
    serving when it stops."""
    layout = Layout(Path(data_dir))
    started = time.monotonic()
    with embedded.data_lock(layout, wait=10, purpose="upgrade the engine"):
        recovered = embedded.recover(layout)
        if recovered:
            say(recovered)
        frm, target = plan_target(data_dir, to)
        result: dict[str, Any] = {"data_dir": str(layout.live), "from": frm, "to": target}
        if frm == target:
            say(f"{layout.live} is already PostgreSQL {frm}: nothing to do")
            return {**result, "state": "up to date"}
        keep = layout.old(frm)
        if keep.exists():
            raise UpgradeError(
                f"{keep} exists (the directory kept by an earlier engine upgrade)",
                "Remove it with `kizuna db remove-old` (after checking you no longer need it), "
                "then run the upgrade again.")
        users = embedded.other_users(layout.live)
        if users:
            raise UpgradeError(
                f"the embedded database is in use by other process(es) {', '.join(map(str, users))}",
                "Stop the Kizuna nodes and commands that use this data_dir, then run the upgrade "
                "again (pg_upgrade needs the old engine stopped).")
        new = layout.new(target)
        # pg_upgrade's servers listen here; short, as a socket path has a length limit.
        socket_dir = Path(tempfile.mkdtemp(prefix="kz-pgup-"))
        marker: dict[str, Any] = {"pid": os.getpid(), "from": frm, "to": target,
                                  "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  "phase": "backup", "socket_dir": str(socket_dir)}
        _write_marker(layout, marker)
        done = False
        try:
            # 1. The old engine: backup, digests, the settings the new cluster must share.
            say(f"starting PostgreSQL {frm} on {layout.live}")
            server = embedded.start_locked(layout.live, frm)
            try:
                addr = embedded.address_of(server)
                settings = await _cluster_settings(addr)
                has_db = await _database_exists(addr)
                if has_db and before_change is not None and not check_only:
                    result["backup"] = await before_change(addr)
                before = await _snapshot(addr) if has_db and not check_only else None
            finally:
                embedded.release(layout.live)
            embedded.stop_postmaster(layout.live)
            result["old_version"] = settings["server_version"]
            result["before"] = before
            _check_space(layout)

            # 2. The new cluster, in a new directory, and pg_upgrade --check.
            marker["phase"] = "check"
            _write_marker(layout, marker)
            embedded._rmtree(new)
            embedded._rmtree(layout.work)
            new.mkdir(mode=0o700)
            layout.work.mkdir(mode=0o700)
            for d in (new, layout.work, socket_dir):
                _give(d)
            say(f"creating the PostgreSQL {target} cluster in {new}")
            code, output = _exec(_initdb_args(settings, new, target), cwd=layout.work)
            if code != 0:
                raise UpgradeError(f"initdb of PostgreSQL {target} failed:\n{_tail(output)}")
            common = [str(embedded.engine_bin(target) / "pg_upgrade"),
                      "-b", str(embedded.engine_bin(frm)), "-B", str(embedded.engine_bin(target)),
                      "-d", str(layout.live), "-D", str(new), "-U", "postgres",
                      "-s", str(socket_dir), "--copy"]
            say("pg_upgrade --check")
            code, output = _exec([*common, "--check"], cwd=layout.work, layout=layout,
                                 marker=marker)
            result["check"] = _tail(output, 40)
            if code != 0:
                raise UpgradeError(
                    f"pg_upgrade --check refused the upgrade (nothing was changed):\n{_tail(output)}",
                    "Fix what it names and run the upgrade again.")
            if check_only:
                say("pg_upgrade --check passed: the upgrade can go ahead")
                return {**result, "state": "check passed"}

            # 3. The upgrade itself, into the new directory.
            marker["phase"] = "upgrade"
            _write_marker(layout, marker)
            say(f"pg_upgrade {frm} → {target} (copy mode: {layout.live} is not modified)")
            code, output = _exec(common, cwd=layout.work, layout=layout, marker=marker)
            if code != 0:
                raise UpgradeError(f"pg_upgrade failed (the old directory is unchanged):\n"
                                   f"{_tail(output)}")

            # 4. Verification on the new engine (and what pg_upgrade asks to run after it).
            marker["phase"] = "verify"
            marker.pop("pg_upgrade_pid", None)
            _write_marker(layout, marker)
            say(f"starting PostgreSQL {target} on {new} to verify")
            server = embedded.start_locked(new, target)
            try:
                addr = embedded.address_of(server)
                extensions = layout.work / "update_extensions.sql"
                if extensions.exists():
                    say("updating extensions (pg_upgrade's update_extensions.sql)")
                    _psql_file(embedded.engine_bin(target), addr, extensions, layout.work)
                after = await _snapshot(addr) if has_db else None
                result["new_version"] = (await _cluster_settings(addr))["server_version"]
                problems = compare(before, after) if before is not None and after is not None \
                    else ([] if before is None and after is None
                          else ["the kizuna database is missing after"])
                if not problems:
                    say("planner statistics (vacuumdb --analyze-only)")
                    _analyze(embedded.engine_bin(target), addr, target, layout.work)
            finally:
                embedded.release(new)
            embedded.stop_postmaster(new)
            result["after"] = after
            result["verification"] = problems or "equal"
            if problems:
                raise UpgradeError(
                    "verification failed: the upgraded copy differs from the old directory:\n  "
                    + "\n  ".join(problems),
                    f"Nothing was swapped: {layout.live} (PostgreSQL {frm}) keeps serving.",
                    {"before": before, "after": after})

            # 5. The swap. A kill between the two renames is undone at the next start.
            marker["phase"] = "swap"
            _write_marker(layout, marker)
            (new / ".handle_pids.json").unlink(missing_ok=True)
            os.rename(layout.live, keep)
            os.rename(new, layout.live)
            _fsync_dir(layout.data)
            layout.marker.unlink()
            _fsync_dir(layout.data)
            done = True
            result["kept_old"] = str(keep)
            say(f"{layout.live} is now PostgreSQL {target}; the PostgreSQL {frm} directory is "
                f"kept at {keep}")
        finally:
            if not done:
                # Anything short of the swap: the old directory was never written. Stop what
                # may still run (a server pg_upgrade started, ours on the new directory) and
                # drop the half-made new directory.
                for d in (layout.live, new):
                    embedded.stop_postmaster(d)
                embedded._rmtree(new)
            embedded._rmtree(layout.work)
            shutil.rmtree(socket_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                layout.marker.unlink()
        if remove_old:
            shutil.rmtree(keep)
            result["kept_old"] = None
            say(f"removed {keep} (--remove-old)")
        result["state"] = "upgraded"
        result["seconds"] = round(time.monotonic() - started, 2)
        return result


def remove_old(data_dir: str | Path) -> list[str]:
    """Delete the directories kept by earlier engine upgrades (never while one runs)."""
    layout = Layout(Path(data_dir))
    with embedded.data_lock(layout, wait=10, purpose="remove old engine directories"):
        gone = []
        for d in layout.kept_old():
            embedded.stop_postmaster(d)
            shutil.rmtree(d)
            gone.append(str(d))
        return gone


def init(data_dir: str | Path, major: int | None) -> dict[str, Any]:
    """Create the embedded data directory on a chosen major (default: the release's)."""
    layout = Layout(Path(data_dir))
    with embedded.data_lock(layout, purpose="create the data directory"):
        found = embedded.pgdata_major(layout.live)
        if found is not None:
            raise UpgradeError(f"{layout.live} already exists (PostgreSQL {found})")
        target = major if major is not None else embedded.default_major()
        if target not in embedded.shipped_majors():
            raise UpgradeError(f"this release has no PostgreSQL {target} (it runs "
                               f"{', '.join(map(str, embedded.shipped_majors()))})")
        embedded.start_locked(layout.live, target)
        embedded.release(layout.live)
        return {"data_dir": str(layout.live), "major": target}
