"""The socket's JSON codec: envelopes in and out, error codes, and the field conventions.

An envelope is a JSON object with an optional `cid` (correlation id) and exactly one message key:
`{"cid":"3","channel_join":{...}}`. Replies carry the request's `cid`, pushes carry none, an empty
success reply is just `{"cid":"3"}`. Output follows protojson as Nakama emits it: snake_case,
default values omitted, int64 as strings, bytes as base64, wrapper types as bare values (and
present even when they hold a default, e.g. `"code":0`, `"persistent":false`, `"status":""`).

Input is read leniently (more so than Nakama, which closes the socket on any unknown field):
unknown fields are ignored, camelCase names are accepted, a numeric `cid` is taken as a string.
Errors that concern one envelope are answered with an error envelope and the session stays open.

Everything is encoded with orjson, once per envelope: a push to many sockets shares one `bytes`.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

import orjson

from kizuna.api import codec
from kizuna.core.errors import Code, KizunaError
from kizuna.core.streams import STATUS


class ErrorCode(IntEnum):
    RUNTIME_EXCEPTION = 0
    UNRECOGNIZED_PAYLOAD = 1
    MISSING_PAYLOAD = 2
    BAD_INPUT = 3
    MATCH_NOT_FOUND = 4
    MATCH_JOIN_REJECTED = 5
    RUNTIME_FUNCTION_NOT_FOUND = 6
    RUNTIME_FUNCTION_EXCEPTION = 7


class RealtimeError(Exception):
    """A socket error with its own code (one that a gRPC code cannot express)."""

    def __init__(self, code: ErrorCode, message: str, context: dict[str, str] | None = None,
                 *, reply: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context
        self.reply = reply  # False: sent without the request's cid (as match_data_send errors)


# gRPC codes that mean "the request was wrong" become BAD_INPUT; the rest are server-side failures.
_BAD_INPUT_CODES = frozenset({
    Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.PERMISSION_DENIED,
    Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE, Code.UNAUTHENTICATED, Code.ABORTED,
})


def socket_error(exc: KizunaError) -> ErrorCode:
    """The one mapping from a domain error to a socket error code."""
    return ErrorCode.BAD_INPUT if exc.code in _BAD_INPUT_CODES else ErrorCode.RUNTIME_EXCEPTION


# Every message key of Nakama's Envelope (realtime.proto), in field-number order.
KINDS = frozenset("""
channel channel_join channel_leave channel_message channel_message_ack channel_message_send
channel_message_update channel_message_remove channel_presence_event error match match_create
match_data match_data_send match_join match_leave match_presence_event matchmaker_add
matchmaker_matched matchmaker_remove matchmaker_ticket notifications rpc status status_follow
status_presence_event status_unfollow status_update stream_data stream_presence_event ping pong
party party_create party_join party_leave party_promote party_leader party_accept party_remove
party_close party_join_request_list party_join_request party_matchmaker_add
party_matchmaker_remove party_matchmaker_ticket party_data party_data_send party_presence_event
party_update
""".split())


class EnvelopeError(Exception):
    def __init__(self, code: ErrorCode, message: str, cid: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cid = cid


_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


def decode(raw: bytes | str) -> tuple[str | None, str, dict[str, Any]]:
    """(cid, kind, message) of an incoming envelope; EnvelopeError when it cannot be used."""
    try:
        doc = _loads(raw)
    except _JSONDecodeError:
        raise EnvelopeError(ErrorCode.BAD_INPUT, "Malformed JSON payload") from None
    if type(doc) is not dict:
        raise EnvelopeError(ErrorCode.BAD_INPUT, "Envelope must be a JSON object")
    cid = doc.pop("cid", None)
    if cid is not None and type(cid) is not str:
        if type(cid) is int or type(cid) is float:
            cid = str(cid)
        else:
            raise EnvelopeError(ErrorCode.BAD_INPUT, "Envelope cid must be a string")
    if cid == "":
        cid = None
    if len(doc) == 1:  # the common case
        kind, body = next(iter(doc.items()))
        if kind not in KINDS:
            raise EnvelopeError(ErrorCode.UNRECOGNIZED_PAYLOAD, "Unrecognized message.", cid)
    else:
        known = [k for k in doc if k in KINDS and doc[k] is not None]
        if not known:
            if any(v is not None for v in doc.values()):
                raise EnvelopeError(ErrorCode.UNRECOGNIZED_PAYLOAD, "Unrecognized message.", cid)
            raise EnvelopeError(ErrorCode.MISSING_PAYLOAD, "Missing message.", cid)
        if len(known) > 1:
            raise EnvelopeError(ErrorCode.BAD_INPUT, "Envelope must hold exactly one message", cid)
        kind = known[0]
        body = doc[kind]
    if body is None:
        raise EnvelopeError(ErrorCode.MISSING_PAYLOAD, "Missing message.", cid)
    if type(body) is not dict:
        raise EnvelopeError(ErrorCode.BAD_INPUT, f"{kind}: expected a JSON object", cid)
    return cid, kind, body


def reply(cid: str | None, kind: str, body: dict[str, Any]) -> bytes:
    if cid is None:
        return _dumps({kind: body})
    return _dumps({"cid": cid, kind: body})


def push(kind: str, body: dict[str, Any]) -> bytes:
    return _dumps({kind: body})


def empty(cid: str | None) -> bytes:
    return _dumps({"cid": cid}) if cid is not None else b"{}"


def error(cid: str | None, code: ErrorCode | int, message: str,
          context: dict[str, str] | None = None) -> bytes:
    err: dict[str, Any] = {"code": int(code), "message": message}
    if context:
        err["context"] = context
    if cid is None:
        return _dumps({"error": err})
    return _dumps({"cid": cid, "error": err})


# -- reading fields --------------------------------------------------------------------------------


def field(body: dict[str, Any], snake: str, camel: str | None = None) -> Any:
    """A field by its snake_case name, or its lowerCamelCase one."""
    value = body.get(snake)
    if value is None and camel is not None:
        value = body.get(camel)
    return value


def text(body: dict[str, Any], snake: str, camel: str | None = None) -> str:
    value = field(body, snake, camel)
    if value is None:
        return ""
    if type(value) is not str:
        raise KizunaError(Code.INVALID_ARGUMENT, f"{snake}: expected a string")
    return value


def wrapped(value: Any) -> Any:
    """A wrapper type's value: protojson writes it bare; `{"value": x}` is accepted too."""
    if type(value) is dict:
        return value.get("value")
    return value


def boolean(body: dict[str, Any], snake: str, default: bool) -> bool:
    value = wrapped(body.get(snake))
    if value is None:
        return default
    if type(value) is bool:
        return value
    if value in ("true", "false"):
        return value == "true"
    raise KizunaError(Code.INVALID_ARGUMENT, f"{snake}: expected a boolean")


def integer(body: dict[str, Any], snake: str, camel: str | None = None, default: int = 0) -> int:
    """An int32/int64 field: a JSON number or a numeric string, as protojson accepts."""
    value = wrapped(field(body, snake, camel))
    if value is None or value == "":
        return default
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    raise KizunaError(Code.INVALID_ARGUMENT, f"{snake}: expected an integer")


# -- writing values --------------------------------------------------------------------------------


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC, with 0, 3 or 6 fractional digits as protojson writes them (the one
    implementation lives in the wire codec)."""
    return codec.timestamp(value, "fraction")


def user_presence(p: Any) -> dict[str, Any]:
    """A tracker presence as a UserPresence: {user_id, session_id, username, persistence, status}.

    `status` (a StringValue) is only set for status-stream presences, and then always written,
    even when empty, as protojson does for a present wrapper.
    """
    out: dict[str, Any] = {"user_id": p.user_id, "session_id": p.session_id, "username": p.username}
    if p.persistence:
        out["persistence"] = True
    if p.stream.mode == STATUS:
        out["status"] = p.status or ""
    return out


