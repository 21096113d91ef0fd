"""`/v2/notification`: list and delete the caller's notifications."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import require_session
from kizuna.api.codec import json_response, query, query_all, timestamp
from kizuna.core import notifications
from kizuna.core.errors import invalid


def encode(n: notifications.Notification) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "subject": n.subject, "content": n.content}
    if n.code:
        out["code"] = n.code
    if n.sender_id:
        out["sender_id"] = n.sender_id
    out["create_time"] = timestamp(n.create_time)
    if n.persistent:
        out["persistent"] = True
    return out


async def list_(request: web.Request) -> web.Response:
    session = require_session(request)
    raw_limit = query(request, "limit")
    limit = 1  # Nakama's default
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid("Invalid limit - limit must be between 1 and 100.") from None
    items, cursor = await notifications.list_notifications(
        request.app[SERVICES].pool, session.user_id, limit,
        query(request, "cacheable_cursor") or None)
    body: dict[str, Any] = {}
    if items:
        body["notifications"] = [encode(n) for n in items]
    body["cacheable_cursor"] = cursor
    return json_response(body)


async def delete(request: web.Request) -> web.Response:
    session = require_session(request)
    ids = [i for v in query_all(request, "ids") for i in v.split(",") if i]
    await notifications.delete_notifications(request.app[SERVICES].pool, session.user_id, ids)
    return json_response({})


def register(app: web.Application) -> None:
    app.router.add_get("/v2/notification", list_, allow_head=False)
    app.router.add_delete("/v2/notification", delete)
