"""Custom streams (modes 8-255, put together by server code: nk.stream_*): their presence events
and the envelopes sent to them.

Clients never join, leave or send to a stream themselves, so there are no handlers here: server
code changes who is on a stream through `domain.sockets` (kizuna/core/streams.py), and everyone on
a custom stream (hidden presences too, the one joining too) gets a `stream_presence_event`
{stream, joins, leaves} when a presence that is not hidden joins or leaves it. The built-in modes
keep their own events (channel, match, status presence events), whoever changed the presences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.core.streams import BUILTIN_MODES, MAX_MODE, Stream
from kizuna.realtime import envelope
from kizuna.realtime.tracker import Presence

if TYPE_CHECKING:
    from kizuna.realtime.handlers import HandlerFn
    from kizuna.realtime.service import RealtimeService

CUSTOM_MODES = frozenset(range(MAX_MODE + 1)) - BUILTIN_MODES

HANDLERS: dict[str, HandlerFn] = {}


def stream_id(stream: Stream) -> dict[str, Any]:
    """A Stream message {mode, subject, subcontext, label}, default values omitted."""
    out: dict[str, Any] = {}
    if stream.mode:
        out["mode"] = stream.mode
    if stream.subject:
        out["subject"] = stream.subject
    if stream.subcontext:
        out["subcontext"] = stream.subcontext
    if stream.label:
        out["label"] = stream.label
    return out


def stream_presence(p: Presence) -> dict[str, Any]:
    """A UserPresence of a custom stream (no status: Nakama writes it on status streams only)."""
    out: dict[str, Any] = {"user_id": p.user_id, "session_id": p.session_id,
                           "username": p.username}
    if p.persistence:
        out["persistence"] = True
    return out


def stream_data(stream: Stream, data: str, reliable: bool) -> bytes:
    """A `stream_data` push from the server: no sender."""
    body: dict[str, Any] = {"stream": stream_id(stream)}
    if data:
        body["data"] = data
    if reliable:
        body["reliable"] = True
    return envelope.push("stream_data", body)


def install(rt: RealtimeService) -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        event: dict[str, Any] = {"stream": stream_id(stream)}
        if joins:
            event["joins"] = [stream_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [stream_presence(p) for p in leaves]
        rt.router.send_to_stream(stream, envelope.push("stream_presence_event", event))

    for mode in sorted(CUSTOM_MODES):
        rt.tracker.listen(mode, on_presence)
