"""Application-level ping/pong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session


def ping(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    return "pong", {}


def pong(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    """A client's pong needs no answer."""
    return None


HANDLERS = {"ping": ping, "pong": pong}
NO_REPLY = frozenset({"pong"})
