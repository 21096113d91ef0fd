"""`GET /v2/channel/{channel_id}`: a channel's message history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import query, timestamp, query_int
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.config import parse_bool
from kizuna.core import chat
from kizuna.core.errors import invalid


def encode_message(channel_id: str, names: dict[str, str], m: chat.Message) -> dict[str, Any]:
    # code and persistent are wrapper types: written even when they hold 0 / false.
    return {"channel_id": channel_id, "message_id": m.id, "code": m.code, "sender_id": m.sender_id,
            "username": m.username, "content": m.content,
            "create_time": timestamp(m.create_time, "fraction"),
            "update_time": timestamp(m.update_time, "fraction"), "persistent": True, **names}


async def parse_list(request: web.Request) -> dict[str, Any]:
    limit = query_int(request, "limit", chat.INVALID_LIMIT)
    raw_forward = query(request, "forward")
    forward: bool | None = None
    if raw_forward not in (None, ""):
        forward = parse_bool(raw_forward)
        if forward is None:
            raise invalid(f"forward: invalid boolean {raw_forward!r}")
    return {"channel_id": request.match_info["channel_id"], "limit": limit, "forward": forward,
            "cursor": query(request, "cursor") or None}


async def list_messages(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    stream = chat.parse_channel_id(req.get("channel_id"))
    if stream is None:
        raise invalid("Invalid channel ID.")
    limit = req.get("limit")
    if limit is None:
        limit = 1  # Nakama's default
    elif isinstance(limit, bool) or not isinstance(limit, int):
        raise invalid(chat.INVALID_LIMIT)
    forward = req.get("forward")
    if forward is None:
        forward = True
    elif not isinstance(forward, bool):
        raise invalid("forward: expected a boolean")
    cursor = req.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise invalid("cursor: expected a string")
    page = await chat.list_messages(call.services.pool, call.user_id, stream, limit, forward,
                                    cursor or None)
    cid = chat.channel_id(stream)
    names = chat.channel_names(stream)
    body: dict[str, Any] = {}
    if page.messages:
        body["messages"] = [encode_message(cid, names, m) for m in page.messages]
    for key in ("next_cursor", "prev_cursor", "cacheable_cursor"):
        if getattr(page, key):
            body[key] = getattr(page, key)
    return body


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/channel/{channel_id}", "ListChannelMessages", Auth.SESSION, parse_list,
             list_messages),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
