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
        missing ones are left out. Permissions are not enforced.

        Errors:
            - 3 INVALID_ARGUMENT `object_ids: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.`
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 13 INTERNAL `Error reading storage objects.` (the database failed)

        Example:
            objects = nk.storage_read([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id}])
            save = objects[0]["value"] if objects else {}
        """
        ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                                args.owner(o.get("user_id")))
               for o in args.items(object_ids, "object_ids")]
        found = await storage.read_objects(self._domain.pool, None, ids)
        return [cast(StorageObject, encode.storage_object(o, full=True)) for o in found]

    @api
    async def storage_write(self, objects: Sequence[Mapping[str, Any]]) -> list[StorageAck]:
        """Write objects {"collection", "key", "user_id", "value", "version", "permission_read",
        "permission_write"} in one transaction; `value` is a dict (or JSON text); `version` ""
        overwrites, "*" only creates, anything else must match. Acks come in request order.

        Errors:
            - 3 INVALID_ARGUMENT `objects: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `permission_read: expected an integer` / `permission_read: out of
              range for int32` (and permission_write)
            - 3 INVALID_ARGUMENT `value must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.` (also
              when `value` is missing or empty)
            - 3 INVALID_ARGUMENT `Invalid collection value supplied. It must be at most 128
              characters.` (and `key`)
            - 3 INVALID_ARGUMENT `Invalid Read permission supplied. It must be either 0, 1 or 2.`
            - 3 INVALID_ARGUMENT `Invalid Write permission supplied. It must be either 0 or 1.`
            - 3 INVALID_ARGUMENT `Value must be a JSON object.` / `Value must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Storage write rejected - version check failed.` (`version` "*" and
              the object exists, or a version that does not match)
            - 5 NOT_FOUND `User account not found.` (the owner does not exist)
            - 13 INTERNAL `Error writing storage objects.` (the database failed)

        Example:
            acks = nk.storage_write([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id,
                                      "value": {"level": 3}, "permission_read": 1}])
            version = acks[0]["version"]
        """
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
        the cursor of the next page (None at the end).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`
            - 13 INTERNAL `Error listing storage objects.` (the database failed)

        Example:
            objects, cursor = nk.storage_list(ctx.user_id, "saves", limit=10)
        """
        page = await storage.list_objects(
            self._domain.pool, None, collection, user_id or None,
            paging.limit(limit, default=100), cursor or None)
        return ([cast(StorageObject, encode.storage_object(o, full=True)) for o in page.objects],
                page.cursor)

    @api
    async def storage_delete(self, object_ids: Sequence[Mapping[str, Any]]) -> None:
        """Delete objects {"collection", "key", "user_id", "version"}; with a version, it must
        match. One transaction.

        Errors:
            - 3 INVALID_ARGUMENT `object_ids: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts)
            - 3 INVALID_ARGUMENT `user_id: expected a string.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid collection or key value supplied. They must be set.`
            - 3 INVALID_ARGUMENT `Invalid user ID - make sure user ID is a valid UUID.`
            - 3 INVALID_ARGUMENT `Storage delete rejected - not found, version check failed, or
              permission denied.` (a `version` was given and the object is missing or has another one)
            - 13 INTERNAL `Error deleting storage objects.` (the database failed)

        Example:
            nk.storage_delete([{"collection": "saves", "key": "slot1", "user_id": ctx.user_id}])
        """
        ids = [storage.ObjectId(fields.text(o, "collection"), fields.text(o, "key"),
                                args.owner(o.get("user_id")), fields.text(o, "version"))
               for o in args.items(object_ids, "object_ids")]
        await storage.delete_objects(self._domain.pool, None, ids)
