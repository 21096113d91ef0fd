"""nk: notifications (kizuna/core/notifications.py; sent through `domain.notifier`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import notifications
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Notification
from kizuna.wire import codec, encode, fields, paging


def _sender(value: str) -> str:
    """A sender id: "" (the server), or a user id."""
    return args.user_id(value) if value else ""


class NotificationsNk(Area):

    @api
    async def notification_send(self, user_id: str, subject: str,
                                content: Mapping[str, Any] | str, code: int,
                                sender_id: str | None = None, persistent: bool = False) -> None:
        """Notify a user: pushed at once if online, stored (listed later) when persistent.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts) (`subject`, `sender_id`)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (`sender_id` is not
              "" and not a UUID)
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 5 NOT_FOUND `User account not found.` (persistent, to a user that does not exist)

        Example:
            nk.notification_send(ctx.user_id, "Daily reward", {"coins": 100}, 101, persistent=True)
        """
        await self.notifications_send([{"user_id": user_id, "subject": subject, "content": content,
                                        "code": code, "sender_id": sender_id,
                                        "persistent": persistent}])

    @api
    async def notifications_send(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Several notifications {"user_id", "subject", "content", "code", "sender_id",
        "persistent"} at once.

        Errors:
            - 3 INVALID_ARGUMENT `notifications: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (a `user_id` is not a
              UUID)
            - 3 INVALID_ARGUMENT `<field>: expected a string` / `<field>: must not contain the NUL
              character (U+0000)` (a field of the dicts) (`subject`, `sender_id`)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (`sender_id` is not
              "" and not a UUID)
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 5 NOT_FOUND `User account not found.` (a persistent one to a user that does not exist)

        Example:
            nk.notifications_send([{"user_id": user_id, "subject": "Season over", "content": {},
                                    "code": 102, "persistent": True} for user_id in winners])
        """
        batch = [notifications.NewNotification(
                     user_id=args.user_id(n.get("user_id")), subject=fields.text(n, "subject"),
                     content=codec.document_text(n.get("content") or {}, "content"),
                     code=args.notification_code(n.get("code")),
                     sender_id=_sender(fields.text(n, "sender_id")),
                     persistent=bool(n.get("persistent")))
                 for n in args.items(items, "notifications")]
        await self._domain.notifier.send(batch)

    @api
    async def notification_send_all(self, subject: str, content: Mapping[str, Any] | str,
                                    code: int, persistent: bool = False) -> None:
        """Notify every user: stored for all when persistent, pushed to those online.

        Errors:
            - 3 INVALID_ARGUMENT `Notification code must be a positive integer (codes of 0 and below
              are reserved for the server).`
            - 3 INVALID_ARGUMENT `Notification code out of range.` (above 32767)
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`

        Example:
            nk.notification_send_all("Maintenance at 10:00 UTC", {"minutes": 30}, 103)
        """
        await self._domain.notifier.send_all(subject, codec.document_text(content, "content"),
                                             args.notification_code(code), persistent)

    @api
    async def notifications_list(self, user_id: str, limit: int = 100,
                                 cursor: str | None = None) -> tuple[list[Notification], str]:
        """A page of a user's stored notifications, oldest first, and the cursor to continue.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Malformed cursor was used.`

        Example:
            items, cursor = nk.notifications_list(ctx.user_id, limit=20)
        """
        uid = args.user_id(user_id)
        page = await notifications.list_notifications(
            self._domain.pool, uid, paging.limit(limit, default=100), cursor or None)
        return ([cast(Notification, encode.notification(n, full=True))
                 for n in page.notifications], page.cacheable_cursor)

    @api
    async def notifications_delete(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Delete notifications given as {"user_id", "notification_id"}.

        Errors:
            - 3 INVALID_ARGUMENT `notifications: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (a `user_id` is not a
              UUID)
            - 3 INVALID_ARGUMENT `notification_id: expected a string` (ids that are not UUIDs match
              nothing)

        Example:
            nk.notifications_delete([{"user_id": ctx.user_id, "notification_id": notification_id}])
        """
        by_user: dict[str, list[str]] = {}
        for n in args.items(items, "notifications"):
            by_user.setdefault(args.user_id(n.get("user_id")), []).append(
                fields.text(n, "notification_id"))
        for uid, ids in by_user.items():
            await notifications.delete_notifications(self._domain.pool, uid, ids)

    @api
    async def notifications_get_id(self, user_id: str | None,
                                   ids: Sequence[str]) -> list[Notification]:
        """Stored notifications by id, oldest first (ids that match nothing are left out); with a
        `user_id`, only that user's.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (when given)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            found = nk.notifications_get_id(ctx.user_id, [notification_id])
        """
        uid = args.user_id(user_id) if user_id else None
        found = await notifications.get_notifications(self._domain.pool, uid,
                                                      args.strings(ids, "ids"))
        return [cast(Notification, encode.notification(n, full=True)) for n in found]

    @api
    async def notifications_update(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Change stored notifications, given as {"id", "subject", "content", "sender"}: a field
        left out (or None) stays as it is; "sender" (or "sender_id") "" makes it the system's.
        In one transaction; ids that match nothing are skipped; nothing is pushed again.

        Errors:
            - 3 INVALID_ARGUMENT `updates: expected a list of dicts.`
            - 3 INVALID_ARGUMENT `sender: expected a user ID string.`
            - 3 INVALID_ARGUMENT `subject: expected a string.`
            - 3 INVALID_ARGUMENT `content: expected a dict or JSON text.`
            - 3 INVALID_ARGUMENT `Notification ID must be a UUID.`
            - 3 INVALID_ARGUMENT `Notification content and subject must not contain NUL characters.`
            - 3 INVALID_ARGUMENT `Notification subject must be 1-255 characters.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Notification content must be a JSON object.`
            - 3 INVALID_ARGUMENT `Notification sender must be a user ID.`

        Example:
            nk.notifications_update([{"id": notification_id, "subject": "Reward claimed"}])
        """
        batch = []
        for u in args.items(updates, "updates"):
            sender = u.get("sender", u.get("sender_id"))
            if sender is not None and not isinstance(sender, str):
                raise Error("sender: expected a user ID string.", Code.INVALID_ARGUMENT)
            subject = u.get("subject")
            if subject is not None and not isinstance(subject, str):
                raise Error("subject: expected a string.", Code.INVALID_ARGUMENT)
            content = u.get("content")
            if content is not None and not isinstance(content, (Mapping, str)):
                raise Error("content: expected a dict or JSON text.", Code.INVALID_ARGUMENT)
            batch.append(notifications.NotificationUpdate(
                id=u.get("id"), subject=subject,  # type: ignore[arg-type]  # checked in core
                content=None if content is None else codec.document_text(content, "content"),
                sender_id=sender))
        await notifications.update_notifications(self._domain.pool, batch)
