"""Migration files: naming, sections, directives, statements and checksums.

A migration is one SQL file in `kizuna/migrations/` named `NNNN_slug.sql`. It holds an up and a
down section, marked as in Nakama (and sql-migrate) files::

    -- +kizuna phase: expand
    -- +migrate Up
    CREATE TABLE ...;
    -- +migrate Down
    DROP TABLE ...;

Directives (`-- +kizuna ...` lines before the first section):

- ``phase: expand|backfill|contract``: the rolling-upgrade phase (default expand). An expand
  migration leaves the schema usable by the previous release; a contract one does not.
- ``no-transaction``: run statement by statement outside a transaction (needed for
  ``CREATE INDEX CONCURRENTLY``); progress is journaled per statement so a re-run resumes.
- ``irreversible: <reason>``: the down section cannot restore what the up changed.
- ``lossy-down: <reason>``: the down section works but destroys data.
- ``disposable: <table>[.<column>], ...``: what the down section drops there is not worth keeping
  (figures a running node writes again, such as what nodes report of themselves): `migrate down`
  does not count it as data loss. Anything else the down drops still needs `--force`.

Statements are split at top-level semicolons (quotes, dollar quotes and comments respected).
The checksum is the SHA-256 of the file with line endings normalised.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kizuna.migrate.errors import MigrateError

PHASES = ("expand", "backfill", "contract")
_NAME = re.compile(r"^(\d+)[_-]([A-Za-z0-9_\-]+)\.sql$")
_NAME_REF = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")
_SECTION = re.compile(r"^\s*--\s*\+migrate\s+(\w+)\s*(.*)$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^\s*--\s*\+kizuna\s+([a-z\-]+)\s*(?::\s*(.*))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    sql: str
    line: int  # 1-based line in the file where the statement starts

    @property
    def needs_autocommit(self) -> bool:
        """Statements PostgreSQL refuses inside a transaction block."""
        return bool(_AUTOCOMMIT.search(_strip_comments(self.sql)))


_AUTOCOMMIT = re.compile(
    r"\b(CONCURRENTLY)\b|^\s*(VACUUM|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Migration:
    id: str
    number: int
    path: str
    checksum: str
    up: tuple[Statement, ...]
    down: tuple[Statement, ...]
    phase: str = "expand"
    transactional: bool = True
    irreversible: str | None = None
    lossy_down: str | None = None
    has_down: bool = True
    description: str = ""
    disposable: frozenset[str] = frozenset()  # tables and table.columns a down may drop freely

    def is_disposable(self, table: str, column: str | None) -> bool:
        return table in self.disposable or (column is not None
                                            and f"{table}.{column}" in self.disposable)

    def section(self, direction: str) -> tuple[Statement, ...]:
        return self.up if direction == "up" else self.down


@dataclass
class _Parsed:
    up: list[Statement] = field(default_factory=list)
    down: list[Statement] = field(default_factory=list)


def checksum_of(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))


def split_statements(text: str, first_line: int = 1) -> list[Statement]:
    """Split SQL at top-level semicolons; skip empty and comment-only pieces."""
    out: list[Statement] = []
    buf: list[str] = []
    i, n = 0, len(text)
    line = first_line
    start_line = line
    depth_block = 0

    def flush() -> None:
        sql = "".join(buf).strip()
        if sql and _strip_comments(sql).strip():
            out.append(Statement(sql, start_line + _lines_before_code("".join(buf))))
        buf.clear()

    while i < n:
        c = text[i]
        if depth_block:
            if text.startswith("*/", i):
                depth_block -= 1
                buf.append("*/")
                i += 2
                continue
            if text.startswith("/*", i):
                depth_block += 1
                buf.append("/*")
                i += 2
                continue
            buf.append(c)
            line += c == "\n"
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            buf.append(text[i:j])
            i = j
            continue
        if text.startswith("/*", i):
            depth_block = 1
            buf.append("/*")
            i += 2
            continue
        if c in ("'", '"'):
            j = i + 1
            # E'...' takes backslash escapes; the E must be a token of its own (not `time'...'`)
            escapes = (c == "'" and i > 0 and text[i - 1] in "eE"
                       and not (i > 1 and _is_ident_char(text[i - 2])))
            while j < n:
                if escapes and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            chunk = text[i:j + 1]
            buf.append(chunk)
            line += chunk.count("\n")
            i = j + 1
            continue
        if c == "$" and not (i > 0 and _is_ident_char(text[i - 1])):  # `a$b$` is an identifier
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
            if m:
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                j = n if j < 0 else j + len(tag)
                chunk = text[i:j]
                buf.append(chunk)
                line += chunk.count("\n")
                i = j
                continue
        if c == ";":
            flush()
            i += 1
            start_line = line
            continue
        buf.append(c)
        line += c == "\n"
        i += 1
    flush()
    return out


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _lines_before_code(s: str) -> int:
    """Newlines before the first SQL token (skipping blank lines and leading comments), so a
    statement's line points at its SQL rather than at the comment above it."""
    i, n, lines = 0, len(s), 0
    while i < n:
        if s[i] == "\n":
            lines += 1
            i += 1
        elif s[i].isspace():
            i += 1
        elif s.startswith("--", i):
            j = s.find("\n", i)
            i = n if j < 0 else j
        elif s.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if s.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif s.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    lines += s[i] == "\n"
                    i += 1
        else:
            return lines
    return 0


def parse(path: str, text: str) -> Migration:
    name = Path(path).name
    m = _NAME.match(name)
    if not m:
        raise MigrateError(
            f"migration file {name}: name must look like NNNN_slug.sql (digits, then _ or -)")
    number = int(m.group(1))
    mid = name[: -len(".sql")]
    directives: dict[str, str] = {}
    sections: dict[str, tuple[int, list[str]]] = {}
    current: str | None = None
    description: list[str] = []
    for lineno, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        sec = _SECTION.match(raw)
        if sec:
            word = sec.group(1).lower()
            if word in ("up", "down"):
                if word in sections:
                    raise MigrateError(f"migration {mid}: line {lineno}: second '+migrate {sec.group(1)}' section")
                current = word
                sections[word] = (lineno + 1, [])
                continue
            if word in ("statementbegin", "statementend"):
                continue  # statements are split by a real tokenizer; these markers are not needed
            raise MigrateError(f"migration {mid}: line {lineno}: unknown section marker '+migrate {sec.group(1)}'")
        d = _DIRECTIVE.match(raw)
        if d:
            if current is not None:
                raise MigrateError(f"migration {mid}: line {lineno}: directives must come before '-- +migrate Up'")
            key, value = d.group(1).lower(), (d.group(2) or "").strip()
            if key not in ("phase", "no-transaction", "irreversible", "lossy-down", "disposable"):
                raise MigrateError(f"migration {mid}: line {lineno}: unknown directive '+kizuna {key}'")
            directives[key] = value
            continue
        if current is None:
            s = raw.strip()
            if s.startswith("--") and s.lstrip("-").strip():
                description.append(s.lstrip("-").strip())
            elif s:
                raise MigrateError(f"migration {mid}: line {lineno}: SQL before '-- +migrate Up'")
            continue
        sections[current][1].append(raw)
    if "up" not in sections:
        raise MigrateError(f"migration {mid}: no '-- +migrate Up' section")
    phase = directives.get("phase", "expand") or "expand"
    if phase not in PHASES:
        raise MigrateError(f"migration {mid}: phase must be one of {', '.join(PHASES)}, got {phase!r}")
    disposable = frozenset(n for n in re.split(r"[\s,]+", directives.get("disposable", "")) if n)
    if "disposable" in directives and (not disposable or not all(_NAME_REF.fullmatch(n) for n in disposable)):
        raise MigrateError(f"migration {mid}: '+kizuna disposable' needs table or table.column "
                           f"names separated by commas, got {directives['disposable']!r}")
    for key in ("irreversible", "lossy-down"):
        if key in directives and not directives[key]:
            raise MigrateError(f"migration {mid}: '+kizuna {key}' needs a reason (e.g. '{key}: drops the x column')")
    up_start, up_lines = sections["up"]
    up = split_statements("\n".join(up_lines), up_start)
    if not up:
        raise MigrateError(f"migration {mid}: the up section is empty")
    down: list[Statement] = []
    if "down" in sections:
        down_start, down_lines = sections["down"]
        down = split_statements("\n".join(down_lines), down_start)
    if not down and "irreversible" not in directives:
        raise MigrateError(
            f"migration {mid}: no down statements; write them, or mark the file "
            f"'-- +kizuna irreversible: <reason>'")
    return Migration(
        id=mid, number=number, path=path, checksum=checksum_of(text), up=tuple(up),
        down=tuple(down), phase=phase, transactional="no-transaction" not in directives,
        irreversible=directives.get("irreversible"), lossy_down=directives.get("lossy-down"),
        has_down=bool(down), description=" ".join(description)[:200], disposable=disposable,
    )


def _read(entry, shown: str) -> str:
    try:
        return entry.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MigrateError(f"migration file {shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise MigrateError(f"migration file {shown}: cannot read it: {exc.strerror or exc}") from None


def load(directory: str | Path | None = None) -> list[Migration]:
    """All migrations, ordered by number. Refuses duplicate numbers (one linear history)."""
    files: list[tuple[str, str]] = []
    if directory is None:
        root = resources.files("kizuna") / "migrations"
        for entry in root.iterdir():
            if entry.name.endswith(".sql"):
                files.append((f"kizuna/migrations/{entry.name}", _read(entry, entry.name)))
    else:
        d = Path(directory)
        if not d.is_dir():
            raise MigrateError(f"migrations directory {d} does not exist")
        for p in d.iterdir():
            if p.suffix == ".sql":
                files.append((str(p), _read(p, str(p))))
    migrations = [parse(path, text) for path, text in files]
    migrations.sort(key=lambda m: (m.number, m.id))
    seen: dict[int, str] = {}
    for m in migrations:
        if m.number in seen:
            raise MigrateError(
                f"migrations {seen[m.number]} and {m.id} share the number {m.number}: "
                f"history must be linear; renumber the newer one")
        seen[m.number] = m.id
    return migrations
