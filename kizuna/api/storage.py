"""`/v2/storage`: write, read, list and delete storage objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import field, prune, query, read_json, timestamp, query_int
from kizuna.api.endpoint import Auth, Call, Endpoint, add
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


_WRITE_FIELDS = ("collection", "key", "value", "version", "permission_read", "permission_write")


def _pick_items(body: dict[str, Any], name: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{n: field(item, n) for n in names} for item in _items(body, name)]


async def parse_write(request: web.Request) -> dict[str, Any]:
    return {"objects": _pick_items(await read_json(request), "objects", _WRITE_FIELDS)}


async def write(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ops = [storage.WriteOp(
        collection=_text(o, "collection"), key=_text(o, "key"), value=_text(o, "value"),
        user_id=call.user_id, version=_text(o, "version"),
        permission_read=_permission(o, "permission_read"),
        permission_write=_permission(o, "permission_write")) for o in _items(req, "objects")]
    acks = await storage.write_objects(call.services.pool, ops)
    return prune({"acks": [encode_ack(a) for a in acks]})


async def parse_read(request: web.Request) -> dict[str, Any]:
    return {"object_ids": _pick_items(await read_json(request), "object_ids",
                                      ("collection", "key", "user_id"))}


async def read(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ids = [storage.ObjectId(_text(o, "collection"), _text(o, "key"), _text(o, "user_id"))
           for o in _items(req, "object_ids")]
    rows = await storage.read_objects(call.services.pool, call.user_id, ids)
    return prune({"objects": [encode_object(r) for r in rows]})


async def parse_list(request: web.Request) -> dict[str, Any]:
    limit = query_int(request, "limit", "Invalid limit - limit must be between 1 and 100.")
    return {"user_id": request.match_info.get("user_id") or query(request, "user_id") or None,
            "collection": request.match_info["collection"], "limit": limit,
            "cursor": query(request, "cursor") or None}


async def list_(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = req.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise invalid("Invalid limit - limit must be between 1 and 100.")
    rows, cursor = await storage.list_objects(
        call.services.pool, call.user_id, _text(req, "collection"), _text(req, "user_id") or None,
        limit, _text(req, "cursor") or None)
    return prune({"objects": [encode_object(r) for r in rows], "cursor": cursor})


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"object_ids": _pick_items(await read_json(request), "object_ids",
                                      ("collection", "key", "version"))}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ids = [storage.ObjectId(_text(o, "collection"), _text(o, "key"), version=_text(o, "version"))
           for o in _items(req, "object_ids")]
    await storage.delete_objects(call.services.pool, call.user_id, ids)
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("PUT", "/v2/storage", "WriteStorageObjects", Auth.SESSION, parse_write, write),
    Endpoint("POST", "/v2/storage", "ReadStorageObjects", Auth.SESSION, parse_read, read),
    Endpoint("PUT", "/v2/storage/delete", "DeleteStorageObjects", Auth.SESSION, parse_delete,
             delete),
    Endpoint("GET", "/v2/storage/{collection}", "ListStorageObjects", Auth.SESSION, parse_list,
             list_),
    Endpoint("GET", "/v2/storage/{collection}/{user_id}", "ListStorageObjects", Auth.SESSION,
             parse_list, list_),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
