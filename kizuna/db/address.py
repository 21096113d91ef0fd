"""Nakama-style database addresses.

Accepted forms (as `nakama --database.address` takes them):
``user:password@host:port/dbname?sslmode=disable``, optionally prefixed with ``postgres://`` or
``postgresql://``. Missing parts default to user ``root``, port 5432, database ``kizuna`` and
``sslmode=prefer``. A ``host=/path`` query parameter selects a Unix socket directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

DEFAULT_DATABASE = "kizuna"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
MASK = "********"


class AddressError(ValueError):
    pass


@dataclass(frozen=True)
class DatabaseAddress:
    user: str = "root"
    password: str = ""
    host: str = "localhost"
    port: int = 5432
    database: str = DEFAULT_DATABASE
    sslmode: str = "prefer"
    options: dict[str, str] = field(default_factory=dict)

    def with_database(self, database: str) -> DatabaseAddress:
        return DatabaseAddress(self.user, self.password, self.host, self.port, database,
                               self.sslmode, dict(self.options))

    def connect_kwargs(self) -> dict:
        """Keyword arguments for asyncpg.connect / create_pool."""
        kw: dict = {"user": self.user, "database": self.database, "host": self.host,
                    "port": self.port}
        if self.password:
            kw["password"] = self.password
        if not self.host.startswith("/"):
            kw["ssl"] = self.sslmode
        return kw

    def display(self) -> str:
        """Address without the password, for messages and logs."""
        where = self.host if not self.host.startswith("/") else f"socket {self.host}"
        return f"{self.user}@{where}:{self.port}/{self.database}"

    def url(self) -> str:
        """A libpq URL (password included): for pg_dump and friends."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{quote(self.database, safe='')}?host={quote(self.host)}&port={self.port}"
        return (f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"
                f"?sslmode={self.sslmode}")


def mask_password(text: str) -> str:
    """An address as written, with its password (if any) replaced by `********`: what to print
    where the user needs an address they can pass back, unlike `DatabaseAddress.display()`."""
    raw = text.strip()
    prefix = next((p for p in ("postgresql://", "postgres://") if raw.startswith(p)), "")
    rest = raw[len(prefix):]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")  # as urlsplit splits the netloc
    user, colon, password = userinfo.partition(":")
    if not at or not colon or not password:
        return raw
    return f"{prefix}{user}:{MASK}@{hostport}{rest[end:]}"


def parse_address(text: str) -> DatabaseAddress:
    raw = text.strip()
    if not raw:
        raise AddressError("empty database address")
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            raw = raw[len(prefix):]
            break
    else:
        if "://" in raw:
            raise AddressError(f"unsupported scheme in {text!r}: use postgres:// or postgresql://")
    try:
        parts = urlsplit("postgresql://" + raw)
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"cannot parse {text!r}: {exc}") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    sslmode = query.pop("sslmode", "prefer") or "prefer"
    if sslmode not in SSL_MODES:
        raise AddressError(f"sslmode must be one of {', '.join(SSL_MODES)}, got {sslmode!r}")
    host = unquote(parts.hostname or "") if parts.hostname else ""
    socket_dir = query.pop("host", "")
    if socket_dir:
        host = socket_dir
    if not host:
        host = "localhost"
    if "port" in query:
        try:
            port = int(query.pop("port"))
        except ValueError:
            raise AddressError(f"bad port in {text!r}") from None
    database = unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
    if "/" in database:
        raise AddressError(f"bad database name {database!r}")
    return DatabaseAddress(
        user=unquote(parts.username) if parts.username else "root",
        password=unquote(parts.password) if parts.password else "",
        host=host,
        port=port or 5432,
        database=database,
        sslmode=sslmode,
        options=query,
    )
