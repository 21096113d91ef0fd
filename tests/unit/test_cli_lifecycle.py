"""Issue 18, items 11 and 12: usage errors exit 2 in every command group, `server --no-backup`,
`kizuna healthcheck` reads the server's config sources, every command's --help says how the
database and the configuration are given, and backups stay under data_dir."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kizuna import config
from tests.conftest import run_kizuna


def _commands(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_command_help_says_how_database_and_config_are_given() -> None:
    from kizuna.cli import cli

    runner = CliRunner()
    checked = []
    for path, cmd in _commands(cli):
        if not path or path == ("help",):
            continue
        r = runner.invoke(cli, [*path, "--help"])
        assert r.exit_code == 0, (path, r.output)
        text = " ".join(r.output.split())
        assert "--database.address" in text and "--config" in text, (path, r.output)
        if cmd.context_settings.get("ignore_unknown_options"):
            assert "<data_dir>/backups" in text and "KIZUNA_" in text, path
        checked.append(" ".join(path))
    for name in ("migrate", "migrate up", "backup", "restore", "upgrade", "upgrade plan",
                 "server", "healthcheck"):
        assert name in checked


@pytest.mark.parametrize("args", [
    ("restore", "a.kzb", "extra"),        # read the archive before looking at its flags: was 1
    ("version", "extra"),                 # printed the version: was 0
    ("help", "nope"),
    ("migrate",), ("upgrade",), ("migrate", "nope"), ("upgrade", "nope"),
    ("backup", "extra"), ("upgrade", "plan", "extra"), ("check", "extra"),
    ("healthcheck", "abc"), ("healthcheck", "0"), ("healthcheck", "1", "2"),
    ("server", "--migrate=yes"), ("server", "--verbose"), ("nope",),
])
def test_bad_usage_exits_2(tmp_path: Path, args) -> None:
    r = run_kizuna(*args, cwd=tmp_path, timeout=30)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()


def test_help_command(tmp_path: Path) -> None:
    r = run_kizuna("help", "migrate", "up", cwd=tmp_path, timeout=30)
    assert r.returncode == 0 and "Usage: kizuna migrate up" in r.stdout


def test_server_no_backup_is_a_flag(tmp_path: Path, monkeypatch) -> None:
    import kizuna.server
    from kizuna.cli import cli

    seen: dict = {}

    def fake_run(cfg, **kw):
        seen.update(cfg=cfg, **kw)
        return 0
    monkeypatch.setattr(kizuna.server, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["server", "--migrate", "--no-backup", "--socket.port", "7399",
                                 "--socket.workers", "1"])
    assert r.exit_code == 0, r.output
    assert seen["migrate"] and seen["cfg"].backup.before_migrate is False
    assert seen["cfg"].socket.port == 7399
    r = CliRunner().invoke(cli, ["server", "--migrate", "--socket.workers", "1"])
    assert r.exit_code == 0 and seen["cfg"].backup.before_migrate is True
    cfg = config.load(["--backup.before_migrate", "false"], env={}, cwd=tmp_path)
    assert cfg.backup.before_migrate is False


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def node_port():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def test_healthcheck_reads_config_files_flags_and_environment(tmp_path: Path, node_port) -> None:
    y = tmp_path / "k.yml"
    y.write_text(f"socket:\n  port: {node_port}\n")
    for args, env in [(("--config", str(y)), {}),
                      (("--socket.port", str(node_port)), {}),
                      ((), {"KIZUNA_SOCKET_PORT": str(node_port)}),
                      ((str(node_port),), {}),
                      (("--socket.address", "127.0.0.1", "--config", str(y)), {})]:
        r = run_kizuna("healthcheck", *args, cwd=tmp_path, env=env, timeout=30)
        assert r.returncode == 0, (args, env, r.stdout, r.stderr)
        assert f"127.0.0.1:{node_port}/" in r.stdout
    # later sources win, as for the server: the environment over the file
    r = run_kizuna("healthcheck", "--config", str(y), cwd=tmp_path, env={"KIZUNA_SOCKET_PORT": "1"},
                   timeout=30)
    assert r.returncode == 1 and "127.0.0.1:1/" in r.stdout
    r = run_kizuna("healthcheck", "--socket.port", "99999", cwd=tmp_path, timeout=30)
    assert r.returncode == 2 and "socket.port" in r.stderr


def test_probe_url_follows_the_node_address_and_tls() -> None:
    from kizuna.cli.server import probe_url

    def cfg(*args: str) -> config.Config:
        return config.load(list(args), env={})
    assert probe_url(cfg()) == "http://127.0.0.1:7350/"
    assert probe_url(cfg("--socket.address", "0.0.0.0"), 7351) == "http://127.0.0.1:7351/"
    assert probe_url(cfg("--socket.address", "::1")) == "http://[::1]:7350/"
    assert probe_url(cfg("--socket.address", "10.1.2.3")) == "http://10.1.2.3:7350/"
    assert probe_url(cfg("--socket.ssl_certificate", "c.pem", "--socket.ssl_private_key",
                         "k.pem")).startswith("https://")


def test_backups_default_under_data_dir_never_the_working_directory(tmp_path: Path) -> None:
    cfg = config.load(["--data_dir", "/srv/kizuna"], env={}, cwd=tmp_path)
    assert cfg.backup.dir == "/srv/kizuna/backups"
    cfg = config.load(["--data_dir", "/srv/kizuna", "--backup.dir", "archives"], env={},
                      cwd=tmp_path)
    assert cfg.backup.dir == "/srv/kizuna/archives"  # was <cwd>/archives
    cfg = config.load(["--backup.dir", "/b"], env={}, cwd=tmp_path)
    assert cfg.backup.dir == "/b"
    assert cfg.sources["backup.dir"] == "--backup.dir"


def test_a_backup_under_the_working_directory_is_pointed_out(tmp_path: Path, capsys) -> None:
    from kizuna.cli.common import _backup_say

    say = _backup_say(config.load([], env={}, cwd=tmp_path))
    say("backing up the database before up to x")
    say("again")
    captured = capsys.readouterr()
    assert captured.out.count("backing up") == 1
    assert captured.err.count("note: neither data_dir nor backup.dir is configured") == 1
    _backup_say(config.load(["--data_dir", str(tmp_path)], env={}))("backing up")
    assert "note:" not in capsys.readouterr().err
