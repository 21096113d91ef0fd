"""Storage: collections, objects of any owner, one object's value, its edit and its delete.

API (Nakama's console shapes, with Kizuna's additions marked):
- `GET /v2/console/storage/collections?limit=&cursor=` -> `{collections: [...], next_cursor}`
  (next_cursor: Kizuna; the names come from a loose index scan, never a scan of every object);
- `GET /v2/console/storage?collection=&user_id=&key=&limit=&cursor=` -> `{objects, total_count,
  next_cursor}` (+ `total_count_exact`: false when counting stopped at 10,000 or is the table's
  estimate). A key filter is an exact key and needs a collection;
- `POST /v2/console/storage` (Kizuna) `{collection, key, user_id, value, permission_read,
  permission_write, version}` writes a new object: version defaults to "*" (create only);
- `GET /v2/console/storage/{collection}/{key}/{user_id}` -> the object;
- `PUT` of the same path `{value, version, permission_read, permission_write}` -> the ack
  `{collection, key, user_id, version, create_time, update_time}`: with `version`, only if the
  stored object still has it (else code 3 "Storage write rejected - version check failed.");
- `DELETE` of the same path (`?version=` or `/{version}`: only at that version).

The system owner is user id 00000000-0000-0000-0000-000000000000. `value` is a JSON object: sent
as text (exactly as it will be versioned) or as an object.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.console.app import API_PREFIX, audit_note, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import admin_storage
from kizuna.core.storage import SYSTEM_USER_ID
from kizuna.errors import invalid
from kizuna.wire import fields, paging
from kizuna.wire.codec import timestamp
from kizuna.wire.types import StorageAck, StorageObject

BAD_VALUE = "Value must be a JSON object."
PREVIEW = 120  # characters of a value shown in lists
PERMISSION_READ = {0: "no read", 1: "owner read", 2: "public read"}
PERMISSION_WRITE = {0: "no write", 1: "owner write"}


# -- reading requests ----------------------------------------------------------------------------


def _limit(request: web.Request, default: int, maximum: int) -> int:
    raw = fields.query_int(request.query, "limit", paging.invalid_limit_message(maximum))
    return paging.limit(raw, default=default, maximum=maximum)


def _query(request: web.Request, name: str) -> str | None:
    return fields.query(request.query, name) or None


def _value(body: dict[str, Any]) -> str:
    """A value to write: a JSON object as text (kept as sent: its MD5 is the version) or as an
    object (written compactly)."""
    raw = fields.field(body, "value")
    if type(raw) is dict:
        return orjson.dumps(raw).decode()
    if type(raw) is not str or not raw.strip():
        raise invalid(BAD_VALUE)
    return raw


def _object_path(request: web.Request) -> tuple[str, str, str]:
    m = request.match_info
    return fields.path(m, "collection"), fields.path(m, "key"), fields.path(m, "user_id")


# -- JSON ----------------------------------------------------------------------------------------


def object_json(o: StorageObject) -> dict[str, Any]:
    return {"collection": o.collection, "key": o.key, "user_id": o.user_id, "value": o.value,
            "version": o.version, "permission_read": o.permission_read,
            "permission_write": o.permission_write, "create_time": timestamp(o.create_time),
            "update_time": timestamp(o.update_time)}


def ack_json(a: StorageAck) -> dict[str, Any]:
    return {"collection": a.collection, "key": a.key, "user_id": a.user_id,
            "version": a.version, "create_time": timestamp(a.create_time, "fraction"),
            "update_time": timestamp(a.update_time, "fraction")}


# -- API -----------------------------------------------------------------------------------------


async def api_collections(request: web.Request) -> web.StreamResponse:
    names, nxt = await admin_storage.list_collections(
        console_of(request).pool, _limit(request, 1000, 1000), _query(request, "cursor"))
    return json_ok({"collections": names, "next_cursor": nxt or ""})


async def _page(request: web.Request) -> admin_storage.ObjectPage:
    return await admin_storage.list_objects(
        console_of(request).pool, _query(request, "collection"), _query(request, "user_id"),
        _query(request, "key"), _limit(request, 100, 1000), _query(request, "cursor"))


async def api_list(request: web.Request) -> web.StreamResponse:
    page = await _page(request)
    return json_ok({"objects": [object_json(o) for o in page.objects],
                    "total_count": page.total_count, "next_cursor": page.next_cursor or "",
                    "total_count_exact": page.total_exact})


async def api_get(request: web.Request) -> web.StreamResponse:
    collection, key, user_id = _object_path(request)
    obj = await admin_storage.get_object(console_of(request).pool, collection, key, user_id)
    return json_ok(object_json(obj))


async def _write(request: web.Request, collection: str, key: str, user_id: str,
                 body: dict[str, Any], default_version: str) -> StorageAck:
    value = _value(body)
    version = fields.optional_text(body, "version")
    ack = await admin_storage.write_object(
        console_of(request).pool, collection, key, user_id, value,
        default_version if version is None else version,
        fields.optional_integer(body, "permission_read", bits=32),
        fields.optional_integer(body, "permission_write", bits=32))
    return ack


async def api_put(request: web.Request) -> web.StreamResponse:
    collection, key, user_id = _object_path(request)
    body = await read_json(request)
    ack = await _write(request, collection, key, user_id, body, "")
    audit_note(request, f"wrote storage object {collection}/{key} of {ack.user_id} "
                        f"(version {ack.version})", collection=collection, key=key,
               user_id=ack.user_id, version=ack.version)
    return json_ok(ack_json(ack))


async def api_create(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    collection, key = fields.text(body, "collection"), fields.text(body, "key")
    user_id = fields.text(body, "user_id")
    ack = await _write(request, collection, key, user_id, body, "*")
    audit_note(request, f"created storage object {collection}/{key} of {ack.user_id}",
               collection=collection, key=key, user_id=ack.user_id, version=ack.version)
    return json_ok(ack_json(ack))


async def api_delete(request: web.Request) -> web.StreamResponse:
    collection, key, user_id = _object_path(request)
    version = request.match_info.get("version") or _query(request, "version") or ""
    await admin_storage.delete_object(console_of(request).pool, collection, key, user_id,
                                      fields.checked_text(version, "version"))
    owner = admin_storage.owner_id(user_id)
    audit_note(request, f"deleted storage object {collection}/{key} of {owner}",
               collection=collection, key=key, user_id=owner, version=version)
    return json_ok({})


# -- pages ---------------------------------------------------------------------------------------


def object_href(o: StorageObject) -> str:
    return "/storage/" + "/".join(quote(part, safe="") for part in (o.collection, o.key, o.user_id))


def _api_path(o: StorageObject) -> str:
    return f"{API_PREFIX}{object_href(o)}"


def _qs(**params: str | None) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def pretty(value: str) -> str:
    """A stored value (a JSON object as text), indented for reading and editing."""
    try:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return value


async def storage_page(request: web.Request) -> web.StreamResponse:
    pool = console_of(request).pool
    collections, more_collections = await admin_storage.list_collections(
        pool, 200, _query(request, "collections_cursor"))
    collection, user_id, key = (_query(request, "collection"), _query(request, "user_id"),
                                _query(request, "key"))
    page = await admin_storage.list_objects(pool, collection, user_id, key,
                                            _limit(request, 50, 500), _query(request, "cursor"))
    rows = [{"o": o, "href": object_href(o), "system": o.user_id == SYSTEM_USER_ID,
             "preview": o.value if len(o.value) <= PREVIEW else o.value[:PREVIEW] + "…"}
            for o in page.objects]
    next_href = (_qs(collection=collection, user_id=user_id, key=key, cursor=page.next_cursor)
                 if page.next_cursor else "")
    more_href = (_qs(collection=collection, user_id=user_id, key=key,
                     collections_cursor=more_collections) if more_collections else "")
    return render(request, "storage.html", collections=[
        (name, _qs(collection=name)) for name in collections], more_collections=more_href,
        collection=collection or "", user_id=user_id or "", key=key or "", rows=rows,
        total_count=page.total_count, total_exact=page.total_exact, next_href=next_href,
        first_href=_qs(collection=collection, user_id=user_id, key=key)
        if request.query.get("cursor") else "",
        system_user_id=SYSTEM_USER_ID, read_names=PERMISSION_READ, write_names=PERMISSION_WRITE)


async def object_page(request: web.Request) -> web.StreamResponse:
    collection, key, user_id = _object_path(request)
    obj = await admin_storage.get_object(console_of(request).pool, collection, key, user_id)
    return render(request, "storage_object.html", o=obj, value=pretty(obj.value),
                  api_path=_api_path(obj), system=obj.user_id == SYSTEM_USER_ID,
                  collection_href="/storage" + _qs(collection=obj.collection),
                  read_names=PERMISSION_READ, write_names=PERMISSION_WRITE)


def register(app: web.Application) -> None:
    base = f"{API_PREFIX}/storage"
    app.router.add_get(f"{base}/collections", api_collections)
    app.router.add_get(base, api_list)
    app.router.add_post(base, api_create)
    one = f"{base}/{{collection}}/{{key}}/{{user_id}}"
    app.router.add_get(one, api_get)
    app.router.add_put(one, api_put)
    app.router.add_delete(one, api_delete)
    app.router.add_delete(one + "/{version}", api_delete)
    app.router.add_get("/storage", storage_page)
    app.router.add_get("/storage/{collection}/{key}/{user_id}", object_page)
