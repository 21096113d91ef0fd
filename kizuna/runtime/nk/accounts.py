"""nk: accounts (kizuna/core/accounts.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import accounts, notifications, storage
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Account, AccountExport, Notification, StorageObject
from kizuna.wire import codec, encode

EXPORT_PAGE = 100  # notifications read per query by account_export_id


class AccountsNk(Area):

    @api
    async def account_get_id(self, user_id: str) -> Account:
        """A user's account, as GET /v2/account shows it plus `disable_time`.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 5 NOT_FOUND `Account not found.`

        Example:
            account = nk.account_get_id(ctx.user_id)
            coins = account["wallet"].get("coins", 0)
        """
        account = await accounts.get_account(self._domain, args.user_id(user_id))
        return cast(Account, encode.account(account, full=True))

    @api
    async def accounts_get_id(self, user_ids: Sequence[str]) -> list[Account]:
        """The accounts of the users that exist, in the order asked.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (an id is not a UUID)

        Example:
            accounts = nk.accounts_get_id([ctx.user_id, friend_id])
        """
        out = []
        for uid in args.strings(user_ids, "user_ids"):
            try:
                out.append(await self.account_get_id(uid))
            except Error as exc:
                if exc.code != Code.NOT_FOUND:
                    raise
        return out

    @api
    async def account_update_id(self, user_id: str, *, username: str | None = None,
                                display_name: str | None = None, avatar_url: str | None = None,
                                lang_tag: str | None = None, location: str | None = None,
                                timezone: str | None = None,
                                metadata: Mapping[str, Any] | str | None = None) -> None:
        """Update profile fields (None leaves a field as it is; "" clears it) and metadata.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain NUL
              characters.`
            - 3 INVALID_ARGUMENT `Username invalid, no spaces or control characters allowed.`
            - 3 INVALID_ARGUMENT `Username invalid, must be 1-128 bytes.`
            - 3 INVALID_ARGUMENT `<Field> invalid, must be 0-<n> characters.` (`Display name` 255,
              `Avatar url` 512, `Lang tag` 18, `Location` 255, `Timezone` 255)
            - 3 INVALID_ARGUMENT `No fields to update.` (every argument None)
            - 3 INVALID_ARGUMENT `Username is already in use.`

        Example:
            nk.account_update_id(ctx.user_id, display_name="Hero", metadata={"level": 3})
        """
        await accounts.update_account(
            self._domain.pool, args.user_id(user_id),
            {"username": username, "display_name": display_name, "avatar_url": avatar_url,
             "lang_tag": lang_tag, "location": location, "timezone": timezone},
            metadata=None if metadata is None else codec.document_text(metadata, "metadata"))

    @api
    async def account_delete_id(self, user_id: str, recorded: bool = False) -> None:
        """Delete an account (its sessions are revoked and its sockets closed first).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Cannot delete the system user.`

        Example:
            nk.account_delete_id(user_id)
        """
        await accounts.delete_account(self._domain, args.user_id(user_id))

    @api
    async def account_export_id(self, user_id: str) -> AccountExport:
        """Everything held about a user: the account, its storage objects, its notifications.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 5 NOT_FOUND `Account not found.`

        Example:
            export = nk.account_export_id(ctx.user_id)
            logger.info("%d objects", len(export["objects"]))
        """
        pool = self._domain.pool
        uid = args.user_id(user_id)
        account = await self.account_get_id(uid)
        objects = [cast(StorageObject, encode.storage_object(o, full=True))
                   for o in await storage.list_user_objects(pool, uid)]
        items: list[Notification] = []
        cursor = None
        while True:
            page = await notifications.list_notifications(pool, uid, EXPORT_PAGE, cursor)
            items += [cast(Notification, encode.notification(n, full=True))
                      for n in page.notifications]
            if len(page.notifications) < EXPORT_PAGE:
                break
            cursor = page.cacheable_cursor
        return {"account": account, "objects": objects, "notifications": items}
