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
        status}]."""
        s = streams.parse(stream)
        return [_listed(p) for p in streams.presences(
            self._domain.sockets, s, _flag(include_hidden, "include_hidden"),
            _flag(include_not_hidden, "include_not_hidden"))]

    @api
    async def stream_user_get(self, user_id: str, session_id: str,
                              stream: Mapping[str, Any]) -> StreamPresenceMeta | None:
        """A session's presence on a stream, {hidden, persistence, username, status}, or None."""
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
        event. Code 5 if no such session of the user is connected to this node."""
        uid, sid = args.user_id(user_id), _session_id(session_id)
        return streams.join(self._domain.sockets, streams.parse(stream), uid, sid,
                            hidden=_flag(hidden, "hidden"),
                            persistence=_flag(persistence, "persistence"), status=_status(status))

    @api
    async def stream_user_update(self, user_id: str, session_id: str, stream: Mapping[str, Any],
                                 hidden: bool = False, persistence: bool = True,
                                 status: str = "") -> None:
        """Replace a session's presence metadata on a stream (a leave and a join for the others),
        putting it on the stream if it is not."""
        uid, sid = args.user_id(user_id), _session_id(session_id)
        streams.update(self._domain.sockets, streams.parse(stream), uid, sid,
                       hidden=_flag(hidden, "hidden"),
                       persistence=_flag(persistence, "persistence"), status=_status(status))

    @api
    async def stream_user_leave(self, user_id: str, session_id: str,
                                stream: Mapping[str, Any]) -> None:
        """Take a user's session off a stream (nothing happens if it is not on it)."""
        uid, sid = args.user_id(user_id), _session_id(session_id)
        streams.leave(self._domain.sockets, streams.parse(stream), uid, sid)

    @api
    async def stream_user_kick(self, presence: Mapping[str, Any],
                               stream: Mapping[str, Any]) -> None:
        """Take a presence ({user_id, session_id, node?}, as stream_user_list gives them) off a
        stream."""
        if not isinstance(presence, Mapping):
            raise Error("presence: expected a dict {user_id, session_id}.", Code.INVALID_ARGUMENT)
        uid = args.user_id(presence.get("user_id"))
        sid = _session_id(presence.get("session_id"), "presence session_id")
        streams.leave(self._domain.sockets, streams.parse(stream), uid, sid)

    @api
    async def stream_count(self, stream: Mapping[str, Any]) -> int:
        """How many sessions are on a stream, hidden ones included."""
        return streams.count(self._domain.sockets, streams.parse(stream))

    @api
    async def stream_close(self, stream: Mapping[str, Any]) -> None:
        """Take every session off a stream."""
        streams.close(self._domain.sockets, streams.parse(stream))

    @api
    async def stream_send(self, stream: Mapping[str, Any], data: str,
                          presences: Sequence[Mapping[str, Any]] | None = None,
                          reliable: bool = True) -> None:
        """Send `data` (text) to every session on a stream as a `stream_data` push {stream, data,
        reliable}, without a sender; with `presences`, to those sessions only."""
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
        `reliable` is accepted for Nakama's signature (the socket is reliable)."""
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
