"""Issue 19: `kizuna config import-nakama` turns a Nakama YAML configuration into a Kizuna one.

The translation (`kizuna.importer.nakama_config.translate`) on a production-like Nakama file with
every section: what is kept, translated and not carried over (with reasons), and that the result
loads with Kizuna's own loader. Then the command, run as a process: it writes the file (mode 600),
refuses to replace one without --force (or the Nakama file ever), prints the report on stderr or
as --json, and turns bad input into one line and exit code 2.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kizuna import config
from kizuna.db.address import parse_address
from kizuna.importer.nakama_config import Note, flatten, kept_keys, render, translate
from tests.conftest import KIZUNA, run_kizuna

# A Nakama 3.x deployment's file: every section, Nakama's spellings (upper-case format, a dot in
# the node name), a primary and a replica address, Lua/JS settings, log rotation, social logins,
# purchases, and a misspelt key Nakama silently ignored.
NAKAMA_YML = """\
name: nakama-eu.1
data_dir: /var/lib/nakama
shutdown_grace_sec: 30
logger:
  level: DEBUG
  format: JSON
  stdout: false
  file: /var/log/nakama/nakama.log
  rotation: true
  max_size: 100
  max_backups: 7
  compress: true
metrics:
  reporting_freq_sec: 30
  namespace: mygame
  prometheus_port: 9100
  prefix: nakama
session:
  encryption_key: "enc-8f2b1c"
  token_expiry_sec: 7200
  refresh_encryption_key: "ref-77d0aa"
  refresh_token_expiry_sec: 604800
  single_socket: true
  single_session: true
socket:
  server_key: "srv-3e9d41"
  port: 7360
  address: 0.0.0.0
  max_message_size_bytes: 8192
  max_request_size_bytes: 524288
  idle_timeout_ms: 120000
  pong_wait_ms: 10000
  ping_period_ms: 8000
  outgoing_queue_size: 128
  response_headers:
    - "X-Game=mygame"
    - "no-equals-sign"
  prot: 7351
database:
  address:
    - "nakama:p%40ss@pg-primary.internal:5432/nakama?sslmode=require"
    - "nakama:p%40ss@pg-replica.internal:5432/nakama?sslmode=require"
  conn_max_lifetime_ms: 600000
  max_open_conns: 80
  max_idle_conns: 40
  dns_scan_interval_sec: 30
runtime:
  path: /nakama/data/modules
  http_key: "http-c0ffee"
  env:
    - "PLATFORM=prod"
    - "REGION=eu"
  js_entrypoint: build/index.js
  lua_min_count: 10
  lua_max_count: 40
  js_max_count: 64
  min_count: 4
  read_only_globals: true
  event_queue_size: 4096
console:
  port: 7351
  username: ops
  password: "hunter2-console"
  signing_key: "console-sign-91"
  idle_timeout_ms: 300000
match:
  input_queue_size: 256
  max_empty_sec: 60
matchmaker:
  max_tickets: 5
  interval_sec: 10
leaderboard:
  blacklist_rank_cache: ["weekly_*"]
  callback_queue_workers: 4
tracker:
  event_queue_size: 2048
party:
  label_update_interval_ms: 2000
social:
  steam:
    publisher_key: "steam-pub-key"
    app_id: 480
  apple:
    bundle_id: com.example.game
iap:
  apple:
    shared_password: "apple-shared"
  google:
    client_email: iap@example.iam.gserviceaccount.com
    private_key: "-----BEGIN PRIVATE KEY-----"
google_auth:
  credentials_json: "{}"
satori:
  url: https://satori.example.com
storage:
  disable_index_only: true
limit: 10
"""

SECRETS = ("enc-8f2b1c", "ref-77d0aa", "srv-3e9d41", "http-c0ffee", "hunter2-console",
           "console-sign-91", "p%40ss")


@pytest.fixture(scope="module")
def translated() -> tuple[dict, list[Note]]:
    return translate(yaml.safe_load(NAKAMA_YML))


def _notes(notes: list[Note], action: str) -> dict[str, str]:
    return {n.key: n.reason for n in notes if n.action == action}


# -- the translation ------------------------------------------------------------------------------


def test_shared_keys_keep_their_names_and_values(translated) -> None:
    mapping, notes = translated
    flat = flatten(mapping)
    expected = {
        "data_dir": "/var/lib/nakama", "shutdown_grace_sec": 30,
        "logger.stdout": False, "logger.file": "/var/log/nakama/nakama.log",
        "session.encryption_key": "enc-8f2b1c", "session.token_expiry_sec": 7200,
        "session.refresh_encryption_key": "ref-77d0aa",
        "session.refresh_token_expiry_sec": 604800, "session.single_socket": True,
        "session.single_session": True,
        "socket.server_key": "srv-3e9d41", "socket.port": 7360, "socket.address": "0.0.0.0",
        "socket.max_message_size_bytes": 8192, "socket.max_request_size_bytes": 524288,
        "socket.idle_timeout_ms": 120000, "socket.pong_wait_ms": 10000,
        "socket.ping_period_ms": 8000, "socket.outgoing_queue_size": 128,
        "database.conn_max_lifetime_ms": 600000, "database.max_open_conns": 80,
        "database.max_idle_conns": 40, "database.dns_scan_interval_sec": 30,
        "runtime.path": "/nakama/data/modules", "runtime.http_key": "http-c0ffee",
        "runtime.env": ["PLATFORM=prod", "REGION=eu"], "runtime.event_queue_size": 4096,
        "console.port": 7351, "console.username": "ops", "console.password": "hunter2-console",
        "console.signing_key": "console-sign-91",
        "metrics.reporting_freq_sec": 30, "metrics.namespace": "mygame",
        "metrics.prometheus_port": 9100,
        "match.input_queue_size": 256, "match.max_empty_sec": 60,
        "matchmaker.max_tickets": 5, "matchmaker.interval_sec": 10,
        "leaderboard.blacklist_rank_cache": ["weekly_*"], "leaderboard.callback_queue_workers": 4,
        "tracker.event_queue_size": 2048, "party.label_update_interval_ms": 2000,
    }
    for key, value in expected.items():
        assert flat.get(key) == value, key
    assert set(flat) <= set(config.KEYS)  # nothing Kizuna would refuse or warn about
    # Every key copied without a note is listed as such.
    kept = kept_keys(mapping, notes)
    assert {"session.encryption_key", "socket.server_key", "runtime.env"} <= set(kept)
    assert "runtime.path" not in kept and "console.password" not in kept  # they carry a note


def test_translated_keys(translated) -> None:
    mapping, notes = translated
    flat = flatten(mapping)
    assert flat["name"] == "nakama-eu-1"
    assert flat["logger.level"] == "debug" and flat["logger.format"] == "json"
    # The first address only (Nakama never uses the others), on the same server and credentials,
    # naming Kizuna's own database; Nakama's stays for `kizuna import nakama` to read.
    assert flat["database.address"] == [
        "nakama:p%40ss@pg-primary.internal:5432/kizuna?sslmode=require"]
    tr = _notes(notes, "translated")
    assert set(tr) == {"name", "logger.level", "logger.format", "database.address"}
    why = tr["database.address"]
    assert "pg-replica" not in why and "other 1 address(es) are left out" in why
    assert "kizuna import nakama" in why and "'nakama'" in why
    assert "nakama:********@pg-primary.internal:5432/kizuna" in why
    assert "p%40ss" not in why  # passwords are masked in the notes


def test_keys_not_carried_over_each_have_a_reason(translated) -> None:
    mapping, notes = translated
    dropped = _notes(notes, "dropped")
    assert set(dropped) == {
        "logger.rotation", "logger.max_size", "logger.max_backups", "logger.compress",
        "metrics.prefix", "socket.prot", "socket.response_headers",
        "runtime.js_entrypoint", "runtime.lua_min_count", "runtime.lua_max_count",
        "runtime.js_max_count", "runtime.min_count", "runtime.read_only_globals",
        "console.idle_timeout_ms",
        "social.steam.publisher_key", "social.steam.app_id", "social.apple.bundle_id",
        "iap.apple.shared_password", "iap.google.client_email", "iap.google.private_key",
        "google_auth.credentials_json", "satori.url", "storage.disable_index_only", "limit",
    }
    assert all(len(reason) > 20 for reason in dropped.values())
    assert "Python" in dropped["runtime.js_entrypoint"]
    assert "Lua" in dropped["runtime.lua_min_count"] and "JavaScript" in dropped["runtime.js_max_count"]
    assert "rotate" in dropped["logger.rotation"]
    assert "did you mean socket.port?" in dropped["socket.prot"]
    assert "Steam" in dropped["social.steam.app_id"]
    assert "in-app purchases" in dropped["iap.google.private_key"]
    assert "migrate" in dropped["limit"]
    # A partly bad list keeps its good items; the note counts the others.
    assert flatten(mapping)["socket.response_headers"] == ["X-Game=mygame"]
    assert dropped["socket.response_headers"].startswith("1 item(s) left out")
    flat = flatten(mapping)
    assert not any(key in flat for key in dropped if key != "socket.response_headers")


def test_keys_kizuna_does_not_act_on_yet_are_kept_with_a_note(translated) -> None:
    mapping, notes = translated
    kept = _notes(notes, "kept")
    assert "no console yet" in kept["console.password"]
    assert "metrics.prometheus_port" not in kept, "Kizuna exports metrics there"
    assert "no effect" in kept["metrics.reporting_freq_sec"]
    assert "matchmaker" in kept["matchmaker.max_tickets"]
    assert "parties" in kept["party.label_update_interval_ms"]
    assert "match.input_queue_size" not in kept, "authoritative matches use it"
    assert "Python server modules" in kept["runtime.path"]
    assert set(kept) <= set(flatten(mapping))


def test_the_result_loads_with_kizunas_loader(translated, tmp_path: Path) -> None:
    mapping, notes = translated
    text = render(mapping, notes, "nakama.yml")
    assert yaml.safe_load(text) == mapping  # the comments change nothing
    path = tmp_path / "kizuna.yml"
    path.write_text(text)
    cfg = config.load(["--config", str(path)], env={}, cwd=tmp_path)
    assert cfg.unknown == [] and not any("ignored" in w for w in cfg.warnings)
    assert not any("insecure" in w for w in cfg.warnings)  # every default key was set
    assert cfg.name == "nakama-eu-1" and cfg.socket.port == 7360
    assert cfg.session.encryption_key == "enc-8f2b1c"
    assert cfg.database.address == ["nakama:p%40ss@pg-primary.internal:5432/kizuna?sslmode=require"]
    assert cfg.runtime.env == ["PLATFORM=prod", "REGION=eu"]
    assert cfg.logger.format == "json" and cfg.logger.level == "debug"


def test_comments_name_the_notes_but_hold_no_secret(translated) -> None:
    mapping, notes = translated
    text = render(mapping, notes, "nakama.yml")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for secret in SECRETS:
        assert secret not in comments
        assert secret in text  # the value itself is carried over
    assert "# Not carried over from nakama.yml:" in comments
    assert "runtime.js_entrypoint" in comments and "social.steam.publisher_key" in comments
    assert "# kept, but Kizuna has no console yet" in comments  # once, above the section
    assert comments.count("no console yet: nothing listens") == 1


@pytest.mark.parametrize(("nakama", "kizuna"), [
    ("root@pg:5432/nakama", "root@pg:5432/kizuna"),
    ("postgres://u:pw@pg/game", "postgres://u:pw@pg/kizuna"),
    ("postgresql://u@[::1]:5433/nakama?sslmode=disable",
     "postgresql://u@[::1]:5433/kizuna?sslmode=disable"),
    ("postgres@localhost", "postgres@localhost/kizuna"),  # Nakama's default database: nakama
    ("u@%2Fvar%2Frun%2Fpostgresql:5432/nakama", "u@%2Fvar%2Frun%2Fpostgresql:5432/kizuna"),
    ("u@pg:5432/kizuna", "u@pg:5432/kizuna_kizuna"),  # never Nakama's own database
])
def test_database_address_forms(nakama: str, kizuna: str) -> None:
    mapping, notes = translate({"database": {"address": nakama}})
    assert mapping["database"]["address"] == [kizuna]
    assert [(n.key, n.action) for n in notes] == [("database.address", "translated")]
    assert parse_address(kizuna).database.startswith("kizuna")


@pytest.mark.parametrize("address", ["root@localhost:26257", "root@cockroachdb/nakama",
                                     "postgresql://root@crdb:26257/nakama?sslmode=disable"])
def test_a_cockroachdb_address_is_left_out(address: str) -> None:
    mapping, notes = translate({"database": {"address": [address], "max_open_conns": 10}})
    assert mapping == {"database": {"max_open_conns": 10}}
    (note,) = notes
    assert note.key == "database.address" and note.action == "dropped"
    assert "CockroachDB" in note.reason and "embedded PostgreSQL" in note.reason


def test_sections_with_every_key_commented_out_say_nothing() -> None:
    doc = yaml.safe_load("runtime:\nsocial:\niap:\nconsole:\nname: game\n")
    mapping, notes = translate(doc)
    assert mapping == {"name": "game"}
    assert [n.key for n in notes] == ["database.address"]


def test_no_address_means_the_embedded_database_and_says_so() -> None:
    mapping, notes = translate({"socket": {"port": 7350}})
    assert mapping == {"socket": {"port": 7350}}
    assert [(n.key, n.action) for n in notes] == [("database.address", "translated")]
    assert "root@localhost:26257" in notes[0].reason and "embedded" in notes[0].reason


@pytest.mark.parametrize(("doc", "key", "words"), [
    ({"socket": {"port": "seventy"}}, "socket.port", "expected an integer"),
    ({"socket": {"port": 70000}}, "socket.port", "maximum"),
    ({"session": {"token_expiry_sec": 0}}, "session.token_expiry_sec", "minimum"),
    ({"logger": {"level": "TRACE"}}, "logger.level", "not one of"),
    ({"socket": {"server_key": ""}}, "socket.server_key", "requires a value"),
    ({"name": "a-very-long-node-name"}, "name", "1 to 16"),
    ({"socket": 7350}, "socket", "expected a mapping"),
    ({"database": {"address": ["mysql://u@h/db"]}}, "database.address", "PostgreSQL"),
    ({"logger": {"file": None}}, "logger.file", "no value"),
])
def test_values_kizuna_would_refuse_are_left_out_with_the_reason(doc, key, words,
                                                                  tmp_path: Path) -> None:
    mapping, notes = translate(doc)
    note = next(n for n in notes if n.key == key)
    assert note.action == "dropped" and words in note.reason
    path = tmp_path / "k.yml"
    path.write_text(render(mapping, notes, "n.yml"))
    config.load(["--config", str(path)], env={}, cwd=tmp_path)  # still loads


def test_every_key_kizuna_shares_is_carried_over(tmp_path: Path) -> None:
    """A Nakama file setting every key Kizuna declares (other than Lua/JS VM settings), each to a
    valid value: all of them end up in the Kizuna file, unchanged but for the translated ones."""
    doc: dict = {}
    for key, spec in config.KEYS.items():
        if spec.meta.get("ignored"):
            continue
        section, _, leaf = key.rpartition(".")
        value = {"name": "node-1", "database.address": ["u@pg:5432/nakama"]}.get(key, spec.default)
        (doc.setdefault(section, {}) if section else doc)[leaf] = value
    mapping, notes = translate(doc)
    flat = flatten(mapping)
    assert set(flat) == {k for k, s in config.KEYS.items() if not s.meta.get("ignored")}
    assert not [n for n in notes if n.action == "dropped"]
    path = tmp_path / "k.yml"
    path.write_text(render(mapping, notes, "n.yml"))
    config.load(["--config", str(path)], env={}, cwd=tmp_path)


# -- the command ----------------------------------------------------------------------------------

_GROUP = ("import sys; from kizuna.cli.config_cmd import config; "
          "config(sys.argv[1:], prog_name='kizuna config')")


def _registered() -> bool:
    from kizuna.cli import cli
    return "config" in cli.commands


def run_import(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`kizuna config import-nakama ARGS` as a process; until kizuna/cli/__init__.py registers
    the `config` group, the group itself is run the same way."""
    head = [KIZUNA, "config"] if _registered() else [sys.executable, "-c", _GROUP]
    return subprocess.run([*head, "import-nakama", *args], capture_output=True, text=True,
                          cwd=cwd, input=stdin, timeout=60)


@pytest.fixture
def nakama_file(tmp_path: Path) -> Path:
    path = tmp_path / "nakama.yml"
    path.write_text(NAKAMA_YML)
    return path


def test_command_writes_a_file_kizuna_accepts(nakama_file: Path, tmp_path: Path) -> None:
    r = run_import("nakama.yml", "-o", "kizuna.yml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "kizuna.yml"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the keys and the password
    assert "written:" in r.stdout and "kizuna.yml" in r.stdout
    # The report: every section, every key not carried over, passwords masked.
    for words in ("Translated", "Kept, with a note", "Not carried over", "runtime.js_entrypoint",
                  "social.steam.publisher_key", "database.address", "Kept as they were"):
        assert words in r.stderr, words
    for secret in SECRETS:
        assert secret not in r.stderr
    assert "Traceback" not in r.stderr
    # `kizuna server --config` takes it: the same loader, run by `kizuna check`.
    (tmp_path / "modules").mkdir()
    c = run_kizuna("check", "--config", "kizuna.yml", "--runtime.path", "modules",
                   cwd=tmp_path, timeout=60)
    assert c.returncode == 0, c.stderr
    assert "config" not in c.stderr.lower()  # no config error, no unknown-key warning


def test_command_never_replaces_a_file_without_force(nakama_file: Path, tmp_path: Path) -> None:
    existing = tmp_path / "kizuna.yml"
    existing.write_text("name: mine\n")
    r = run_import("nakama.yml", "-o", "kizuna.yml", cwd=tmp_path)
    assert r.returncode == 1 and "--force" in r.stderr
    assert existing.read_text() == "name: mine\n"
    r = run_import("nakama.yml", "-o", "kizuna.yml", "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(existing.read_text())["name"] == "nakama-eu-1"
    # Nor the Nakama file itself, even with --force.
    r = run_import("nakama.yml", "-o", "./nakama.yml", "--force", cwd=tmp_path)
    assert r.returncode == 1 and "Nakama file" in r.stderr
    assert nakama_file.read_text() == NAKAMA_YML


def test_command_prints_to_stdout_and_reads_stdin(tmp_path: Path) -> None:
    r = run_import("-", cwd=tmp_path, stdin=NAKAMA_YML)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout) == translate(yaml.safe_load(NAKAMA_YML))[0]
    assert "Translated (" in r.stderr and "Translated (" not in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_command_json(nakama_file: Path, tmp_path: Path) -> None:
    r = run_import("nakama.yml", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["output"] is None and doc["source"] == "nakama.yml"
    assert yaml.safe_load(doc["config"])["socket"]["port"] == 7360
    actions = {n["key"]: n["action"] for n in doc["notes"]}
    assert actions["runtime.js_entrypoint"] == "dropped"
    assert actions["database.address"] == "translated"
    assert actions["console.password"] == "kept"
    assert "session.encryption_key" in doc["kept"]
    r = run_import("nakama.yml", "--json", "-o", "k.yml", cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert doc["output"] == "k.yml" and "config" not in doc and (tmp_path / "k.yml").exists()


@pytest.mark.parametrize(("name", "content", "words"), [
    ("missing.yml", None, "cannot read missing.yml"),
    ("broken.yml", "socket:\n  port: [7350\n", "not valid YAML at line"),
    ("list.yml", "- socket\n- port\n", "expected a mapping"),
    ("scalar.yml", "just text\n", "expected a mapping"),
    ("binary.yml", b"\xff\xfe\x00", "not a text file"),
    ("adir", "dir", "cannot read adir"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, name, content, words) -> None:
    if content == "dir":
        (tmp_path / name).mkdir()
    elif isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content)
    r = run_import(name, "-o", "out.yml", cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out.yml").exists()


def test_an_empty_nakama_file_is_all_defaults(tmp_path: Path) -> None:
    (tmp_path / "empty.yml").write_text("# nothing set\n")
    r = run_import("empty.yml", "-o", "k.yml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((tmp_path / "k.yml").read_text()) is None
    assert "embedded PostgreSQL" in r.stderr and "insecure default" in r.stderr


def test_a_translation_that_does_not_load_writes_nothing(tmp_path: Path) -> None:
    # Equal session keys: Nakama refuses them too. Nothing is written, one line says why.
    (tmp_path / "n.yml").write_text("session:\n  encryption_key: same\n  refresh_encryption_key: same\n")
    r = run_import("n.yml", "-o", "out.yml", cwd=tmp_path)
    assert r.returncode == 1 and "must differ" in r.stderr and "nothing written" in r.stderr
    assert not (tmp_path / "out.yml").exists() and "Traceback" not in r.stderr


@pytest.mark.skipif(not _registered(), reason="the lead registers the `config` group in "
                                              "kizuna/cli/__init__.py")
def test_registered_as_kizuna_config(tmp_path: Path) -> None:
    r = run_kizuna("config", "import-nakama", "--help", cwd=tmp_path, timeout=30)
    assert r.returncode == 0 and "Usage: kizuna config import-nakama" in r.stdout


def test_help_says_how_the_configuration_is_given() -> None:
    """What test_cli_lifecycle asks of every command, once the group is registered."""
    from click.testing import CliRunner

    from kizuna.cli.config_cmd import config as group

    for args in (["--help"], ["import-nakama", "--help"]):
        r = CliRunner().invoke(group, args)
        text = " ".join(r.output.split())
        assert r.exit_code == 0 and "--database.address" in text and "--config" in text, args
