"""`GET /v2/channel/{channel_id}`: a channel's message history."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import require_session
from kizuna.api.codec import json_response, query, timestamp
from kizuna.config import parse_bool
from kizuna.core import chat
from kizuna.core.errors import invalid


def encode_message(channel_id: str, names: dict[str, str], m: chat.Message) -> dict[str, Any]:
    # code and persistent are wrapper types: written even when they hold 0 / false.
    return {"channel_id": channel_id, "message_id": m.id, "code": m.code, "sender_id": m.sender_id,
            "username": m.username, "content": m.content,
            "create_time": timestamp(m.create_time, "microseconds"),
            "update_time": timestamp(m.update_time, "microseconds"), "persistent": True, **names}


async def list_messages(request: web.Request) -> web.Response:
    session = require_session(request)
    channel_id = request.match_info["channel_id"]
    stream = chat.parse_channel_id(channel_id)
    if stream is None:
        raise invalid("Invalid channel ID.")
    raw_limit = query(request, "limit")
    limit = 1  # Nakama's default
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid(chat.INVALID_LIMIT) from None
    raw_forward = query(request, "forward")
    forward = True
    if raw_forward not in (None, ""):
        parsed = parse_bool(raw_forward)
        if parsed is None:
            raise invalid(f"forward: invalid boolean {raw_forward!r}")
        forward = parsed
    page = await chat.list_messages(request.app[SERVICES].pool, session.user_id, stream, limit,
                                    forward, query(request, "cursor") or None)
    cid = chat.channel_id(stream)
    names = chat.channel_names(stream)
    body: dict[str, Any] = {}
    if page.messages:
        body["messages"] = [encode_message(cid, names, m) for m in page.messages]
    for key in ("next_cursor", "prev_cursor", "cacheable_cursor"):
        if getattr(page, key):
            body[key] = getattr(page, key)
    return json_response(body)


def register(app: web.Application) -> None:
    app.router.add_get("/v2/channel/{channel_id}", list_messages, allow_head=False)
