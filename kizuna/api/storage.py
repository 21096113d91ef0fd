"""`/v2/storage`: write, read, list and delete storage objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import require_session
from kizuna.api.codec import field, json_response, prune, query, read_json, timestamp
from kizuna.core import storage
from kizuna.core.errors import invalid


def encode_object(row: dict[str, Any]) -> dict[str, Any]:
    return prune({
        "collection": row["collection"], "key": row["key"], "user_id": row["user_id"],
        "value": row["value"], "version": row["version"],
        "permission_read": row["read"], "permission_write": row["write"],
        "create_time": timestamp(row["create_time"]), "update_time": timestamp(row["update_time"]),
    })


def encode_ack(ack: storage.Ack) -> dict[str, Any]:
    return prune({
        "collection": ack.collection, "key": ack.key, "version": ack.version,
        "user_id": ack.user_id,
        "create_time": timestamp(ack.create_time, "fraction"),
        "update_time": timestamp(ack.update_time, "fraction"),
    })


def _items(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = field(body, name)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid(f"{name}: expected a list of objects")
    return items


def _text(item: dict[str, Any], name: str) -> str:
    value = field(item, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name}: expected a string")
    return value


def _permission(item: dict[str, Any], name: str) -> int | None:
    value = field(item, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise invalid(f"{name}: expected an integer")
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name}: expected an integer") from None


async def write(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    ops = [storage.WriteOp(
        collection=_text(o, "collection"), key=_text(o, "key"), value=_text(o, "value"),
        user_id=session.user_id, version=_text(o, "version"),
        permission_read=_permission(o, "permission_read"),
        permission_write=_permission(o, "permission_write")) for o in _items(body, "objects")]
    acks = await storage.write_objects(request.app[SERVICES].pool, ops)
    return json_response(prune({"acks": [encode_ack(a) for a in acks]}))


async def read(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    ids = [storage.ObjectId(_text(o, "collection"), _text(o, "key"), _text(o, "user_id"))
           for o in _items(body, "object_ids")]
    rows = await storage.read_objects(request.app[SERVICES].pool, session.user_id, ids)
    return json_response(prune({"objects": [encode_object(r) for r in rows]}))


async def list_(request: web.Request) -> web.Response:
    session = require_session(request)
    raw_limit = query(request, "limit")
    limit: int | None = None
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except ValueError:
            raise invalid("Invalid limit - limit must be between 1 and 100.") from None
    user_id = request.match_info.get("user_id") or query(request, "user_id") or None
    rows, cursor = await storage.list_objects(
        request.app[SERVICES].pool, session.user_id, request.match_info["collection"], user_id,
        limit, query(request, "cursor") or None)
    return json_response(prune({"objects": [encode_object(r) for r in rows], "cursor": cursor}))


async def delete(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    ids = [storage.ObjectId(_text(o, "collection"), _text(o, "key"), version=_text(o, "version"))
           for o in _items(body, "object_ids")]
    await storage.delete_objects(request.app[SERVICES].pool, session.user_id, ids)
    return json_response({})


def register(app: web.Application) -> None:
    r = app.router
    r.add_put("/v2/storage", write)
    r.add_post("/v2/storage", read)
    r.add_put("/v2/storage/delete", delete)
    r.add_get("/v2/storage/{collection}", list_, allow_head=False)
    r.add_get("/v2/storage/{collection}/{user_id}", list_, allow_head=False)
