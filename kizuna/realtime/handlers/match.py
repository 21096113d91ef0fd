"""Matches over the socket: match_create, match_join (by id, or by the matchmaker's token),
match_leave, match_data_send, and presence events, for both kinds (kizuna/core/matches.py).

A relayed match is a stream (mode 5) whose id is "<uuid>.": the server only relays data between
its members. It exists while it has members. A named match gets the UUIDv5 (DNS namespace) of its
name, so everyone creating "lobby-7" lands in the same match.

An authoritative match ("<uuid>.<node>") is run by server code on its node (`domain.matches`):
`match_join` asks its handler (`match_join_attempt`, with the join's metadata) and, accepted,
tracks the player on the match's stream (mode 6); `match_data_send` queues the data for its next
`match_loop` instead of relaying it. The players' joins and leaves on that stream (a join, a
`match_leave`, a socket closing, a kick) reach both the players (`match_presence_event`) and the
handler (`match_join` / `match_leave`), through the tracker's listeners.
"""

from __future__ import annotations

import binascii
import uuid
from typing import TYPE_CHECKING, Any

from kizuna.core.matches import MatchId, MatchPresence, parse_id, stream_id
from kizuna.core.matchmaker import tokens
from kizuna.core.streams import MATCH_AUTHORITATIVE, MATCH_RELAYED, Stream
from kizuna.errors import Code, KizunaError, invalid
from kizuna.realtime import envelope
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.realtime.tracker import Presence
from kizuna.wire import encode, fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

MATCH_MODES = frozenset({MATCH_RELAYED, MATCH_AUTHORITATIVE})
NOT_FOUND = "Match not found"
REJECTED = "Match join rejected"


def _parse(match_id: Any) -> MatchId | None:
    """(uuid, node) of a match id, or None."""
    return parse_id(match_id)


def _not_found() -> RealtimeError:
    return RealtimeError(ErrorCode.MATCH_NOT_FOUND, NOT_FOUND)


def _reply(rt: RealtimeService, session: Session, stream: Stream, is_new: bool,
           label: str | None = None) -> Reply:
    members = rt.tracker.list(stream)
    others = [encode.user_presence(p) for p in members
              if not (is_new and p.session_id == session.id)]
    out: dict[str, Any] = {"match_id": stream_id(stream), "size": len(members)}
    if stream.mode == MATCH_AUTHORITATIVE:
        out["authoritative"] = True
        out["label"] = label or ""
    if others:
        out["presences"] = others
    me = rt.tracker.get(session.id, stream)
    assert me is not None  # tracked just before
    out["self"] = encode.user_presence(me)
    return "match", out


def too_many_matches(limit: int) -> RealtimeError:
    return RealtimeError(ErrorCode.BAD_INPUT,
                         f"Match limit reached - a socket may be in at most {limit} matches.")


def _room_for(rt: RealtimeService, session: Session, stream: Stream) -> None:
    """`socket.max_matches_per_socket`: refuse one more match (not with session.single_match,
    where joining one leaves the others)."""
    limit = rt.config.socket.max_matches_per_socket
    if (rt.tracker.get(session.id, stream) is None and not rt.config.session.single_match
            and rt.tracker.count_modes(session.id, MATCH_MODES) >= limit):
        raise too_many_matches(limit)


def _join(rt: RealtimeService, session: Session, stream: Stream) -> bool:
    _room_for(rt, session, stream)
    is_new = rt.tracker.track(session.id, stream, session.user_id, session.username)
    if is_new and rt.config.session.single_match:
        rt.tracker.untrack_modes(session.id, MATCH_MODES, stream)
    return is_new


def match_create(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    name = fields.text(body, "name")
    match_uuid = uuid.uuid5(uuid.NAMESPACE_DNS, name) if name else uuid.uuid4()
    stream = Stream(MATCH_RELAYED, str(match_uuid))
    is_new = _join(rt, session, stream)
    return _reply(rt, session, stream, is_new)


async def match_join(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    match_id = fields.field(body, "match_id")
    if not match_id:
        token = fields.field(body, "token")
        if not token:
            raise invalid("No match ID or token found")
        return await _join_by_token(rt, session, body, token)
    parsed = _parse(match_id)
    if parsed is None:
        raise invalid("Invalid match ID")
    if parsed.authoritative:
        metadata = fields.optional_string_map(body, "metadata") or {}
        return await _join_authoritative(rt, session, parsed, metadata)
    stream = parsed.stream
    if not rt.tracker.exists(stream):
        raise _not_found()
    is_new = _join(rt, session, stream)
    return _reply(rt, session, stream, is_new)


async def _join_by_token(rt: RealtimeService, session: Session, body: dict[str, Any],
                         token: Any) -> Reply:
    """A matchmaker token (kizuna/core/matchmaker/tokens.py): a relayed match is created by its
    first member's join; an authoritative one is joined as by its id. A token that does not
    verify (signature, expiry, claims) is BAD_INPUT "Invalid match token"."""
    if not isinstance(token, str):
        raise invalid(tokens.INVALID_TOKEN)
    mid = tokens.read(rt.config.session.encryption_key, token)
    if mid.authoritative:
        metadata = fields.optional_string_map(body, "metadata") or {}
        return await _join_authoritative(rt, session, mid, metadata)
    stream = mid.stream
    is_new = _join(rt, session, stream)
    return _reply(rt, session, stream, is_new)


async def _join_authoritative(rt: RealtimeService, session: Session, mid: MatchId,
                              metadata: dict[str, str]) -> Reply:
    """Ask the match (match_join_attempt); accepted, the player is tracked on its stream, and
    the match hears of the join from the tracker (match_join)."""
    matches, match_id, stream = rt.domain.matches, str(mid), mid.stream
    running = matches.get(match_id)
    if running is None:
        raise _not_found()
    if rt.tracker.get(session.id, stream) is not None:  # in it already: no new attempt
        return _reply(rt, session, stream, False, running.label)
    _room_for(rt, session, stream)
    me = MatchPresence(session.user_id, session.id, session.username, rt.node)
    try:
        answer = await matches.join_attempt(match_id, me, metadata)
    except KizunaError as exc:
        if exc.code == Code.NOT_FOUND:
            raise _not_found() from None
        raise
    if not answer.accepted:
        raise RealtimeError(ErrorCode.MATCH_JOIN_REJECTED, answer.reason or REJECTED)
    running = matches.get(match_id)
    if session.closed or running is None:
        # Accepted but never in: the handler hears it as a leave, to free what it held.
        matches.presences(match_id, [], [me])
        if session.closed:
            return None
        raise _not_found()
    try:
        is_new = _join(rt, session, stream)
    except RealtimeError:
        matches.presences(match_id, [], [me])
        raise
    return _reply(rt, session, stream, is_new, answer.label)


def match_leave(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    parsed = _parse(fields.field(body, "match_id"))
    if parsed is None:
        raise invalid("Invalid match ID")
    rt.tracker.untrack(session.id, parsed.stream)
    return None


def base64_data(value: Any) -> str:
    """Match data as canonical base64 (padded, standard alphabet); URL-safe or unpadded input is
    accepted and normalised."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise binascii.Error
    try:
        binascii.a2b_base64(value, strict_mode=True)
        return value
    except binascii.Error:
        pass
    fixed = value.replace("-", "+").replace("_", "/")
    fixed += "=" * (-len(fixed) % 4)
    return binascii.b2a_base64(binascii.a2b_base64(fixed, strict_mode=True), newline=False).decode()


def match_data_send(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    """No reply on success (see NO_REPLY); errors go out without the cid (as Nakama). To a
    relayed match: relayed to the other members (or the listed ones); to an authoritative one:
    queued for its next match_loop. Only members may send; others are ignored."""
    match_id = fields.field(body, "match_id")
    parsed = _parse(match_id)
    if parsed is None:
        raise RealtimeError(ErrorCode.BAD_INPUT, "Invalid match ID", reply=False)
    try:
        op_code = fields.integer(body, "op_code")
        data = base64_data(fields.field(body, "data"))
        reliable = fields.boolean(body, "reliable")
    except (binascii.Error, ValueError):
        raise RealtimeError(ErrorCode.BAD_INPUT, "Invalid match data", reply=False) from None
    except KizunaError as exc:
        raise RealtimeError(ErrorCode.BAD_INPUT, exc.message, reply=False) from None
    stream = parsed.stream
    tracker = rt.tracker
    me = tracker.get(session.id, stream)
    if me is None:
        return None  # only members may send
    if parsed.authoritative:
        raw = binascii.a2b_base64(data) if data else b""
        rt.domain.matches.data(str(parsed), MatchPresence(me.user_id, me.session_id, me.username,
                                                          me.node), op_code, raw, reliable)
        return None
    targets = fields.field(body, "presences")
    members = tracker.presences(stream)
    if targets:
        if not isinstance(targets, list):
            return None
        wanted = set()
        for t in targets:
            sid = fields.field(t, "session_id") if isinstance(t, dict) else None
            if not isinstance(sid, str):
                return None
            wanted.add(sid)
        recipients = [p for p in members if p.session_id in wanted]
    else:
        recipients = [p for p in members if p.session_id != session.id]
    if not recipients:
        return None
    out: dict[str, Any] = {"match_id": match_id, "presence": encode.user_presence(me)}
    if op_code:
        out["op_code"] = str(op_code)
    if data:
        out["data"] = data
    if reliable:
        out["reliable"] = True
    rt.router.send_to_presences(recipients, envelope.push("match_data", out))
    return None


HANDLERS = {"match_create": match_create, "match_join": match_join, "match_leave": match_leave,
            "match_data_send": match_data_send}
NO_REPLY = frozenset({"match_data_send"})


def _presence(p: Presence) -> MatchPresence:
    return MatchPresence(p.user_id, p.session_id, p.username, p.node)


def install(rt: RealtimeService) -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        event: dict[str, Any] = {"match_id": stream_id(stream)}
        if joins:
            event["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [encode.user_presence(p) for p in leaves]
        rt.router.send_to_stream(stream, envelope.push("match_presence_event", event))

    def to_the_match(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        rt.domain.matches.presences(stream_id(stream), [_presence(p) for p in joins],
                                    [_presence(p) for p in leaves])

    rt.tracker.listen(MATCH_RELAYED, on_presence)
    rt.tracker.listen(MATCH_AUTHORITATIVE, on_presence)
    rt.tracker.listen(MATCH_AUTHORITATIVE, to_the_match)
