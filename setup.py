"""Build hooks (everything else is in pyproject.toml).

They record which commit a build comes from in the package itself, as `kizuna/BUILD`, which
`kizuna.version.commit()` reads: `kizuna --version`, the `Kizuna-Version` header and
`GET /kizuna/version` then identify the build however it was installed. The identifier is, in
order: the `KIZUNA_COMMIT` environment variable (CI, image builds from a tree without `.git`),
`git rev-parse --short=12 HEAD` when building from a git checkout, or the `kizuna/BUILD` an sdist
carries (a wheel built from an sdist has no git). With none of them, no BUILD is written and the
version ends in `+dev`.

- `build_py` (every wheel, so `pip install .`) writes `kizuna/BUILD` into the build directory,
  never into the source tree; editable installs skip it (they read git at run time).
- `sdist` writes it into the archive, so that the wheel built from the sdist has it too.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
_version = runpy.run_path(str(ROOT / "kizuna" / "version.py"))


def build_id() -> str | None:
    return (os.environ.get("KIZUNA_COMMIT", "").strip()
            or _version["git_commit"](ROOT)
            or _version["read_build_file"](ROOT / "kizuna"))


def _write_build_file(package_dir: Path) -> None:
    found = build_id()
    target = package_dir / _version["BUILD_FILE"]
    if target.exists():
        target.unlink()  # maybe a hard link to the source tree's file: never write through it
    if found:
        package_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(found + "\n")


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            _write_build_file(Path(self.build_lib) / "kizuna")


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _write_build_file(Path(base_dir) / "kizuna")


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
