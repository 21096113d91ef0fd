"""The API records the domain returns: Nakama's API messages (api.proto), typed.

`kizuna/core` builds these from its queries and returns them; the transports never see a database
row or a column name. Times are aware datetimes; JSON documents (metadata, wallet, storage values,
notification and message content) stay JSON text, as they travel on the wire and in the database.
`kizuna.wire.encode` turns each into its JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str | None = None
    avatar_url: str | None = None
    lang_tag: str | None = None
    location: str | None = None
    timezone: str | None = None
    metadata: str = "{}"
    facebook_id: str | None = None
    google_id: str | None = None
    gamecenter_id: str | None = None
    steam_id: str | None = None
    facebook_instant_game_id: str | None = None
    apple_id: str | None = None
    edge_count: int = 0
    create_time: datetime | None = None
    update_time: datetime | None = None
    online: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    user: User
    wallet: str = "{}"
    email: str | None = None
    devices: list[str] = field(default_factory=list)
    custom_id: str | None = None
    verify_time: datetime | None = None
    disable_time: datetime | None = None  # shown to server code only, never to the player


@dataclass(frozen=True, slots=True)
class Session:
    """A session issued by authenticate or refresh."""
    token: str
    refresh_token: str
    created: bool = False


@dataclass(frozen=True, slots=True)
class StorageObject:
    collection: str
    key: str
    user_id: str
    value: str
    version: str
    permission_read: int
    permission_write: int
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True, slots=True)
class StorageAck:
    collection: str
    key: str
    version: str
    user_id: str
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True, slots=True)
class StorageObjectList:
    objects: list[StorageObject]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    user_id: str
    subject: str
    content: str  # a JSON object, as text
    code: int
    sender_id: str  # "" for the system
    create_time: datetime
    persistent: bool


@dataclass(frozen=True, slots=True)
class NotificationList:
    notifications: list[Notification]
    cacheable_cursor: str


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel_id: str
    message_id: str
    code: int
    sender_id: str
    username: str
    content: str  # a JSON object, as text
    create_time: datetime
    update_time: datetime
    persistent: bool
    room_name: str = ""
    group_id: str = ""
    user_id_one: str = ""
    user_id_two: str = ""


@dataclass(frozen=True, slots=True)
class ChannelMessageList:
    messages: list[ChannelMessage]
    next_cursor: str | None
    prev_cursor: str | None
    cacheable_cursor: str | None


class UserPresence(Protocol):
    """A presence on a stream, as the tracker holds it: `status` is None except on status
    streams (where it is the user's status text, possibly empty)."""

    @property
    def user_id(self) -> str: ...

    @property
    def session_id(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def persistence(self) -> bool: ...

    @property
    def status(self) -> str | None: ...


# -- friends (kizuna/core/friends.py) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Friend:
    """A user_edge as its source sees it: the other user, the state (0 friend, 1 invite sent,
    2 invite received, 3 blocked), when it last changed, and the source's metadata about it."""
    user: User
    state: int
    update_time: datetime
    metadata: str = "{}"  # a JSON object, as text


@dataclass(frozen=True, slots=True)
class FriendList:
    friends: list[Friend]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class FriendOfFriend:
    referrer: str  # the friend through whom `user` is known
    user: User


@dataclass(frozen=True, slots=True)
class FriendsOfFriendsList:
    friends_of_friends: list[FriendOfFriend]
    cursor: str | None


# -- groups (kizuna/core/groups.py) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    creator_id: str
    name: str
    description: str | None
    avatar_url: str | None
    lang_tag: str | None
    metadata: str  # a JSON object, as text
    open: bool
    edge_count: int
    max_count: int
    create_time: datetime | None
    update_time: datetime | None


@dataclass(frozen=True, slots=True)
class GroupList:
    groups: list[Group]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class GroupUser:
    user: User
    state: int  # 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned


@dataclass(frozen=True, slots=True)
class GroupUserList:
    group_users: list[GroupUser]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class UserGroup:
    group: Group
    state: int


@dataclass(frozen=True, slots=True)
class UserGroupList:
    user_groups: list[UserGroup]
    cursor: str | None


# -- leaderboards and tournaments (kizuna/core/leaderboards.py, kizuna/core/tournaments.py) --------


@dataclass(frozen=True, slots=True)
class Leaderboard:
    id: str
    sort_order: int  # 0 ascending, 1 descending
    operator: int  # the API enum: 1 best, 2 set, 3 increment, 4 decrement
    prev_reset: int  # unix seconds, 0 when none
    next_reset: int
    metadata: str  # a JSON object, as text
    create_time: datetime
    authoritative: bool


@dataclass(frozen=True, slots=True)
class LeaderboardList:
    leaderboards: list[Leaderboard]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Tournament:
    id: str
    title: str
    description: str
    category: int
    sort_order: int
    size: int
    max_size: int
    max_num_score: int
    can_enter: bool
    end_active: int  # unix seconds: the current period's active window ends
    next_reset: int
    metadata: str
    create_time: datetime
    start_time: datetime
    end_time: int  # unix seconds, 0: never ends
    duration: int
    start_active: int
    prev_reset: int
    operator: int  # the API enum
    authoritative: bool
    join_required: bool


@dataclass(frozen=True, slots=True)
class TournamentList:
    tournaments: list[Tournament]
    cursor: str | None


@dataclass(slots=True)  # not frozen: pages build up to 1,000 of these, and a frozen init is 3x slower
class LeaderboardRecord:
    leaderboard_id: str
    owner_id: str
    username: str | None
    score: int
    subscore: int
    num_score: int
    max_num_score: int
    metadata: str  # a JSON object, as text
    create_time: datetime
    update_time: datetime
    expiry_time: int  # unix seconds, 0: never expires
    rank: int  # 1-based, 0 when ranks are not kept for the board


@dataclass(frozen=True, slots=True)
class LeaderboardRecordList:
    records: list[LeaderboardRecord]
    owner_records: list[LeaderboardRecord]
    next_cursor: str | None
    prev_cursor: str | None
    rank_count: int


# -- wallet (kizuna/core/wallet.py) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WalletUpdateResult:
    """One user's wallet update: the balances after and before it."""
    user_id: str
    updated: dict[str, int]
    previous: dict[str, int]


@dataclass(frozen=True, slots=True)
class WalletLedgerItem:
    id: str
    user_id: str
    changeset: str  # a JSON object of integers, as text
    metadata: str  # a JSON object, as text
    create_time: datetime
    update_time: datetime


@dataclass(frozen=True, slots=True)
class WalletLedgerList:
    items: list[WalletLedgerItem]
    cursor: str | None


# -- matches (kizuna/core/matches.py) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """An api.Match: a relayed match (no label, tick rate or handler) or an authoritative one."""
    match_id: str
    authoritative: bool
    size: int
    label: str | None = None  # a StringValue: set (even "") for authoritative matches only
    tick_rate: int = 0
    handler_name: str = ""


# -- the matchmaker (kizuna/realtime/matchmaker.py) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchmakerStats:
    """An api.MatchmakerStats: the tickets waiting on the node, and recent completions
    (when each matched ticket was added, and when it was matched)."""
    ticket_count: int
    oldest_ticket_create_time: datetime | None
    completions: list[tuple[datetime, datetime]] = field(default_factory=list)
