"""The shapes `nk` returns: plain dicts at runtime, TypedDicts for editors and type checkers.

They are what `kizuna.wire.encode.<type>(record, full=True)` writes: Nakama's field names, every
field present ("" or 0 when unset), timestamps as RFC 3339 UTC strings, JSON documents (storage
values, metadata, wallets, notification and message content) decoded into Python objects.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict


class User(TypedDict):
    id: str
    username: str
    display_name: str
    avatar_url: str
    lang_tag: str
    location: str
    timezone: str
    metadata: dict[str, Any]
    facebook_id: str
    google_id: str
    gamecenter_id: str
    steam_id: str
    facebook_instant_game_id: str
    apple_id: str
    edge_count: int
    online: bool
    create_time: str
    update_time: str


class Account(TypedDict):
    user: User
    wallet: dict[str, Any]
    email: str
    devices: list[dict[str, str]]
    custom_id: str
    verify_time: str | None
    disable_time: str | None


class StorageObject(TypedDict):
    collection: str
    key: str
    user_id: str
    value: dict[str, Any]
    version: str
    permission_read: int
    permission_write: int
    create_time: str
    update_time: str


class StorageAck(TypedDict):
    collection: str
    key: str
    user_id: str
    version: str
    create_time: str
    update_time: str


class Notification(TypedDict):
    id: str
    user_id: str
    subject: str
    content: dict[str, Any]
    code: int
    sender_id: str
    create_time: str
    persistent: bool


class ChannelMessage(TypedDict):
    channel_id: str
    message_id: str
    code: int
    sender_id: str
    username: str
    content: dict[str, Any]
    create_time: str
    update_time: str
    persistent: bool
    room_name: str
    group_id: str
    user_id_one: str
    user_id_two: str


class ChannelMessageList(TypedDict):
    messages: list[ChannelMessage]
    next_cursor: str | None
    prev_cursor: str | None
    cacheable_cursor: str | None


class Friend(TypedDict):
    user: User
    state: int  # 0 friend, 1 invite sent, 2 invite received, 3 blocked
    update_time: str
    metadata: dict[str, Any]


class FriendOfFriend(TypedDict):
    referrer: str
    user: User


class Group(TypedDict):
    id: str
    creator_id: str
    name: str
    description: str
    lang_tag: str
    metadata: dict[str, Any]
    avatar_url: str
    open: bool
    edge_count: int
    max_count: int
    create_time: str
    update_time: str


class GroupUser(TypedDict):
    user: User
    state: int  # 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned


class UserGroup(TypedDict):
    group: Group
    state: int


class Leaderboard(TypedDict):
    id: str
    sort_order: int  # 0 ascending, 1 descending
    operator: int  # 1 best, 2 set, 3 increment, 4 decrement
    prev_reset: int  # unix seconds, 0: none
    next_reset: int
    metadata: dict[str, Any]
    create_time: str
    authoritative: bool


class Tournament(TypedDict):
    id: str
    title: str
    description: str
    category: int
    sort_order: int
    size: int
    max_size: int
    max_num_score: int
    can_enter: bool
    end_active: int  # unix seconds
    next_reset: int
    metadata: dict[str, Any]
    create_time: str
    start_time: str
    end_time: str  # "" when the tournament never ends
    duration: int
    start_active: int
    prev_reset: int
    operator: int
    authoritative: bool
    join_required: bool


class LeaderboardRecord(TypedDict):
    leaderboard_id: str
    owner_id: str
    username: str
    score: int
    subscore: int
    num_score: int
    max_num_score: int
    metadata: dict[str, Any]
    create_time: str
    update_time: str
    expiry_time: str  # "" when the record never expires
    rank: int  # 0 when the board keeps no ranks


class LeaderboardRecordList(TypedDict):
    records: list[LeaderboardRecord]
    owner_records: list[LeaderboardRecord]
    next_cursor: str
    prev_cursor: str
    rank_count: int


class AccountExport(TypedDict):
    account: Account
    objects: list[StorageObject]
    notifications: list[Notification]


class AuthResult(NamedTuple):
    user_id: str
    username: str
    created: bool


class TokenResult(NamedTuple):
    token: str
    exp: int


class HttpResult(TypedDict):
    """What `nk.http_request` returns."""
    code: int
    headers: dict[str, str]
    body: str


class StreamPresenceMeta(TypedDict):
    """A session's presence metadata on a stream (nk.stream_user_get)."""

    hidden: bool
    persistence: bool
    username: str
    status: str


class StreamPresence(TypedDict):
    """A session on a stream (nk.stream_user_list), as Nakama's Lua runtime lists it."""

    user_id: str
    session_id: str
    node: str
    hidden: bool
    persistence: bool
    username: str
    status: str


# -- purchases and subscriptions -------------------------------------------------------------------
# Kept ready for when receipts can be validated: today every `nk.purchase_*` and
# `nk.subscription*` call raises code 12 (UNIMPLEMENTED). Nakama's api.proto shapes, field for
# field; `store` is StoreProvider (0 APPLE_APP_STORE, 1 GOOGLE_PLAY_STORE, 2 HUAWEI_APP_GALLERY,
# 3 FACEBOOK_INSTANT_STORE), `environment` StoreEnvironment (0 UNKNOWN, 1 SANDBOX, 2 PRODUCTION).


class ValidatedPurchase(TypedDict):
    """A validated purchase as it is stored (not returned yet: purchases are not supported)."""

    user_id: str
    product_id: str
    transaction_id: str
    store: int
    purchase_time: str
    create_time: str
    update_time: str
    refund_time: str
    provider_response: str
    environment: int
    seen_before: bool


class ValidatePurchaseResponse(TypedDict):
    """What `nk.purchase_validate_*` will return: the purchases the receipt holds."""

    validated_purchases: list[ValidatedPurchase]


class ValidatedSubscription(TypedDict):
    """A validated subscription as it is stored (not returned yet: subscriptions are not
    supported)."""

    user_id: str
    product_id: str
    original_transaction_id: str
    store: int
    purchase_time: str
    create_time: str
    update_time: str
    environment: int
    expiry_time: str
    refund_time: str
    provider_response: str
    provider_notification: str
    active: bool


class ValidateSubscriptionResponse(TypedDict):
    """What `nk.subscription_validate_*` will return."""

    validated_subscription: ValidatedSubscription


class PurchaseList(TypedDict):
    """What `nk.purchases_list` will return: a page of a user's stored purchases."""

    validated_purchases: list[ValidatedPurchase]
    cursor: str
    prev_cursor: str


class SubscriptionList(TypedDict):
    """What `nk.subscriptions_list` will return: a page of a user's stored subscriptions."""

    validated_subscriptions: list[ValidatedSubscription]
    cursor: str
    prev_cursor: str


class Match(TypedDict):
    """A match, as `nk.match_get` and `nk.match_list` return it: `size` is how many players it
    has; `label`, `tick_rate` and `handler_name` are "", 0 and "" for relayed matches."""

    match_id: str
    authoritative: bool
    label: str
    size: int
    tick_rate: int
    handler_name: str
