"""Version and build information.

`__version__` is the release version (PEP 440): the one the release manifest, the migration
journal (`migrate status`'s `by` column) and the node registry record, and the one
`pip show kizuna` prints. `commit()` identifies the build within the release; `full_version()`
is `<version>+<commit>`, what `kizuna --version`, the `Kizuna-Version` header and
`GET /kizuna/version` report.

The commit is found, in order:

1. in the `BUILD` file next to this module, written when the package is built: `setup.py`
   records `$KIZUNA_COMMIT` or the checkout's `git rev-parse --short=12 HEAD` in every wheel
   (so in `pip install .`) and sdist (so in a wheel built from it, where there is no git); the
   Dockerfile may write it too;
2. from git, when the package runs from a checkout (an editable install, or `python -m kizuna`
   in the source tree): the live HEAD, so it follows new commits;
3. otherwise `dev`: a build from a tree without git and without `KIZUNA_COMMIT`.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__version__ = "0.1.0"

BUILD_FILE = "BUILD"
_HERE = Path(__file__).resolve().parent


def git_commit(top: Path) -> str | None:
    """The commit checked out at `top`, when `top` is the top of a git work tree (a directory
    inside some other repository, such as an unpacked sdist, does not count)."""
    if not (top / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(top), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def read_build_file(package_dir: Path) -> str | None:
    """The build identifier recorded in `<package_dir>/BUILD`, if any."""
    try:
        text = (package_dir / BUILD_FILE).read_text().strip()
    except OSError:
        return None
    return text.splitlines()[0].strip() if text else None


@functools.cache
def commit() -> str:
    return read_build_file(_HERE) or git_commit(_HERE.parent) or "dev"


def full_version() -> str:
    """`<version>+<commit>`, the form `kizuna --version` prints (as Nakama does)."""
    return f"{__version__}+{commit()}"
