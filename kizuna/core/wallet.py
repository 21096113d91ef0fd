"""Wallets: a user's balances (users.wallet) and the ledger of their changes (wallet_ledger), with
Nakama's rules. Only server code changes a wallet (nk); players see theirs in GET /v2/account.

- A wallet is a JSON object of int64 integers, `{"coins": 10, "gems": 2}`. A changeset is the same
  shape: each value is added to the balance of its key (a missing key counts as 0). A change that
  would leave any balance below zero refuses the whole update (Nakama's "wallet update rejected
  negative value at path 'coins'"); so does one that leaves the int64 range (Nakama would wrap).
- An update reads the wallet with `SELECT ... FOR UPDATE`, so concurrent updates of one wallet
  queue up and none is lost. A batch (`wallets_update`) is one transaction, all or nothing, that
  locks its users in id order (two batches never wait on each other crosswise); updates of one
  user in a batch apply in turn, each seeing the previous one's result. As in Nakama, a batch
  leaves out users that do not exist; a single update (`wallet_update`) of one is an error.
- With `update_ledger`, each update also writes a ledger row (a new id, the changeset, the
  metadata) in the same transaction. The ledger lists newest first; `wallet_ledger_update` merges
  new metadata into a row's (PostgreSQL's `jsonb ||`, top-level keys, as Nakama does).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from kizuna.errors import Code, KizunaError, invalid, not_found
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import WalletLedgerItem, WalletLedgerList, WalletUpdateResult

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

LEDGER_DEFAULT = LEDGER_MAX = 100

USER_NOT_FOUND = "User account not found."
ITEM_NOT_FOUND = "Wallet ledger item not found."
INVALID_CURSOR = "wallet ledger cursor invalid"  # Nakama's ErrWalletLedgerInvalidCursor
BAD_METADATA = "Metadata must be a valid JSON object."
NUL_METADATA = "Metadata must not contain the character U+0000."

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Balances = dict[str, int]


def negative_message(path: str) -> str:
    """Nakama's WalletNegativeError text."""
    return f"wallet update rejected negative value at path '{path}'"


def overflow_message(path: str) -> str:
    return f"wallet update rejected value out of the int64 range at path '{path}'"


# -- arguments -----------------------------------------------------------------------------------


def check_changeset(changeset: Mapping[str, int]) -> Balances:
    """A changeset: string keys (without U+0000, which jsonb cannot store), int64 values."""
    checked: Balances = {}
    for key, value in changeset.items():
        if not isinstance(key, str):
            raise invalid(f"Wallet changeset keys must be strings, not {key!r}.")
        if "\x00" in key:
            raise invalid("Wallet changeset keys must not contain the character U+0000.")
        if type(value) is not int:
            raise invalid(f"Wallet changeset value at path '{key}' must be an integer.")
        if not INT64_MIN <= value <= INT64_MAX:
            raise invalid(f"Wallet changeset value at path '{key}' is out of the int64 range.")
        checked[key] = value
    return checked


def check_metadata(metadata: str | None) -> str:
    """Ledger metadata: a JSON object as text ("{}" when None or empty)."""
    if not metadata:
        return "{}"
    json_object(metadata, BAD_METADATA, NUL_METADATA)
    return metadata


def _canonical_id(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid(f"Invalid {what} ID '{value}'.") from None


# -- the arithmetic ------------------------------------------------------------------------------


def _stored(user_id: str, text: str | None) -> Balances:
    """users.wallet as balances. Anything but an object of integers (a wallet written by hand, or
    by an old Nakama that allowed nested values) cannot be updated."""
    doc = orjson.loads(text) if text else {}
    if type(doc) is not dict or not all(type(v) is int for v in doc.values()):
        raise KizunaError(Code.FAILED_PRECONDITION,
                          f"Wallet of user {user_id} is not an object of integers.")
    return doc


def apply_changeset(wallet: Balances, changeset: Balances) -> Balances:
    """The balances after a changeset (a new dict), or KizunaError if any goes below zero or
    beyond int64."""
    updated = dict(wallet)
    for key, amount in changeset.items():
        value = updated.get(key, 0) + amount
        if value < 0:
            raise KizunaError(Code.FAILED_PRECONDITION, negative_message(key))
        if value > INT64_MAX:
            raise KizunaError(Code.FAILED_PRECONDITION, overflow_message(key))
        updated[key] = value
    return updated


# -- updates -------------------------------------------------------------------------------------


async def _update_locked(conn: asyncpg.Connection,
                         updates: Sequence[tuple[str, Balances, str]],
                         update_ledger: bool) -> list[WalletUpdateResult]:
    ids = sorted({uid for uid, _, _ in updates})
    # ORDER BY under FOR UPDATE: rows are locked as the sort returns them, in id order.
    rows = await conn.fetch(
        "SELECT id::text AS id, wallet::text AS wallet FROM users WHERE id = ANY($1::uuid[]) "
        "ORDER BY id FOR UPDATE", ids)
    wallets = {r["id"]: _stored(r["id"], r["wallet"]) for r in rows}
    results: list[WalletUpdateResult] = []
    ledger: list[tuple[str, str, str, str]] = []
    for uid, changeset, metadata in updates:
        if uid not in wallets:
            continue  # as Nakama: a batch leaves out users that do not exist
        previous = wallets[uid]
        wallets[uid] = apply_changeset(previous, changeset)
        results.append(WalletUpdateResult(user_id=uid, updated=wallets[uid], previous=previous))
        if update_ledger:
            ledger.append((str(uuid.uuid4()), uid, orjson.dumps(changeset).decode(), metadata))
    changed = sorted({r.user_id for r in results})
    if changed:
        await conn.executemany(
            "UPDATE users SET wallet = $2::jsonb, update_time = now() WHERE id = $1",
            [(uid, orjson.dumps(wallets[uid]).decode()) for uid in changed])
    if ledger:
        await conn.executemany(
            "INSERT INTO wallet_ledger (id, user_id, changeset, metadata) "
            "VALUES ($1, $2, $3::jsonb, $4::jsonb)", ledger)
    return results


async def wallets_update(pool: asyncpg.Pool,
                         updates: Sequence[tuple[str, Mapping[str, int], str | None]],
                         update_ledger: bool = False) -> list[WalletUpdateResult]:
    """Apply `(user_id, changeset, metadata)` updates in one transaction: all, or (on the first
    refused change) none. A result per update of a user that exists, in the order given."""
    checked = [(_canonical_id(uid, "user"), check_changeset(cs), check_metadata(md))
               for uid, cs, md in updates]
    if not checked:
        return []
    for attempt in range(3):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await _update_locked(conn, checked, update_ledger)
        except asyncpg.DeadlockDetectedError:  # only if something else locks users out of order
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def wallet_update(pool: asyncpg.Pool, user_id: str, changeset: Mapping[str, int],
                        metadata: str | None = None, update_ledger: bool = False
                        ) -> tuple[Balances, Balances]:
    """Apply one changeset to a user's wallet: the (updated, previous) balances."""
    results = await wallets_update(pool, [(user_id, changeset, metadata)], update_ledger)
    if not results:
        raise not_found(USER_NOT_FOUND)
    return results[0].updated, results[0].previous


# -- the ledger ----------------------------------------------------------------------------------

_ITEM_COLUMNS = ("id::text AS id, user_id::text AS user_id, changeset::text AS changeset, "
                 "metadata::text AS metadata, create_time, update_time")


def _item(row: asyncpg.Record) -> WalletLedgerItem:
    return WalletLedgerItem(id=row["id"], user_id=row["user_id"], changeset=row["changeset"],
                            metadata=row["metadata"], create_time=row["create_time"],
                            update_time=row["update_time"])


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def _cursor_position(cursor: str, user_id: str) -> tuple[datetime, str]:
    """(create_time, id) after which a page starts; the cursor must be this user's."""
    values = decode_cursor(cursor, INVALID_CURSOR)
    try:
        owner, micros, item_id = values
        if owner != user_id or type(micros) is not int or not isinstance(item_id, str):
            raise ValueError
        return _EPOCH + timedelta(microseconds=micros), str(uuid.UUID(item_id))
    except (ValueError, TypeError, OverflowError):
        raise invalid(INVALID_CURSOR) from None


async def wallet_ledger_list(pool: asyncpg.Pool, user_id: str, limit: int = LEDGER_DEFAULT,
                             cursor: str | None = None) -> WalletLedgerList:
    """One page of a user's ledger, newest first, and the next page's cursor (None at the end)."""
    uid = _canonical_id(user_id, "user")
    if not 1 <= limit <= LEDGER_MAX:
        raise invalid(f"Invalid limit - limit must be between 1 and {LEDGER_MAX}.")
    if cursor:
        when, after = _cursor_position(cursor, uid)
        rows = await pool.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM wallet_ledger WHERE user_id = $1 "
            "AND (create_time, id) < ($2, $3::uuid) ORDER BY create_time DESC, id DESC LIMIT $4",
            uid, when, after, limit + 1)
    else:
        rows = await pool.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM wallet_ledger WHERE user_id = $1 "
            "ORDER BY create_time DESC, id DESC LIMIT $2", uid, limit + 1)
    items = [_item(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor([uid, _micros(last.create_time), last.id])
    return WalletLedgerList(items=items, cursor=next_cursor)


async def wallet_ledger_update(pool: asyncpg.Pool, item_id: str, metadata: str | None
                               ) -> WalletLedgerItem:
    """Merge `metadata` (a JSON object's text) into a ledger item's, as Nakama does (top-level
    keys replaced or added, the others kept); the item as it is now."""
    iid = _canonical_id(item_id, "wallet ledger item")
    row = await pool.fetchrow(
        "UPDATE wallet_ledger SET metadata = metadata || $2::jsonb, update_time = now() "
        f"WHERE id = $1 RETURNING {_ITEM_COLUMNS}", iid, check_metadata(metadata))
    if row is None:
        raise not_found(ITEM_NOT_FOUND)
    return _item(row)
