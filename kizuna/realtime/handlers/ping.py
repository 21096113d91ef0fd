"""Application-level ping/pong, and the kinds this server does not handle (yet)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.realtime import envelope
from kizuna.realtime.envelope import ErrorCode, RealtimeError

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session



def ping(rt: "RealtimeService", session: "Session", cid: str | None, body: dict[str, Any]) -> None:
    session.send(envelope.reply(cid, "pong", {}))


def pong(rt: "RealtimeService", session: "Session", cid: str | None, body: dict[str, Any]) -> None:
    """A client's pong needs no answer."""


def _unsupported(kind: str):
    def handler(rt: "RealtimeService", session: "Session", cid: str | None,
                body: dict[str, Any]) -> None:
        raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD,
                            f"{kind} is not supported by this server yet")
    return handler


NOT_YET = ("matchmaker_add", "matchmaker_remove", "party_create", "party_join", "party_leave",
           "party_promote", "party_accept", "party_remove", "party_close",
           "party_join_request_list", "party_matchmaker_add", "party_matchmaker_remove",
           "party_data_send", "party_update")

HANDLERS = {"ping": ping, "pong": pong, **{k: _unsupported(k) for k in NOT_YET}}
