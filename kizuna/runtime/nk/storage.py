"""nk: storage (kizuna/core/storage.py). Server calls act with authority: permissions are not
enforced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import storage
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import StorageAck, StorageObject
from kizuna.wire import codec, encode, fields, paging


class StorageNk(Area):

    @api
    async def storage_read(self, object_ids: Sequence[Mapping[str, Any]]) -> list[StorageObject]:
        """Objects by {"collection", "key", "user_id"} (user_id "" or None: the system user's);
        missing ones are left out. Permissions are not enforced."""
        ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                                args.owner(o.get("user_id")))
               for o in args.items(object_ids, "object_ids")]
        found = await storage.read_objects(self._domain.pool, None, ids)
        return [cast(StorageObject, encode.storage_object(o, full=True)) for o in found]

    @api
    async def storage_write(self, objects: Sequence[Mapping[str, Any]]) -> list[StorageAck]:
        """Write objects {"collection", "key", "user_id", "value", "version", "permission_read",
        "permission_write"} in one transaction; `value` is a dict (or JSON text); `version` ""
        overwrites, "*" only creates, anything else must match. Acks come in request order."""
        ops = []
        for o in args.items(objects, "objects"):
            value = o.get("value")
            ops.append(storage.WriteOp(
                collection=fields.text(o, "collection"), key=fields.text(o, "key"),
                value="" if value is None else codec.document_text(value, "value"),
                user_id=args.owner(o.get("user_id")) or storage.SYSTEM_USER_ID,
                version=fields.text(o, "version"),
                permission_read=fields.optional_integer(o, "permission_read", bits=32),
                permission_write=fields.optional_integer(o, "permission_write", bits=32)))
        acks = await storage.write_objects(self._domain.pool, ops, authoritative=True)
        return [cast(StorageAck, encode.storage_ack(a, full=True)) for a in acks]

    @api
    async def storage_list(self, user_id: str | None, collection: str, limit: int = 100,
                           cursor: str | None = None) -> tuple[list[StorageObject], str | None]:
        """One page of a collection (one user's objects, or every owner's with user_id None) and
        the cursor of the next page (None at the end)."""
        page = await storage.list_objects(
            self._domain.pool, None, collection, user_id or None,
            paging.limit(limit, default=100), cursor or None)
        return ([cast(StorageObject, encode.storage_object(o, full=True)) for o in page.objects],
                page.cursor)

    @api
    async def storage_delete(self, object_ids: Sequence[Mapping[str, Any]]) -> None:
        """Delete objects {"collection", "key", "user_id", "version"}; with a version, it must
        match. One transaction."""
        ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                                args.owner(o.get("user_id")), fields.text(o, "version"))
               for o in args.items(object_ids, "object_ids")]
        await storage.delete_objects(self._domain.pool, None, ids)
