"""Accounts as the console's operator sees them: search, edit, log out everywhere, delete, export.

What a player or server code can do to an account is in core/accounts.py and is reused here (the
profile's validation and update, ban and unban, delete); what is here is what only an operator
needs:

- a search by user id, username (prefix), email (exact or prefix), device id or custom id, or an
  empty search that lists every account. Each is one index range read with keyset pagination on
  the index's column, so a page costs the same on a million accounts as on ten:
  - every account: users_pkey, in id order (the schema has no index on create_time, so "newest
    first" would sort the whole table on each page; Nakama's console lists by id too);
  - a username or email prefix: the unique btree (users_username_key, users_email_key) read as
    the range [prefix, next string after every string with that prefix), see `prefix_end`;
  - a user id, device id (user_device_pkey) or custom id (users_custom_id_key): one probe;
  `total_count` is the table's estimate (pg_class.reltuples) for the whole listing, and a count
  capped at COUNT_CAP rows for a prefix: never a COUNT(*) of the table;
- an edit of every field an operator may change (profile through `accounts.update_account`, and
  email, custom id, password and wallet, which players change only through links or server code),
  in one transaction; a field sent with its stored value is left alone;
- log out everywhere, delete (with or without the tombstone), the user's sessions, and an export
  of everything Kizuna holds about the user (Nakama's AccountExport).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import orjson

from kizuna.core import accounts, chat, friends, groups, notifications, storage, wallet
from kizuna.core.streams import NIL_UUID, Stream
from kizuna.core.users import SYSTEM_USER_ID, USER_COLUMNS, user_from_row
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor
from kizuna.wire.types import (
    Account,
    ChannelMessage,
    Friend,
    LeaderboardRecord,
    Notification,
    StorageObject,
    User,
    UserGroup,
    WalletLedgerItem,
)

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COUNT_CAP = 10_000  # a prefix search counts at most this many matches (then it is a floor)
INVALID_USER_ID = "Requires a valid user ID."
NOT_FOUND = "Account not found."  # core/accounts.get_account's wording
SYSTEM_USER = "Cannot change the system user's sessions or ban it."

# The fields a search can name; "" (or None) is the single smart box, see `search`.
SEARCH_FIELDS = ("user_id", "username", "email", "device_id", "custom_id")
SMART = ""

PROFILE = ("username", "display_name", "avatar_url", "lang_tag", "location", "timezone")


def user_id(value: Any) -> str:
    """A user id from a path or a form: a UUID (canonical text), else code 3."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid(INVALID_USER_ID) from None


def banned(disable_time: datetime | None) -> bool:
    return disable_time is not None and disable_time > EPOCH


# -- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    """One account in a search: the user, its login identifiers, and what matched."""
    user: User
    email: str | None
    custom_id: str | None
    disable_time: datetime | None  # None unless banned
    matched: str  # "" (the whole listing) or the field that matched: username, device_id, ...


@dataclass(frozen=True)
class AccountPage:
    accounts: list[AccountRow]
    next_cursor: str | None
    total_count: int
    total_exact: bool  # False: the table's estimate, or a floor (counting stopped at COUNT_CAP)
    field: str  # the field searched (the smart box's choice), "" for the whole listing


_ROW_COLUMNS = f"{USER_COLUMNS}, u.email, u.custom_id, u.disable_time"


def prefix_end(prefix: str) -> str | None:
    """The first string after every string that starts with `prefix`, in code point order (the
    order of a "C" or "C.UTF-8" collation, which PostgreSQL uses for UTF-8 byte order): the prefix
    with its last character incremented (trailing U+10FFFF dropped first; surrogates skipped).
    None when there is no such string (every string from `prefix` on matches).

    With another collation the index range still bounds the read, and `starts_with` keeps only
    true matches; rare strings that such a collation sorts outside the range can be missed."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _row(r: asyncpg.Record, online: Callable[[str], bool], matched: str) -> AccountRow:
    return AccountRow(user_from_row(r, online(r["id"])), r["email"], r["custom_id"],
                      r["disable_time"] if banned(r["disable_time"]) else None, matched)


def _cursor_after(cursor: str | None, kind: str, query: str) -> str | None:
    """The last key of the previous page, from a cursor made for the same search."""
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if (len(values) != 3 or values[0] != kind or values[1] != query
            or not isinstance(values[2], str) or "\x00" in values[2]):
        raise invalid(MALFORMED_CURSOR)
    return values[2]


async def _estimate(pool: asyncpg.Pool) -> tuple[int, bool]:
    """How many accounts there are (the system user left out): the planner's estimate, or, while
    the table has never been analysed, a count that stops at COUNT_CAP."""
    tuples = await pool.fetchval("SELECT reltuples::bigint FROM pg_class "
                                 "WHERE oid = 'users'::regclass")
    if tuples is not None and tuples >= 0:
        return max(int(tuples) - 1, 0), False
    n = await pool.fetchval(f"SELECT count(*) FROM (SELECT 1 FROM users WHERE id > $1::uuid "
                            f"LIMIT {COUNT_CAP + 1}) c", SYSTEM_USER_ID)
    return min(n, COUNT_CAP), n <= COUNT_CAP


async def _list_all(pool: asyncpg.Pool, online: Callable[[str], bool], limit: int,
                    cursor: str | None) -> AccountPage:
    after = _cursor_after(cursor, "all", "")
    if after is not None:
        after = user_id(after)
    # users_pkey: ids after the nil UUID, so never the system user.
    rows = await pool.fetch(f"SELECT {_ROW_COLUMNS} FROM users u WHERE u.id > $1::uuid "
                            "ORDER BY u.id LIMIT $2", after or SYSTEM_USER_ID, limit + 1)
    page = [_row(r, online, "") for r in rows[:limit]]
    nxt = encode_cursor(["all", "", page[-1].user.id]) if len(rows) > limit else None
    total, exact = await _estimate(pool)
    return AccountPage(page, nxt, total, exact, "")


async def _prefix(pool: asyncpg.Pool, online: Callable[[str], bool], column: str, prefix: str,
                  limit: int, cursor: str | None, skip: set[str]) -> AccountPage:
    """Accounts whose `column` (username or email: a unique btree each) starts with `prefix`,
    in that column's order."""
    after = _cursor_after(cursor, column, prefix)
    end = prefix_end(prefix)
    conds = [f"u.{column} {'>' if after is not None else '>='} $1"]
    args: list[Any] = [after if after is not None else prefix]
    if end is not None:
        args.append(end)
        conds.append(f"u.{column} < ${len(args)}")
    args.append(prefix)
    conds.append(f"starts_with(u.{column}, ${len(args)})")
    args.append(limit + 1)
    rows = await pool.fetch(f"SELECT {_ROW_COLUMNS} FROM users u WHERE {' AND '.join(conds)} "
                            f"ORDER BY u.{column} LIMIT ${len(args)}", *args)
    page = [_row(r, online, column) for r in rows[:limit] if r["id"] not in skip]
    nxt = (encode_cursor([column, prefix, rows[limit - 1][column]]) if len(rows) > limit
           else None)
    # The count reads the same index range, and at most COUNT_CAP + 1 entries of it.
    count_args = [prefix] + ([end] if end is not None else [])
    n = await pool.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM users u WHERE u.{column} >= $1"
        + (f" AND u.{column} < $2" if end is not None else "")
        + f" AND starts_with(u.{column}, $1) LIMIT {COUNT_CAP + 1}) c", *count_args)
    return AccountPage(page, nxt, min(n, COUNT_CAP), n <= COUNT_CAP, column)


async def _exact(pool: asyncpg.Pool, online: Callable[[str], bool], kind: str,
                 value: str) -> list[AccountRow]:
    if kind == "user_id":
        rows = await pool.fetch(f"SELECT {_ROW_COLUMNS} FROM users u WHERE u.id = $1::uuid",
                                user_id(value))
    elif kind == "device_id":
        rows = await pool.fetch(f"SELECT {_ROW_COLUMNS} FROM user_device d "
                                "JOIN users u ON u.id = d.user_id WHERE d.id = $1", value)
    elif kind == "custom_id":
        rows = await pool.fetch(f"SELECT {_ROW_COLUMNS} FROM users u WHERE u.custom_id = $1",
                                value)
    else:  # pragma: no cover - the callers pass the kinds above
        raise AssertionError(kind)
    return [_row(r, online, kind) for r in rows]


async def search(pool: asyncpg.Pool, online: Callable[[str], bool], query: str,
                 field: str | None, limit: int, cursor: str | None) -> AccountPage:
    """One page of accounts matching `query` in `field` (SEARCH_FIELDS), or, with no field, as
    the smart box reads it: a UUID is a user id; text with "@" an email prefix; anything else a
    username prefix, with the accounts whose device id or custom id is exactly the text listed
    first (on the first page; they are left out of the later ones). An empty query lists every
    account (in id order). `limit` is checked by the caller."""
    field = field or SMART
    if field != SMART and field not in SEARCH_FIELDS:
        raise invalid(f"Unknown search field '{field}': one of {', '.join(SEARCH_FIELDS)}.")
    if "\x00" in query:
        raise invalid("The search must not contain the NUL character (U+0000).")
    query = query.strip()
    if not query:
        return await _list_all(pool, online, limit, cursor)
    if field == SMART:
        try:
            uuid.UUID(query)
            field = "user_id"
        except ValueError:
            field = "email" if "@" in query else "username"
        if field == "username":
            extras: list[AccountRow] = []
            for kind in ("device_id", "custom_id"):
                for row in await _exact(pool, online, kind, query):
                    if all(e.user.id != row.user.id for e in extras):
                        extras.append(row)
            skip = {e.user.id for e in extras}
            page = await _prefix(pool, online, "username", query, limit, cursor, skip)
            if cursor or not extras:
                return page
            more = sum(not e.user.username.startswith(query) for e in extras)
            return AccountPage(extras + page.accounts, page.next_cursor,
                               page.total_count + more, page.total_exact, "username")
    if field == "username":
        return await _prefix(pool, online, "username", query, limit, cursor, set())
    if field == "email":
        # Emails are stored in lower case (as Nakama): the search is case-insensitive.
        return await _prefix(pool, online, "email", query.lower(), limit, cursor, set())
    if cursor:  # one probe: there is never a next page
        raise invalid(MALFORMED_CURSOR)
    found = await _exact(pool, online, field, query)
    return AccountPage(found, None, len(found), True, field)


# -- one account ---------------------------------------------------------------------------------


async def get_account(domain: Domain, uid: str) -> Account:
    """The account (404 `Account not found.`), as core/accounts.py reads it."""
    return await accounts.get_account(domain, user_id(uid))


async def username_of(pool: asyncpg.Pool, uid: str) -> str:
    """The username of an account; 404 if there is none."""
    name = await pool.fetchval("SELECT username FROM users WHERE id = $1::uuid", user_id(uid))
    if name is None:
        raise KizunaError(Code.NOT_FOUND, NOT_FOUND)
    return cast(str, name)


@dataclass(frozen=True)
class AccountEdit:
    """What an operator changes (None: left as it is; "" clears a text field). `metadata` and
    `wallet` are JSON objects as text."""
    profile: dict[str, str | None] = field(default_factory=dict)
    metadata: str | None = None
    wallet: str | None = None
    email: str | None = None
    custom_id: str | None = None
    password: str | None = None

    def empty(self) -> bool:
        return (all(v is None for v in self.profile.values()) and self.metadata is None
                and self.wallet is None and self.email is None and self.custom_id is None
                and self.password is None)


def _balances(text: str) -> dict[str, int]:
    """A wallet an operator writes: an object of balances, each an integer in 0..int64 max."""
    doc = json_object(text, "Wallet must be a JSON object.",
                      "Wallet must not contain the character U+0000.")
    for key, value in doc.items():
        if type(value) is not int:
            raise invalid(f"Wallet value at path '{key}' must be an integer.")
        if value < 0:
            raise invalid(f"Wallet value at path '{key}' must not be negative.")
        if value > wallet.INT64_MAX:
            raise invalid(f"Wallet value at path '{key}' is out of the int64 range.")
    return cast(dict[str, int], doc)


def _same_json(a: str, b: str | None) -> bool:
    try:
        return bool(orjson.loads(a) == orjson.loads(b or "{}"))
    except orjson.JSONDecodeError:
        return False


async def edit_account(pool: asyncpg.Pool, uid: str, edit: AccountEdit) -> list[str]:
    """Apply an operator's edit in one transaction; the names of the fields that changed.

    A field sent with the value it has is left alone (and not checked again: a form sends every
    field, and an account imported from Nakama may hold a value today's rules refuse). The profile
    and metadata go through core/accounts.py's `update_account` (the game API's validation and
    messages). Email and custom id are checked as when they are linked (a taken one is code 6);
    "" unlinks them (the operator may leave an account with no way to log in, as Nakama's console
    may). A new password is hashed as an email login's. A new wallet is written as a ledger item
    too, whose changeset is the difference, so the ledger still explains every balance."""
    uid = user_id(uid)
    if edit.empty():
        raise invalid("No fields to update.")
    hashed = None
    if edit.password:
        if len(edit.password.encode()) < 8:
            raise invalid("Password must be at least 8 characters long.")
        hashed = await accounts.hash_password(edit.password)  # in a thread, before any lock
    changed: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT username, display_name, avatar_url, lang_tag, location, timezone, "
            "metadata::text AS metadata, wallet::text AS wallet, email, custom_id "
            "FROM users WHERE id = $1 FOR UPDATE", uid)
        if row is None:
            raise KizunaError(Code.NOT_FOUND, NOT_FOUND)
        profile: dict[str, str | None] = {}
        for name in PROFILE:
            value = edit.profile.get(name)
            current = row[name] or ""
            if value is None or value == current or (name == "lang_tag" and value == ""
                                                     and current == "en"):
                continue
            profile[name] = value
        metadata = edit.metadata
        if metadata is not None and _same_json(metadata, row["metadata"]):
            metadata = None
        if profile or metadata is not None:
            # The same rules as PUT /v2/account (and nk.account_update_id), in this transaction.
            await accounts.update_account(cast(asyncpg.Pool, conn), uid, profile, metadata)
            changed += list(profile) + (["metadata"] if metadata is not None else [])
        if edit.email is not None and (edit.email.lower() or None) != row["email"]:
            if edit.email:
                accounts._validate_email_address(edit.email)  # link_email's rules and messages
            await _set_unique(conn, uid, "email", edit.email.lower() or None,
                              "Email is already in use.")
            changed.append("email")
        if edit.custom_id is not None and (edit.custom_id or None) != row["custom_id"]:
            if edit.custom_id:
                accounts.validate_custom_id(edit.custom_id)
            await _set_unique(conn, uid, "custom_id", edit.custom_id or None,
                              "Custom ID is already in use.")
            changed.append("custom_id")
        if hashed is not None:
            await conn.execute("UPDATE users SET password = $2, update_time = now() "
                               "WHERE id = $1", uid, hashed)
            changed.append("password")
        if edit.wallet is not None and not _same_json(edit.wallet, row["wallet"]):
            await _set_wallet(conn, uid, row["wallet"], _balances(edit.wallet))
            changed.append("wallet")
    return changed


async def _set_unique(conn: asyncpg.Connection, uid: str, column: str, value: str | None,
                      taken: str) -> None:
    try:
        await conn.execute(f"UPDATE users SET {column} = $2, update_time = now() WHERE id = $1",
                           uid, value)
    except asyncpg.UniqueViolationError:
        raise KizunaError(Code.ALREADY_EXISTS, taken) from None


async def _set_wallet(conn: asyncpg.Connection, uid: str, stored: str | None,
                      balances: dict[str, int]) -> None:
    await conn.execute("UPDATE users SET wallet = $2::jsonb, update_time = now() WHERE id = $1",
                       uid, orjson.dumps(balances).decode())
    previous = orjson.loads(stored) if stored else {}
    if type(previous) is not dict or not all(type(v) is int for v in previous.values()):
        return  # a wallet that was not balances (written by hand): no difference to record
    diff = {k: balances.get(k, 0) - previous.get(k, 0)
            for k in sorted(set(balances) | set(previous))
            if balances.get(k, 0) != previous.get(k, 0)}
    if diff:
        await conn.execute(
            "INSERT INTO wallet_ledger (id, user_id, changeset, metadata) "
            "VALUES ($1, $2, $3::jsonb, $4::jsonb)", str(uuid.uuid4()), uid,
            orjson.dumps(diff).decode(), '{"source": "console"}')


# -- bans, sessions, deletion --------------------------------------------------------------------


def _not_system(uid: str) -> str:
    uid = user_id(uid)
    if uid == SYSTEM_USER_ID:
        raise invalid(SYSTEM_USER)
    return uid


async def ban(domain: Domain, uid: str) -> None:
    """Ban an account with core/accounts.py's `ban_users`: no more logins or refreshes, every
    session revoked on every node, its sockets closed. 404 if there is no such account."""
    if not await accounts.ban_users(domain, [_not_system(uid)]):
        raise KizunaError(Code.NOT_FOUND, NOT_FOUND)


async def unban(domain: Domain, uid: str) -> None:
    uid = _not_system(uid)
    await username_of(domain.pool, uid)
    await accounts.unban_users(domain.pool, [uid])


async def logout_everywhere(domain: Domain, uid: str) -> None:
    """Revoke every session of an account (on every node) and close its sockets."""
    uid = _not_system(uid)
    await username_of(domain.pool, uid)
    await domain.sessions.revoke_user(uid)
    domain.sockets.disconnect_user(uid, "logged out by an operator")


async def delete(domain: Domain, uid: str, record_deletion: bool = True) -> None:
    """Delete an account with core/accounts.py's `delete_account` (sessions revoked, sockets
    closed, memberships, records and everything that cascades gone). Without `record_deletion`
    the tombstone it leaves is taken away again (Nakama's console offers both)."""
    uid = user_id(uid)
    if not await accounts.delete_account(domain, uid):
        raise KizunaError(Code.NOT_FOUND, NOT_FOUND)
    if not record_deletion:
        await domain.pool.execute("DELETE FROM user_tombstone WHERE user_id = $1", uid)


@dataclass(frozen=True)
class SessionRow:
    """One issued session (user_session): its token id, when it was issued, when its last token
    expires, and when it was revoked (None: it was not)."""
    token_id: str
    create_time: datetime
    expire_time: datetime
    revoke_time: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoke_time is not None:
            return "revoked"
        return "expired" if self.expire_time <= now else "active"


async def list_sessions(pool: asyncpg.Pool, uid: str, limit: int,
                        cursor: str | None) -> tuple[list[SessionRow], str | None]:
    """A user's sessions, newest first (user_session_user_id_idx finds them; a user has few:
    rows go a minute after their last token expires). `limit` is checked by the caller."""
    uid = user_id(uid)
    args: list[Any] = [uid, limit + 1]
    sql = ("SELECT token_id::text AS token_id, create_time, expire_time, revoke_time "
           "FROM user_session WHERE user_id = $1")
    if cursor:
        values = decode_cursor(cursor)
        try:
            kind, when, tid = values
            if kind != "s" or not isinstance(when, str) or not isinstance(tid, str):
                raise ValueError
            args += [datetime.fromisoformat(when), str(uuid.UUID(tid))]
        except (ValueError, TypeError):
            raise invalid(MALFORMED_CURSOR) from None
        sql += " AND (create_time, token_id) < ($3, $4::uuid)"
    rows = await pool.fetch(sql + " ORDER BY create_time DESC, token_id DESC LIMIT $2", *args)
    items = [SessionRow(r["token_id"], r["create_time"], r["expire_time"], r["revoke_time"])
             for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = encode_cursor(["s", last.create_time.isoformat(), last.token_id])
    return items, nxt


# -- export --------------------------------------------------------------------------------------

EXPORT_PAGE = 100


@dataclass(frozen=True)
class AccountExport:
    """Everything Kizuna holds about a user (Nakama's AccountExport)."""
    account: Account
    objects: list[StorageObject]
    friends: list[Friend]
    groups: list[UserGroup]
    messages: list[ChannelMessage]
    leaderboard_records: list[LeaderboardRecord]
    notifications: list[Notification]
    wallet_ledgers: list[WalletLedgerItem]


_MESSAGES = ("SELECT id::text AS id, code, sender_id::text AS sender_id, username, "
             "content::text AS content, create_time, update_time, stream_mode, "
             "stream_subject::text AS subject, stream_descriptor::text AS descriptor, "
             "stream_label FROM message WHERE sender_id = $1 ORDER BY create_time, id")

_RECORDS = ("SELECT owner_id::text AS owner_id, username, score, subscore, num_score, "
            "max_num_score, metadata::text AS metadata, create_time, update_time, "
            "leaderboard_id, extract(epoch FROM expiry_time)::bigint AS expiry "
            "FROM leaderboard_record WHERE owner_id = $1 ORDER BY leaderboard_id, expiry_time")


def _stream(r: asyncpg.Record) -> Stream:
    def part(value: str) -> str:
        return "" if value == NIL_UUID else value
    return Stream(r["stream_mode"], part(r["subject"]), part(r["descriptor"]), r["stream_label"])


async def export(domain: Domain, uid: str) -> AccountExport:
    """The account, its storage objects, friends, groups (every role but banned), the chat
    messages it sent, its leaderboard and tournament records, notifications and wallet ledger.
    Each list is read through the owner's index, page by page where core/ pages it."""
    pool = domain.pool
    account = await get_account(domain, uid)
    uid = account.user.id
    objects = await storage.list_user_objects(pool, uid)
    friend_items: list[Friend] = []
    cursor: str | None = None
    while True:
        page = await friends.list_friends(domain, uid, 1000, None, cursor)
        friend_items += page.friends
        cursor = page.cursor
        if not cursor:
            break
    group_items: list[UserGroup] = []
    cursor = None
    while True:
        gpage = await groups.list_user_groups(pool, uid, 1000, None, cursor)
        group_items += gpage.user_groups
        cursor = gpage.cursor
        if not cursor:
            break
    messages = [chat.message(_stream(r), r["id"], r["code"], r["sender_id"], r["username"],
                             r["content"], r["create_time"], r["update_time"], True)
                for r in await pool.fetch(_MESSAGES, uid)]
    records = [LeaderboardRecord(
        leaderboard_id=r["leaderboard_id"], owner_id=r["owner_id"], username=r["username"],
        score=r["score"], subscore=r["subscore"], num_score=r["num_score"],
        max_num_score=r["max_num_score"], metadata=r["metadata"], create_time=r["create_time"],
        update_time=r["update_time"], expiry_time=r["expiry"], rank=0)
        for r in await pool.fetch(_RECORDS, uid)]
    notes: list[Notification] = []
    cursor = None
    while True:
        npage = await notifications.list_notifications(pool, uid, EXPORT_PAGE, cursor)
        notes += npage.notifications
        if len(npage.notifications) < EXPORT_PAGE:
            break
        cursor = npage.cacheable_cursor
    ledger: list[WalletLedgerItem] = []
    cursor = None
    while True:
        lpage = await wallet.wallet_ledger_list(pool, uid, wallet.LEDGER_MAX, cursor)
        ledger += lpage.items
        cursor = lpage.cursor
        if not cursor:
            break
    return AccountExport(account, objects, friend_items, group_items, messages, records, notes,
                         ledger)
