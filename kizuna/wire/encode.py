"""One encoder per API type.

Each encoder writes the record's JSON form in two styles:

- `full=False` (REST responses and socket envelopes): protojson as Nakama emits it, with fields
  holding defaults left out (wrapper types such as a chat message's `code` and `persistent` are
  always written), JSON documents as strings, times as RFC 3339 strings;
- `full=True` (results of `nk` calls, see docs/runtime.md): every field present, "" or 0 for unset
  ones, JSON documents decoded into Python values.

Times of stored records read back (users, storage objects, notifications) are written in whole
seconds, as Nakama does; acknowledgements and chat messages carry the full time.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from kizuna.wire.codec import document, prune, since_epoch, timestamp
from kizuna.wire.types import (
    Account,
    ChannelMessage,
    ChannelMessageList,
    Friend,
    FriendList,
    FriendOfFriend,
    FriendsOfFriendsList,
    Group,
    GroupList,
    GroupUser,
    GroupUserList,
    Leaderboard,
    LeaderboardList,
    LeaderboardRecord,
    LeaderboardRecordList,
    Match,
    MatchmakerStats,
    Notification,
    NotificationList,
    Session,
    StorageAck,
    StorageObject,
    StorageObjectList,
    Tournament,
    TournamentList,
    User,
    UserGroup,
    UserGroupList,
    UserPresence,
    WalletLedgerItem,
    WalletLedgerList,
    WalletUpdateResult,
)


def user(u: User, *, full: bool = False) -> dict[str, Any]:
    if full:
        return {
            "id": u.id, "username": u.username or "", "display_name": u.display_name or "",
            "avatar_url": u.avatar_url or "", "lang_tag": u.lang_tag or "",
            "location": u.location or "", "timezone": u.timezone or "",
            "metadata": document(u.metadata), "facebook_id": u.facebook_id or "",
            "google_id": u.google_id or "", "gamecenter_id": u.gamecenter_id or "",
            "steam_id": u.steam_id or "",
            "facebook_instant_game_id": u.facebook_instant_game_id or "",
            "apple_id": u.apple_id or "", "edge_count": u.edge_count or 0, "online": u.online,
            "create_time": timestamp(u.create_time, "fraction") or "",
            "update_time": timestamp(u.update_time, "fraction") or "",
        }
    return prune({
        "id": u.id, "username": u.username, "display_name": u.display_name,
        "avatar_url": u.avatar_url, "lang_tag": u.lang_tag, "location": u.location,
        "timezone": u.timezone, "metadata": u.metadata, "facebook_id": u.facebook_id,
        "google_id": u.google_id, "gamecenter_id": u.gamecenter_id, "steam_id": u.steam_id,
        "online": u.online, "edge_count": u.edge_count,
        "create_time": timestamp(u.create_time), "update_time": timestamp(u.update_time),
        "facebook_instant_game_id": u.facebook_instant_game_id, "apple_id": u.apple_id,
    })


def users(items: list[User]) -> dict[str, Any]:
    return prune({"users": [user(u) for u in items]})


def account(a: Account, *, full: bool = False) -> dict[str, Any]:
    devices = [{"id": d} for d in a.devices]
    if full:
        return {
            "user": user(a.user, full=True), "wallet": document(a.wallet),
            "email": a.email or "", "devices": devices, "custom_id": a.custom_id or "",
            "verify_time": since_epoch(a.verify_time, "fraction"),
            "disable_time": since_epoch(a.disable_time, "fraction"),
        }
    # disable_time is never shown to the player (as Nakama).
    return prune({"user": user(a.user), "wallet": a.wallet, "email": a.email,
                  "devices": devices, "custom_id": a.custom_id,
                  "verify_time": since_epoch(a.verify_time)})


def session(s: Session) -> dict[str, Any]:
    return prune({"created": s.created, "token": s.token, "refresh_token": s.refresh_token})


def storage_object(o: StorageObject, *, full: bool = False) -> dict[str, Any]:
    if full:
        return {
            "collection": o.collection, "key": o.key, "user_id": o.user_id,
            "value": document(o.value), "version": o.version,
            "permission_read": o.permission_read, "permission_write": o.permission_write,
            "create_time": timestamp(o.create_time, "fraction") or "",
            "update_time": timestamp(o.update_time, "fraction") or "",
        }
    return prune({
        "collection": o.collection, "key": o.key, "user_id": o.user_id, "value": o.value,
        "version": o.version, "permission_read": o.permission_read,
        "permission_write": o.permission_write, "create_time": timestamp(o.create_time),
        "update_time": timestamp(o.update_time),
    })


def storage_objects(items: list[StorageObject]) -> dict[str, Any]:
    return prune({"objects": [storage_object(o) for o in items]})


def storage_object_list(page: StorageObjectList) -> dict[str, Any]:
    return prune({"objects": [storage_object(o) for o in page.objects], "cursor": page.cursor})


def storage_ack(a: StorageAck, *, full: bool = False) -> dict[str, Any]:
    doc = {"collection": a.collection, "key": a.key, "user_id": a.user_id, "version": a.version,
           "create_time": timestamp(a.create_time, "fraction"),
           "update_time": timestamp(a.update_time, "fraction")}
    if full:
        return {k: "" if v is None else v for k, v in doc.items()}
    return prune(doc)


def storage_acks(items: list[StorageAck]) -> dict[str, Any]:
    return prune({"acks": [storage_ack(a) for a in items]})


def notification(n: Notification, *, full: bool = False) -> dict[str, Any]:
    if full:
        return {"id": n.id, "user_id": n.user_id, "subject": n.subject,
                "content": document(n.content), "code": n.code, "sender_id": n.sender_id,
                "create_time": timestamp(n.create_time, "fraction") or "",
                "persistent": n.persistent}
    out: dict[str, Any] = {"id": n.id, "subject": n.subject, "content": n.content}
    if n.code:
        out["code"] = n.code
    if n.sender_id:
        out["sender_id"] = n.sender_id
    out["create_time"] = timestamp(n.create_time)
    if n.persistent:
        out["persistent"] = True
    return out


def notifications(items: list[Notification]) -> dict[str, Any]:
    """The body of a socket `notifications` push."""
    return {"notifications": [notification(n) for n in items]}


def notification_list(page: NotificationList) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if page.notifications:
        body["notifications"] = [notification(n) for n in page.notifications]
    body["cacheable_cursor"] = page.cacheable_cursor
    return body


_NAMES = ("room_name", "group_id", "user_id_one", "user_id_two")


def channel_message(m: ChannelMessage, *, full: bool = False) -> dict[str, Any]:
    """A ChannelMessage; `code` and `persistent` are wrapper types, written even when 0/false."""
    created = timestamp(m.create_time, "fraction")
    updated = created if m.update_time is m.create_time else timestamp(m.update_time, "fraction")
    out: dict[str, Any] = {
        "channel_id": m.channel_id, "message_id": m.message_id, "code": m.code,
        "sender_id": m.sender_id, "username": m.username,
        "content": document(m.content) if full else m.content,
        "create_time": created, "update_time": updated, "persistent": m.persistent,
    }
    if full:
        out.update(room_name=m.room_name, group_id=m.group_id, user_id_one=m.user_id_one,
                   user_id_two=m.user_id_two)
        return out
    for name in _NAMES:
        value = getattr(m, name)
        if value:
            out[name] = value
    return out


def channel_message_ack(message: dict[str, Any]) -> dict[str, Any]:
    """A sender's ChannelMessageAck: the encoded message without sender and content."""
    return {k: v for k, v in message.items() if k not in ("sender_id", "content")}


def channel_message_list(page: ChannelMessageList, *, full: bool = False) -> dict[str, Any]:
    messages = [channel_message(m, full=full) for m in page.messages]
    if full:
        return {"messages": messages, "next_cursor": page.next_cursor,
                "prev_cursor": page.prev_cursor, "cacheable_cursor": page.cacheable_cursor}
    body: dict[str, Any] = {}
    if messages:
        body["messages"] = messages
    for key in ("next_cursor", "prev_cursor", "cacheable_cursor"):
        value = getattr(page, key)
        if value:
            body[key] = value
    return body


def user_presence(p: UserPresence) -> dict[str, Any]:
    """A UserPresence: {user_id, session_id, username, persistence, status}. `status` (a
    StringValue) is written only for status-stream presences, and then always, even empty."""
    out: dict[str, Any] = {"user_id": p.user_id, "session_id": p.session_id,
                           "username": p.username}
    if p.persistence:
        out["persistence"] = True
    if p.status is not None:
        out["status"] = p.status
    return out


# -- friends ---------------------------------------------------------------------------------------


def friend(f: Friend, *, full: bool = False) -> dict[str, Any]:
    """A Friend; `state` is an Int32Value, written even when 0 (a friend)."""
    if full:
        return {"user": user(f.user, full=True), "state": f.state,
                "update_time": timestamp(f.update_time, "fraction"),
                "metadata": document(f.metadata)}
    out: dict[str, Any] = {"user": user(f.user), "state": f.state,
                           "update_time": timestamp(f.update_time)}
    if f.metadata:
        out["metadata"] = f.metadata
    return out


def friend_list(page: FriendList, *, full: bool = False) -> dict[str, Any]:
    items = [friend(f, full=full) for f in page.friends]
    if full:
        return {"friends": items, "cursor": page.cursor}
    return prune({"friends": items, "cursor": page.cursor})


def friend_of_friend(f: FriendOfFriend, *, full: bool = False) -> dict[str, Any]:
    return {"referrer": f.referrer, "user": user(f.user, full=full)}


def friends_of_friends_list(page: FriendsOfFriendsList, *, full: bool = False) -> dict[str, Any]:
    items = [friend_of_friend(f, full=full) for f in page.friends_of_friends]
    if full:
        return {"friends_of_friends": items, "cursor": page.cursor}
    return prune({"friends_of_friends": items, "cursor": page.cursor})


# -- groups ----------------------------------------------------------------------------------------


def group(g: Group, *, full: bool = False) -> dict[str, Any]:
    """A Group; `open` is a BoolValue, written even when false."""
    if full:
        return {
            "id": g.id, "creator_id": g.creator_id, "name": g.name,
            "description": g.description or "", "lang_tag": g.lang_tag or "",
            "metadata": document(g.metadata), "avatar_url": g.avatar_url or "", "open": g.open,
            "edge_count": g.edge_count, "max_count": g.max_count,
            "create_time": timestamp(g.create_time, "fraction") or "",
            "update_time": timestamp(g.update_time, "fraction") or "",
        }
    out = prune({"id": g.id, "creator_id": g.creator_id, "name": g.name,
                 "description": g.description, "lang_tag": g.lang_tag, "metadata": g.metadata,
                 "avatar_url": g.avatar_url})
    out["open"] = g.open
    out.update(prune({"edge_count": g.edge_count, "max_count": g.max_count,
                      "create_time": timestamp(g.create_time),
                      "update_time": timestamp(g.update_time)}))
    return out


def group_list(page: GroupList, *, full: bool = False) -> dict[str, Any]:
    if full:
        return {"groups": [group(g, full=True) for g in page.groups], "cursor": page.cursor}
    return prune({"groups": [group(g) for g in page.groups], "cursor": page.cursor})


def group_user(gu: GroupUser, *, full: bool = False) -> dict[str, Any]:
    """A GroupUserList.GroupUser; `state` is an Int32Value, written even when 0."""
    return {"user": user(gu.user, full=full), "state": gu.state}


def group_user_list(page: GroupUserList, *, full: bool = False) -> dict[str, Any]:
    items = [group_user(gu, full=full) for gu in page.group_users]
    if full:
        return {"group_users": items, "cursor": page.cursor}
    return prune({"group_users": items, "cursor": page.cursor})


def user_group(ug: UserGroup, *, full: bool = False) -> dict[str, Any]:
    """A UserGroupList.UserGroup; `state` is an Int32Value, written even when 0."""
    return {"group": group(ug.group, full=full), "state": ug.state}


def user_group_list(page: UserGroupList, *, full: bool = False) -> dict[str, Any]:
    items = [user_group(ug, full=full) for ug in page.user_groups]
    if full:
        return {"user_groups": items, "cursor": page.cursor}
    return prune({"user_groups": items, "cursor": page.cursor})


# -- leaderboards and tournaments ------------------------------------------------------------------


def _unix(seconds: int, *, full: bool) -> str | None:
    """A time Nakama keeps as unix seconds (periods, resets), as a Timestamp; unset: omitted."""
    if not seconds:
        return "" if full else None
    return _unix_text(seconds)


@functools.lru_cache(maxsize=1024)
def _unix_text(seconds: int) -> str:
    return timestamp(datetime.fromtimestamp(seconds, UTC))


def leaderboard(b: Leaderboard, *, full: bool = False) -> dict[str, Any]:
    """An api.Leaderboard: sort_order, operator (the API enum), prev_reset and next_reset (unix
    seconds) are numbers."""
    if full:
        return {"id": b.id, "sort_order": b.sort_order, "operator": b.operator,
                "prev_reset": b.prev_reset, "next_reset": b.next_reset,
                "metadata": document(b.metadata), "create_time": timestamp(b.create_time),
                "authoritative": b.authoritative}
    return prune({"id": b.id, "sort_order": b.sort_order, "operator": b.operator,
                  "prev_reset": b.prev_reset, "next_reset": b.next_reset, "metadata": b.metadata,
                  "create_time": timestamp(b.create_time), "authoritative": b.authoritative})


def leaderboard_list(page: LeaderboardList, *, full: bool = False) -> dict[str, Any]:
    items = [leaderboard(b, full=full) for b in page.leaderboards]
    if full:
        return {"leaderboards": items, "cursor": page.cursor or ""}
    return prune({"leaderboards": items, "cursor": page.cursor})


def tournament(t: Tournament, *, full: bool = False) -> dict[str, Any]:
    """An api.Tournament: times of the current period (start_active, end_active, next_reset,
    prev_reset) are uint32 unix seconds; start_time, end_time and create_time Timestamps."""
    doc: dict[str, Any] = {
        "id": t.id, "title": t.title, "description": t.description, "category": t.category,
        "sort_order": t.sort_order, "size": t.size, "max_size": t.max_size,
        "max_num_score": t.max_num_score, "can_enter": t.can_enter, "end_active": t.end_active,
        "next_reset": t.next_reset, "metadata": document(t.metadata) if full else t.metadata,
        "create_time": timestamp(t.create_time), "start_time": timestamp(t.start_time),
        "end_time": _unix(t.end_time, full=full), "duration": t.duration,
        "start_active": t.start_active, "prev_reset": t.prev_reset, "operator": t.operator,
        "authoritative": t.authoritative, "join_required": t.join_required}
    return doc if full else prune(doc)


def tournament_list(page: TournamentList, *, full: bool = False) -> dict[str, Any]:
    items = [tournament(t, full=full) for t in page.tournaments]
    if full:
        return {"tournaments": items, "cursor": page.cursor or ""}
    return prune({"tournaments": items, "cursor": page.cursor})


def leaderboard_record(r: LeaderboardRecord, *, full: bool = False) -> dict[str, Any]:
    """An api.LeaderboardRecord: score, subscore and rank are int64 (strings on the wire), times
    in whole seconds; `username` is a StringValue, written whenever the record has one."""
    if full:
        return {"leaderboard_id": r.leaderboard_id, "owner_id": r.owner_id,
                "username": r.username or "", "score": r.score, "subscore": r.subscore,
                "num_score": r.num_score, "max_num_score": r.max_num_score,
                "metadata": document(r.metadata), "create_time": timestamp(r.create_time),
                "update_time": timestamp(r.update_time),
                "expiry_time": _unix(r.expiry_time, full=True), "rank": r.rank}
    # Built field by field rather than pruned: pages hold up to 1,000 records.
    out: dict[str, Any] = {"leaderboard_id": r.leaderboard_id, "owner_id": r.owner_id}
    if r.username is not None:
        out["username"] = r.username
    if r.score:
        out["score"] = str(r.score)
    if r.subscore:
        out["subscore"] = str(r.subscore)
    if r.num_score:
        out["num_score"] = r.num_score
    if r.metadata:
        out["metadata"] = r.metadata
    out["create_time"] = timestamp(r.create_time)
    out["update_time"] = timestamp(r.update_time)
    if r.expiry_time:
        out["expiry_time"] = _unix(r.expiry_time, full=False)
    if r.rank:
        out["rank"] = str(r.rank)
    if r.max_num_score:
        out["max_num_score"] = r.max_num_score
    return out


def leaderboard_record_list(page: LeaderboardRecordList, *, full: bool = False) -> dict[str, Any]:
    records = [leaderboard_record(r, full=full) for r in page.records]
    owners = [leaderboard_record(r, full=full) for r in page.owner_records]
    if full:
        return {"records": records, "owner_records": owners,
                "next_cursor": page.next_cursor or "", "prev_cursor": page.prev_cursor or "",
                "rank_count": page.rank_count}
    return prune({"records": records, "owner_records": owners, "next_cursor": page.next_cursor,
                  "prev_cursor": page.prev_cursor,
                  "rank_count": str(page.rank_count) if page.rank_count else None})


# -- wallet ----------------------------------------------------------------------------------------


def wallet_update_result(r: WalletUpdateResult, *, full: bool = False) -> dict[str, Any]:
    """One user's wallet update (no API message: server code only): the balances after and
    before it. The same in both styles: balances are maps of integers, not JSON documents."""
    return {"user_id": r.user_id, "updated": dict(r.updated), "previous": dict(r.previous)}


def wallet_ledger_item(item: WalletLedgerItem, *, full: bool = False) -> dict[str, Any]:
    """A wallet ledger item (no API message: server code only)."""
    if full:
        return {"id": item.id, "user_id": item.user_id, "changeset": document(item.changeset),
                "metadata": document(item.metadata),
                "create_time": timestamp(item.create_time, "fraction"),
                "update_time": timestamp(item.update_time, "fraction")}
    return prune({"id": item.id, "user_id": item.user_id, "changeset": item.changeset,
                  "metadata": item.metadata, "create_time": timestamp(item.create_time),
                  "update_time": timestamp(item.update_time)})


def wallet_ledger_list(page: WalletLedgerList, *, full: bool = False) -> dict[str, Any]:
    items = [wallet_ledger_item(i, full=full) for i in page.items]
    if full:
        return {"items": items, "cursor": page.cursor}
    return prune({"items": items, "cursor": page.cursor})


# -- matches ---------------------------------------------------------------------------------------


def match(m: Match, *, full: bool = False) -> dict[str, Any]:
    """An api.Match {match_id, authoritative, label, size, tick_rate, handler_name}. `label` is a
    StringValue: written for authoritative matches even when empty."""
    if full:
        return {"match_id": m.match_id, "authoritative": m.authoritative, "label": m.label or "",
                "size": m.size, "tick_rate": m.tick_rate, "handler_name": m.handler_name}
    out = prune({"match_id": m.match_id, "authoritative": m.authoritative, "size": m.size,
                 "tick_rate": m.tick_rate, "handler_name": m.handler_name})
    if m.label is not None:
        out["label"] = m.label
    return out


def match_list(items: list[Match]) -> dict[str, Any]:
    """An api.MatchList: {matches} ({} when there are none)."""
    return prune({"matches": [match(m) for m in items]})


def matchmaker_stats(s: MatchmakerStats) -> dict[str, Any]:
    """An api.MatchmakerStats {ticket_count, oldest_ticket_create_time, completions:
    [{create_time, complete_time}]}."""
    return prune({
        "ticket_count": s.ticket_count,
        "oldest_ticket_create_time": timestamp(s.oldest_ticket_create_time),
        "completions": [{"create_time": timestamp(created, "fraction"),
                         "complete_time": timestamp(completed, "fraction")}
                        for created, completed in s.completions]})
