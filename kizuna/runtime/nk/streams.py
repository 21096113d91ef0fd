"""nk: streams (kizuna/core/streams.py; presences held by the realtime layer, reached through
`domain.sockets`).

The calls take the stream as a dict {"mode", "subject", "subcontext", "label"} and the user and
session before it, in the order of Nakama's Lua and JavaScript runtimes
(`stream_user_join(user_id, session_id, stream, ...)`, `stream_send(stream, data, ...)`).
None of them waits for anything, but they act on the event loop's sockets, so they are `nk.aio`
coroutines with blocking twins like every other call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kizuna.core import streams
from kizuna.core.streams import PresenceId
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import StreamPresence, StreamPresenceMeta
from kizuna.wire.methods import SOCKET_KINDS


def _session_id(value: Any, what: str = "session_id") -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise Error(f"Invalid {what} {value!r}: expected a UUID.", Code.INVALID_ARGUMENT) from None


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Error(f"{what}: expected True or False.", Code.INVALID_ARGUMENT)
    return value


def _status(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Error("status: expected a string.", Code.INVALID_ARGUMENT)
    return value


def _listed(p: streams.StreamPresence) -> StreamPresence:
    return StreamPresence(user_id=p.user_id, session_id=p.session_id, node=p.node,
                          hidden=p.hidden, persistence=p.persistence, username=p.username,
                          status=p.status)


class StreamsNk(Area):

    @property
    def _node(self) -> str:
        return self._domain.config.name

    def _targets(self, presences: Any) -> list[PresenceId] | None:
        """`presences` ({"session_id", "node"?} each; the node defaults to this one) or None."""
        if presences is None:
            return None
        node = self._node
        out = []
        for p in args.items(presences, "presences"):
            where = p.get("node") or node
            if not isinstance(where, str):
                raise Error("presences: node must be a string.", Code.INVALID_ARGUMENT)
            out.append(PresenceId(where, _session_id(p.get("session_id"), "presence session_id")))
        return out

    @api
    async def stream_user_list(self, stream: Mapping[str, Any], include_hidden: bool = True,
                               include_not_hidden: bool = True) -> list[StreamPresence]:
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
            presences = nk.stream_user_list(stream, include_hidden=False)
        """
        s = streams.parse(stream)
        return [_listed(p) for p in streams.presences(
            self._domain.sockets, s, _flag(include_hidden, "include_hidden"),
            _flag(include_not_hidden, "include_not_hidden"))]

    @api
    async def stream_user_get(self, user_id: str, session_id: str,
                              stream: Mapping[str, Any]) -> StreamPresenceMeta | None:
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
            meta = nk.stream_user_get(ctx.user_id, ctx.session_id, stream)
        """
        uid, sid = args.user_id(user_id), _session_id(session_id)
        p = streams.presence(self._domain.sockets, streams.parse(stream), uid, sid)
        if p is None:
            return None
        return StreamPresenceMeta(hidden=p.hidden, persistence=p.persistence,
                                  username=p.username, status=p.status)

    @api
    async def stream_user_join(self, user_id: str, session_id: str, stream: Mapping[str, Any],
                               hidden: bool = False, persistence: bool = True,
                               status: str = "") -> bool:
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
            nk.stream_user_join(ctx.user_id, ctx.session_id, stream, status="ready")
        """
        uid, sid = args.user_id(user_id), _session_id(session_id)
        return streams.join(self._domain.sockets, streams.parse(stream), uid, sid,
                            hidden=_flag(hidden, "hidden"),
                            persistence=_flag(persistence, "persistence"), status=_status(status))

    @api
    async def stream_user_update(self, user_id: str, session_id: str, stream: Mapping[str, Any],
                                 hidden: bool = False, persistence: bool = True,
                                 status: str = "") -> None:
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
            nk.stream_user_update(ctx.user_id, ctx.session_id, stream, status="in game")
        """
        uid, sid = args.user_id(user_id), _session_id(session_id)
        streams.update(self._domain.sockets, streams.parse(stream), uid, sid,
                       hidden=_flag(hidden, "hidden"),
                       persistence=_flag(persistence, "persistence"), status=_status(status))

    @api
    async def stream_user_leave(self, user_id: str, session_id: str,
                                stream: Mapping[str, Any]) -> None:
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
            nk.stream_user_leave(ctx.user_id, ctx.session_id, stream)
        """
        uid, sid = args.user_id(user_id), _session_id(session_id)
        streams.leave(self._domain.sockets, streams.parse(stream), uid, sid)

    @api
    async def stream_user_kick(self, presence: Mapping[str, Any],
                               stream: Mapping[str, Any]) -> None:
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
                nk.stream_user_kick(presence, stream)
        """
        if not isinstance(presence, Mapping):
            raise Error("presence: expected a dict {user_id, session_id}.", Code.INVALID_ARGUMENT)
        uid = args.user_id(presence.get("user_id"))
        sid = _session_id(presence.get("session_id"), "presence session_id")
        streams.leave(self._domain.sockets, streams.parse(stream), uid, sid)

    @api
    async def stream_count(self, stream: Mapping[str, Any]) -> int:
        """How many sessions are on a stream, hidden ones included.

        Errors:
            - 3 INVALID_ARGUMENT `stream: expected a dict {mode, subject, subcontext, label}` /
              `stream: unknown key '<key>' (expected mode, subject, subcontext, label)` / `stream mode
              is required` / `stream mode must be a number` / `stream mode must be 0-255` / `stream
              subject must be a string` / `stream subject must be a valid identifier` (and subcontext)
              / `stream label must be a string` / `stream label must not contain U+0000`

        Example:
            stream = {"mode": 10, "label": "arena-1"}
            players = nk.stream_count(stream)
        """
        return streams.count(self._domain.sockets, streams.parse(stream))

    @api
    async def stream_close(self, stream: Mapping[str, Any]) -> None:
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
            nk.stream_close(stream)
        """
        streams.close(self._domain.sockets, streams.parse(stream))

    @api
    async def stream_send(self, stream: Mapping[str, Any], data: str,
                          presences: Sequence[Mapping[str, Any]] | None = None,
                          reliable: bool = True) -> None:
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
            nk.stream_send(stream, nk.json_encode({"round": 2}))
        """
        s = streams.parse(stream)
        if not isinstance(data, str):
            raise Error("data: expected a string.", Code.INVALID_ARGUMENT)
        streams.send(self._domain.sockets, s, data, self._targets(presences),
                     _flag(reliable, "reliable"))

    @api
    async def stream_send_raw(self, stream: Mapping[str, Any], envelope: Mapping[str, Any],
                              presences: Sequence[Mapping[str, Any]] | None = None,
                              reliable: bool = True) -> None:
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
            nk.stream_send_raw(stream, {"notifications": {"notifications": []}})
        """
        s = streams.parse(stream)
        if not isinstance(envelope, Mapping) or len(envelope) != 1:
            raise Error("envelope: expected a dict with exactly one message key.",
                        Code.INVALID_ARGUMENT)
        ((kind, body),) = envelope.items()
        if kind not in SOCKET_KINDS:
            raise Error(f"envelope: unknown message {kind!r}.", Code.INVALID_ARGUMENT)
        if not isinstance(body, Mapping):
            raise Error(f"envelope: the {kind} message must be a dict.", Code.INVALID_ARGUMENT)
        try:
            body = orjson.loads(orjson.dumps(dict(body)))  # a JSON copy: checked, unshared
        except TypeError as exc:
            raise Error(f"envelope: not JSON: {exc}.", Code.INVALID_ARGUMENT) from None
        _flag(reliable, "reliable")
        streams.send_raw(self._domain.sockets, s, kind, body, self._targets(presences))
