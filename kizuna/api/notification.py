"""`/v2/notification`: list and delete the caller's notifications."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import notifications
from kizuna.wire import encode, fields, paging


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "cacheable_cursor": fields.query(q, "cacheable_cursor") or None}


async def list_(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    page = await notifications.list_notifications(
        call.domain.pool, call.user_id, paging.limit(req.get("limit"), default=1),
        fields.text(req, "cacheable_cursor") or None)
    return encode.notification_list(page)


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"ids": [i for v in fields.query_all(request.query, "ids") for i in v.split(",") if i]}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await notifications.delete_notifications(call.domain.pool, call.user_id,
                                             fields.strings(req, "ids"))
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/notification", "ListNotifications", Auth.SESSION, parse_list, list_),
    Endpoint("DELETE", "/v2/notification", "DeleteNotifications", Auth.SESSION, parse_delete,
             delete),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
