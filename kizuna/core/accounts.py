"""Accounts: authentication by device, email and custom id; the account; links; users.

Rules and messages follow Nakama's so that clients see the same errors. Passwords are bcrypt
hashes computed in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import random
import re
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg
import bcrypt

from kizuna.core import chat, friends, groups, leaderboards
from kizuna.core.users import SYSTEM_USER_ID, USER_COLUMNS, user_from_row
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.types import Account, User

if TYPE_CHECKING:
    from kizuna.core.domain import Domain
    from kizuna.core.sessions import IssuedSession

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BCRYPT_ROUNDS = 10

# Nakama's `([[:cntrl:]]|[[:space:]])+`: Go's POSIX classes are ASCII-only.
_INVALID_CHARS = re.compile(r"[\x00-\x20\x7f]")
_EMAIL = re.compile(r"^.+@.+\..+$", re.S)
_LETTERS = string.ascii_letters


def generate_username() -> str:
    return "".join(random.choices(_LETTERS, k=10))


def _has_invalid_chars(value: str) -> bool:
    return bool(_INVALID_CHARS.search(value))


_USERNAME_INVALID = re.compile(r"[\x00-\x1f\x7f\t\n\r\f\v]")


def validate_username(username: str) -> None:
    if _USERNAME_INVALID.search(username):
        raise invalid("Username invalid, no spaces or control characters allowed.")
    if len(username.encode()) > 128:
        raise invalid("Username invalid, must be 1-128 bytes.")


def validate_device_id(device_id: str | None) -> str:
    if not device_id:
        raise invalid("Device ID is required.")
    if _has_invalid_chars(device_id):
        raise invalid("Device ID invalid, no spaces or control characters allowed.")
    if not 10 <= len(device_id.encode()) <= 128:
        raise invalid("Device ID invalid, must be 10-128 bytes.")
    return device_id


def validate_custom_id(custom_id: str | None) -> str:
    if not custom_id:
        raise invalid("Custom ID is required.")
    if _has_invalid_chars(custom_id):
        raise invalid("Custom ID invalid, no spaces or control characters allowed.")
    if not 6 <= len(custom_id.encode()) <= 128:
        raise invalid("Custom ID invalid, must be 6-128 bytes.")
    return custom_id


def _validate_email_address(email: str) -> None:
    if _has_invalid_chars(email):
        raise invalid("Invalid email address, no spaces or control characters allowed.")
    if not _EMAIL.match(email):
        raise invalid("Invalid email address format.")
    if not 10 <= len(email.encode()) <= 255:
        raise invalid("Invalid email address, must be 10-255 bytes.")


def validate_email_link(email: str | None, password: str | None) -> tuple[str, str]:
    """Nakama's checks for linking an email, in its order (the password before the format)."""
    if not email or not password:
        raise invalid("Email address and password is required.")
    if _has_invalid_chars(email):
        raise invalid("Invalid email address, no spaces or control characters allowed.")
    if len(password.encode()) < 8:
        raise invalid("Password must be at least 8 characters long.")
    check_password_length(password)
    _validate_email_address(email)
    return email.lower(), password


# bcrypt reads at most 72 bytes of a password (the bcrypt package refuses more with ValueError;
# Nakama's Go bcrypt does too, and answers a 500). Refused as the client's mistake, by name.
MAX_PASSWORD_BYTES = 72
PASSWORD_TOO_LONG = f"Password must be at most {MAX_PASSWORD_BYTES} bytes long."


def check_password_length(password: str) -> None:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise invalid(PASSWORD_TOO_LONG)


async def hash_password(password: str) -> bytes:
    check_password_length(password)
    return await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS))


async def check_password(password: str, hashed: bytes | None) -> bool:
    if not hashed:
        return False
    try:
        return await asyncio.to_thread(bcrypt.checkpw, password.encode(), bytes(hashed))
    except ValueError:
        return False


def _banned(disable_time: datetime | None) -> bool:
    return disable_time is not None and disable_time > EPOCH


BANNED = KizunaError(Code.PERMISSION_DENIED, "User account banned.")
NOT_FOUND = KizunaError(Code.NOT_FOUND, "User account not found.")
USERNAME_TAKEN = KizunaError(Code.ALREADY_EXISTS, "Username is already in use.")


@dataclass(frozen=True)
class AuthResult:
    user_id: str
    username: str
    created: bool


# -- authentication ----------------------------------------------------------------------------


async def _create_user(conn: asyncpg.Connection | asyncpg.Pool, username: str | None,
                       columns: dict[str, Any], device_id: str | None = None) -> AuthResult | None:
    """Insert a user (and its device) in one statement. None if the identifier was taken by a
    concurrent request (the caller looks it up again). A generated username that collides is
    drawn again; a requested one that is taken is a 409."""
    names = ["id", "username", *columns]
    user_id = str(uuid.uuid4())
    n = len(names)
    placeholders = ", ".join(f"${i + 1}" for i in range(n))
    insert = f"INSERT INTO users ({', '.join(names)}) VALUES ({placeholders})"
    if device_id is None:
        sql = insert + " RETURNING username"
    else:
        sql = (f"WITH u AS ({insert} RETURNING id, username), d AS (INSERT INTO user_device "
               f"(id, user_id) SELECT ${n + 1}, id FROM u) SELECT username FROM u")
    for _attempt in range(5):
        name = username or generate_username()
        args = [user_id, name, *columns.values()] + ([device_id] if device_id is not None else [])
        try:
            created = await conn.fetchval(sql, *args)
            return AuthResult(user_id, created, True)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "users_username_key":
                if username:
                    raise USERNAME_TAKEN from None
                continue
            return None  # the device/email/custom id was registered concurrently
    raise KizunaError(Code.INTERNAL, "Could not generate a unique username.")


async def _find_or_create(pool: asyncpg.Pool, lookup: str, key: str, username: str | None,
                          create: bool, columns: dict[str, Any],
                          device_id: str | None = None) -> AuthResult:
    """Log into the account `lookup` finds for `key`, or create it (with `columns`)."""
    if username:
        validate_username(username)
    async with pool.acquire() as conn:
        for _ in range(3):  # a concurrent creation of the same id: look it up again
            row = await conn.fetchrow(lookup, key)
            if row is not None:
                if _banned(row["disable_time"]):
                    raise BANNED
                return AuthResult(row["id"], row["username"], False)
            if not create:
                raise NOT_FOUND
            created = await _create_user(conn, username, columns, device_id=device_id)
            if created is not None:
                return created
    raise KizunaError(Code.INTERNAL, "Error finding or creating user account.")


async def authenticate_device(pool: asyncpg.Pool, device_id: str, username: str | None,
                              create: bool) -> AuthResult:
    validate_device_id(device_id)
    return await _find_or_create(
        pool, "SELECT u.id::text AS id, u.username, u.disable_time FROM user_device d "
              "JOIN users u ON u.id = d.user_id WHERE d.id = $1",
        device_id, username, create, {}, device_id=device_id)


async def authenticate_custom(pool: asyncpg.Pool, custom_id: str, username: str | None,
                              create: bool) -> AuthResult:
    validate_custom_id(custom_id)
    return await _find_or_create(
        pool, "SELECT id::text AS id, username, disable_time FROM users WHERE custom_id = $1",
        custom_id, username, create, {"custom_id": custom_id})


async def authenticate_email(pool: asyncpg.Pool, email: str, password: str,
                             username: str | None, create: bool) -> AuthResult:
    # Nakama's order: the address (when given), then the password, then the username. There is
    # no "required" error here: over REST an empty body is an empty account, as `{}` is.
    if email:
        _validate_email_address(email)
    if len(password.encode()) < 8:
        raise invalid("Password must be at least 8 characters long.")
    check_password_length(password)
    if not email:
        # No email: Nakama logs in by username and password instead (never creates).
        if not username:
            raise invalid("Username is required when email address is not supplied.")
        validate_username(username)
        row = await pool.fetchrow(
            "SELECT id::text AS id, username, password, disable_time FROM users WHERE username = $1",
            username)
        if row is None:
            raise NOT_FOUND
        if _banned(row["disable_time"]):
            raise BANNED
        if not await check_password(password, row["password"]):
            raise KizunaError(Code.UNAUTHENTICATED, "Invalid credentials.")
        return AuthResult(row["id"], row["username"], False)
    email = email.lower()
    if username:
        validate_username(username)
    for _ in range(3):
        row = await pool.fetchrow(
            "SELECT id::text AS id, username, password, disable_time FROM users WHERE email = $1",
            email)
        if row is not None:
            if _banned(row["disable_time"]):
                raise BANNED
            if not await check_password(password, row["password"]):
                raise KizunaError(Code.UNAUTHENTICATED, "Invalid credentials.")
            return AuthResult(row["id"], row["username"], False)
        if not create:
            raise NOT_FOUND
        hashed = await hash_password(password)
        created = await _create_user(pool, username, {"email": email, "password": hashed})
        if created is not None:
            return created
    raise KizunaError(Code.INTERNAL, "Error finding or creating user account.")


async def check_user_for_refresh(pool: asyncpg.Pool, user_id: str) -> str:
    """The current username of a user refreshing a session; 404 if gone, 403 if banned."""
    row = await pool.fetchrow("SELECT username, disable_time FROM users WHERE id = $1", user_id)
    if row is None:
        raise NOT_FOUND
    if _banned(row["disable_time"]):
        raise BANNED
    username: str = row["username"]
    return username


async def refresh_session(domain: Domain, token: str, vars: dict[str, str] | None) -> IssuedSession:
    """A new token pair for the session a refresh token stands for: the token must be valid
    and not revoked, the user must still exist and not be banned. `vars` None keeps the old."""
    if not token:
        raise invalid("Refresh token is required.")
    sessions = domain.sessions
    old = sessions.tokens.verify_refresh(token)
    if old is None or old.token_id in sessions.revoked:
        raise KizunaError(Code.UNAUTHENTICATED, "Refresh token invalid or expired.")
    username = await check_user_for_refresh(domain.pool, old.user_id)
    return await sessions.refresh(domain.pool, old, username, vars)


# -- the account -------------------------------------------------------------------------------

async def get_account(domain: Domain, user_id: str) -> Account:
    """A user's account, with whether the user is online (on any node)."""
    row = await domain.pool.fetchrow(
        f"SELECT {USER_COLUMNS}, u.wallet::text AS wallet, u.email, u.custom_id, u.verify_time, "
        f"u.disable_time, coalesce((SELECT array_agg(d.id ORDER BY d.id) FROM user_device d "
        f"WHERE d.user_id = u.id), '{{}}') AS devices FROM users u WHERE u.id = $1", user_id)
    if row is None:
        raise KizunaError(Code.NOT_FOUND, "Account not found.")  # Nakama's wording for this call
    return Account(user=user_from_row(row, domain.sockets.is_online(row["id"])), wallet=row["wallet"],
                   email=row["email"], devices=list(row["devices"]), custom_id=row["custom_id"],
                   verify_time=row["verify_time"], disable_time=row["disable_time"])


_UPDATE_LIMITS = {"display_name": 255, "avatar_url": 512, "lang_tag": 18, "location": 255,
                  "timezone": 255}


async def update_account(pool: asyncpg.Pool, user_id: str, fields: dict[str, str | None],
                         metadata: str | None = None) -> None:
    """Update the given profile fields (None = not given). An empty string clears a field.
    `metadata` (a JSON object, as text) can only be set by server code, as in Nakama."""
    sets: list[str] = []
    args: list[Any] = [user_id]
    if metadata is not None:
        json_object(metadata, "Metadata must be a JSON object.",
                    "Metadata must not contain NUL characters.")
        args.append(metadata)
        sets.append(f"metadata = ${len(args)}::jsonb")
    username = fields.get("username")
    if username is not None:
        if not 1 <= len(username.encode()) <= 128:
            raise invalid("Username invalid, must be 1-128 bytes.")
        validate_username(username)
        args.append(username)
        sets.append(f"username = ${len(args)}")
    for name, limit in _UPDATE_LIMITS.items():
        value = fields.get(name)
        if value is None:
            continue
        if len(value) > limit:
            raise invalid(f"{name.replace('_', ' ').capitalize()} invalid, must be 0-{limit} characters.")
        if name == "lang_tag" and value == "":
            value = "en"  # the column is NOT NULL: an empty tag means the default
        args.append(value if value != "" else None)
        sets.append(f"{name} = ${len(args)}")
    if not sets:
        raise invalid("No fields to update.")
    try:
        await pool.execute(
            f"UPDATE users SET {', '.join(sets)}, update_time = now() WHERE id = $1", *args)
    except asyncpg.UniqueViolationError:
        # Nakama answers a taken name here with InvalidArgument (400), unlike authenticate (409).
        raise invalid("Username is already in use.") from None


async def delete_account(domain: Domain, user_id: str) -> bool:
    """Delete a user: its sessions revoked (on every node), its sockets closed, then, in one
    transaction, its friends' edge counts lowered, its group memberships ended (a group whose
    only superadmin it was is deleted), its leaderboard and tournament records deleted, the user
    and everything that cascades from it deleted, and a tombstone left. False if absent."""
    if user_id == SYSTEM_USER_ID:
        raise KizunaError(Code.INVALID_ARGUMENT, "Cannot delete the system user.")
    await domain.sessions.revoke_user(user_id)
    domain.sockets.disconnect_user(user_id, "account deleted")
    async with domain.pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id):
            return False
        await friends.remove_user(conn, user_id)
        gone = await groups.remove_user(conn, user_id)
        # Records have no foreign key (as Nakama's): delete them, every node drops their ranks.
        await leaderboards.delete_owner_records(conn, user_id)
        await conn.execute("DELETE FROM users WHERE id = $1", user_id)
        await conn.execute(
            "INSERT INTO user_tombstone (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE "
            "SET create_time = now()", user_id)
    for gid, members in gone:
        stream = chat.group_channel(gid)
        for member in members:
            domain.sockets.leave_stream(member, stream)
    return True


# -- links ---------------------------------------------------------------------------------------

# At least one way to log in must remain after an unlink.
_OTHER_LOGINS = {
    "custom_id": "facebook_id IS NOT NULL OR google_id IS NOT NULL OR gamecenter_id IS NOT NULL "
                 "OR steam_id IS NOT NULL OR email IS NOT NULL OR apple_id IS NOT NULL "
                 "OR facebook_instant_game_id IS NOT NULL",
    "email": "facebook_id IS NOT NULL OR google_id IS NOT NULL OR gamecenter_id IS NOT NULL "
             "OR steam_id IS NOT NULL OR custom_id IS NOT NULL OR apple_id IS NOT NULL "
             "OR facebook_instant_game_id IS NOT NULL",
}
LAST_LINK = KizunaError(Code.PERMISSION_DENIED,
                        "Cannot unlink last account identifier. Check profile exists and is not last link.")


async def link_device(pool: asyncpg.Pool, user_id: str, device_id: str | None) -> None:
    device_id = validate_device_id(device_id)
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchval(
            "INSERT INTO user_device (id, user_id) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE "
            "SET id = user_device.id RETURNING user_id::text", device_id, user_id)
        if owner != user_id:
            raise KizunaError(Code.ALREADY_EXISTS, "Device ID already in use.")
        await conn.execute("UPDATE users SET update_time = now() WHERE id = $1", user_id)


async def link_custom(pool: asyncpg.Pool, user_id: str, custom_id: str | None) -> None:
    if not custom_id:
        raise invalid("Custom ID is required.")
    if _has_invalid_chars(custom_id):
        raise invalid("Invalid custom ID, no spaces or control characters allowed.")
    if not 6 <= len(custom_id.encode()) <= 128:
        raise invalid("Invalid custom ID, must be 6-128 bytes.")
    try:
        status = await pool.execute(
            "UPDATE users SET custom_id = $2, update_time = now() WHERE id = $1 "
            "AND NOT EXISTS (SELECT 1 FROM users WHERE custom_id = $2 AND id <> $1)",
            user_id, custom_id)
    except asyncpg.UniqueViolationError:
        raise KizunaError(Code.ALREADY_EXISTS, "Custom ID is already in use.") from None
    if status.endswith(" 0"):
        raise KizunaError(Code.ALREADY_EXISTS, "Custom ID is already in use.")


async def link_email(pool: asyncpg.Pool, user_id: str, email: str | None, password: str | None) -> None:
    email, password = validate_email_link(email, password)
    hashed = await hash_password(password)
    try:
        status = await pool.execute(
            "UPDATE users SET email = $2, password = $3, update_time = now() WHERE id = $1 "
            "AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2 AND id <> $1)",
            user_id, email, hashed)
    except asyncpg.UniqueViolationError:
        raise KizunaError(Code.ALREADY_EXISTS, "Email is already in use.") from None
    if status.endswith(" 0"):
        raise KizunaError(Code.ALREADY_EXISTS, "Email is already in use.")


async def unlink_device(pool: asyncpg.Pool, user_id: str, device_id: str | None) -> None:
    if not device_id:
        raise invalid("A device ID must be supplied.")
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "DELETE FROM user_device WHERE id = $2 AND user_id = $1 AND ("
            "EXISTS (SELECT 1 FROM users WHERE id = $1 AND (custom_id IS NOT NULL OR "
            + _OTHER_LOGINS["custom_id"] + ")) OR "
            "EXISTS (SELECT 1 FROM user_device WHERE user_id = $1 AND id <> $2))",
            user_id, device_id)
        if status.endswith(" 0"):
            raise LAST_LINK
        await conn.execute("UPDATE users SET update_time = now() WHERE id = $1", user_id)


async def unlink_custom(pool: asyncpg.Pool, user_id: str, custom_id: str | None) -> None:
    """Remove the custom id (the given one, or whatever is set when none is given)."""
    status = await pool.execute(
        "UPDATE users SET custom_id = NULL, update_time = now() WHERE id = $1 "
        "AND ($2::text IS NULL OR custom_id = $2) "
        f"AND (({_OTHER_LOGINS['custom_id']}) "
        "OR EXISTS (SELECT 1 FROM user_device WHERE user_id = $1))", user_id, custom_id or None)
    if status.endswith(" 0"):
        raise LAST_LINK


async def unlink_email(pool: asyncpg.Pool, user_id: str, email: str | None) -> None:
    """Remove the email and password (the given email, or whatever is set when none is given)."""
    status = await pool.execute(
        "UPDATE users SET email = NULL, password = NULL, update_time = now() WHERE id = $1 "
        f"AND ($2::text IS NULL OR email = $2) AND (({_OTHER_LOGINS['email']}) "
        "OR EXISTS (SELECT 1 FROM user_device WHERE user_id = $1))",
        user_id, email.lower() if email else None)
    if status.endswith(" 0"):
        raise LAST_LINK


# -- users ---------------------------------------------------------------------------------------


async def get_users(domain: Domain, ids: list[str], usernames: list[str],
                    facebook_ids: list[str] | None = None) -> list[User]:
    if not ids and not usernames and not facebook_ids:
        return []
    uuids: list[str] = []
    for i in ids:
        try:
            uuids.append(str(uuid.UUID(i)))
        except ValueError:
            raise invalid("ID '" + i + "' is not a valid system ID.") from None
    rows = await domain.pool.fetch(
        f"SELECT {USER_COLUMNS} FROM users u WHERE "
        "u.id = ANY($1::uuid[]) OR u.username = ANY($2::text[]) OR u.facebook_id = ANY($3::text[])",
        uuids, [u for u in usernames if u], facebook_ids or [])
    online = domain.sockets.is_online
    return [user_from_row(r, online(r["id"])) for r in rows]


# -- bans ----------------------------------------------------------------------------------------


def _user_ids(ids: list[str]) -> list[str]:
    out = []
    for i in ids:
        try:
            out.append(str(uuid.UUID(i)))
        except (ValueError, AttributeError, TypeError):
            raise invalid("ID '" + str(i) + "' is not a valid system ID.") from None
    return [i for i in out if i != SYSTEM_USER_ID]


async def ban_users(domain: Domain, ids: list[str]) -> list[str]:
    """Disable accounts: no more logins or refreshes, every session revoked (on every node),
    sockets closed. The ids that exist."""
    rows = await domain.pool.fetch(
        "UPDATE users SET disable_time = now(), update_time = now() WHERE id = ANY($1::uuid[]) "
        "RETURNING id::text AS id", _user_ids(ids))
    banned = [r["id"] for r in rows]
    for uid in banned:
        await domain.sessions.revoke_user(uid)
        domain.sockets.disconnect_user(uid, "banned")
    return banned


async def unban_users(pool: asyncpg.Pool, ids: list[str]) -> None:
    await pool.execute(
        "UPDATE users SET disable_time = '1970-01-01 00:00:00 UTC', update_time = now() "
        "WHERE id = ANY($1::uuid[])", _user_ids(ids))
