"""A Nakama YAML configuration, translated into a Kizuna one (`kizuna config import-nakama`).

`translate` is the whole translation, a pure function: the parsed Nakama file in, the Kizuna
configuration (a nested mapping, as `kizuna server --config` reads it) and one `Note` per key worth
a word out. What happens to a key of the Nakama file:

- kept: a key Kizuna has under the same name (kizuna.config.KEYS) is copied when its value is one
  Kizuna takes (the loader's own coercion, range and choice checks), otherwise left out with the
  reason, so Kizuna's default applies. A few are kept with a note: Kizuna accepts them but does
  not act on them in this release (`_NOT_YET`: no console, matchmaker or parties yet;
  metrics.reporting_freq_sec, three match keys), or their meaning is narrower (runtime.path holds Python
  modules);
- translated: the same meaning in another shape. `database.address`: Nakama connects to the
  first address of its list only, and so does Kizuna, so the others are left out. Kizuna keeps
  its data in a database of its own (it runs its own schema, and Nakama's database is what
  `kizuna import nakama` reads from), on the same server: the address is Nakama's with the
  database name `kizuna`. CockroachDB (port 26257, Nakama's default) cannot hold Kizuna's
  database: the address is left out, so Kizuna would start its embedded PostgreSQL until one is
  configured. `logger.level`/`logger.format` are lowercased (Nakama ignores case), `name` loses
  the characters Kizuna's node names may not hold;
- not carried over: Nakama's keys Kizuna has no equivalent for (Lua/JavaScript VM settings, log
  rotation, social logins, in-app purchases, Satori, ...), each with the reason, and keys neither
  has (Nakama ignores unknown keys; a likely misspelling gets a suggestion).

`render` writes the result as YAML, with the notes as comments; `check` loads that text with
Kizuna's configuration loader, as `kizuna server --config` would.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import yaml

from kizuna import config as config_mod
from kizuna.config import FOREIGN_SECTIONS, KEYS, ConfigError, KeySpec, classify_unknown
from kizuna.db.address import AddressError, mask_password, parse_address
from kizuna.version import __version__

Action = Literal["kept", "translated", "dropped"]

# The database Kizuna's address names on the Nakama database's server.
KIZUNA_DATABASE = "kizuna"
# Nakama's defaults where they shape a translation (server/db.go, server/config.go).
NAKAMA_DEFAULT_ADDRESS = "root@localhost:26257"
NAKAMA_DEFAULT_DATABASE = "nakama"
COCKROACH_PORT = 26257

_SECTIONS = list(dict.fromkeys(k.split(".", 1)[0] for k in KEYS if "." in k))  # in KEYS order


@dataclass(frozen=True)
class Note:
    """What happened to one key of the Nakama file, and why."""

    key: str
    action: Action
    reason: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


# -- why a Nakama key is not carried over ---------------------------------------------------------

_LOG_ROTATION = ("Kizuna does not rotate logger.file itself: log to stdout for journald or the "
                 "container runtime, or rotate the file with logrotate (copytruncate)")
_LUA = "a Lua VM setting: Kizuna runs Python server modules, so there is no Lua VM to tune"
_JS = "a JavaScript VM setting: Kizuna runs Python server modules, so there is no JavaScript VM to tune"
_NO_CONSOLE = "Kizuna has no console yet"

# Keys of Nakama 3.x (and 2.x) that Kizuna does not have. Keys Kizuna declares only to accept a
# Nakama file (`ignored` in kizuna.config) are dropped too, with the reasons of `_ignored`.
_NAKAMA_ONLY: dict[str, str] = {
    "config": "the configuration files Nakama read: give Kizuna its files with --config FILE "
              "(repeatable)",
    "limit": "an option of `nakama migrate`, not a server setting",
    **{f"logger.{k}": _LOG_ROTATION
       for k in ("rotation", "max_size", "max_age", "max_backups", "local_time", "compress")},
    "metrics.prefix": "Kizuna's metrics are named kizuna_* (metrics.namespace is a label)",
    "metrics.custom_prefix": "server modules' metrics are named kizuna_custom_*",
    "metrics.custom_scope_limit": "Kizuna bounds server modules' metrics itself (200 names, "
                                  "1,000 tag combinations per name)",
    "metrics.stackdriver_projectid": "Kizuna has no Stackdriver export",
    **{f"runtime.{k}": f"Nakama's deprecated name of runtime.lua_{k}: {_LUA}"
       for k in ("min_count", "max_count", "call_stack_size", "registry_size",
                 "read_only_globals")},
    "runtime.lua_api_stacktrace": _LUA,
    "runtime.js_read_only_globals": _JS,
    **{f"console.{k}": _NO_CONSOLE
       for k in ("read_timeout_ms", "write_timeout_ms", "idle_timeout_ms",
                 "disable_display_name_search")},
}

# Nakama's sections Kizuna has no features for (kizuna.config.FOREIGN_SECTIONS).
_FOREIGN: dict[str, str] = {
    "social": "Kizuna has no Apple, Facebook, Facebook Instant Game, Google, Game Center or Steam "
              "login yet (those endpoints answer 501)",
    "iap": "Kizuna does not validate in-app purchases or subscriptions yet (those endpoints "
           "answer 501)",
    "google_auth": "Google service credentials for Nakama's Google integrations: Kizuna has none "
                   "yet",
    "satori": "Kizuna has no Satori integration",
    "storage": "Nakama's storage search indexes: Kizuna has none",
    "mfa": "multi-factor login to Nakama's console: Kizuna has no console yet",
}

# Keys Kizuna accepts but does not act on in this release: kept (the values are in place when the
# feature comes), with a note. Remove an entry when its feature lands.
_NOT_YET: dict[str, str] = {
    "console": "kept, but Kizuna has no console yet: nothing listens on console.port",
    "metrics.reporting_freq_sec": "kept, but it has no effect: Kizuna's metrics are pulled by "
                                  "Prometheus from metrics.prometheus_port",
    "match.call_queue_size": "kept, but it has no effect: Kizuna never drops a match's join and "
                             "leave events",
    "match.join_marker_deadline_ms": "kept, but it has no effect: Kizuna puts an accepted player "
                                     "in the match at once (and tells the match when they never "
                                     "arrive)",
    "match.label_update_interval_ms": "kept, but it has no effect: Kizuna's listings see a new "
                                      "match label at once",
    "matchmaker": "kept, but Kizuna has no matchmaker yet",
    "party": "kept, but it has no effect: Kizuna does not list parties (GET /v2/party) yet",
}

_RUNTIME_PATH = ("kept: Kizuna runs the Python server modules (*.py files and packages) of this "
                 "directory; Nakama's Lua, JavaScript and Go modules there are not run (port "
                 "them: docs/runtime.md)")


def _ignored(key: str) -> str:
    if key == "runtime.js_entrypoint":
        return ("Kizuna runs Python server modules from runtime.path, not a JavaScript bundle: "
                "port the modules to Python (docs/runtime.md)")
    return _JS if ".js_" in key else _LUA


def _why_not(key: str) -> str:
    """Why a key Kizuna does not have is left out."""
    if key in _NAKAMA_ONLY:
        return _NAKAMA_ONLY[key]
    head = key.split(".", 1)[0]
    if head in FOREIGN_SECTIONS:
        return _FOREIGN.get(head, f"Kizuna has no {head} features yet")
    kind, hint = classify_unknown(key)
    if kind == "typo":
        return (f"not a key of Kizuna or Nakama (Nakama ignores unknown keys, so it had no "
                f"effect there); did you mean {hint}?")
    return ("Kizuna has no such key (a key of a Nakama release this command does not know, or "
            "one Nakama ignored as unknown)")


# -- the translation ------------------------------------------------------------------------------


class _Translation:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.notes: list[Note] = []

    def keep(self, key: str, value: Any, reason: str = "") -> None:
        self.values[key] = value
        if reason:
            self.notes.append(Note(key, "kept", reason))

    def translate(self, key: str, value: Any, reason: str) -> None:
        self.values[key] = value
        self.notes.append(Note(key, "translated", reason))

    def note(self, key: str, action: Action, reason: str) -> None:
        self.notes.append(Note(key, action, reason))

    def drop(self, key: str, reason: str) -> None:
        self.notes.append(Note(key, "dropped", reason))


def translate(doc: Mapping[Any, Any]) -> tuple[dict[str, Any], list[Note]]:
    """The Kizuna configuration for the parsed Nakama configuration `doc`, as a nested mapping
    (sections in Kizuna's order), and the notes on its keys: what was translated, kept with a
    caveat, or not carried over, and why."""
    t = _Translation()
    for raw_key, value in doc.items():
        key = str(raw_key)
        if key in _SECTIONS:
            if value is None:  # a section with every key commented out
                continue
            if not isinstance(value, Mapping):
                t.drop(key, f"expected a mapping of {key}.* keys, got {_kind(value)}")
                continue
            for sub, sub_value in value.items():
                _key(t, f"{key}.{sub}", sub_value)
        elif key not in KEYS and (value is None or isinstance(value, Mapping)):
            # A section Kizuna does not have (one of Nakama's, or nobody's): every key it sets
            # (none when all are commented out).
            for leaf, leaf_value in _leaves(key, value or {}):
                _key(t, leaf, leaf_value)
        else:
            _key(t, key, value)
    if "database.address" not in t.values and all(n.key != "database.address" for n in t.notes):
        t.note("database.address", "translated",
               f"not set: Nakama's default is {NAKAMA_DEFAULT_ADDRESS}/{NAKAMA_DEFAULT_DATABASE} "
               f"(CockroachDB); left unset, so Kizuna starts its embedded PostgreSQL under "
               f"data_dir: set database.address to a PostgreSQL server for production")
    return nest(t.values), t.notes


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _leaves(prefix: str, section: Mapping[Any, Any]) -> Iterator[tuple[str, Any]]:
    """The dotted keys set under `section` (subsections flattened, empty ones skipped)."""
    for k, v in section.items():
        if isinstance(v, Mapping):
            yield from _leaves(f"{prefix}.{k}", v)
        elif v is not None:
            yield f"{prefix}.{k}", v


def _key(t: _Translation, key: str, value: Any) -> None:
    special = _SPECIAL.get(key)
    if special is not None:
        special(t, key, value)
    else:
        _plain(t, key, value)


def _plain(t: _Translation, key: str, value: Any) -> None:
    """A key with no translation of its own: kept when Kizuna has it and takes the value."""
    spec = KEYS.get(key)
    if spec is None:
        t.drop(key, _why_not(key))
        return
    if spec.meta.get("ignored"):
        t.drop(key, _ignored(key))
        return
    if value is None:
        t.drop(key, "no value: Kizuna's default applies")
        return
    try:
        checked = _check(spec, value)
    except ConfigError as exc:
        t.drop(key, f"{exc}: Kizuna's default applies")
        return
    if key in ("runtime.env", "socket.response_headers"):
        good = [item for item in checked if "=" in item and not item.startswith("=")]
        if len(good) < len(checked):
            t.drop(key, f"{len(checked) - len(good)} item(s) left out: not of the form "
                        f"KEY=VALUE")
        checked = good
    t.keep(key, checked, _not_yet(key) or (_RUNTIME_PATH if key == "runtime.path" else ""))


def _check(spec: KeySpec, value: Any) -> Any:
    """`value` in the key's type, as Kizuna's loader coerces it, within the key's bounds and
    choices; ConfigError (its message without the key) otherwise."""
    try:
        # The loader's own coercion: a value is kept exactly when `kizuna server` takes it.
        coerced = config_mod.coerce(spec, value, "")
    except ConfigError as exc:
        raise ConfigError(str(exc).partition("): ")[2] or str(exc)) from None
    lo, hi = spec.meta.get("min"), spec.meta.get("max")
    if lo is not None and coerced < lo:
        raise ConfigError(f"{coerced} is below Kizuna's minimum {lo}")
    if hi is not None and coerced > hi:
        raise ConfigError(f"{coerced} is above Kizuna's maximum {hi}")
    choices = spec.meta.get("choices")
    if choices and coerced not in choices:
        raise ConfigError(f"{coerced!r} is not one of {', '.join(choices)}")
    if spec.meta.get("nonempty") and not coerced:
        raise ConfigError("empty, and Kizuna requires a value")
    return coerced


def _not_yet(key: str) -> str:
    return _NOT_YET.get(key) or _NOT_YET.get(key.split(".", 1)[0], "")


# -- keys translated by hand ----------------------------------------------------------------------


def _lowercase(t: _Translation, key: str, value: Any) -> None:
    """logger.level and logger.format: Nakama reads them in any case (and an empty format as
    json), Kizuna in lower case."""
    if key == "logger.format" and value == "":
        t.drop(key, "empty: Kizuna's default, json, applies (as in Nakama)")
        return
    if isinstance(value, str) and value != value.lower():
        try:
            checked = _check(KEYS[key], value.lower())
        except ConfigError as exc:
            t.drop(key, f"{exc}: Kizuna's default applies")
            return
        t.translate(key, checked, f"{value!r} -> {checked!r}: Kizuna reads it in lower case")
        return
    _plain(t, key, value)


def _name(t: _Translation, key: str, value: Any) -> None:
    """Kizuna's node names hold letters, digits, '-' and '_' only (Nakama takes any 1 to 16
    characters)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if not 1 <= len(text) <= 16:
            t.drop(key, f"{text!r}: a node name is 1 to 16 characters (in Nakama too); Kizuna's "
                        f"default applies")
            return
        fixed = re.sub(r"[^0-9A-Za-z_-]", "-", text)
        if fixed != text:
            t.translate(key, fixed, f"{text!r} -> {fixed!r}: Kizuna's node names hold letters, "
                                    f"digits, '-' and '_' only")
            return
    _plain(t, key, value)


def _database_address(t: _Translation, key: str, value: Any) -> None:
    """Nakama's list of addresses -> one address of a database of Kizuna's own on the same
    PostgreSQL server (see the module's docstring)."""
    if value is None or value == []:
        t.note(key, "translated", "empty: Kizuna starts its embedded PostgreSQL under data_dir; "
                                  "set database.address to a PostgreSQL server for production")
        return
    embedded = "Kizuna starts its embedded PostgreSQL until database.address is set"
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        t.drop(key, f"expected a list of addresses, got {_kind(value)}; {embedded}")
        return
    first, others = addresses[0].strip(), addresses[1:]
    extra = (f"; the other {len(others)} address(es) are left out: Nakama only ever connects to "
             f"the first address of the list, and so does Kizuna") if others else ""
    try:
        kizuna_address, nakama_db, port, host = _kizuna_address(first)
    except ValueError as exc:
        t.drop(key, f"the first address {mask_password(first)!r}: {exc}; {embedded}{extra}")
        return
    keep_source = (f"Nakama's database {nakama_db!r} stays as it is, for `kizuna import nakama` "
                   f"to read")
    if port == COCKROACH_PORT or "cockroach" in host.lower():
        sign = f"port {port}" if port == COCKROACH_PORT else f"host {host}"
        t.drop(key, f"{mask_password(first)} looks like CockroachDB ({sign}), which cannot "
                    f"hold Kizuna's database (PostgreSQL only): left out, so Kizuna would start "
                    f"its embedded PostgreSQL under data_dir; set database.address to a "
                    f"PostgreSQL server. {keep_source}{extra}")
        return
    options = sorted(parse_address(kizuna_address).options)
    ignored = (f"; Kizuna does not use the connection parameter(s) {', '.join(options)}"
               if options else "")
    t.translate(key, [kizuna_address],
                f"{mask_password(first)} -> {mask_password(kizuna_address)}: Kizuna keeps its data "
                f"in a database of its own on the same server (created at its first start), as "
                f"it runs its own schema; {keep_source}{ignored}{extra}")


def _kizuna_address(nakama: str) -> tuple[str, str, int, str]:
    """(Kizuna's address, Nakama's database name, port, host) for one Nakama address: the same
    user, password, host, port and parameters, naming the database `KIZUNA_DATABASE` (or
    `<it>_kizuna` should Nakama's database already be called that). Nakama's defaults: user root,
    database nakama, port 5432 (the driver's)."""
    if not nakama:
        raise ValueError("empty address")
    scheme = next((p for p in ("postgresql://", "postgres://") if nakama.startswith(p)), "")
    rest = nakama[len(scheme):]
    if "://" in rest:
        raise ValueError("not a PostgreSQL address (use postgres:// or postgresql://)")
    try:
        parts = urlsplit("postgres://" + rest)
        port = parts.port or 5432
    except ValueError as exc:
        raise ValueError(f"cannot be read as an address ({exc})") from None
    nakama_db = unquote(parts.path.lstrip("/")) or NAKAMA_DEFAULT_DATABASE
    database = KIZUNA_DATABASE if nakama_db != KIZUNA_DATABASE else f"{KIZUNA_DATABASE}_kizuna"
    address = f"{scheme}{parts.netloc}/{quote(database, safe='')}"
    if parts.query:
        address += "?" + parts.query
    try:
        parse_address(address)
    except AddressError as exc:
        raise ValueError(str(exc)) from None
    return address, nakama_db, port, unquote(parts.hostname or "localhost")


_SPECIAL: dict[str, Callable[[_Translation, str, Any], None]] = {
    "name": _name,
    "logger.level": _lowercase,
    "logger.format": _lowercase,
    "database.address": _database_address,
}


# -- output -----------------------------------------------------------------------------------------


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys -> the nested mapping of a YAML file, top-level keys first, then the sections,
    each in the order of kizuna.config.KEYS."""
    order = {k: i for i, k in enumerate(KEYS)}
    out: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: ("." in k, order.get(k, len(order)))):
        section, _, leaf = key.rpartition(".")
        if section:
            out.setdefault(section, {})[leaf] = flat[key]
        else:
            out[key] = flat[key]
    sections = {s: i for i, s in enumerate(_SECTIONS)}
    return dict(sorted(out.items(), key=lambda kv: (kv[0] in sections, sections.get(kv[0], 0))))


def flatten(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The nested mapping of `nest` back to dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def kept_keys(mapping: Mapping[str, Any], notes: list[Note]) -> list[str]:
    """The keys of the result that were copied as they were, without a note."""
    noted = {n.key for n in notes}
    return [k for k in flatten(mapping) if k not in noted]


def _dump(key: str, value: Any) -> str:
    return yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=1 << 20)


def _comment(text: str, indent: str = "", bullet: str = "") -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=f"{indent}# {bullet}",
                         subsequent_indent=f"{indent}#   ", break_long_words=False,
                         break_on_hyphens=False)


def render(mapping: Mapping[str, Any], notes: list[Note], source: str) -> str:
    """The Kizuna YAML file: a header naming the Nakama file, every key with the notes on it as
    comments (once above a section when they are the same for all its keys), then the keys not
    carried over, grouped by reason. Comments never hold a value, except database addresses with
    their password masked."""
    reasons: dict[str, list[str]] = {}
    for n in notes:
        reasons.setdefault(n.key, []).append(n.reason)
    lines = [f"# Kizuna configuration, translated from the Nakama configuration {source}",
             f"# by `kizuna config import-nakama` (Kizuna {__version__}). Use it with:",
             "#   kizuna server --config <this file>", ""]
    for key, value in mapping.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            per_key = [reasons.get(f"{key}.{leaf}", []) for leaf in value]
            shared = per_key[0] if per_key and all(r == per_key[0] for r in per_key) else []
            lines += [c for r in shared for c in _comment(r)]
            lines.append(f"{key}:")
            previous: list[str] = []
            for (leaf, leaf_value), mine in zip(value.items(), per_key, strict=True):
                if not shared and mine != previous:
                    lines += [c for r in mine for c in _comment(r, "  ")]
                previous = mine
                lines += ["  " + line for line in _dump(leaf, leaf_value).splitlines()]
        else:
            lines += [c for r in reasons.get(key, []) for c in _comment(r)]
            lines += _dump(key, value).splitlines()
        lines.append("")
    present = flatten(mapping)
    left_out = group_by_reason([n for n in notes if n.key not in present])
    if left_out:
        lines.append(f"# Not carried over from {source}:")
        for reason, keys in left_out:
            lines += _comment(f"{', '.join(keys)}: {reason}", bullet="- ")
        lines.append("")
    return "\n".join(lines)


def group_by_reason(notes: list[Note]) -> list[tuple[str, list[str]]]:
    """(reason, keys) for the notes, keys that share a reason together, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for n in notes:
        groups.setdefault(n.reason, []).append(n.key)
    return list(groups.items())


def check(text: str) -> list[str]:
    """Load `text` with Kizuna's configuration loader (as `kizuna server --config FILE`, without
    the environment's KIZUNA_* variables); the warnings it gives, or ConfigError."""
    with tempfile.TemporaryDirectory(prefix="kizuna-import-") as tmp:
        path = Path(tmp) / "kizuna.yml"
        path.write_text(text)
        try:
            cfg = config_mod.load(["--config", str(path)], env={}, cwd=Path(tmp))
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(f" (--config {path})", "")) from None
    return list(cfg.warnings)
