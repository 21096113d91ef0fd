"""The systemd install and upgrade commands of docs/upgrading.md and deploy/kizuna.service, run.

Issue 18, item 6: the instructions created `/opt/kizuna` as a directory, then upgraded with
`ln -sfn /opt/kizuna-0.2.0 /opt/kizuna`, which puts a link inside the directory: the restart
silently ran the old release. Here the documented shell commands run as written, with `/opt` and
`/etc` moved under a temporary directory and stand-ins for python3/pip, systemctl, sudo, curl,
useradd and install. The `systemctl` stand-in records which release `/opt/kizuna/bin/kizuna`
(the unit's ExecStart) runs at each start.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPGRADING = ROOT / "docs" / "upgrading.md"
UNIT = ROOT / "deploy" / "kizuna.service"

STUBS = {
    # `python3 -m venv DIR`: a directory with a pip that "installs" kizuna==V as a bin/kizuna
    # script printing V for --version.
    "python3": r'''#!/bin/sh
[ "$1" = -m ] && [ "$2" = venv ] || { echo "python3 stand-in: $*" >&2; exit 2; }
mkdir -p "$3/bin"
cat > "$3/bin/pip" <<'PIP'
#!/bin/sh
[ "$1" = install ] || exit 2
v=${2#kizuna==}
bin=$(dirname "$0")
printf '#!/bin/sh\necho "kizuna %s $*" >> "$KZ_LOG"\n' "$v" > "$bin/kizuna"
printf '[ "$1" = --version ] && echo "%s+test"\nexit 0\n' "$v" >> "$bin/kizuna"
chmod +x "$bin/kizuna"
PIP
chmod +x "$3/bin/pip"
''',
    "systemctl": r'''#!/bin/sh
echo "systemctl $*" >> "$KZ_LOG"
case " $* " in
  *" start "*|*" restart "*|*" --now "*) echo "started $("$KZ_ROOT/opt/kizuna/bin/kizuna" --version)" >> "$KZ_LOG" ;;
esac
''',
    "sudo": '#!/bin/sh\n[ "$1" = -u ] && shift 2\nexec "$@"\n',
    "curl": "#!/bin/sh\nexit 0\n",
    "useradd": "#!/bin/sh\nexit 0\n",
    "install": "#!/bin/sh\nexit 0\n",
}


def _sh_blocks(text: str) -> dict[str, str]:
    """```sh blocks keyed by their first line's comment word (`# install: ...` -> install)."""
    blocks = {}
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        m = re.match(r"#\s*(\w+)", block)
        if m:
            blocks.setdefault(m.group(1), block)
    return blocks


def _systemd_blocks() -> dict[str, str]:
    text = UPGRADING.read_text()
    section = text.split("\n## systemd\n", 1)[1].split("\n## ", 1)[0]
    return _sh_blocks(section)


def _unit_install() -> str:
    """The install commands in the comment at the top of deploy/kizuna.service."""
    lines = []
    for line in UNIT.read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("#   "):
            lines.append(line[4:])
    return "\n".join(lines)


@pytest.fixture
def box(tmp_path: Path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in STUBS.items():
        f = stubs / name
        f.write_text(body)
        f.chmod(f.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "opt").mkdir()
    log = tmp_path / "log"
    log.touch()
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "KZ_LOG": str(log),
           "KZ_ROOT": str(tmp_path)}

    def run(script: str) -> subprocess.CompletedProcess:
        script = script.replace("/opt/", f"{tmp_path}/opt/").replace("/etc/", f"{tmp_path}/etc/")
        return subprocess.run(["bash", "-euc", script], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60)

    def started() -> list[str]:
        return [line.split()[1] for line in log.read_text().splitlines()
                if line.startswith("started ")]

    return run, started, tmp_path


@pytest.mark.parametrize("install_from", ["docs", "unit file"])
def test_install_then_upgrade_then_downgrade_runs_the_right_release(box, install_from) -> None:
    run, started, root = box
    blocks = _systemd_blocks()
    install = blocks["install"] if install_from == "docs" else _unit_install()
    r = run(install)
    assert r.returncode == 0, r.stderr
    assert (root / "opt" / "kizuna").is_symlink(), "/opt/kizuna must be a symlink from the start"
    assert started() == ["0.1.0+test"]

    r = run(blocks["upgrade"])
    assert r.returncode == 0, r.stderr
    assert "0.2.0+test" in r.stdout  # the documented --version check
    assert started() == ["0.1.0+test", "0.2.0+test"]
    assert os.readlink(root / "opt" / "kizuna").endswith("/opt/kizuna-0.2.0")
    assert not (root / "opt" / "kizuna-0.1.0" / "kizuna-0.2.0").exists()

    r = run(blocks["downgrade"])
    assert r.returncode == 0, r.stderr
    assert started()[-1] == "0.1.0+test"


def test_upgrade_on_the_earlier_directory_layout_fails_loudly_then_converts(box) -> None:
    run, started, root = box
    blocks = _systemd_blocks()
    # The layout of the earlier instructions: /opt/kizuna is the virtualenv itself.
    r = run("python3 -m venv /opt/kizuna && /opt/kizuna/bin/pip install kizuna==0.1.0\n"
            "systemctl start kizuna")
    assert r.returncode == 0, r.stderr
    assert started() == ["0.1.0+test"]

    r = run(blocks["upgrade"])
    assert r.returncode != 0, "the upgrade must stop at the link, not restart the old release"
    assert started() == ["0.1.0+test"], "no start may run the old release as if upgraded"
    assert not (root / "opt" / "kizuna" / "kizuna-0.2.0").exists()

    r = run(blocks["convert"])
    assert r.returncode == 0, r.stderr
    assert (root / "opt" / "kizuna").is_symlink()
    assert started()[-1] == "0.2.0+test"
    assert (root / "opt" / "kizuna-0.1.0" / "bin" / "kizuna").exists(), "kept to go back"
