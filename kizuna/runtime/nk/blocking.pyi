# Written by `python -m kizuna.runtime.nk.stubgen` from AsyncNk: do not edit by hand.
"""The typed view of kizuna/runtime/nk/blocking.py (see stubgen.py)."""

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from kizuna.runtime.nk.aio import AsyncNk
from kizuna.runtime.nk.base import Host
from kizuna.runtime.nk.multi import MultiUpdateResult
from kizuna.runtime.nk.utility import UtilityNk
from kizuna.runtime.nk.wallet import WalletChange, WalletLedgerItem, WalletUpdateResult
from kizuna.runtime.shapes import (
    Account,
    AccountExport,
    AuthResult,
    ChannelMessage,
    ChannelMessageList,
    Friend,
    FriendOfFriend,
    Group,
    GroupUser,
    HttpResult,
    Leaderboard,
    LeaderboardRecord,
    LeaderboardRecordList,
    Match,
    Notification,
    PurchaseList,
    StorageAck,
    StorageObject,
    StreamPresence,
    StreamPresenceMeta,
    SubscriptionList,
    TokenResult,
    Tournament,
    User,
    UserGroup,
    ValidatedPurchase,
    ValidatedSubscription,
    ValidatePurchaseResponse,
    ValidateSubscriptionResponse,
)

class Nk(UtilityNk):
    """The `nk` argument of every server function: `nk.x(...)` blocks (plain functions, in worker
    threads), `await nk.aio.x(...)` is the same call as a coroutine (`async def` functions)."""

    aio: AsyncNk

    def __init__(self, runtime: Host | None) -> None: ...
    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple,
               kwargs: dict) -> Any: ...

    def account_get_id(self, user_id: str) -> Account:
        """A user's account, as GET /v2/account shows it plus `disable_time`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 5 NOT_FOUND `Account not found.`

        Example:
            account = nk.account_get_id(ctx.user_id)
            coins = account["wallet"].get("coins", 0)"""

    def accounts_get_id(self, user_ids: Sequence[str]) -> list[Account]:
        """The accounts of the users that exist, in the order asked.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (an id is not a UUID)

        Example:
            accounts = nk.accounts_get_id([ctx.user_id, friend_id])"""

    def account_update_id(
        self,
        user_id: str,
        *,
        username: str | None = None,
        display_name: str | None = None,
        avatar_url: str | None = None,
        lang_tag: str | None = None,
        location: str | None = None,
        timezone: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> None:
        """Update profile fields (None leaves a field as it is; "" clears it) and metadata.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 3 INVALID_ARGUMENT `<Field> invalid, must be 0-<n> characters.` (`Display name` 255,
              `Avatar url` 512, `Lang tag` 18, `Location` 255, `Timezone` 255)
            - 3 INVALID_ARGUMENT `No fields to update.` (every argument None)
            - 3 INVALID_ARGUMENT `Username is already in use.`

        Example:
            nk.account_update_id(ctx.user_id, display_name="Hero", metadata={"level": 3})"""

    def account_delete_id(self, user_id: str, recorded: bool = False) -> None:
        """Delete an account (its sessions are revoked and its sockets closed first).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Cannot delete the system user.`

        Example:
            nk.account_delete_id(user_id)"""

    def account_export_id(self, user_id: str) -> AccountExport:
        """Everything held about a user: the account, its storage objects, its notifications.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 5 NOT_FOUND `Account not found.`

        Example:
            export = nk.account_export_id(ctx.user_id)
            logger.info("%d objects", len(export["objects"]))"""

    def users_get_id(
        self,
        user_ids: Sequence[str],
        facebook_ids: Sequence[str] | None = None,
    ) -> list[User]:
        """The users that exist among these ids (and Facebook ids).

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `facebook_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            users = nk.users_get_id([ctx.user_id, friend_id])"""

    def users_get_username(self, usernames: Sequence[str]) -> list[User]:
        """The users that exist among these usernames.

        Errors:
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`

        Example:
            users = nk.users_get_username(["alice", "bob"])"""

    def users_get_random(self, count: int) -> list[User]:
        """Up to `count` (0-1000) users picked at random, as Nakama: those whose ids follow a
        random one (wrapping around to the start when there are not enough); never the system user
        or a disabled (banned) account.

        Errors:
            - 3 INVALID_ARGUMENT `count must be 0-1000.`

        Example:
            opponents = nk.users_get_random(5)"""

    def users_ban_id(self, user_ids: Sequence[str]) -> None:
        """Disable accounts: no more logins or refreshes, every session revoked (on every node),
        sockets on this node closed.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            nk.users_ban_id([cheater_id])"""

    def users_unban_id(self, user_ids: Sequence[str]) -> None:
        """Enable disabled accounts again.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            nk.users_unban_id([user_id])"""

    def authenticate_device(
        self,
        device_id: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of a device id.

        Errors:
            - 3 INVALID_ARGUMENT `Device ID is required.`
            - 3 INVALID_ARGUMENT `Device ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Device ID invalid, must be 10-128 bytes.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False and no user has this device)
            - 7 PERMISSION_DENIED `User account banned.`
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            user_id, username, created = nk.authenticate_device("device-0123456789")"""

    def authenticate_email(
        self,
        email: str,
        password: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of an email address, checking the password.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid email address, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Invalid email address format.`
            - 3 INVALID_ARGUMENT `Invalid email address, must be 10-255 bytes.`
            - 3 INVALID_ARGUMENT `Password must be at least 8 characters long.`
            - 3 INVALID_ARGUMENT `Password must be at most 72 bytes long.`
            - 3 INVALID_ARGUMENT `Username is required when email address is not supplied.` (email "":
              a login by username and password)
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False, or no email and an unknown
              username)
            - 7 PERMISSION_DENIED `User account banned.`
            - 16 UNAUTHENTICATED `Invalid credentials.` (a wrong password)
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            result = nk.authenticate_email("player@example.com", "s3cret-pass", create=False)
            logger.info("logged in %s", result.user_id)"""

    def authenticate_custom(
        self,
        custom_id: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of a custom id.

        Errors:
            - 3 INVALID_ARGUMENT `Custom ID is required.`
            - 3 INVALID_ARGUMENT `Custom ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Custom ID invalid, must be 6-128 bytes.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 5 NOT_FOUND `User account not found.` (`create` False and no user has this id)
            - 7 PERMISSION_DENIED `User account banned.`
            - 6 ALREADY_EXISTS `Username is already in use.` (creating, with a `username` someone has)

        Example:
            result = nk.authenticate_custom("steam-76561198000000000", username="hero")"""

    def authenticate_token_generate(
        self,
        user_id: str,
        username: str | None = None,
        exp: int | None = None,
        vars: Mapping[str, str] | None = None,
    ) -> TokenResult:
        """A session token for a user (recorded, so it can be revoked like any other). `exp` is
        the expiry in unix seconds (default: now + session.token_expiry_sec).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `vars: expected a dict of strings.`
            - 5 NOT_FOUND `User account not found.`
            - 7 PERMISSION_DENIED `User account banned.` (when no `username` is given, the user's is
              looked up: the user must exist and not be banned)

        Example:
            token, exp = nk.authenticate_token_generate(ctx.user_id, vars={"role": "tester"})"""

    def link_device(self, user_id: str, device_id: str) -> None:
        """Link a device id to a user.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Device ID is required.`
            - 3 INVALID_ARGUMENT `Device ID invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Device ID invalid, must be 10-128 bytes.`
            - 6 ALREADY_EXISTS `Device ID already in use.` (another user's)
            - 5 NOT_FOUND `User account not found.`

        Example:
            nk.link_device(ctx.user_id, "device-0123456789")"""

    def link_custom(self, user_id: str, custom_id: str) -> None:
        """Set a user's custom id.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Custom ID is required.`
            - 3 INVALID_ARGUMENT `Invalid custom ID, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Invalid custom ID, must be 6-128 bytes.`
            - 6 ALREADY_EXISTS `Custom ID is already in use.` (another user's; also when the user does
              not exist, as in Nakama)

        Example:
            nk.link_custom(ctx.user_id, "steam-76561198000000000")"""

    def link_email(self, user_id: str, email: str, password: str) -> None:
        """Set a user's email address and password (the address is stored lowercased).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Email address and password is required.`
            - 3 INVALID_ARGUMENT `Invalid email address, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Password must be at least 8 characters long.`
            - 3 INVALID_ARGUMENT `Password must be at most 72 bytes long.`
            - 3 INVALID_ARGUMENT `Invalid email address format.`
            - 3 INVALID_ARGUMENT `Invalid email address, must be 10-255 bytes.`
            - 6 ALREADY_EXISTS `Email is already in use.` (another user's; also when the user does not
              exist, as in Nakama)

        Example:
            nk.link_email(ctx.user_id, "player@example.com", "s3cret-pass")"""

    def unlink_device(self, user_id: str, device_id: str) -> None:
        """Remove a device id from a user; another way to log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `A device ID must be supplied.`
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, or not the user's device)

        Example:
            nk.unlink_device(ctx.user_id, "device-0123456789")"""

    def unlink_custom(self, user_id: str, custom_id: str | None = None) -> None:
        """Remove a user's custom id (`custom_id`, when given, must be the one set); another way to
        log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, the given id is not the user's, or
              the user has none)

        Example:
            nk.unlink_custom(ctx.user_id)"""

    def unlink_email(self, user_id: str, email: str | None = None) -> None:
        """Remove a user's email address and password (`email`, when given, must be the one set);
        another way to log in must remain.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 7 PERMISSION_DENIED `Cannot unlink last account identifier. Check profile exists and is
              not last link.` (it is the user's only way to log in, the given address is not the
              user's, or the user has none)

        Example:
            nk.unlink_email(ctx.user_id)"""

    def session_logout(
        self,
        user_id: str,
        token: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        """End one session (by its token and/or refresh token) or, with neither, all of them.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Session token invalid.` (not a valid token of this user)
            - 3 INVALID_ARGUMENT `Refresh token invalid.` (not a valid refresh token of this user)

        Example:
            nk.session_logout(ctx.user_id)"""

    def session_disconnect(self, session_id: str) -> bool:
        """Close a socket session on this node; False if there is no such session.

        Errors:
            - None: an unknown session returns False.

        Example:
            if not nk.session_disconnect(ctx.session_id):
                logger.info("already gone")"""

    def storage_read(self, object_ids: Sequence[Mapping[str, Any]]) -> list[StorageObject]:
        """Objects by {"collection", "key", "user_id"} (user_id "" or None: the system user's);
        missing ones are left out. Permissions are not enforced.

        Errors:
            - 3 INVALID_ARGUMENT `object_ids: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.`
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 13 INTERNAL `Error reading storage objects.` (the database failed)

        Example:
            objects = nk.storage_read([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id}])
            save = objects[0]["value"] if objects else {}"""

    def storage_write(self, objects: Sequence[Mapping[str, Any]]) -> list[StorageAck]:
        """Write objects {"collection", "key", "user_id", "value", "version", "permission_read",
        "permission_write"} in one transaction; `value` is a dict (or JSON text); `version` ""
        overwrites, "*" only creates, anything else must match. Acks come in request order.

        Errors:
            - 3 INVALID_ARGUMENT `objects: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `permission_read: expected an integer` / `permission_read: out of
              range for int32` (and permission_write)
            - 3 INVALID_ARGUMENT `value must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.` (also
              when `value` is missing or empty)
            - 3 INVALID_ARGUMENT `Invalid collection value supplied. It must be at most 128
              characters.` (and `key`)
            - 3 INVALID_ARGUMENT `Invalid Read permission supplied. It must be either 0, 1 or 2.`
            - 3 INVALID_ARGUMENT `Invalid Write permission supplied. It must be either 0 or 1.`
            - 3 INVALID_ARGUMENT `Value must be a JSON object.` / `Value must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Storage write rejected - version check failed.` (`version` "*" and
              the object exists, or a version that does not match)
            - 5 NOT_FOUND `User account not found.` (the owner does not exist)
            - 13 INTERNAL `Error writing storage objects.` (the database failed)

        Example:
            acks = nk.storage_write([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id,
                                      "value": {"level": 3}, "permission_read": 1}])
            version = acks[0]["version"]"""

    def storage_list(
        self,
        user_id: str | None,
        collection: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[StorageObject], str | None]:
        """One page of a collection (one user's objects, or every owner's with user_id None) and
        the cursor of the next page (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`
            - 13 INTERNAL `Error listing storage objects.` (the database failed)

        Example:
            objects, cursor = nk.storage_list(ctx.user_id, "saves", limit=10)"""

    def storage_delete(self, object_ids: Sequence[Mapping[str, Any]]) -> None:
        """Delete objects {"collection", "key", "user_id", "version"}; with a version, it must
        match. One transaction.

        Errors:
            - 3 INVALID_ARGUMENT `object_ids: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.`
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 3 INVALID_ARGUMENT `Storage delete rejected - not found, version check failed, or
              permission denied.` (a `version` was given and the object is missing or has another one)
            - 13 INTERNAL `Error deleting storage objects.` (the database failed)

        Example:
            nk.storage_delete([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id}])"""

    def notification_send(
        self,
        user_id: str,
        subject: str,
        content: Mapping[str, Any] | str,
        code: int,
        sender_id: str | None = None,
        persistent: bool = False,
    ) -> None:
        """Notify a user: pushed at once if online, stored (listed later) when persistent.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts) (`subject`, `sender_id`)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (`sender_id` is not
              "" and not a UUID)
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 5 NOT_FOUND `User account not found.` (persistent, to a user that does not exist)

        Example:
            nk.notification_send(ctx.user_id, "Daily reward", {"coins": 100}, 101, persistent=True)"""

    def notifications_send(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Several notifications {"user_id", "subject", "content", "code", "sender_id",
        "persistent"} at once.

        Errors:
            - 3 INVALID_ARGUMENT `notifications: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (a `user_id` is not a
              UUID)
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts) (`subject`, `sender_id`)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (`sender_id` is not
              "" and not a UUID)
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 5 NOT_FOUND `User account not found.` (a persistent one to a user that does not exist)

        Example:
            nk.notifications_send([{"user_id": user_id, "subject": "Season over", "content": {},
                                    "code": 102, "persistent": True} for user_id in winners])"""

    def notification_send_all(
        self,
        subject: str,
        content: Mapping[str, Any] | str,
        code: int,
        persistent: bool = False,
    ) -> None:
        """Notify every user: stored for all when persistent, pushed to those online.

        Errors:
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`

        Example:
            nk.notification_send_all("Maintenance at 10:00 UTC", {"minutes": 30}, 103)"""

    def notifications_list(
        self,
        user_id: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[Notification], str]:
        """A page of a user's stored notifications, oldest first, and the cursor to continue.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`

        Example:
            items, cursor = nk.notifications_list(ctx.user_id, limit=20)"""

    def notifications_delete(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Delete notifications given as {"user_id", "notification_id"}.

        Errors:
            - 3 INVALID_ARGUMENT `notifications: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (a `user_id` is not a
              UUID)
            - 3 INVALID_ARGUMENT `notification_id: expected a string` (ids that are not UUIDs match
              nothing)

        Example:
            nk.notifications_delete([{"user_id": ctx.user_id, "notification_id": notification_id}])"""

    def notifications_get_id(self, user_id: str | None, ids: Sequence[str]) -> list[Notification]:
        """Stored notifications by id, oldest first (ids that match nothing are left out); with a
        `user_id`, only that user's.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (when given)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            found = nk.notifications_get_id(ctx.user_id, [notification_id])"""

    def notifications_update(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Change stored notifications, given as {"id", "subject", "content", "sender"}: a field
        left out (or None) stays as it is; "sender" (or "sender_id") "" makes it the system's.
        In one transaction; ids that match nothing are skipped; nothing is pushed again.

        Errors:
            - 3 INVALID_ARGUMENT `updates: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `sender: expected a user ID string.`
            - 3 INVALID_ARGUMENT `subject: expected a string.`
            - 3 INVALID_ARGUMENT `content: expected a dict or JSON text.`
            - 3 INVALID_ARGUMENT `Notification ID must be a UUID.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification sender must be a user ID.`

        Example:
            nk.notifications_update([{"id": notification_id, "subject": "Reward claimed"}])"""

    def channel_message_send(
        self,
        channel_id: str,
        content: Mapping[str, Any] | str,
        sender_id: str | None = None,
        sender_username: str | None = None,
        persist: bool = True,
    ) -> ChannelMessage:
        """Send a chat message (from the system user unless a sender is given) to everyone on
        the channel, stored in its history when `persist`. Returns the message sent.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Message content must be a valid JSON object`
            - 3 INVALID_ARGUMENT `Message content must not contain NUL characters`
            - 13 INTERNAL `Could not persist message to channel history` (storing it failed: the
              database, or a sender that does not exist)

        Example:
            channel_id = nk.channel_id_build(None, "lobby", 1)
            nk.channel_message_send(channel_id, {"text": "Welcome!"})"""

    def channel_message_update(
        self,
        channel_id: str,
        message_id: str,
        content: Mapping[str, Any] | str,
        sender_id: str | None = None,
        sender_username: str | None = None,
        persist: bool = True,
    ) -> ChannelMessage:
        """Edit a chat message of `sender_id` (the system user's when None): its content in the
        history when `persist`, delivered to everyone on the channel (code 1, an update).
        Returns the update as delivered.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Message content must be a valid JSON object`
            - 3 INVALID_ARGUMENT `Invalid message identifier` (not a UUID)
            - 3 INVALID_ARGUMENT `Message content must not contain NUL characters`
            - 3 INVALID_ARGUMENT `Could not find message to update in channel history` (`persist`: no
              such message of this sender on the channel)

        Example:
            nk.channel_message_update(channel_id, message_id, {"text": "Edited"})"""

    def channel_message_remove(
        self,
        channel_id: str,
        message_id: str,
        sender_id: str | None = None,
        sender_username: str | None = None,
        persist: bool = True,
    ) -> ChannelMessage:
        """Remove a chat message of `sender_id` (the system user's when None): deleted from the
        history when `persist`, the removal delivered to everyone on the channel (code 2).
        Returns the removal as delivered.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid message identifier` (not a UUID)
            - 3 INVALID_ARGUMENT `Could not find message to remove in channel history` (`persist`: no
              such message of this sender on the channel)

        Example:
            nk.channel_message_remove(channel_id, message_id)"""

    def channel_messages_list(
        self,
        channel_id: str,
        limit: int = 100,
        forward: bool = True,
        cursor: str | None = None,
    ) -> ChannelMessageList:
        """A page of a channel's history: {"messages", "next_cursor", "prev_cursor",
        "cacheable_cursor"}.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.channel_messages_list(channel_id, limit=50, forward=False)
            texts = [m["content"].get("text") for m in page["messages"]]"""

    def friends_list(
        self,
        user_id: str,
        limit: int = 1000,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[Friend], str | None]:
        """One page of a user's friends, invites and blocks (only `state` when given: 0 friend,
        1 invite sent, 2 invite received, 3 blocked) and the cursor of the next page (None at
        the end). `limit` 1..1000.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 1000.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 3.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`
            - 13 INTERNAL `Error while trying to list friends.` (the database failed)

        Example:
            friends, cursor = nk.friends_list(ctx.user_id, limit=100, state=0)"""

    def friends_of_friends_list(
        self,
        user_id: str,
        limit: int = 10,
        cursor: str | None = None,
    ) -> tuple[list[FriendOfFriend], str | None]:
        """Users the user's friends are friends with (not the user, not already friends), each
        with the friend who knows them (`referrer`), and the next page's cursor. `limit` 1..100.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`
            - 13 INTERNAL `Error while trying to list friends.` (the database failed)

        Example:
            suggestions, cursor = nk.friends_of_friends_list(ctx.user_id, limit=20)"""

    def friends_add(
        self,
        user_id: str,
        username: str | None = None,
        ids: Sequence[str] | None = None,
        usernames: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> None:
        """As the user, invite these users or accept their invites (notifying them). `username`
        is the user's (shown in the notifications; looked up when not given); `metadata` is kept
        on the user's edge to each of them.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot add self as friend.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.`
            - 3 INVALID_ARGUMENT `No valid ID or username was provided.` (only usernames, and none of
              them exists)
            - 5 NOT_FOUND `User account not found.` (no `username` given and the user does not exist)
            - 13 INTERNAL `Error while trying to add friends.` (the database failed)

        Example:
            nk.friends_add(ctx.user_id, ctx.username, ids=[other_id])"""

    def friends_delete(
        self,
        user_id: str,
        username: str | None = None,
        ids: Sequence[str] | None = None,
        usernames: Sequence[str] | None = None,
    ) -> None:
        """As the user, remove these users: unfriend, cancel or decline an invite, unblock.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot delete self.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 5 NOT_FOUND `User account not found.` (no `username` given and the user does not exist)
            - 13 INTERNAL `Error while trying to delete friends.` (the database failed)

        Example:
            nk.friends_delete(ctx.user_id, ctx.username, ids=[other_id])"""

    def friends_block(
        self,
        user_id: str,
        username: str | None = None,
        ids: Sequence[str] | None = None,
        usernames: Sequence[str] | None = None,
    ) -> None:
        """As the user, block these users (their edge to the user is removed).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot block self.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 3 INVALID_ARGUMENT `No valid ID or username was provided.` (only usernames, and none of
              them exists)
            - 13 INTERNAL `Error while trying to block friends.` (the database failed)

        Example:
            nk.friends_block(ctx.user_id, usernames=["spammer"])"""

    def friend_metadata_update(
        self,
        user_id: str,
        friend_user_id: str,
        metadata: Mapping[str, Any] | str | None,
    ) -> None:
        """Replace the metadata of the user's edge to another user (a dict, or JSON text).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (either id)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.`
            - 13 INTERNAL `Error while trying to update friend metadata.` (the database failed)

        Example:
            nk.friend_metadata_update(ctx.user_id, friend_id, {"nickname": "Bestie"})"""

    def group_create(
        self,
        user_id: str,
        name: str,
        creator_id: str | None = None,
        lang_tag: str | None = None,
        description: str | None = None,
        avatar_url: str | None = None,
        open: bool = False,
        metadata: Mapping[str, Any] | str | None = None,
        max_count: int = 100,
    ) -> Group:
        """A new group with `user_id` as its superadmin; `creator_id` defaults to `user_id`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (creator_id is not a
              UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Group creator must be a user.` (the nil UUID)
            - 3 INVALID_ARGUMENT `Group name must be set.`
            - 3 INVALID_ARGUMENT `<Field> must be at most <n> characters.` / `<Field> must not contain
              NUL characters.` (`Group name` 255, `Group language` 18, `Group description` 255, `Group
              avatar URL` 512)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Group max count must be >= 1 when set.`
            - 3 INVALID_ARGUMENT `Group max count must be at most 2147483647.`
            - 5 NOT_FOUND `User account not found.`
            - 6 ALREADY_EXISTS `Group name is in use.`

        Example:
            group = nk.group_create(ctx.user_id, "Night Owls", open=True, max_count=50)
            group_id = group["id"]"""

    def group_update(
        self,
        group_id: str,
        user_id: str | None = None,
        name: str | None = None,
        creator_id: str | None = None,
        lang_tag: str | None = None,
        description: str | None = None,
        avatar_url: str | None = None,
        open: bool | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        max_count: int | None = None,
    ) -> None:
        """Change the given fields (None: unchanged; "" clears a description or avatar URL). With
        a `user_id`, that user must be an admin or superadmin of the group.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (when given)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (creator_id is not a
              UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Group name cannot be empty.`
            - 3 INVALID_ARGUMENT `Group language cannot be empty.`
            - 3 INVALID_ARGUMENT `<Field> must be at most <n> characters.` / `<Field> must not contain
              NUL characters.` (`Group name` 255, `Group language` 18, `Group description` 255, `Group
              avatar URL` 512)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Group max count must be >= 1 when set.`
            - 3 INVALID_ARGUMENT `Group max count must be at most 2147483647.`
            - 3 INVALID_ARGUMENT `Specify at least one field to update.`
            - 5 NOT_FOUND `Group not found or you're not allowed to update.` (`user_id` is not an
              admin or superadmin of the group)
            - 3 INVALID_ARGUMENT `Group name is in use.`
            - 3 INVALID_ARGUMENT `Group max count cannot be below its member count.`
            - 3 INVALID_ARGUMENT `No new fields in group update.` (the group does not exist)

        Example:
            nk.group_update(group_id, description="Weekly raids", open=False)"""

    def group_delete(self, group_id: str) -> None:
        """Delete a group and its memberships (an absent group is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`

        Example:
            nk.group_delete(group_id)"""

    def groups_get_id(self, group_ids: Sequence[str]) -> list[Group]:
        """Groups by id; unknown ones are left out.

        Errors:
            - 3 INVALID_ARGUMENT `group_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`

        Example:
            groups = nk.groups_get_id([group_id])"""

    def group_users_list(
        self,
        group_id: str,
        limit: int = 100,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[GroupUser], str | None]:
        """One page of a group's users `{"user", "state"}` (only `state` when given; banned users
        only then) and the next page's cursor (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 4.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`

        Example:
            members, cursor = nk.group_users_list(group_id, limit=100)
            admins = [m["user"]["id"] for m in members if m["state"] <= 1]"""

    def user_groups_list(
        self,
        user_id: str,
        limit: int = 100,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[UserGroup], str | None]:
        """One page of a user's groups `{"group", "state"}` and the next page's cursor.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 4.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`

        Example:
            memberships, cursor = nk.user_groups_list(ctx.user_id)"""

    def groups_list(
        self,
        name: str | None = None,
        lang_tag: str | None = None,
        members: int | None = None,
        open: bool | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[Group], str | None]:
        """One page of groups and the next page's cursor: by `name` (a LIKE pattern, `abc%` for a
        prefix; alone), or by any of `lang_tag`, `members` (at most that many) and `open`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `name filter cannot be combined with any other filter`
            - 3 INVALID_ARGUMENT `Group name must be at most 257 characters.` / `Group language must
              be at most 18 characters.` (or they contain NUL characters)
            - 3 INVALID_ARGUMENT `Invalid members - members must be an int32.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`

        Example:
            groups, cursor = nk.groups_list(lang_tag="en", open=True, limit=20)"""

    def group_users_add(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Add users as members (accepting join requests); each gets notification -4.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`
            - 3 INVALID_ARGUMENT `One or more users not found.` (nothing is added)
            - 3 INVALID_ARGUMENT `Group is full.`

        Example:
            nk.group_users_add(group_id, [new_member_id])"""

    def group_users_kick(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Remove users from a group (the last superadmin stays); their sockets leave its
        channel.

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_kick(group_id, [user_id], caller_id=ctx.user_id)"""

    def group_users_ban(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Ban users from a group (they leave it and cannot join again until kicked).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_ban(group_id, [troll_id])"""

    def group_users_promote(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Raise users one role (join request -> member -> admin -> superadmin).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`
            - 3 INVALID_ARGUMENT `Group is full.` (accepting a join request into a full group)

        Example:
            nk.group_users_promote(group_id, [user_id])"""

    def group_users_demote(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Lower users one role (superadmin -> admin -> member; never the last superadmin).

        Errors:
            - 3 INVALID_ARGUMENT `Group ID must be set.`
            - 3 INVALID_ARGUMENT `Group ID must be a valid ID.`
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `User ID must be a valid ID.` (not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (caller_id is not a UUID)
            - 5 NOT_FOUND `Group not found or permission denied.` (`caller_id` is not an admin or
              superadmin of the group)
            - 5 NOT_FOUND `Group not found.`

        Example:
            nk.group_users_demote(group_id, [user_id])"""

    def wallet_update(
        self,
        user_id: str,
        changeset: Mapping[str, int],
        metadata: Mapping[str, Any] | str | None = None,
        update_ledger: bool = False,
    ) -> WalletChange:
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
            coins = result["updated"]["coins"]"""

    def wallets_update(
        self,
        updates: Sequence[Mapping[str, Any]],
        update_ledger: bool = False,
    ) -> list[WalletUpdateResult]:
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
                                         {"user_id": loser_id, "changeset": {"coins": 10}}])"""

    def wallet_ledger_list(
        self,
        user_id: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[WalletLedgerItem], str | None]:
        """One page of a user's ledger items `{id, user_id, changeset, metadata, create_time,
        update_time}`, newest first, and the next page's cursor (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `wallet ledger cursor invalid`

        Example:
            items, cursor = nk.wallet_ledger_list(ctx.user_id, limit=20)"""

    def wallet_ledger_update(
        self,
        item_id: str,
        metadata: Mapping[str, Any] | str,
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
            item = nk.wallet_ledger_update(item_id, {"refunded": True})"""

    def leaderboard_create(
        self,
        id: str,
        authoritative: bool = False,
        sort_order: str = 'desc',
        operator: str = 'best',
        reset_schedule: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        enable_ranks: bool = False,
    ) -> bool:
        """Create a leaderboard; an id that exists is left as it is (returns False), so a module
        can create its boards in `init_module` on every start. `sort_order` "desc" (higher is
        better) or "asc"; `operator` "best", "set", "incr" or "decr"; `reset_schedule` a CRON
        expression ("" or None: never resets); `enable_ranks`: keep ranks for owner lookups
        (Nakama's default: off).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid sort order, must be 'asc' or 'desc'.`
            - 3 INVALID_ARGUMENT `Invalid operator, must be 'best', 'set', 'incr' or 'decr'.`
            - 3 INVALID_ARGUMENT `expects reset schedule to be a valid CRON expression`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain the
              character U+0000.`

        Example:
            nk.leaderboard_create("weekly_kills", authoritative=True, sort_order="desc",
                                  operator="incr", reset_schedule="0 0 * * 1")"""

    def leaderboard_delete(self, id: str) -> None:
        """Delete a leaderboard and all its records (an unknown id is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)

        Example:
            nk.leaderboard_delete("weekly_kills")"""

    def leaderboards_get_id(self, ids: Sequence[str]) -> list[Leaderboard]:
        """Leaderboards by id; unknown ids (and tournaments) are left out.

        Errors:
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            boards = nk.leaderboards_get_id(["weekly_kills", "high_score"])"""

    def leaderboard_list(
        self,
        limit: int = 10,
        cursor: str | None = None,
    ) -> tuple[list[Leaderboard], str | None]:
        """One page of leaderboards (by creation time) and the next page's cursor.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            boards, cursor = nk.leaderboard_list(limit=50)"""

    def leaderboard_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a leaderboard (records then have rank 0).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 5 NOT_FOUND `Leaderboard not found.`

        Example:
            nk.leaderboard_ranks_disable("weekly_kills")"""

    def leaderboard_records_list(
        self,
        id: str,
        owner_ids: Sequence[str] | None = None,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """A page of records in rank order (`records`, with `next_cursor` and `prev_cursor`), the
        records of `owner_ids` (`owner_records`), and `rank_count`. `expiry` (unix seconds)
        reads a past period; 0: the current one.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `owner_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `One or more owner IDs are invalid.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 1000.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.leaderboard_records_list("weekly_kills", owner_ids=[ctx.user_id], limit=10)
            top = [(r["username"], r["score"]) for r in page["records"]]"""

    def leaderboard_records_haystack(
        self,
        id: str,
        owner_id: str,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.leaderboard_records_haystack("weekly_kills", ctx.user_id, limit=11)"""

    def leaderboard_records_list_cursor_from_rank(self, id: str, rank: int, expiry: int = 0) -> str:
        """A cursor for `leaderboard_records_list` whose page starts at `rank` ("" for rank 1);
        needs a board that keeps ranks.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Invalid rank: must be 1 or more.`
            - 9 FAILED_PRECONDITION `Leaderboard does not keep ranks.` (created without
              `enable_ranks`)
            - 3 INVALID_ARGUMENT `Rank is beyond the end of the leaderboard.`

        Example:
            cursor = nk.leaderboard_records_list_cursor_from_rank("weekly_kills", 101)
            page = nk.leaderboard_records_list("weekly_kills", limit=100, cursor=cursor)"""

    def leaderboard_record_write(
        self,
        id: str,
        owner_id: str,
        username: str | None = None,
        score: int = 0,
        subscore: int = 0,
        metadata: Mapping[str, Any] | str | None = None,
        override_operator: str | int | None = None,
    ) -> LeaderboardRecord:
        """Write the owner's record for the current period, with the board's operator (or
        `override_operator`); authoritative boards accept it.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `score must be an integer that fits in 64 bits.` (and `subscore`)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Invalid operator.` (an `override_operator` that is not a name or
              1-4)
            - 3 INVALID_ARGUMENT `Invalid score value, must be >= 0.` / `Invalid subscore value, must
              be >= 0.` (any operator but incr)
            - 3 INVALID_ARGUMENT `Score or subscore would overflow: the result must fit in a 64-bit
              integer.`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 10 ABORTED `The record changed during the write; try again.` (deleted while being
              written)

        Example:
            record = nk.leaderboard_record_write("weekly_kills", ctx.user_id, ctx.username, score=3)"""

    def leaderboard_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Leaderboard not found.` (also for a tournament's id)

        Example:
            nk.leaderboard_record_delete("weekly_kills", cheater_id)"""

    def tournament_create(
        self,
        id: str,
        authoritative: bool = False,
        sort_order: str = 'desc',
        operator: str = 'best',
        duration: int = 0,
        reset_schedule: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        title: str = '',
        description: str = '',
        category: int = 0,
        start_time: int = 0,
        end_time: int = 0,
        max_size: int = 0,
        max_num_score: int = 0,
        join_required: bool = False,
        enable_ranks: bool = False,
    ) -> bool:
        """Create a tournament; an existing one is left as it is (returns False), so modules can
        create theirs in `init_module`. `duration` (seconds, > 0) is each period's active window;
        `reset_schedule` (CRON) starts new periods; `start_time`/`end_time` unix seconds (0: now
        / never); `max_size` players per period and `max_num_score` writes per player (0: no
        limit / 1000000); `join_required`: players must join before writing.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid sort order, must be 'asc' or 'desc'.`
            - 3 INVALID_ARGUMENT `Invalid operator, must be 'best', 'set', 'incr' or 'decr'.`
            - 3 INVALID_ARGUMENT `expects reset schedule to be a valid CRON expression`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain the
              character U+0000.`
            - 3 INVALID_ARGUMENT `<argument> must be an integer >= 0.` (`category`, `start_time`,
              `end_time`, `duration`, `max_size`, `max_num_score`)
            - 3 INVALID_ARGUMENT `Category must be 0-127.`
            - 3 INVALID_ARGUMENT `End time must be >= start time.`
            - 3 INVALID_ARGUMENT `Duration must be > 0.`
            - 3 INVALID_ARGUMENT `Title and description must be at most 255 characters.`
            - 3 INVALID_ARGUMENT `Tournament end time cannot be before first reset schedule - either
              increase end time or change/disable reset schedule.`
            - 6 ALREADY_EXISTS `Cannot create tournament as leaderboard is already in use.`

        Example:
            nk.tournament_create("daily_race", sort_order="asc", operator="best", duration=3600,
                                 reset_schedule="0 12 * * *", title="Daily race", max_size=1000)"""

    def tournament_delete(self, id: str) -> None:
        """Delete a tournament and its records (an unknown id is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)

        Example:
            nk.tournament_delete("daily_race")"""

    def tournament_add_attempt(self, id: str, owner_id: str, count: int) -> None:
        """Give a player `count` more writes (negative: fewer) in the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `count must be an integer >= -9223372036854775807.`
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Expects an attempt count number != 0.`
            - 9 FAILED_PRECONDITION `Tournament outside of duration.` (not active now)

        Example:
            nk.tournament_add_attempt("daily_race", ctx.user_id, 1)"""

    def tournament_join(self, id: str, owner_id: str, username: str | None = None) -> None:
        """Join a player to the current period (a no-op unless the tournament requires joins).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Tournament is not active and cannot accept new joins.`
            - 3 INVALID_ARGUMENT `Tournament cannot be joined as it has reached its max size.`

        Example:
            nk.tournament_join("daily_race", ctx.user_id, ctx.username)"""

    def tournaments_get_id(self, ids: Sequence[str]) -> list[Tournament]:
        """Tournaments by id; unknown ids are left out.

        Errors:
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            tournaments = nk.tournaments_get_id(["daily_race"])"""

    def tournament_list(
        self,
        category_start: int = 0,
        category_end: int = 127,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> tuple[list[Tournament], str | None]:
        """Tournaments in a category range, starting at or after `start_time`, ending by
        `end_time` (None: those not ended; 0: those without an end), and the next cursor.

        Errors:
            - 3 INVALID_ARGUMENT `<argument> must be an integer >= 0.` (`category_start`,
              `category_end`, `start_time`, `end_time`)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Tournament category end must be >=0 and <128.`
            - 3 INVALID_ARGUMENT `Tournament category end must be greater than category start.`
            - 3 INVALID_ARGUMENT `Tournament end time must be greater than start time.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            tournaments, cursor = nk.tournament_list(category_start=1, category_end=1, limit=20)"""

    def tournament_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a tournament.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 5 NOT_FOUND `Tournament not found.`

        Example:
            nk.tournament_ranks_disable("daily_race")"""

    def tournament_records_list(
        self,
        id: str,
        owner_ids: Sequence[str] | None = None,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """A page of the current period's records, the records of `owner_ids`, `rank_count`.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `owner_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `One or more owner IDs are invalid.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Tournament not found.`
            - 5 NOT_FOUND `Tournament has ended.` (with `expiry` 0)
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.tournament_records_list("daily_race", owner_ids=[ctx.user_id], limit=20)"""

    def tournament_records_haystack(
        self,
        id: str,
        owner_id: str,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.tournament_records_haystack("daily_race", ctx.user_id, limit=10)"""

    def tournament_record_write(
        self,
        id: str,
        owner_id: str,
        username: str | None = None,
        score: int = 0,
        subscore: int = 0,
        metadata: Mapping[str, Any] | str | None = None,
        override_operator: str | int | None = None,
    ) -> LeaderboardRecord:
        """Write the owner's record for the current period (the tournament's rules apply:
        active window, joins, attempts, size; authoritative tournaments accept it).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `score must be an integer that fits in 64 bits.` (and `subscore`)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Invalid operator.` (an `override_operator` that is not a name or
              1-4)
            - 3 INVALID_ARGUMENT `Invalid score value, must be >= 0.` / `Invalid subscore value, must
              be >= 0.` (any operator but incr)
            - 3 INVALID_ARGUMENT `Score or subscore would overflow: the result must fit in a 64-bit
              integer.`
            - 5 NOT_FOUND `Tournament not found.`
            - 5 NOT_FOUND `Tournament not found or has ended.`
            - 9 FAILED_PRECONDITION `Tournament is not active and cannot accept new scores.`
            - 9 FAILED_PRECONDITION `Must join tournament before attempting to write value.`
            - 9 FAILED_PRECONDITION `Reached allowed max number of score attempts.`
            - 9 FAILED_PRECONDITION `Tournament has reached max size.`
            - 10 ABORTED `The record changed during the write; try again.` (deleted while being
              written)

        Example:
            record = nk.tournament_record_write("daily_race", ctx.user_id, ctx.username, score=5230)"""

    def tournament_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Tournament not found.`

        Example:
            nk.tournament_record_delete("daily_race", cheater_id)"""

    def http_request(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | None = None,
        timeout_ms: int = 5000,
        insecure: bool = False,
    ) -> HttpResult:
        """Call an HTTP(S) service: {"code", "headers", "body"} (the status, the response headers
        with repeated ones joined by ", ", the body as text). Redirects are followed; the call
        fails with code 4 after `timeout_ms`, and is cancelled when the calling function's time is
        up. `insecure` skips TLS certificate checks.

        Errors:
            - 3 INVALID_ARGUMENT `http_request: url must be a string.` / `http_request: invalid URL
              <url>.`
            - 3 INVALID_ARGUMENT `http_request: the URL must be absolute, http:// or https:// (got
              <url>).`
            - 3 INVALID_ARGUMENT `http_request: method must be one of DELETE, GET, HEAD, OPTIONS,
              PATCH, POST, PUT (got <method>).`
            - 3 INVALID_ARGUMENT `http_request: headers must be a dict of strings.`
            - 3 INVALID_ARGUMENT `http_request: body must be a string or bytes.`
            - 3 INVALID_ARGUMENT `http_request: timeout_ms must be a positive integer.`
            - 4 DEADLINE_EXCEEDED `http_request: <METHOD> <url> timed out after <timeout_ms> ms.`
            - 14 UNAVAILABLE `http_request: <METHOD> <url> failed: cannot connect to <host>:<port>
              (<reason>).` / `http_request: <METHOD> <url> failed: <reason>.` (the service could not
              be reached or broke the connection; an HTTP error status is a result, not an error)

        Example:
            resp = nk.http_request("https://api.example.com/scores", "POST",
                                   {"Content-Type": "application/json"}, nk.json_encode({"score": 10}),
                                   timeout_ms=3000)
            ok = resp["code"] == 200"""

    def bcrypt_hash(self, password: str) -> str:
        """A bcrypt hash of the password (cost 10, as Nakama), computed in a worker thread.
        Passwords longer than 72 bytes are refused (bcrypt would ignore the rest).

        Errors:
            - 3 INVALID_ARGUMENT `bcrypt_hash: password must be a string.`
            - 3 INVALID_ARGUMENT `bcrypt_hash: the password is longer than 72 bytes.`

        Example:
            hashed = nk.bcrypt_hash("correct horse battery")"""

    def bcrypt_compare(self, hash: str, password: str) -> bool:
        """Whether the password matches a bcrypt hash (checked in a worker thread).

        Errors:
            - 3 INVALID_ARGUMENT `bcrypt_compare: hash must be a string.` / `bcrypt_compare: password
              must be a string.`
            - 3 INVALID_ARGUMENT `bcrypt_compare: hash is not a bcrypt hash.`

        Example:
            if not nk.bcrypt_compare(stored_hash, "correct horse battery"):
                raise Error("Wrong PIN.", 16)"""

    def stream_user_list(
        self,
        stream: Mapping[str, Any],
        include_hidden: bool = True,
        include_not_hidden: bool = True,
    ) -> list[StreamPresence]:
        """The sessions on a stream: [{user_id, session_id, node, hidden, persistence, username,
        status}].

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `include_hidden: expected True or False.` (and include_not_hidden)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            presences = nk.stream_user_list(stream, include_hidden=False)"""

    def stream_user_get(
        self,
        user_id: str,
        session_id: str,
        stream: Mapping[str, Any],
    ) -> StreamPresenceMeta | None:
        """A session's presence on a stream, {hidden, persistence, username, status}, or None.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            meta = nk.stream_user_get(ctx.user_id, ctx.session_id, stream)"""

    def stream_user_join(
        self,
        user_id: str,
        session_id: str,
        stream: Mapping[str, Any],
        hidden: bool = False,
        persistence: bool = True,
        status: str = '',
    ) -> bool:
        """Put a user's connected session on a stream: True if it was not on it (an existing
        presence is left as it is). Unless `hidden`, everyone on the stream gets a presence
        event. Code 5 if no such session of the user is connected to this node.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `hidden: expected True or False.` (and persistence)
            - 3 INVALID_ARGUMENT `status: expected a string.`
            - 3 INVALID_ARGUMENT `stream mode <mode> is reserved: server code cannot change who is on
              its streams (use a custom mode, 8-255)` (modes 0, 6 and 7)
            - 5 NOT_FOUND `session <session_id> of user <user_id> is not connected` (to this node)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_user_join(ctx.user_id, ctx.session_id, stream, status="ready")"""

    def stream_user_update(
        self,
        user_id: str,
        session_id: str,
        stream: Mapping[str, Any],
        hidden: bool = False,
        persistence: bool = True,
        status: str = '',
    ) -> None:
        """Replace a session's presence metadata on a stream (a leave and a join for the others),
        putting it on the stream if it is not.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `hidden: expected True or False.` (and persistence)
            - 3 INVALID_ARGUMENT `status: expected a string.`
            - 3 INVALID_ARGUMENT `stream mode <mode> is reserved: server code cannot change who is on
              its streams (use a custom mode, 8-255)` (modes 0, 6 and 7)
            - 5 NOT_FOUND `session <session_id> of user <user_id> is not connected` (to this node)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_user_update(ctx.user_id, ctx.session_id, stream, status="in game")"""

    def stream_user_leave(self, user_id: str, session_id: str, stream: Mapping[str, Any]) -> None:
        """Take a user's session off a stream (nothing happens if it is not on it).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `stream mode <mode> is reserved: server code cannot change who is on
              its streams (use a custom mode, 8-255)` (modes 0, 6 and 7)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_user_leave(ctx.user_id, ctx.session_id, stream)"""

    def stream_user_kick(self, presence: Mapping[str, Any], stream: Mapping[str, Any]) -> None:
        """Take a presence ({user_id, session_id, node?}, as stream_user_list gives them) off a
        stream.

        Errors:
            - 3 INVALID_ARGUMENT `presence: expected a dict {user_id, session_id}.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (presence user_id is not
              a UUID)
            - 3 INVALID_ARGUMENT `Invalid presence session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `stream mode <mode> is reserved: server code cannot change who is on
              its streams (use a custom mode, 8-255)` (modes 0, 6 and 7)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            for presence in nk.stream_user_list(stream):
                nk.stream_user_kick(presence, stream)"""

    def stream_count(self, stream: Mapping[str, Any]) -> int:
        """How many sessions are on a stream, hidden ones included.

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            players = nk.stream_count(stream)"""

    def stream_close(self, stream: Mapping[str, Any]) -> None:
        """Take every session off a stream.

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `stream mode <mode> is reserved: server code cannot change who is on
              its streams (use a custom mode, 8-255)` (modes 0, 6 and 7)

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_close(stream)"""

    def stream_send(
        self,
        stream: Mapping[str, Any],
        data: str,
        presences: Sequence[Mapping[str, Any]] | None = None,
        reliable: bool = True,
    ) -> None:
        """Send `data` (text) to every session on a stream as a `stream_data` push {stream, data,
        reliable}, without a sender; with `presences`, to those sessions only.

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `data: expected a string.`
            - 3 INVALID_ARGUMENT `presences: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `presences: node must be a string.`
            - 3 INVALID_ARGUMENT `Invalid presence session_id <value>: expected a UUID.`
            - 3 INVALID_ARGUMENT `reliable: expected True or False.`

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_send(stream, nk.json_encode({"round": 2}))"""

    def stream_send_raw(
        self,
        stream: Mapping[str, Any],
        envelope: Mapping[str, Any],
        presences: Sequence[Mapping[str, Any]] | None = None,
        reliable: bool = True,
    ) -> None:
        """Send any socket message to every session on a stream (or to `presences`): `envelope`
        is one message in Nakama's JSON shape, e.g. {"notifications": {"notifications": [...]}}.
        `reliable` is accepted for Nakama's signature (the socket is reliable).

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`
            - 3 INVALID_ARGUMENT `envelope: expected a dict with exactly one message key.`
            - 3 INVALID_ARGUMENT `envelope: unknown message '<kind>'.`
            - 3 INVALID_ARGUMENT `envelope: the <kind> message must be a dict.`
            - 3 INVALID_ARGUMENT `envelope: not JSON: <reason>.`
            - 3 INVALID_ARGUMENT `reliable: expected True or False.`
            - 3 INVALID_ARGUMENT `presences: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `presences: node must be a string.`
            - 3 INVALID_ARGUMENT `Invalid presence session_id <value>: expected a UUID.`

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            nk.stream_send_raw(stream, {"notifications": {"notifications": []}})"""

    def match_create(self, module: str, params: Any = None) -> str:
        """Start an authoritative match on this node with the handler registered as `module`
        (`initializer.register_match(module, handler)`): its `match_init(ctx, logger, nk, params)`
        runs now (`params` as given; {} when None) and the match then runs at the tick rate it
        returned. Returns the match id, "<uuid>.<node>", which players join with the socket's
        `match_join`.

        Errors:
            - 3 INVALID_ARGUMENT `module: expected the name a match handler is registered under`
            - 5 NOT_FOUND `No match handler is registered as '<module>'.`
            - 8 RESOURCE_EXHAUSTED `Match limit reached - this node runs at most <n> matches
              (match.max_matches).`
            - 13 INTERNAL `Match not created: match_init of '<module>' returned the tick rate
              <value>: expected an integer from 1 to 60.` (and other results of the wrong shape:
              (state, tick_rate, label), a state that is None, a label that is not text of at most
              2048 bytes)
            - 13 INTERNAL `Match not created: match_init of '<module>' failed (see the server
              log).` (it raised an exception; an `Error` it raises reaches the caller as it is)
            - 14 UNAVAILABLE `The node is stopping: it starts no more matches.`

        Example:
            match_id = nk.match_create("tic-tac-toe", {"private": True})
            return nk.json_encode({"match_id": match_id})"""

    def match_get(self, match_id: str) -> Match | None:
        """A match by id: {match_id, authoritative, label, size, tick_rate, handler_name} (`size`:
        how many players it has), or None when no such match runs here (a relayed match exists
        while it has players).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid match ID` (not "<uuid>.<node>" or "<uuid>.")

        Example:
            match = nk.match_get(match_id)
            if match is None or match["size"] >= 2:
                raise Error("That game is full.", Code.FAILED_PRECONDITION)"""

    def match_list(
        self,
        limit: int = 1,
        authoritative: bool | None = None,
        label: str | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        query: str | None = None,
    ) -> list[Match]:
        """Up to `limit` (1-100) matches, as GET /v2/match lists them: authoritative matches
        (with `query`, the best matches of the query first; then the newest), then relayed ones.
        `authoritative`: True for authoritative matches only, False for relayed ones only, None
        for both. `label`: only authoritative matches with exactly this label. `query`: only
        authoritative matches whose label (a JSON object) matches Nakama's query syntax, e.g.
        `+label.mode:ranked label.level:>=5`. `min_size` / `max_size`: how many players
        (inclusive).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `authoritative: expected True, False or None.`
            - 3 INVALID_ARGUMENT `label: expected a string.` (and query)
            - 3 INVALID_ARGUMENT `min_size: expected an integer.` (and max_size)
            - 3 INVALID_ARGUMENT `Invalid minimum size - min size must be >= 0.`
            - 3 INVALID_ARGUMENT `Invalid maximum size - max size must be >= 0.`
            - 3 INVALID_ARGUMENT `Invalid maximum size - max size must be >= min size.`
            - 3 INVALID_ARGUMENT `Invalid match query: <reason>` (a query that does not parse)

        Example:
            games = nk.match_list(10, True, None, 0, 1, "+label.mode:classic")
            open_ids = [g["match_id"] for g in games]"""

    def match_signal(self, match_id: str, data: str) -> str:
        """Call a running authoritative match's `match_signal` with `data` (text) and return its
        result (text; "" for None): a way for server code (an RPC, another match) to reach a match
        between its ticks, e.g. to reserve a seat. Signals are served in order, between ticks.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid match ID`
            - 3 INVALID_ARGUMENT `data: expected a string`
            - 5 NOT_FOUND `Match not found` (no such authoritative match runs on this node, or it
              ended before it was served)
            - 8 RESOURCE_EXHAUSTED `Match is busy: too many signals waiting
              (match.signal_queue_size).`
            - 13 INTERNAL `match_signal failed: the match ended.` (the handler raised: the match
              ends)

        Example:
            reply = nk.match_signal(match_id, nk.json_encode({"reserve": ctx.user_id}))
            seat = nk.json_decode(reply)["seat"]"""

    def multi_update(
        self,
        account_updates: Sequence[Mapping[str, Any]] | None = None,
        storage_writes: Sequence[Mapping[str, Any]] | None = None,
        storage_deletes: Sequence[Mapping[str, Any]] | None = None,
        wallet_updates: Sequence[Mapping[str, Any]] | None = None,
        update_ledger: bool = False,
    ) -> MultiUpdateResult:
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
                wallet_updates=[{"user_id": ctx.user_id, "changeset": {"gems": 5}}])"""

    def purchase_validate_apple(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate an Apple App Store receipt. Nakama's arguments: `user_id, receipt, persist=True,
        password_override=None`; the result will be a `ValidatePurchaseResponse`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_apple(ctx.user_id, receipt, True)"""

    def purchase_validate_google(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Google Play purchase. Nakama's arguments: `user_id, receipt, persist=True,
        client_email_override=None, private_key_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_google(ctx.user_id, receipt, True)"""

    def purchase_validate_huawei(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Huawei AppGallery purchase. Nakama's arguments: `user_id, receipt, signature,
        persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_huawei(ctx.user_id, receipt, signature, True)"""

    def purchase_validate_facebook_instant(
        self,
        *args: Any,
        **kwargs: Any,
    ) -> ValidatePurchaseResponse:
        """Validate a Facebook Instant Games purchase. Nakama's arguments: `user_id, signed_request,
        persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_facebook_instant(ctx.user_id, signed_request, True)"""

    def purchase_validate_samsung(self, *args: Any, **kwargs: Any) -> ValidatePurchaseResponse:
        """Validate a Samsung Galaxy Store purchase. Arguments: `user_id, receipt, persist=True`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            result = nk.purchase_validate_samsung(ctx.user_id, receipt, True)"""

    def purchase_get_by_transaction_id(self, *args: Any, **kwargs: Any) -> ValidatedPurchase:
        """A stored purchase by its transaction id. Nakama's arguments: `transaction_id`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            purchase = nk.purchase_get_by_transaction_id(transaction_id)"""

    def purchases_list(self, *args: Any, **kwargs: Any) -> PurchaseList:
        """A page of stored purchases. Nakama's arguments: `user_id=None, limit=100, cursor=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `In-app purchases are not supported by this server yet.`

        Example:
            page = nk.purchases_list(ctx.user_id, 10)"""

    def subscription_validate_apple(
        self,
        *args: Any,
        **kwargs: Any,
    ) -> ValidateSubscriptionResponse:
        """Validate an Apple subscription receipt. Nakama's arguments: `user_id, receipt,
        persist=True, password_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            result = nk.subscription_validate_apple(ctx.user_id, receipt, True)"""

    def subscription_validate_google(
        self,
        *args: Any,
        **kwargs: Any,
    ) -> ValidateSubscriptionResponse:
        """Validate a Google Play subscription. Nakama's arguments: `user_id, receipt, persist=True,
        client_email_override=None, private_key_override=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            result = nk.subscription_validate_google(ctx.user_id, receipt, True)"""

    def subscription_get_by_product_id(self, *args: Any, **kwargs: Any) -> ValidatedSubscription:
        """A user's stored subscription to a product. Nakama's arguments: `user_id, product_id`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            subscription = nk.subscription_get_by_product_id(ctx.user_id, "vip_monthly")"""

    def subscriptions_list(self, *args: Any, **kwargs: Any) -> SubscriptionList:
        """A page of stored subscriptions. Nakama's arguments: `user_id=None, limit=100,
        cursor=None`.
        Not supported yet: every call raises code 12.

        Errors:
            - 12 UNIMPLEMENTED `Subscriptions are not supported by this server yet.`

        Example:
            page = nk.subscriptions_list(ctx.user_id, 10)"""
