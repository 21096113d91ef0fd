"""Configuration: Nakama's names and defaults, the source order, and refusals that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna import config
from kizuna.config import ConfigError
from tests.conftest import run_kizuna


def load(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> config.Config:
    return config.load(list(args), env=env or {}, cwd=cwd)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- defaults ------------------------------------------------------------------------------------


def test_defaults_follow_nakama(tmp_path: Path) -> None:
    cfg = load(cwd=tmp_path)
    assert cfg.name == "kizuna"
    assert cfg.socket.port == 7350
    assert cfg.socket.server_key == "defaultkey"
    assert cfg.socket.max_message_size_bytes == 4096
    assert cfg.socket.max_request_size_bytes == 262144
    assert cfg.socket.pong_wait_ms == 25000 and cfg.socket.ping_period_ms == 15000
    assert cfg.session.encryption_key == "defaultencryptionkey"
    assert cfg.session.refresh_encryption_key == "defaultrefreshencryptionkey"
    assert cfg.session.token_expiry_sec == 60
    assert cfg.session.refresh_token_expiry_sec == 3600
    assert cfg.runtime.http_key == "defaulthttpkey"
    assert cfg.console.port == 7351
    assert (cfg.console.username, cfg.console.password) == ("admin", "password")
    assert cfg.console.signing_key == "defaultsigningkey"
    assert cfg.logger.level == "info" and cfg.logger.format == "json"
    assert cfg.database.address == []
    assert cfg.embedded_database
    assert cfg.shutdown_grace_sec == 0
    # derived paths: ./data and ./data/modules, relative to the working directory
    assert cfg.data_dir == str((tmp_path / "data").resolve())
    assert cfg.runtime.path == str((tmp_path / "data" / "modules").resolve())


def test_relative_data_dir_is_relative_to_the_given_cwd(tmp_path: Path) -> None:
    cfg = load("--data_dir", "somewhere", cwd=tmp_path)
    assert cfg.data_dir == str((tmp_path / "somewhere").resolve())
    assert cfg.runtime.path == str((tmp_path / "somewhere" / "modules").resolve())


def test_insecure_default_warning_names_the_keys(tmp_path: Path) -> None:
    cfg = load(cwd=tmp_path)
    joined = "\n".join(cfg.warnings)
    assert "insecure default" in joined
    for key in ("socket.server_key", "session.encryption_key", "session.refresh_encryption_key",
                "runtime.http_key", "console.password", "console.signing_key"):
        assert key in joined
    # every secret changed: no such warning
    cfg = load("--socket.server_key", "s1", "--session.encryption_key", "s2",
               "--session.refresh_encryption_key", "s3", "--runtime.http_key", "s4",
               "--console.username", "op", "--console.password", "s5",
               "--console.signing_key", "s6", cwd=tmp_path)
    assert not any("insecure" in w for w in cfg.warnings)


def test_secrets_are_redacted_in_to_dict(tmp_path: Path) -> None:
    cfg = load("--session.encryption_key", "topsecret", "--database.address",
               "root:pw@db:5432/game", cwd=tmp_path)
    d = cfg.to_dict()
    assert d["session.encryption_key"] == "********"
    assert d["database.address"] == "********"
    assert d["socket.port"] == 7350
    assert "topsecret" not in repr(d)


# -- precedence ----------------------------------------------------------------------------------


def test_yaml_overrides_defaults_and_later_files_win(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yml", "name: node-a\nsocket:\n  port: 7400\n  server_key: from-a\n"
                                 "session:\n  token_expiry_sec: 120\n")
    b = write(tmp_path, "b.yml", "socket:\n  port: 7401\n")
    cfg = load("--config", a, "--config", b, cwd=tmp_path)
    assert cfg.name == "node-a"
    assert cfg.socket.port == 7401  # b wins
    assert cfg.socket.server_key == "from-a"  # only in a
    assert cfg.session.token_expiry_sec == 120
    cfg = load("--config", b, "--config", a, cwd=tmp_path)
    assert cfg.socket.port == 7400  # order reversed: a wins


def test_flags_override_yaml_and_env_overrides_flags(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yml", "socket:\n  port: 7400\n  server_key: yaml\n")
    cfg = load("--config", a, "--socket.port", "7351", cwd=tmp_path)
    assert cfg.socket.port == 7351
    assert cfg.socket.server_key == "yaml"
    cfg = load("--config", a, "--socket.port", "7351",
               env={"KIZUNA_SOCKET_PORT": "7352", "KIZUNA_SOCKET_SERVER_KEY": "env"}, cwd=tmp_path)
    assert cfg.socket.port == 7352
    assert cfg.socket.server_key == "env"


def test_flag_forms(tmp_path: Path) -> None:
    cfg = load("--socket.port=7355", "-session.token_expiry_sec", "90",
               "--session.single_socket", "--logger.stdout", "false", cwd=tmp_path)
    assert cfg.socket.port == 7355
    assert cfg.session.token_expiry_sec == 90
    assert cfg.session.single_socket is True
    assert cfg.logger.stdout is False


def test_repeatable_list_flags_accumulate(tmp_path: Path) -> None:
    y = write(tmp_path, "c.yml", "runtime:\n  env:\n    - FROM_YAML=1\n")
    cfg = load("--config", y, "--database.address", "root@db1:5432/game",
               "--database.address=root@db2:5432/game",
               "--runtime.env", "A=B", "--runtime.env", "C=D=E", cwd=tmp_path)
    assert cfg.database.address == ["root@db1:5432/game", "root@db2:5432/game"]
    # flags replace the YAML list, then accumulate among themselves
    assert cfg.runtime.env == ["A=B", "C=D=E"]
    assert config.runtime_env(cfg) == {"A": "B", "C": "D=E"}
    assert not cfg.embedded_database


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    cfg = load("--runtime.env", "A=1", env={"KIZUNA_RUNTIME_ENV": "X=1,Y=2"}, cwd=tmp_path)
    assert cfg.runtime.env == ["X=1", "Y=2"]


def test_env_that_names_no_key_is_a_warning(tmp_path: Path) -> None:
    cfg = load(env={"KIZUNA_NOT_A_KEY": "1", "HOME": "/x"}, cwd=tmp_path)
    assert any("KIZUNA_NOT_A_KEY" in w for w in cfg.warnings)


def test_ignored_nakama_keys_load_with_a_warning(tmp_path: Path) -> None:
    y = write(tmp_path, "n.yml", "runtime:\n  lua_min_count: 10\n  js_entrypoint: index.js\n")
    cfg = load("--config", y, cwd=tmp_path)
    assert any("runtime.lua_min_count is ignored" in w for w in cfg.warnings)


# -- refusals ------------------------------------------------------------------------------------


def refused(*args: str, env: dict[str, str] | None = None, cwd: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(*args, env=env, cwd=cwd)
    return str(info.value)


def test_unknown_key_in_yaml_names_the_key_and_file(tmp_path: Path) -> None:
    y = write(tmp_path, "bad.yml", "socket:\n  prot: 7350\n")
    msg = refused("--config", y, cwd=tmp_path)
    assert "socket.prot" in msg and "unknown configuration key" in msg and "bad.yml" in msg
    y = write(tmp_path, "bad2.yml", "sockets:\n  port: 7350\n")
    msg = refused("--config", y, cwd=tmp_path)
    assert "sockets" in msg and "unknown" in msg


def test_unknown_key_in_flags_names_the_key(tmp_path: Path) -> None:
    msg = refused("--nope.key", "1", cwd=tmp_path)
    assert msg.startswith("nope.key") and "unknown configuration key" in msg
    msg = refused("--session.port", "1", cwd=tmp_path)
    assert "session.port" in msg and "socket.port" in msg  # suggests the close key


@pytest.mark.parametrize("args, key, words", [
    (("--socket.port", "abc"), "socket.port", "expected an integer"),
    (("--session.single_socket", "maybe"), "session.single_socket", "expected true or false"),
    (("--socket.port", "0"), "socket.port", "at least 1"),
    (("--socket.port", "99999"), "socket.port", "at most 65535"),
    (("--session.token_expiry_sec", "-5"), "session.token_expiry_sec", "at least 1"),
    (("--logger.level", "loud"), "logger.level", "must be one of"),
    (("--socket.server_key", ""), "socket.server_key", "must not be empty"),
    (("--runtime.env", "NOEQUALS"), "runtime.env", "KEY=VALUE"),
    (("--socket.port",), "socket.port", "expected a value"),
])
def test_bad_values_name_the_key(tmp_path: Path, args, key, words) -> None:
    msg = refused(*args, cwd=tmp_path)
    assert key in msg and words in msg


def test_wrong_type_in_yaml_and_env(tmp_path: Path) -> None:
    y = write(tmp_path, "t.yml", "socket:\n  port: [1, 2]\n")
    msg = refused("--config", y, cwd=tmp_path)
    assert "socket.port" in msg and "expected an integer" in msg
    y = write(tmp_path, "t2.yml", "session:\n  single_socket: 3\n")
    assert "session.single_socket" in refused("--config", y, cwd=tmp_path)
    msg = refused(env={"KIZUNA_SOCKET_PORT": "seven"}, cwd=tmp_path)
    assert "socket.port" in msg and "KIZUNA_SOCKET_PORT" in msg


def test_equal_session_and_refresh_keys_refused(tmp_path: Path) -> None:
    msg = refused("--session.encryption_key", "same", "--session.refresh_encryption_key", "same",
                  cwd=tmp_path)
    assert "session.refresh_encryption_key" in msg and "session.encryption_key" in msg


def test_ping_period_must_be_below_pong_wait(tmp_path: Path) -> None:
    msg = refused("--socket.ping_period_ms", "25000", cwd=tmp_path)
    assert "socket.ping_period_ms" in msg and "socket.pong_wait_ms" in msg
    assert load("--socket.ping_period_ms", "24999", cwd=tmp_path).socket.ping_period_ms == 24999


def test_single_match_requires_single_socket(tmp_path: Path) -> None:
    """As Nakama: one match per socket only makes sense with one socket per user."""
    msg = refused("--session.single_match", "true", cwd=tmp_path)
    assert "session.single_match" in msg and "session.single_socket" in msg
    cfg = load("--session.single_match", "true", "--session.single_socket", "true", cwd=tmp_path)
    assert (cfg.session.single_match, cfg.session.single_socket) == (True, True)
    assert load(cwd=tmp_path).session.single_match is False  # Nakama's default


def test_bad_database_address_refused(tmp_path: Path) -> None:
    msg = refused("--database.address", "mysql://root@db/x", cwd=tmp_path)
    assert "database.address" in msg


def test_migrate_command_passes_the_configured_address_with_its_password_masked(
        tmp_path: Path) -> None:
    from kizuna.server import migrate_command

    socket_address = "postgres@%2Ftmp%2Fpg:5432/db"  # a Unix socket in /tmp/pg
    cfg = load("--database.address", socket_address, cwd=tmp_path)
    assert migrate_command(cfg, []).format("up") == \
        f"kizuna migrate up --database.address {socket_address}"
    cfg = load("--database.address", "postgres://root:s3cret@db:5432/kizuna?sslmode=disable",
               cwd=tmp_path)
    assert migrate_command(cfg, ["k.yml"]).format("up") == (
        "kizuna migrate up --config k.yml "
        "--database.address 'postgres://root:********@db:5432/kizuna?sslmode=disable'")
    assert migrate_command(load(cwd=tmp_path), []).format("up") == \
        f"kizuna migrate up --data_dir {load(cwd=tmp_path).data_dir}"


def test_missing_and_invalid_yaml_files(tmp_path: Path) -> None:
    msg = refused("--config", str(tmp_path / "missing.yml"), cwd=tmp_path)
    assert "missing.yml" in msg and "cannot read" in msg
    y = write(tmp_path, "broken.yml", "socket: [\n")
    assert "invalid YAML" in refused("--config", y, cwd=tmp_path)


# -- the CLI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, key", [
    (("server", "--socket.port", "99999"), "socket.port"),
    (("server", "--nope.key", "1"), "nope.key"),
    (("--nope.key", "1"), "nope.key"),  # no subcommand: starts the server, as Nakama
    (("migrate", "status", "--socket.port", "0"), "socket.port"),
])
def test_cli_config_error_is_one_line_without_traceback(tmp_path: Path, args, key) -> None:
    r = run_kizuna(*args, cwd=tmp_path, timeout=30)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert key in lines[0] and "config error" in lines[0]
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_yaml_sections_empty_or_malformed(tmp_path: Path) -> None:
    y = write(tmp_path, "empty.yml", "socket:\n  # port: 7350\nruntime:\nname: n1\n")
    assert load("--config", y, cwd=tmp_path).name == "n1"
    y = write(tmp_path, "flat.yml", "socket: 7350\n")
    msg = refused("--config", y, cwd=tmp_path)
    assert "socket" in msg and "expected a mapping" in msg


def test_nakama_sections_kizuna_lacks_are_accepted_and_reported(tmp_path):
    from kizuna import config as cfgmod

    path = tmp_path / "nakama.yml"
    path.write_text("name: node1\niap:\n  apple:\n    shared_password: x\nsocial:\n  steam:\n    app_id: 1\n")
    cfg = cfgmod.load(["--config", str(path)], env={})
    assert cfg.name == "node1"
    assert any(w.startswith("iap.apple") and "ignored" in w for w in cfg.warnings)
    assert any(w.startswith("social.steam") and "ignored" in w for w in cfg.warnings)
