"""`/v2/notification`: list and delete the caller's notifications."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import notification, query, query_all, query_int
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import notifications
from kizuna.core.errors import invalid


async def parse_list(request: web.Request) -> dict[str, Any]:
    limit = query_int(request, "limit", "Invalid limit - limit must be between 1 and 100.")
    return {"limit": limit, "cacheable_cursor": query(request, "cacheable_cursor") or None}


async def list_(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("limit")
    if limit is None:
        limit = 1  # Nakama's default
    elif isinstance(limit, bool) or not isinstance(limit, int):
        raise invalid("Invalid limit - limit must be between 1 and 100.")
    cursor = req.get("cacheable_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise invalid("cacheable_cursor: expected a string")
    items, next_cursor = await notifications.list_notifications(
        call.services.pool, call.user_id, limit, cursor or None)
    body: dict[str, Any] = {}
    if items:
        body["notifications"] = [notification(n) for n in items]
    body["cacheable_cursor"] = next_cursor
    return body


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"ids": [i for v in query_all(request, "ids") for i in v.split(",") if i]}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ids = req.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise invalid("ids: expected a list of strings")
    await notifications.delete_notifications(call.services.pool, call.user_id, ids)
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/notification", "ListNotifications", Auth.SESSION, parse_list, list_),
    Endpoint("DELETE", "/v2/notification", "DeleteNotifications", Auth.SESSION, parse_delete,
             delete),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
