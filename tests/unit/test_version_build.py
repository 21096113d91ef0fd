"""Issue 18, item 5: the version identifies the build however Kizuna was installed.

`pip install .` (a wheel built from the checkout) and a wheel built from the sdist (no git
there) both carry `kizuna/BUILD` with the commit; a checkout reads git; without either, `dev`.
The install test builds a copy of this repository (with its .git) in a fresh virtualenv, as an
operator would; it needs setuptools from the package index (build isolation) and is skipped
when the index cannot be reached."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kizuna import version
from tests.conftest import ROOT

HEAD = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                      capture_output=True, text=True).stdout.strip()


def test_build_file_wins_then_git_then_dev(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "BUILD").write_text("abc123def456\n")
    assert version.read_build_file(tmp_path) == "abc123def456"
    assert version.read_build_file(tmp_path / "nope") is None
    assert version.git_commit(tmp_path) is None          # not the top of a work tree
    assert version.git_commit(ROOT / "kizuna") is None   # inside one, but not its top
    if HEAD:
        assert version.git_commit(ROOT) == HEAD
    pkg = tmp_path / "site" / "kizuna"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(version, "_HERE", pkg)
    version.commit.cache_clear()
    try:
        assert version.commit() == "dev"
        (pkg / "BUILD").write_text("0123456789ab\n")
        version.commit.cache_clear()
        assert version.commit() == "0123456789ab"
    finally:
        version.commit.cache_clear()


def _copy_checkout(dest: Path) -> Path:
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    src = dest / "src"
    for name in files:
        if not name or name.startswith("tests/") or not (ROOT / name).is_file():
            continue
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(["cp", "-r", str(ROOT / ".git"), str(src / ".git")], check=True)
    return src


def _pip(venv: Path, *args: str) -> None:
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check",
                        *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        if any(w in r.stderr for w in ("Could not find a version", "NewConnectionError",
                                       "Network is unreachable", "Temporary failure")):
            pytest.skip(f"no package index to build with: {r.stderr.strip().splitlines()[-1]}")
        raise AssertionError(r.stderr)


def _installed_version(venv: Path, cwd: Path) -> tuple[str, str]:
    r = subprocess.run([str(venv / "bin" / "python"), "-P", "-c",
                        "import kizuna.version as v; print(v.full_version()); print(v.__file__)"],
                       capture_output=True, text=True, cwd=cwd, check=True)
    full, where = r.stdout.split()
    return full, where


@pytest.mark.skipif(not HEAD, reason="not a git checkout")
def test_pip_install_and_sdist_identify_the_commit(tmp_path: Path) -> None:
    src = _copy_checkout(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)

    _pip(venv, "install", "--no-deps", str(src))            # pip install . (wheel from the tree)
    full, where = _installed_version(venv, tmp_path)
    assert full == f"{version.__version__}+{HEAD}"
    assert where.startswith(str(venv))
    assert not (src / "kizuna" / "BUILD").exists()        # the source tree is left alone

    # An sdist carries the commit, so the wheel built from it (no git there) has it too.
    _pip(venv, "install", "setuptools>=77")
    subprocess.run([str(venv / "bin" / "python"), "-c",
                    "import setuptools.build_meta as b; b.build_sdist('../dist')"],
                   cwd=src, check=True, capture_output=True)
    [sdist] = (tmp_path / "dist").glob("kizuna-*.tar.gz")
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(f"{sdist.name[:-len('.tar.gz')]}/kizuna/BUILD")
        assert member is not None and member.read().decode().strip() == HEAD
    _pip(venv, "uninstall", "-y", "kizuna")
    _pip(venv, "install", "--no-deps", str(sdist))
    full, where = _installed_version(venv, tmp_path)
    assert full == f"{version.__version__}+{HEAD}" and where.startswith(str(venv))
