"""The socket's JSON codec: envelopes in and out, and the socket's error codes.

An envelope is a JSON object with an optional `cid` (correlation id) and exactly one message key:
`{"cid":"3","channel_join":{...}}`. Replies carry the request's `cid`, pushes carry none, an empty
success reply is just `{"cid":"3"}`. Output follows protojson as Nakama emits it: snake_case,
default values omitted, int64 as strings, bytes as base64, wrapper types as bare values (and
present even when they hold a default, e.g. `"code":0`, `"persistent":false`, `"status":""`).

Input is read leniently (more so than Nakama, which closes the socket on any unknown field):
unknown fields are ignored, a numeric `cid` is taken as a string; the fields of a message are read
with `kizuna.wire.fields` (camelCase names accepted), its kinds come from `kizuna.wire.methods`.
Errors that concern one envelope are answered with an error envelope and the session stays open.

Everything is encoded with orjson, once per envelope: a push to many sockets shares one `bytes`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import orjson

from kizuna.errors import Code, KizunaError
from kizuna.wire.methods import SOCKET_KINDS


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
        if kind not in SOCKET_KINDS:
            raise EnvelopeError(ErrorCode.UNRECOGNIZED_PAYLOAD, "Unrecognized message.", cid)
    else:
        known = [k for k in doc if k in SOCKET_KINDS and doc[k] is not None]
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
