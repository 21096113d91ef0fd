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
        """A user's account, as GET /v2/account shows it plus `disable_time`."""
        account = await accounts.get_account(self._domain, args.user_id(user_id))
        return cast(Account, encode.account(account, full=True))

    @api
    async def accounts_get_id(self, user_ids: Sequence[str]) -> list[Account]:
        """The accounts of the users that exist, in the order asked."""
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
        """Update profile fields (None leaves a field as it is; "" clears it) and metadata."""
        await accounts.update_account(
            self._domain.pool, args.user_id(user_id),
            {"username": username, "display_name": display_name, "avatar_url": avatar_url,
             "lang_tag": lang_tag, "location": location, "timezone": timezone},
            metadata=None if metadata is None else codec.document_text(metadata, "metadata"))

    @api
    async def account_delete_id(self, user_id: str, recorded: bool = False) -> None:
        """Delete an account (its sessions are revoked and its sockets closed first)."""
        await accounts.delete_account(self._domain, args.user_id(user_id))

    @api
    async def account_export_id(self, user_id: str) -> AccountExport:
        """Everything held about a user: the account, its storage objects, its notifications."""
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
