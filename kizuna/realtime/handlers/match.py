"""Relayed matches: match_create, match_join, match_leave, match_data_send, and presence events.

A relayed match is a stream (mode 5) whose id is "<uuid>.": the server only relays data between
its members. It exists while it has members. A named match gets the UUIDv5 (DNS namespace) of its
name, so everyone creating "lobby-7" lands in the same match.
"""

from __future__ import annotations

import binascii
import uuid
from typing import TYPE_CHECKING, Any

from kizuna.core.streams import MATCH_AUTHORITATIVE, MATCH_RELAYED, Stream
from kizuna.errors import KizunaError, invalid
from kizuna.realtime import envelope
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.realtime.tracker import Presence
from kizuna.wire import encode, fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

MATCH_MODES = frozenset({MATCH_RELAYED, MATCH_AUTHORITATIVE})


def _parse(match_id: Any) -> tuple[str, str] | None:
    """(uuid, node) of a match id, or None."""
    if not isinstance(match_id, str):
        return None
    head, dot, node = match_id.partition(".")
    if not dot:
        return None
    try:
        return str(uuid.UUID(head)), node
    except ValueError:
        return None


def _reply(rt: RealtimeService, session: Session, stream: Stream, is_new: bool) -> Reply:
    members = rt.tracker.list(stream)
    others = [encode.user_presence(p) for p in members
              if not (is_new and p.session_id == session.id)]
    out: dict[str, Any] = {"match_id": f"{stream.subject}.", "size": len(members)}
    if others:
        out["presences"] = others
    me = rt.tracker.get(session.id, stream)
    assert me is not None  # tracked just before
    out["self"] = encode.user_presence(me)
    return "match", out


def too_many_matches(limit: int) -> RealtimeError:
    return RealtimeError(ErrorCode.BAD_INPUT,
                         f"Match limit reached - a socket may be in at most {limit} matches.")


def _join(rt: RealtimeService, session: Session, stream: Stream) -> bool:
    limit = rt.config.socket.max_matches_per_socket
    if (rt.tracker.get(session.id, stream) is None and not rt.config.session.single_match
            and rt.tracker.count_modes(session.id, MATCH_MODES) >= limit):
        raise too_many_matches(limit)
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


def match_join(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    match_id = fields.field(body, "match_id")
    if not match_id:
        if fields.field(body, "token"):
            raise invalid("match join by token is not supported yet")
        raise invalid("No match ID or token found")
    parsed = _parse(match_id)
    if parsed is None:
        raise invalid("Invalid match ID")
    match_uuid, node = parsed
    if node:
        # Authoritative matches run server code: none exist until runtime modules arrive.
        raise RealtimeError(ErrorCode.MATCH_NOT_FOUND, "Match not found")
    stream = Stream(MATCH_RELAYED, match_uuid)
    if not rt.tracker.exists(stream):
        raise RealtimeError(ErrorCode.MATCH_NOT_FOUND, "Match not found")
    is_new = _join(rt, session, stream)
    return _reply(rt, session, stream, is_new)


def match_leave(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    parsed = _parse(fields.field(body, "match_id"))
    if parsed is None:
        raise invalid("Invalid match ID")
    match_uuid, node = parsed
    mode = MATCH_AUTHORITATIVE if node else MATCH_RELAYED
    rt.tracker.untrack(session.id, Stream(mode, match_uuid, "", node))
    return None


def _data(value: Any) -> str:
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
    """No reply on success (see NO_REPLY); errors go out without the cid (as Nakama)."""
    match_id = fields.field(body, "match_id")
    parsed = _parse(match_id)
    if parsed is None:
        raise RealtimeError(ErrorCode.BAD_INPUT, "Invalid match ID", reply=False)
    match_uuid, node = parsed
    if node:
        return None  # not a member of any authoritative match: nothing to do
    try:
        op_code = fields.integer(body, "op_code")
        data = _data(fields.field(body, "data"))
    except (binascii.Error, ValueError):
        raise RealtimeError(ErrorCode.BAD_INPUT, "Invalid match data", reply=False) from None
    except KizunaError as exc:
        raise RealtimeError(ErrorCode.BAD_INPUT, exc.message, reply=False) from None
    stream = Stream(MATCH_RELAYED, match_uuid)
    tracker = rt.tracker
    me = tracker.get(session.id, stream)
    if me is None:
        return None  # only members may send
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
    if fields.boolean(body, "reliable"):
        out["reliable"] = True
    rt.router.send_to_presences(recipients, envelope.push("match_data", out))
    return None


HANDLERS = {"match_create": match_create, "match_join": match_join, "match_leave": match_leave,
            "match_data_send": match_data_send}
NO_REPLY = frozenset({"match_data_send"})


def install(rt: RealtimeService) -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        event: dict[str, Any] = {"match_id": f"{stream.subject}.{stream.label}"}
        if joins:
            event["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [encode.user_presence(p) for p in leaves]
        rt.router.send_to_stream(stream, envelope.push("match_presence_event", event))

    rt.tracker.listen(MATCH_RELAYED, on_presence)
