"""Version and build information.

`__version__` is the release version (PEP 440). The commit is found, in order, in a `BUILD` file
next to this module (written by packaging, e.g. the Dockerfile), in the git checkout the package
runs from, or reported as `dev`.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent


@functools.cache
def commit() -> str:
    build = _HERE / "BUILD"
    if build.is_file():
        text = build.read_text().strip()
        if text:
            return text
    if (_HERE.parent / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "-C", str(_HERE.parent), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=5, check=True,
            )
            return out.stdout.strip() or "dev"
        except (OSError, subprocess.SubprocessError):
            pass
    return "dev"


def full_version() -> str:
    """`<version>+<commit>`, the form `kizuna --version` prints (as Nakama does)."""
    return f"{__version__}+{commit()}"
