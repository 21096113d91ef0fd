"""Issue 18, item 1: one configuration serves two releases. Keys this release does not know
warn (naming the key and its source) unless they look like a typo of a known key; KIZUNA_*
variables that name no key are reported."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from kizuna import config
from kizuna.config import ConfigError
from tests.conftest import run_kizuna


def load(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> config.Config:
    return config.load(list(args), env=env or {}, cwd=cwd)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def refused(*args: str, env: dict[str, str] | None = None, cwd: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(*args, env=env, cwd=cwd)
    return str(info.value)


def test_a_key_of_a_newer_release_warns_with_key_and_file(tmp_path: Path) -> None:
    y = write(tmp_path, "k.yml", "name: n1\nshutdown_hook_sec: 5\nsocket:\n  port: 7351\n"
                                 "  tls_mode: strict\nbackup:\n  compress_level: 3\n")
    cfg = load("--config", y, cwd=tmp_path)
    assert (cfg.name, cfg.socket.port) == ("n1", 7351)
    for key in ("shutdown_hook_sec", "socket.tls_mode", "backup.compress_level"):
        [line] = [w for w in cfg.unknown if w.startswith(key + " ")]
        assert f"--config {y}" in line and "ignored" in line and "\n" not in line
        assert line in cfg.warnings  # the server logs every warning
    # the same from flags
    cfg = load("--socket.tls_mode", "strict", cwd=tmp_path)
    assert cfg.unknown == [cfg.unknown[0]] and "(--socket.tls_mode)" in cfg.unknown[0]


def test_the_issue_case_previous_release_and_shutdown_drain_sec(tmp_path: Path,
                                                                monkeypatch) -> None:
    """A release without shutdown_drain_sec (as the previous one) given the key that the
    upgrade guide asks operators to add before upgrading: it warns and starts."""
    monkeypatch.setattr(config, "KEYS", {k: v for k, v in config.KEYS.items()
                                         if k != "shutdown_drain_sec"})
    y = write(tmp_path, "k.yml", "shutdown_grace_sec: 30\nshutdown_drain_sec: 5\n")
    cfg = load("--config", y, cwd=tmp_path)
    assert cfg.shutdown_grace_sec == 30
    assert any(w.startswith(f"shutdown_drain_sec (--config {y})") for w in cfg.unknown)


@pytest.mark.parametrize("text, key, meant", [
    ("socket:\n  prot: 7350\n", "socket.prot", "socket.port"),
    ("socket:\n  sever_key: x\n", "socket.sever_key", "socket.server_key"),
    ("data_dri: /x\n", "data_dri", "data_dir"),
    ("nmae: n1\n", "nmae", "name"),
    ("database:\n  lock_timeout: 5\n", "database.lock_timeout", "database.lock_timeout_ms"),
    ("database:\n  adress: [x]\n", "database.adress", "database.address"),
    ("session:\n  port: 1\n", "session.port", "socket.port"),
    ("sockets:\n  port: 1\n", "sockets.port", "socket.port"),
    ("port: 1\n", "port", "socket.port"),
    ("backup:\n  retension: 3\n", "backup.retension", "backup.retention"),
])
def test_a_likely_typo_still_stops_with_a_suggestion(tmp_path: Path, text, key, meant) -> None:
    y = write(tmp_path, "t.yml", text)
    msg = refused("--config", y, cwd=tmp_path)
    assert msg.startswith(f"{key} (--config {y})"), msg
    assert "unknown configuration key" in msg and f"did you mean {meant}" in msg


def test_unknown_sections_are_refused_but_nakamas_load(tmp_path: Path) -> None:
    y = write(tmp_path, "s.yml", "galaxy:\n  nodes: 3\n")
    msg = refused("--config", y, cwd=tmp_path)
    assert msg.startswith("galaxy.nodes") and "no section 'galaxy'" in msg
    y = write(tmp_path, "n.yml", "iap:\n  apple:\n    shared_password: x\n")
    cfg = load("--config", y, cwd=tmp_path)
    assert any(w.startswith("iap.apple") and "ignored" in w for w in cfg.warnings)


def test_a_section_name_or_a_bare_unknown_flag_is_refused(tmp_path: Path) -> None:
    assert "a section, not a key" in refused("--socket", "7350", cwd=tmp_path)
    assert "no such option" in refused("--verbose", cwd=tmp_path)


def test_unknown_kizuna_variables_are_reported(tmp_path: Path) -> None:
    cfg = load(env={"KIZUNA_SOCKET_PROT": "1", "KIZUNA_SHUTDOWN_HOOK_SEC": "3",
                    "KIZUNA_COMMIT": "abc", "HOME": "/x"}, cwd=tmp_path)
    [typo] = [w for w in cfg.unknown if "KIZUNA_SOCKET_PROT" in w]
    assert "did you mean KIZUNA_SOCKET_PORT" in typo
    assert any("KIZUNA_SHUTDOWN_HOOK_SEC" in w for w in cfg.unknown)
    assert not any("KIZUNA_COMMIT" in w for w in cfg.warnings)  # a build-time variable


def test_no_key_of_this_release_looks_like_a_typo_of_another() -> None:
    """The naming rule that keeps the next release's keys loadable by this one: a new key must
    not be a likely typo of an existing key of its section, nor a new section of a section."""
    by_section: dict[str, list[str]] = {}
    for key in config.KEYS:
        section, _, leaf = key.rpartition(".")
        by_section.setdefault(section, []).append(leaf)
    close = [(s, a, b) for s, leaves in by_section.items()
             for a, b in itertools.permutations(leaves, 2) if config.is_typo(a, b)]
    close += [("", a, b) for a, b in itertools.permutations(sorted(by_section), 2)
              if a and b and config.is_typo(a, b)]
    assert close == []


def test_cli_prints_unknown_key_warnings_once_and_goes_on(tmp_path: Path) -> None:
    y = write(tmp_path, "k.yml", "shutdown_hook_sec: 5\n")
    r = run_kizuna("healthcheck", "1", "--config", y, cwd=tmp_path, timeout=30,
                   env={"KIZUNA_SHUTDOWN_HOOK_MS": "1"})
    assert r.returncode == 1, r.stderr  # nothing answers on port 1: unhealthy, not a usage error
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("kizuna: config warning: shutdown_hook_sec (--config")
    assert "KIZUNA_SHUTDOWN_HOOK_MS" in lines[1]
    y = write(tmp_path, "t.yml", "socket:\n  prot: 5\n")
    r = run_kizuna("healthcheck", "--config", y, cwd=tmp_path, timeout=30)
    assert r.returncode == 2 and "did you mean socket.port" in r.stderr


def test_server_starts_with_a_newer_key_and_logs_the_warning(tmp_path: Path, monkeypatch) -> None:
    import kizuna.server
    from kizuna.cli import cli

    seen = {}
    monkeypatch.setattr(kizuna.server, "run", lambda cfg, **kw: seen.setdefault("cfg", cfg) and 0)
    y = write(tmp_path, "k.yml", "shutdown_hook_sec: 5\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["server", "--config", y, "--socket.workers", "1"], env={})
    assert r.exit_code == 0, r.output
    assert any(w.startswith("shutdown_hook_sec") for w in seen["cfg"].warnings)
