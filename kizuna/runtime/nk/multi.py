"""nk: `multi_update`, accounts, storage and wallets changed in one transaction (Nakama's
MultiUpdate). Each part is the area's own nk call, run on one connection inside one transaction
(each part's own transaction becomes a savepoint), so the rules, arguments and errors are the
same as when the calls are made one by one, and one refusal changes nothing at all."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypedDict

import asyncpg

from kizuna.errors import invalid
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, Host, api
from kizuna.runtime.nk.wallet import WalletUpdateResult
from kizuna.runtime.shapes import StorageAck

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

_ACCOUNT_FIELDS = ("username", "display_name", "avatar_url", "lang_tag", "location", "timezone",
                   "metadata")


class MultiUpdateResult(TypedDict):
    acks: list[StorageAck]
    wallet_updates: list[WalletUpdateResult]


class _OneConnection:
    """A pool stand-in that hands out one connection (already in a transaction): use cases
    written for a pool become parts of that transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self._conn

    def __getattr__(self, name: str) -> Any:  # fetch, fetchrow, fetchval, execute, ...
        return getattr(self._conn, name)


class _InTransaction:
    """The Host the parts run on: the node's, with a domain whose pool is the one connection."""

    def __init__(self, host: Host, domain: Domain) -> None:
        self._host = host
        self.domain = domain

    @property
    def loop(self) -> Any:
        return self._host.loop

    def emit_event(self, event: dict[str, Any], fields: dict[str, Any]) -> None:
        self._host.emit_event(event, fields)


class MultiNk(Area):

    @api
    async def multi_update(self, account_updates: Sequence[Mapping[str, Any]] | None = None,
                           storage_writes: Sequence[Mapping[str, Any]] | None = None,
                           storage_deletes: Sequence[Mapping[str, Any]] | None = None,
                           wallet_updates: Sequence[Mapping[str, Any]] | None = None,
                           update_ledger: bool = False) -> MultiUpdateResult:
        """Account updates `{user_id, username, display_name, avatar_url, lang_tag, location,
        timezone, metadata}`, storage writes and deletes (as `storage_write`/`storage_delete`
        take them) and wallet updates `{user_id, changeset, metadata}`, all in one transaction:
        every part is applied, or (on the first refusal, which is raised) none. Returns the
        storage acks and the wallet results.

        Errors:
            - 3 INVALID_ARGUMENT `account_updates: expected a list of dicts.` (and `objects: expected
              a list of dicts.` for storage_writes, `object_ids: ...` for storage_deletes, `updates:
              ...` for wallet_updates)
            - 3 INVALID_ARGUMENT `account_updates[<i>]: unknown field '<name>'.`
            - Also the errors of `nk.account_update_id`, `nk.storage_write`, `nk.storage_delete` and
              `nk.wallets_update`, for their parts (the first refusal is raised; nothing is changed)

        Example:
            result = nk.multi_update(
                account_updates=[{"user_id": ctx.user_id, "metadata": {"title": "Champion"}}],
                storage_writes=[{"collection": "trophies", "key": "cup", "user_id": ctx.user_id,
                                 "value": {"won": True}}],
                wallet_updates=[{"user_id": ctx.user_id, "changeset": {"gems": 5}}])
        """
        from kizuna.runtime.nk.aio import AsyncNk  # aio.py imports this module

        accounts = args.items(account_updates or [], "account_updates")
        for i, a in enumerate(accounts):
            unknown = set(a) - {"user_id", *_ACCOUNT_FIELDS}
            if unknown:
                raise invalid(f"account_updates[{i}]: unknown field {sorted(unknown)[0]!r}.")
        domain = self._domain
        async with domain.pool.acquire() as conn, conn.transaction():
            scoped = copy.copy(domain)
            scoped.pool = _OneConnection(conn)
            assert self._rt is not None  # `api` checked it
            inner = AsyncNk(_InTransaction(self._rt, scoped))
            for a in accounts:
                await inner.account_update_id(
                    args.user_id(a.get("user_id")), **{k: a.get(k) for k in _ACCOUNT_FIELDS})
            acks = await inner.storage_write(storage_writes) if storage_writes else []
            if storage_deletes:
                await inner.storage_delete(storage_deletes)
            wallets = (await inner.wallets_update(wallet_updates, update_ledger)
                       if wallet_updates else [])
        return {"acks": acks, "wallet_updates": wallets}
