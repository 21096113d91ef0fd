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
    Notification,
    StorageAck,
    StorageObject,
    StreamPresence,
    StreamPresenceMeta,
    TokenResult,
    Tournament,
    User,
    UserGroup,
)

class Nk(UtilityNk):
    """The `nk` argument of every server function: `nk.x(...)` blocks (plain functions, in worker
    threads), `await nk.aio.x(...)` is the same call as a coroutine (`async def` functions)."""

    aio: AsyncNk

    def __init__(self, runtime: Host | None) -> None: ...
    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple,
               kwargs: dict) -> Any: ...

    def account_get_id(self, user_id: str) -> Account:
        """A user's account, as GET /v2/account shows it plus `disable_time`."""

    def accounts_get_id(self, user_ids: Sequence[str]) -> list[Account]:
        """The accounts of the users that exist, in the order asked."""

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
        """Update profile fields (None leaves a field as it is; "" clears it) and metadata."""

    def account_delete_id(self, user_id: str, recorded: bool = False) -> None:
        """Delete an account (its sessions are revoked and its sockets closed first)."""

    def account_export_id(self, user_id: str) -> AccountExport:
        """Everything held about a user: the account, its storage objects, its notifications."""

    def users_get_id(
        self,
        user_ids: Sequence[str],
        facebook_ids: Sequence[str] | None = None,
    ) -> list[User]:
        """The users that exist among these ids (and Facebook ids)."""

    def users_get_username(self, usernames: Sequence[str]) -> list[User]:
        """The users that exist among these usernames."""

    def users_get_random(self, count: int) -> list[User]:
        """Up to `count` (0-1000) users picked at random, as Nakama: those whose ids follow a
        random one (wrapping around to the start when there are not enough); never the system user
        or a disabled (banned) account."""

    def users_ban_id(self, user_ids: Sequence[str]) -> None:
        """Disable accounts: no more logins or refreshes, every session revoked (on every node),
        sockets on this node closed."""

    def users_unban_id(self, user_ids: Sequence[str]) -> None:
        """Enable disabled accounts again."""

    def authenticate_device(
        self,
        device_id: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of a device id."""

    def authenticate_email(
        self,
        email: str,
        password: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of an email address, checking the password."""

    def authenticate_custom(
        self,
        custom_id: str,
        username: str | None = None,
        create: bool = True,
    ) -> AuthResult:
        """Find (or, with `create`, create) the user of a custom id."""

    def authenticate_token_generate(
        self,
        user_id: str,
        username: str | None = None,
        exp: int | None = None,
        vars: Mapping[str, str] | None = None,
    ) -> TokenResult:
        """A session token for a user (recorded, so it can be revoked like any other). `exp` is
        the expiry in unix seconds (default: now + session.token_expiry_sec)."""

    def link_device(self, user_id: str, device_id: str) -> None:
        ...

    def link_custom(self, user_id: str, custom_id: str) -> None:
        ...

    def link_email(self, user_id: str, email: str, password: str) -> None:
        ...

    def unlink_device(self, user_id: str, device_id: str) -> None:
        ...

    def unlink_custom(self, user_id: str, custom_id: str | None = None) -> None:
        ...

    def unlink_email(self, user_id: str, email: str | None = None) -> None:
        ...

    def session_logout(
        self,
        user_id: str,
        token: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        """End one session (by its token and/or refresh token) or, with neither, all of them."""

    def session_disconnect(self, session_id: str) -> bool:
        """Close a socket session on this node; False if there is no such session."""

    def storage_read(self, object_ids: Sequence[Mapping[str, Any]]) -> list[StorageObject]:
        """Objects by {"collection", "key", "user_id"} (user_id "" or None: the system user's);
        missing ones are left out. Permissions are not enforced."""

    def storage_write(self, objects: Sequence[Mapping[str, Any]]) -> list[StorageAck]:
        """Write objects {"collection", "key", "user_id", "value", "version", "permission_read",
        "permission_write"} in one transaction; `value` is a dict (or JSON text); `version` ""
        overwrites, "*" only creates, anything else must match. Acks come in request order."""

    def storage_list(
        self,
        user_id: str | None,
        collection: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[StorageObject], str | None]:
        """One page of a collection (one user's objects, or every owner's with user_id None) and
        the cursor of the next page (None at the end)."""

    def storage_delete(self, object_ids: Sequence[Mapping[str, Any]]) -> None:
        """Delete objects {"collection", "key", "user_id", "version"}; with a version, it must
        match. One transaction."""

    def notification_send(
        self,
        user_id: str,
        subject: str,
        content: Mapping[str, Any] | str,
        code: int,
        sender_id: str | None = None,
        persistent: bool = False,
    ) -> None:
        """Notify a user: pushed at once if online, stored (listed later) when persistent."""

    def notifications_send(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Several notifications {"user_id", "subject", "content", "code", "sender_id",
        "persistent"} at once."""

    def notification_send_all(
        self,
        subject: str,
        content: Mapping[str, Any] | str,
        code: int,
        persistent: bool = False,
    ) -> None:
        """Notify every user: stored for all when persistent, pushed to those online."""

    def notifications_list(
        self,
        user_id: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[Notification], str]:
        """A page of a user's stored notifications, oldest first, and the cursor to continue."""

    def notifications_delete(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Delete notifications given as {"user_id", "notification_id"}."""

    def notifications_get_id(self, user_id: str | None, ids: Sequence[str]) -> list[Notification]:
        """Stored notifications by id, oldest first (ids that match nothing are left out); with a
        `user_id`, only that user's."""

    def notifications_update(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Change stored notifications, given as {"id", "subject", "content", "sender"}: a field
        left out (or None) stays as it is; "sender" (or "sender_id") "" makes it the system's.
        In one transaction; ids that match nothing are skipped; nothing is pushed again."""

    def channel_message_send(
        self,
        channel_id: str,
        content: Mapping[str, Any] | str,
        sender_id: str | None = None,
        sender_username: str | None = None,
        persist: bool = True,
    ) -> ChannelMessage:
        """Send a chat message (from the system user unless a sender is given) to everyone on
        the channel, stored in its history when `persist`. Returns the message sent."""

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
        Returns the update as delivered."""

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
        Returns the removal as delivered."""

    def channel_messages_list(
        self,
        channel_id: str,
        limit: int = 100,
        forward: bool = True,
        cursor: str | None = None,
    ) -> ChannelMessageList:
        """A page of a channel's history: {"messages", "next_cursor", "prev_cursor",
        "cacheable_cursor"}."""

    def friends_list(
        self,
        user_id: str,
        limit: int = 1000,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[Friend], str | None]:
        """One page of a user's friends, invites and blocks (only `state` when given: 0 friend,
        1 invite sent, 2 invite received, 3 blocked) and the cursor of the next page (None at
        the end). `limit` 1..1000."""

    def friends_of_friends_list(
        self,
        user_id: str,
        limit: int = 10,
        cursor: str | None = None,
    ) -> tuple[list[FriendOfFriend], str | None]:
        """Users the user's friends are friends with (not the user, not already friends), each
        with the friend who knows them (`referrer`), and the next page's cursor. `limit` 1..100."""

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
        on the user's edge to each of them."""

    def friends_delete(
        self,
        user_id: str,
        username: str | None = None,
        ids: Sequence[str] | None = None,
        usernames: Sequence[str] | None = None,
    ) -> None:
        """As the user, remove these users: unfriend, cancel or decline an invite, unblock."""

    def friends_block(
        self,
        user_id: str,
        username: str | None = None,
        ids: Sequence[str] | None = None,
        usernames: Sequence[str] | None = None,
    ) -> None:
        """As the user, block these users (their edge to the user is removed)."""

    def friend_metadata_update(
        self,
        user_id: str,
        friend_user_id: str,
        metadata: Mapping[str, Any] | str | None,
    ) -> None:
        """Replace the metadata of the user's edge to another user (a dict, or JSON text)."""

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
        """A new group with `user_id` as its superadmin; `creator_id` defaults to `user_id`."""

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
        a `user_id`, that user must be an admin or superadmin of the group."""

    def group_delete(self, group_id: str) -> None:
        """Delete a group and its memberships (an absent group is no error)."""

    def groups_get_id(self, group_ids: Sequence[str]) -> list[Group]:
        """Groups by id; unknown ones are left out."""

    def group_users_list(
        self,
        group_id: str,
        limit: int = 100,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[GroupUser], str | None]:
        """One page of a group's users `{"user", "state"}` (only `state` when given; banned users
        only then) and the next page's cursor (None at the end)."""

    def user_groups_list(
        self,
        user_id: str,
        limit: int = 100,
        state: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[UserGroup], str | None]:
        """One page of a user's groups `{"group", "state"}` and the next page's cursor."""

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
        prefix; alone), or by any of `lang_tag`, `members` (at most that many) and `open`."""

    def group_users_add(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Add users as members (accepting join requests); each gets notification -4."""

    def group_users_kick(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Remove users from a group (the last superadmin stays); their sockets leave its
        channel."""

    def group_users_ban(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Ban users from a group (they leave it and cannot join again until kicked)."""

    def group_users_promote(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Raise users one role (join request -> member -> admin -> superadmin)."""

    def group_users_demote(
        self,
        group_id: str,
        user_ids: Sequence[str],
        caller_id: str | None = None,
    ) -> None:
        """Lower users one role (superadmin -> admin -> member; never the last superadmin)."""

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
        With `update_ledger`, a ledger item records the changeset and `metadata`."""

    def wallets_update(
        self,
        updates: Sequence[Mapping[str, Any]],
        update_ledger: bool = False,
    ) -> list[WalletUpdateResult]:
        """Several updates `{user_id, changeset, metadata}` in one transaction: all are applied,
        or none. `{user_id, updated, previous}` for each; users that do not exist are left out."""

    def wallet_ledger_list(
        self,
        user_id: str,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[WalletLedgerItem], str | None]:
        """One page of a user's ledger items `{id, user_id, changeset, metadata, create_time,
        update_time}`, newest first, and the next page's cursor (None at the end)."""

    def wallet_ledger_update(
        self,
        item_id: str,
        metadata: Mapping[str, Any] | str,
    ) -> WalletLedgerItem:
        """Merge `metadata` into a ledger item's (its top-level keys replace or join the item's,
        as Nakama does): the item as it is now."""

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
        (Nakama's default: off)."""

    def leaderboard_delete(self, id: str) -> None:
        """Delete a leaderboard and all its records (an unknown id is no error)."""

    def leaderboards_get_id(self, ids: Sequence[str]) -> list[Leaderboard]:
        """Leaderboards by id; unknown ids (and tournaments) are left out."""

    def leaderboard_list(
        self,
        limit: int = 10,
        cursor: str | None = None,
    ) -> tuple[list[Leaderboard], str | None]:
        """One page of leaderboards (by creation time) and the next page's cursor."""

    def leaderboard_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a leaderboard (records then have rank 0)."""

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
        reads a past period; 0: the current one."""

    def leaderboard_records_haystack(
        self,
        id: str,
        owner_id: str,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included)."""

    def leaderboard_records_list_cursor_from_rank(self, id: str, rank: int, expiry: int = 0) -> str:
        """A cursor for `leaderboard_records_list` whose page starts at `rank` ("" for rank 1);
        needs a board that keeps ranks."""

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
        `override_operator`); authoritative boards accept it."""

    def leaderboard_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period."""

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
        limit / 1000000); `join_required`: players must join before writing."""

    def tournament_delete(self, id: str) -> None:
        """Delete a tournament and its records (an unknown id is no error)."""

    def tournament_add_attempt(self, id: str, owner_id: str, count: int) -> None:
        """Give a player `count` more writes (negative: fewer) in the current period."""

    def tournament_join(self, id: str, owner_id: str, username: str | None = None) -> None:
        """Join a player to the current period (a no-op unless the tournament requires joins)."""

    def tournaments_get_id(self, ids: Sequence[str]) -> list[Tournament]:
        """Tournaments by id; unknown ids are left out."""

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
        `end_time` (None: those not ended; 0: those without an end), and the next cursor."""

    def tournament_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a tournament."""

    def tournament_records_list(
        self,
        id: str,
        owner_ids: Sequence[str] | None = None,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """A page of the current period's records, the records of `owner_ids`, `rank_count`."""

    def tournament_records_haystack(
        self,
        id: str,
        owner_id: str,
        limit: int = 10,
        cursor: str | None = None,
        expiry: int = 0,
    ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included)."""

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
        active window, joins, attempts, size; authoritative tournaments accept it)."""

    def tournament_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period."""

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
        up. `insecure` skips TLS certificate checks."""

    def bcrypt_hash(self, password: str) -> str:
        """A bcrypt hash of the password (cost 10, as Nakama), computed in a worker thread.
        Passwords longer than 72 bytes are refused (bcrypt would ignore the rest)."""

    def bcrypt_compare(self, hash: str, password: str) -> bool:
        """Whether the password matches a bcrypt hash (checked in a worker thread)."""

    def stream_user_list(
        self,
        stream: Mapping[str, Any],
        include_hidden: bool = True,
        include_not_hidden: bool = True,
    ) -> list[StreamPresence]:
        """The sessions on a stream: [{user_id, session_id, node, hidden, persistence, username,
        status}]."""

    def stream_user_get(
        self,
        user_id: str,
        session_id: str,
        stream: Mapping[str, Any],
    ) -> StreamPresenceMeta | None:
        """A session's presence on a stream, {hidden, persistence, username, status}, or None."""

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
        event. Code 5 if no such session of the user is connected to this node."""

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
        putting it on the stream if it is not."""

    def stream_user_leave(self, user_id: str, session_id: str, stream: Mapping[str, Any]) -> None:
        """Take a user's session off a stream (nothing happens if it is not on it)."""

    def stream_user_kick(self, presence: Mapping[str, Any], stream: Mapping[str, Any]) -> None:
        """Take a presence ({user_id, session_id, node?}, as stream_user_list gives them) off a
        stream."""

    def stream_count(self, stream: Mapping[str, Any]) -> int:
        """How many sessions are on a stream, hidden ones included."""

    def stream_close(self, stream: Mapping[str, Any]) -> None:
        """Take every session off a stream."""

    def stream_send(
        self,
        stream: Mapping[str, Any],
        data: str,
        presences: Sequence[Mapping[str, Any]] | None = None,
        reliable: bool = True,
    ) -> None:
        """Send `data` (text) to every session on a stream as a `stream_data` push {stream, data,
        reliable}, without a sender; with `presences`, to those sessions only."""

    def stream_send_raw(
        self,
        stream: Mapping[str, Any],
        envelope: Mapping[str, Any],
        presences: Sequence[Mapping[str, Any]] | None = None,
        reliable: bool = True,
    ) -> None:
        """Send any socket message to every session on a stream (or to `presences`): `envelope`
        is one message in Nakama's JSON shape, e.g. {"notifications": {"notifications": [...]}}.
        `reliable` is accepted for Nakama's signature (the socket is reliable)."""

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
        storage acks and the wallet results."""

    def purchase_validate_apple(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchase_validate_google(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchase_validate_huawei(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchase_validate_facebook_instant(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchase_validate_samsung(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchase_get_by_transaction_id(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def purchases_list(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def subscription_validate_apple(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def subscription_validate_google(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def subscription_get_by_product_id(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""

    def subscriptions_list(self, *args: Any, **kwargs: Any) -> None:
        """Not supported yet: raises Error(code 12)."""
