"""Connections: resolving the configured address, creating the database, and the pool.

Every failure to reach PostgreSQL becomes a `DatabaseUnavailable` whose message is one line an
operator can act on (no traceback).
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

import asyncpg

from kizuna.db import embedded
from kizuna.db.address import DatabaseAddress, parse_address
from kizuna.db.pool import FairPool
from kizuna.version import __version__

if TYPE_CHECKING:  # config validates database addresses with kizuna.db.address: no runtime cycle
    from kizuna.config import Config

CONNECT_TIMEOUT = 15.0


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or refused us; the message says which and why."""


class DatabaseMissing(DatabaseUnavailable):
    pass


def resolve_address(cfg: Config) -> DatabaseAddress:
    """The configured address (the first one, as Nakama), or the embedded server's."""
    if cfg.database.address:
        return parse_address(cfg.database.address[0])
    try:
        return embedded.start(cfg.data_dir)
    except embedded.EmbeddedError as exc:
        raise DatabaseUnavailable(str(exc)) from None


def _explain(addr: DatabaseAddress, exc: BaseException) -> str:
    where = addr.display()
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"database {addr.database!r} does not exist at {where}"
    if isinstance(exc, (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        return f"PostgreSQL at {where} refused the login: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL at {where} refused the connection: {exc}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"cannot reach PostgreSQL at {where}: timed out after {CONNECT_TIMEOUT:.0f}s"
    if isinstance(exc, socket.gaierror):
        return f"cannot reach PostgreSQL at {where}: unknown host {addr.host!r}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach PostgreSQL at {where}: connection refused (is it running?)"
    if isinstance(exc, OSError):
        return f"cannot reach PostgreSQL at {where}: {exc.strerror or exc}"
    return f"cannot connect to PostgreSQL at {where}: {type(exc).__name__}: {exc}"


async def connect(addr: DatabaseAddress, *, application_name: str = "kizuna",
                  server_settings: dict[str, str] | None = None) -> asyncpg.Connection:
    settings = {"application_name": application_name[:63]}
    settings.update(server_settings or {})
    try:
        return await asyncpg.connect(**addr.connect_kwargs(), timeout=CONNECT_TIMEOUT,
                                     server_settings=settings)
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseMissing(_explain(addr, exc)) from None
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(_explain(addr, exc)) from None


async def ensure_database(addr: DatabaseAddress) -> bool:
    """Create the database if it is missing (as `nakama migrate` does). True if created."""
    try:
        conn = await connect(addr)
    except DatabaseMissing:
        pass
    else:
        await conn.close()
        return False
    last: Exception | None = None
    for maintenance in ("postgres", "template1"):
        try:
            admin = await connect(addr.with_database(maintenance))
        except DatabaseMissing as exc:
            last = exc
            continue
        try:
            ident = addr.database.replace('"', '""')
            await admin.execute(f'CREATE DATABASE "{ident}"')
            return True
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # another node created it at the same moment
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(
                f"cannot create database {addr.database!r} at {addr.display()}: {exc}") from None
        finally:
            await admin.close()
    raise DatabaseUnavailable(f"cannot create database {addr.database!r}: {last}")


async def _reset(conn: asyncpg.Connection) -> None:
    # Kizuna keeps no session state on pooled connections, so the only thing to undo is a
    # transaction left open by a failed request. asyncpg's default reset runs four statements
    # per release, which halves throughput on simple queries.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(addr: DatabaseAddress, cfg: Config, *, min_size: int = 2,
                      application_name: str | None = None) -> asyncpg.Pool:
    kwargs: dict[str, Any] = addr.connect_kwargs()
    try:
        pool = await FairPool(
            **kwargs,
            connection_class=asyncpg.Connection, record_class=asyncpg.Record, loop=None,
            max_queries=50_000,  # asyncpg's default: a connection is renewed after that many
            min_size=min(min_size, cfg.database.max_open_conns),
            max_size=cfg.database.max_open_conns,
            max_inactive_connection_lifetime=cfg.database.conn_max_lifetime_ms / 1000 or 300.0,
            reset=_reset,
            timeout=CONNECT_TIMEOUT,
            # `kizuna <node> <version>`: how `migrate up` recognises live nodes of other releases.
            server_settings={"application_name": (
                application_name or f"kizuna {cfg.name} {__version__}")[:63]},
        )
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseMissing(_explain(addr, exc)) from None
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(_explain(addr, exc)) from None
    assert pool is not None
    return pool
