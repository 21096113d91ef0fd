"""`GET /v2/channel/{channel_id}`: a channel's message history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import chat
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"channel_id": fields.path(request.match_info, "channel_id"),
            "limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "forward": fields.query_bool(q, "forward"),
            "cursor": fields.query(q, "cursor") or None}


async def list_messages(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    stream = chat.parse_channel_id(req.get("channel_id"))
    if stream is None:
        raise invalid("Invalid channel ID.")
    page = await chat.list_messages(
        call.domain.pool, call.user_id, stream, paging.limit(req.get("limit"), default=1),
        fields.boolean(req, "forward", True), fields.text(req, "cursor") or None)
    return encode.channel_message_list(page)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/channel/{channel_id}", "ListChannelMessages", Auth.SESSION, parse_list,
             list_messages),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
