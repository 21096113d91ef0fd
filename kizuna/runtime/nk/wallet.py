"""nk: wallets and the wallet ledger (kizuna/core/wallet.py), by Nakama's runtime names and
parameters (as the Lua and JavaScript runtimes order them and shape their results). Only server
code changes wallets; players read theirs in their account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from kizuna.core import wallet
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.wire import codec, encode, paging


class WalletChange(TypedDict):
    """`wallet_update`'s result: the balances after and before the update."""
    updated: dict[str, int]
    previous: dict[str, int]


class WalletUpdateResult(TypedDict):
    """One item of `wallets_update`'s result."""
    user_id: str
    updated: dict[str, int]
    previous: dict[str, int]


class WalletLedgerItem(TypedDict):
    id: str
    user_id: str
    changeset: dict[str, int]
    metadata: dict[str, Any]
    create_time: str
    update_time: str


def _changeset(value: Any, what: str = "changeset") -> dict[str, int]:
    """A dict of integers; the core checks its keys and the int64 range."""
    if not isinstance(value, Mapping):
        raise Error(f"{what}: expected a dict of integers.", Code.INVALID_ARGUMENT)
    return dict(value)


def _metadata(value: Mapping[str, Any] | str | None, what: str = "metadata") -> str | None:
    if value is None:
        return None
    if not isinstance(value, (Mapping, str)):
        raise Error(f"{what}: expected a dict or JSON text.", Code.INVALID_ARGUMENT)
    return codec.document_text(value, what)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Error(f"{what}: expected True or False.", Code.INVALID_ARGUMENT)
    return value


class WalletNk(Area):

    @api
    async def wallet_update(self, user_id: str, changeset: Mapping[str, int],
                            metadata: Mapping[str, Any] | str | None = None,
                            update_ledger: bool = False) -> WalletChange:
        """Add `changeset` (`{"coins": -10, "gems": 1}`, int64 values) to a user's wallet, at once
        and atomically: `{updated, previous}` balances. A balance that would go below zero refuses
        the whole update (code 9, "wallet update rejected negative value at path 'coins'").
        With `update_ledger`, a ledger item records the changeset and `metadata`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `changeset: expected a dict of integers.`
            - 3 INVALID_ARGUMENT `metadata: expected a dict or JSON text.`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Wallet changeset keys must be strings, not <key>.`
            - 3 INVALID_ARGUMENT `Wallet changeset keys must not contain the character U+0000.`
            - 3 INVALID_ARGUMENT `Wallet changeset value at path '<key>' must be an integer.`
            - 3 INVALID_ARGUMENT `Wallet changeset value at path '<key>' is out of the int64 range.`
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.` / `Metadata must not contain
              the character U+0000.`
            - 3 INVALID_ARGUMENT `update_ledger: expected True or False.`
            - 9 FAILED_PRECONDITION `wallet update rejected negative value at path '<key>'` (a balance
              would go below zero: nothing is changed)
            - 9 FAILED_PRECONDITION `wallet update rejected value out of the int64 range at path
              '<key>'`
            - 9 FAILED_PRECONDITION `Wallet of user <id> is not an object of integers.` (a wallet
              written by another tool)
            - 5 NOT_FOUND `User account not found.`

        Example:
            result = nk.wallet_update(ctx.user_id, {"coins": -10, "gems": 1}, {"reason": "shop"},
                                      update_ledger=True)
            coins = result["updated"]["coins"]
        """
        updated, previous = await wallet.wallet_update(
            self._domain.pool, args.user_id(user_id), _changeset(changeset), _metadata(metadata),
            _flag(update_ledger, "update_ledger"))
        return {"updated": updated, "previous": previous}

    @api
    async def wallets_update(self, updates: Sequence[Mapping[str, Any]],
                             update_ledger: bool = False) -> list[WalletUpdateResult]:
        """Several updates `{user_id, changeset, metadata}` in one transaction: all are applied,
        or none. `{user_id, updated, previous}` for each; users that do not exist are left out.

        Errors:
            - 3 INVALID_ARGUMENT `updates: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (a `user_id` is not a
              UUID)
            - 3 INVALID_ARGUMENT `updates[<i>].changeset: expected a dict of integers.`
            - 3 INVALID_ARGUMENT `updates[<i>].metadata: expected a dict or JSON text.`
            - 3 INVALID_ARGUMENT `updates[<i>].metadata must be JSON-encodable.` (a value json cannot
              encode)
            - 3 INVALID_ARGUMENT `Wallet changeset keys must be strings, not <key>.`
            - 3 INVALID_ARGUMENT `Wallet changeset keys must not contain the character U+0000.`
            - 3 INVALID_ARGUMENT `Wallet changeset value at path '<key>' must be an integer.`
            - 3 INVALID_ARGUMENT `Wallet changeset value at path '<key>' is out of the int64 range.`
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.` / `Metadata must not contain
              the character U+0000.`
            - 3 INVALID_ARGUMENT `update_ledger: expected True or False.`
            - 9 FAILED_PRECONDITION `wallet update rejected negative value at path '<key>'` (a balance
              would go below zero: nothing is changed)
            - 9 FAILED_PRECONDITION `wallet update rejected value out of the int64 range at path
              '<key>'`
            - 9 FAILED_PRECONDITION `Wallet of user <id> is not an object of integers.` (a wallet
              written by another tool)

        Example:
            results = nk.wallets_update([{"user_id": winner_id, "changeset": {"coins": 100}},
                                         {"user_id": loser_id, "changeset": {"coins": 10}}])
        """
        batch = []
        for i, u in enumerate(args.items(updates, "updates")):
            batch.append((args.user_id(u.get("user_id")),
                          _changeset(u.get("changeset"), f"updates[{i}].changeset"),
                          _metadata(u.get("metadata"), f"updates[{i}].metadata")))
        results = await wallet.wallets_update(self._domain.pool, batch,
                                              _flag(update_ledger, "update_ledger"))
        return [cast(WalletUpdateResult, encode.wallet_update_result(r, full=True))
                for r in results]

    @api
    async def wallet_ledger_list(self, user_id: str, limit: int = 100, cursor: str | None = None
                                 ) -> tuple[list[WalletLedgerItem], str | None]:
        """One page of a user's ledger items `{id, user_id, changeset, metadata, create_time,
        update_time}`, newest first, and the next page's cursor (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `wallet ledger cursor invalid`

        Example:
            items, cursor = nk.wallet_ledger_list(ctx.user_id, limit=20)
        """
        page = await wallet.wallet_ledger_list(
            self._domain.pool, args.user_id(user_id), paging.limit(limit, default=100),
            cursor or None)
        return ([cast(WalletLedgerItem, encode.wallet_ledger_item(i, full=True))
                 for i in page.items], page.cursor)

    @api
    async def wallet_ledger_update(self, item_id: str, metadata: Mapping[str, Any] | str
                                   ) -> WalletLedgerItem:
        """Merge `metadata` into a ledger item's (its top-level keys replace or join the item's,
        as Nakama does): the item as it is now.

        Errors:
            - 3 INVALID_ARGUMENT `item_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid wallet ledger item ID '<id>'.` (not a UUID)
            - 3 INVALID_ARGUMENT `metadata: expected a dict or JSON text.`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.` / `Metadata must not contain
              the character U+0000.`
            - 5 NOT_FOUND `Wallet ledger item not found.`

        Example:
            item = nk.wallet_ledger_update(item_id, {"refunded": True})
        """
        if not isinstance(item_id, str):
            raise Error("item_id: expected a string.", Code.INVALID_ARGUMENT)
        item = await wallet.wallet_ledger_update(self._domain.pool, item_id,
                                                 _metadata(metadata) or "{}")
        return cast(WalletLedgerItem, encode.wallet_ledger_item(item, full=True))
