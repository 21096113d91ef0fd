"""`/v2/storage`: write, read, list and delete storage objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import storage
from kizuna.wire import encode, fields, paging

_WRITE_FIELDS = ("collection", "key", "value", "version", "permission_read", "permission_write")


def _pick_items(body: dict[str, Any], name: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [fields.pick(item, names) for item in fields.objects(body, name)]


async def parse_write(request: web.Request) -> dict[str, Any]:
    return {"objects": _pick_items(await read_json(request), "objects", _WRITE_FIELDS)}


async def write(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ops = [storage.WriteOp(
        collection=fields.text(o, "collection"), key=fields.text(o, "key"),
        value=fields.text(o, "value"), user_id=call.user_id, version=fields.text(o, "version"),
        permission_read=fields.optional_integer(o, "permission_read", bits=32),
        permission_write=fields.optional_integer(o, "permission_write", bits=32))
        for o in fields.objects(req, "objects")]
    return encode.storage_acks(await storage.write_objects(call.domain.pool, ops))


async def parse_read(request: web.Request) -> dict[str, Any]:
    return {"object_ids": _pick_items(await read_json(request), "object_ids",
                                      ("collection", "key", "user_id"))}


async def read(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                            fields.text(o, "user_id"))
           for o in fields.objects(req, "object_ids")]
    return encode.storage_objects(await storage.read_objects(call.domain.pool, call.user_id, ids))


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    user_id = fields.path(request.match_info, "user_id", "") or fields.query(q, "user_id")
    return {"user_id": user_id or None,
            "collection": fields.path(request.match_info, "collection"),
            "limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "cursor": fields.query(q, "cursor") or None}


async def list_(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    page = await storage.list_objects(
        call.domain.pool, call.user_id, fields.text(req, "collection"),
        fields.text(req, "user_id") or None, paging.limit(req.get("limit"), default=1),
        fields.text(req, "cursor") or None)
    return encode.storage_object_list(page)


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"object_ids": _pick_items(await read_json(request), "object_ids",
                                      ("collection", "key", "version"))}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                            version=fields.text(o, "version"))
           for o in fields.objects(req, "object_ids")]
    await storage.delete_objects(call.domain.pool, call.user_id, ids)
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
