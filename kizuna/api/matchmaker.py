"""`GET /v2/matchmaker/stats`: Nakama's GetMatchmakerStats, read from the node's matchmaker
(kizuna/realtime/matchmaker.py): the tickets waiting on this node, the oldest one's creation time,
and the last 100 completions (when each matched ticket was added, and when it was matched)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.endpoint import Auth, Call, Endpoint, add, no_body
from kizuna.wire import encode


async def stats(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    return encode.matchmaker_stats(call.services.realtime.matchmaker.stats())


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/matchmaker/stats", "GetMatchmakerStats", Auth.SESSION, no_body, stats),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
