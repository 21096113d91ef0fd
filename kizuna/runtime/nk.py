"""The `nk` API: what server modules call to act on the server.

Every call goes to the same kizuna/core functions the REST API and the socket use, so a rule
(validation, permissions, messages) lives in one place; server calls simply act with authority
(storage permissions are not enforced, any channel's history can be read, ...).

Two styles, one implementation:

- `nk.storage_read(...)` blocks until done and returns the result. For plain `def` functions,
  which run in worker threads: the call hops to the event loop and the thread waits.
- `await nk.aio.storage_read(...)` is the coroutine. For `async def` functions, which run on the
  event loop.

Calling a blocking `nk.x()` from the event loop (inside an `async def`) would freeze the server, so
it raises at once with a message that says to use `await nk.aio.x()`. Calls that never wait
(`nk.json_encode`, `nk.uuid_v4`, `nk.event`, `nk.channel_id_build`) exist on `nk` only and work
in both styles.

Shapes: results are plain dicts with Nakama's field names (TypedDicts in kizuna/runtime/types.py),
every field present, timestamps as RFC 3339 strings and JSON documents (storage values, metadata,
wallets, notification and message content) decoded. Inputs accept those documents as dicts or as
JSON text. Failures raise `kizuna.runtime.Error` with a gRPC code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import time
import uuid
from datetime import datetime, timezone
from typing import (TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Coroutine, Generic,
                    Mapping, ParamSpec, Sequence, TypeVar, overload)

import asyncpg
import orjson

from kizuna.core import accounts, chat, notifications, storage
from kizuna.core.errors import Code, KizunaError
from kizuna.core.streams import GROUP, NIL_UUID, Stream
from kizuna.runtime.errors import Error, NkUnavailable, from_kizuna
from kizuna.runtime.invoke import current_deadline
from kizuna.runtime.shapes import (Account, AuthResult, ChannelMessage, Notification,
                                  StorageAck, StorageObject, TokenResult, User)

if TYPE_CHECKING:
    from kizuna.runtime.service import Runtime

P = ParamSpec("P")
T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _api(fn: Callable[Concatenate["AsyncNk", P], Awaitable[T]]
         ) -> Callable[Concatenate["AsyncNk", P], Coroutine[Any, Any, T]]:
    """An nk call: needs a running server; domain errors become `Error`."""
    name = fn.__name__

    @functools.wraps(fn)
    async def call(self: "AsyncNk", *args: P.args, **kwargs: P.kwargs) -> T:
        if self._rt is None:
            raise NkUnavailable(name)
        try:
            return await fn(self, *args, **kwargs)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        except asyncpg.ForeignKeyViolationError:
            raise Error("User account not found.", Code.NOT_FOUND) from None
    return call


# -- value helpers ---------------------------------------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _doc(text: str | None) -> Any:
    return orjson.loads(text) if text else {}


def _text_doc(value: Any, what: str) -> str:
    """A JSON document given as a dict (encoded) or as JSON text (kept as is)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        raise Error(f"{what} must be JSON-encodable.", Code.INVALID_ARGUMENT) from None


def _str(item: Mapping[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Error(f"{name}: expected a string, got {type(value).__name__}.", Code.INVALID_ARGUMENT)
    return value


def _items(value: Any, what: str) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, Mapping) for i in value):
        raise Error(f"{what}: expected a list of dicts.", Code.INVALID_ARGUMENT)
    return list(value)


def _strings(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, str) for i in value):
        raise Error(f"{what}: expected a list of strings.", Code.INVALID_ARGUMENT)
    return list(value)


def _owner(value: Any) -> str:
    """A storage owner: a user id, or "" / None / the nil UUID for the system user."""
    if value is None or value == "" or value == NIL_UUID:
        return ""
    if not isinstance(value, str):
        raise Error("user_id: expected a string.", Code.INVALID_ARGUMENT)
    return value


def _user(row: Mapping[str, Any], online: bool = False) -> User:
    return {
        "id": row["id"], "username": row["username"] or "",
        "display_name": row["display_name"] or "", "avatar_url": row["avatar_url"] or "",
        "lang_tag": row["lang_tag"] or "", "location": row["location"] or "",
        "timezone": row["timezone"] or "", "metadata": _doc(row["metadata"]),
        "facebook_id": row["facebook_id"] or "", "google_id": row["google_id"] or "",
        "gamecenter_id": row["gamecenter_id"] or "", "steam_id": row["steam_id"] or "",
        "facebook_instant_game_id": row["facebook_instant_game_id"] or "",
        "apple_id": row["apple_id"] or "", "edge_count": row["edge_count"] or 0,
        "online": online, "create_time": _ts(row["create_time"]) or "",
        "update_time": _ts(row["update_time"]) or "",
    }


def _since_epoch(value: datetime | None) -> str | None:
    return _ts(value) if value is not None and value > _EPOCH else None


def _object(row: Mapping[str, Any]) -> StorageObject:
    return {
        "collection": row["collection"], "key": row["key"],
        "user_id": row["user_id"], "value": _doc(row["value"]), "version": row["version"],
        "permission_read": row["read"], "permission_write": row["write"],
        "create_time": _ts(row["create_time"]) or "", "update_time": _ts(row["update_time"]) or "",
    }


def _notification(n: notifications.Notification) -> Notification:
    return {"id": n.id, "user_id": n.user_id, "subject": n.subject, "content": _doc(n.content),
            "code": n.code, "sender_id": n.sender_id, "create_time": _ts(n.create_time) or "",
            "persistent": n.persistent}


def _message(channel_id: str, stream: Stream, m: chat.Message) -> ChannelMessage:
    return {"channel_id": channel_id, "message_id": m.id, "code": m.code,  # type: ignore[typeddict-item]
            "sender_id": m.sender_id, "username": m.username, "content": _doc(m.content),
            "create_time": _ts(m.create_time) or "", "update_time": _ts(m.update_time) or "",
            "persistent": m.persistent, **chat.channel_names(stream)}


def _channel(channel_id: Any) -> Stream:
    stream = chat.parse_channel_id(channel_id)
    if stream is None:
        raise Error("Invalid channel ID.", Code.INVALID_ARGUMENT)
    return stream


# -- the coroutine API -----------------------------------------------------------------------------


class AsyncNk:
    """`nk.aio`: every nk call that waits for something, as a coroutine (for `async def`)."""

    def __init__(self, runtime: "Runtime | None") -> None:
        self._rt = runtime

    @property
    def _services(self) -> Any:
        return self._rt.services  # type: ignore[union-attr]

    # -- accounts --------------------------------------------------------------------------------

    @_api
    async def account_get_id(self, user_id: str) -> Account:
        """A user's account, as GET /v2/account shows it plus `disable_time`."""
        row = await accounts.get_account(self._services.pool, _uuid(user_id))
        rt = self._services.realtime
        return {
            "user": _user(row, rt is not None and rt.is_online(row["id"])),
            "wallet": _doc(row["wallet"]), "email": row["email"] or "",
            "devices": [{"id": d} for d in row["devices"]], "custom_id": row["custom_id"] or "",
            "verify_time": _since_epoch(row["verify_time"]),
            "disable_time": _since_epoch(row["disable_time"]),
        }

    @_api
    async def accounts_get_id(self, user_ids: Sequence[str]) -> list[Account]:
        out = []
        for uid in _strings(user_ids, "user_ids"):
            try:
                out.append(await self.account_get_id(uid))
            except Error as exc:
                if exc.code != Code.NOT_FOUND:
                    raise
        return out

    @_api
    async def account_update_id(self, user_id: str, *, username: str | None = None,
                                display_name: str | None = None, avatar_url: str | None = None,
                                lang_tag: str | None = None, location: str | None = None,
                                timezone: str | None = None,
                                metadata: Mapping[str, Any] | str | None = None) -> None:
        """Update profile fields (None leaves a field as it is; "" clears it) and metadata."""
        await accounts.update_account(
            self._services.pool, _uuid(user_id),
            {"username": username, "display_name": display_name, "avatar_url": avatar_url,
             "lang_tag": lang_tag, "location": location, "timezone": timezone},
            metadata=None if metadata is None else _text_doc(metadata, "metadata"))

    @_api
    async def account_delete_id(self, user_id: str, recorded: bool = False) -> None:
        """Delete an account (its sessions are revoked and its sockets closed first)."""
        s = self._services
        uid = _uuid(user_id)
        await s.sessions.revoke_user(uid)
        if s.realtime is not None:
            s.realtime.disconnect_user(uid, "account deleted")
        await accounts.delete_account(s.pool, uid)

    @_api
    async def account_export_id(self, user_id: str) -> dict[str, Any]:
        """Everything held about a user: the account, its storage objects, its notifications."""
        s = self._services
        uid = _uuid(user_id)
        account = await self.account_get_id(uid)
        objects = [_object(r) for r in await storage.list_user_objects(s.pool, uid)]
        items: list[Notification] = []
        cursor = None
        while True:
            page, cursor = await notifications.list_notifications(s.pool, uid, 100, cursor)
            items += [_notification(n) for n in page]
            if len(page) < 100:
                break
        return {"account": account, "objects": objects, "notifications": items}

    # -- users -----------------------------------------------------------------------------------

    @_api
    async def users_get_id(self, user_ids: Sequence[str],
                           facebook_ids: Sequence[str] | None = None) -> list[User]:
        rows = await accounts.get_users(self._services.pool, _strings(user_ids, "user_ids"), [],
                                        _strings(facebook_ids or [], "facebook_ids"))
        return [self._user(r) for r in rows]

    @_api
    async def users_get_username(self, usernames: Sequence[str]) -> list[User]:
        rows = await accounts.get_users(self._services.pool, [], _strings(usernames, "usernames"))
        return [self._user(r) for r in rows]

    def _user(self, row: Mapping[str, Any]) -> User:
        rt = self._services.realtime
        return _user(row, rt is not None and rt.is_online(row["id"]))

    @_api
    async def users_ban_id(self, user_ids: Sequence[str]) -> None:
        """Disable accounts: no more logins or refreshes, every session revoked (on every node),
        sockets on this node closed."""
        s = self._services
        for uid in await accounts.ban_users(s.pool, _strings(user_ids, "user_ids")):
            await s.sessions.revoke_user(uid)
            if s.realtime is not None:
                s.realtime.disconnect_user(uid, "banned")

    @_api
    async def users_unban_id(self, user_ids: Sequence[str]) -> None:
        await accounts.unban_users(self._services.pool, _strings(user_ids, "user_ids"))

    # -- authentication and links ----------------------------------------------------------------

    @_api
    async def authenticate_device(self, device_id: str, username: str | None = None,
                                  create: bool = True) -> AuthResult:
        r = await accounts.authenticate_device(self._services.pool, device_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @_api
    async def authenticate_email(self, email: str, password: str, username: str | None = None,
                                 create: bool = True) -> AuthResult:
        r = await accounts.authenticate_email(self._services.pool, email, password,
                                              username or None, create)
        return AuthResult(r.user_id, r.username, r.created)

    @_api
    async def authenticate_custom(self, custom_id: str, username: str | None = None,
                                  create: bool = True) -> AuthResult:
        r = await accounts.authenticate_custom(self._services.pool, custom_id, username or None,
                                               create)
        return AuthResult(r.user_id, r.username, r.created)

    @_api
    async def authenticate_token_generate(self, user_id: str, username: str | None = None,
                                          exp: int | None = None,
                                          vars: Mapping[str, str] | None = None) -> TokenResult:
        """A session token for a user (recorded, so it can be revoked like any other). `exp` is
        the expiry in unix seconds (default: now + session.token_expiry_sec)."""
        s = self._services
        uid = _uuid(user_id)
        if not username:
            username = await accounts.check_user_for_refresh(s.pool, uid)
        if vars is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in vars.items()):
            raise Error("vars: expected a dict of strings.", Code.INVALID_ARGUMENT)
        issued = await s.sessions.create(s.pool, uid, username, dict(vars) if vars else None,
                                         expires_at=int(exp) if exp else None)
        return TokenResult(issued.token, issued.expires_at)

    @_api
    async def link_device(self, user_id: str, device_id: str) -> None:
        await accounts.link_device(self._services.pool, _uuid(user_id), device_id)

    @_api
    async def link_custom(self, user_id: str, custom_id: str) -> None:
        await accounts.link_custom(self._services.pool, _uuid(user_id), custom_id)

    @_api
    async def link_email(self, user_id: str, email: str, password: str) -> None:
        await accounts.link_email(self._services.pool, _uuid(user_id), email, password)

    @_api
    async def unlink_device(self, user_id: str, device_id: str) -> None:
        await accounts.unlink_device(self._services.pool, _uuid(user_id), device_id)

    @_api
    async def unlink_custom(self, user_id: str, custom_id: str | None = None) -> None:
        await accounts.unlink_custom(self._services.pool, _uuid(user_id), custom_id)

    @_api
    async def unlink_email(self, user_id: str, email: str | None = None) -> None:
        await accounts.unlink_email(self._services.pool, _uuid(user_id), email)

    # -- sessions --------------------------------------------------------------------------------

    @_api
    async def session_logout(self, user_id: str, token: str | None = None,
                             refresh_token: str | None = None) -> None:
        """End one session (by its token and/or refresh token) or, with neither, all of them."""
        await self._services.sessions.logout(_uuid(user_id), token, refresh_token)

    @_api
    async def session_disconnect(self, session_id: str) -> bool:
        """Close a socket session on this node; False if there is no such session."""
        rt = self._services.realtime
        session = rt.registry.get(session_id) if rt is not None else None
        if session is None:
            return False
        session.close(1000, "server-side session disconnect")
        return True

    # -- storage ---------------------------------------------------------------------------------

    @_api
    async def storage_read(self, object_ids: Sequence[Mapping[str, Any]]) -> list[StorageObject]:
        """Objects by {"collection", "key", "user_id"} (user_id "" or None: the system user's);
        missing ones are left out. Permissions are not enforced."""
        ids = [storage.ObjectId(_str(o, "collection"), _str(o, "key"), _owner(o.get("user_id")))
               for o in _items(object_ids, "object_ids")]
        rows = await storage.read_objects(self._services.pool, None, ids)
        return [_object(r) for r in rows]

    @_api
    async def storage_write(self, objects: Sequence[Mapping[str, Any]]) -> list[StorageAck]:
        """Write objects {"collection", "key", "user_id", "value", "version", "permission_read",
        "permission_write"} in one transaction; `value` is a dict (or JSON text); `version` ""
        overwrites, "*" only creates, anything else must match. Acks come in request order."""
        ops = []
        for o in _items(objects, "objects"):
            value = o.get("value")
            ops.append(storage.WriteOp(
                collection=_str(o, "collection"), key=_str(o, "key"),
                value="" if value is None else _text_doc(value, "value"),
                user_id=_owner(o.get("user_id")) or storage.SYSTEM_USER_ID,
                version=_str(o, "version"),
                permission_read=_permission(o, "permission_read"),
                permission_write=_permission(o, "permission_write")))
        acks = await storage.write_objects(self._services.pool, ops, authoritative=True)
        return [{"collection": a.collection, "key": a.key, "user_id": a.user_id,
                 "version": a.version, "create_time": _ts(a.create_time) or "",
                 "update_time": _ts(a.update_time) or ""} for a in acks]

    @_api
    async def storage_list(self, user_id: str | None, collection: str, limit: int = 100,
                           cursor: str | None = None) -> tuple[list[StorageObject], str | None]:
        """One page of a collection (one user's objects, or every owner's with user_id None) and
        the cursor of the next page (None at the end)."""
        rows, next_cursor = await storage.list_objects(
            self._services.pool, None, collection, user_id or None, limit, cursor or None)
        return [_object(r) for r in rows], next_cursor

    @_api
    async def storage_delete(self, object_ids: Sequence[Mapping[str, Any]]) -> None:
        """Delete objects {"collection", "key", "user_id", "version"}; with a version, it must
        match. One transaction."""
        ids = [storage.ObjectId(_str(o, "collection"), _str(o, "key"), _owner(o.get("user_id")),
                                _str(o, "version"))
               for o in _items(object_ids, "object_ids")]
        await storage.delete_objects(self._services.pool, None, ids)

    # -- notifications ---------------------------------------------------------------------------

    @_api
    async def notification_send(self, user_id: str, subject: str,
                                content: Mapping[str, Any] | str, code: int,
                                sender_id: str | None = None, persistent: bool = False) -> None:
        """Notify a user: pushed at once if online, stored (listed later) when persistent."""
        await self.notifications_send([{"user_id": user_id, "subject": subject, "content": content,
                                        "code": code, "sender_id": sender_id,
                                        "persistent": persistent}])

    @_api
    async def notifications_send(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Several notifications {"user_id", "subject", "content", "code", "sender_id",
        "persistent"} at once."""
        batch = []
        for n in _items(items, "notifications"):
            batch.append(notifications.NewNotification(
                user_id=_uuid(n.get("user_id")), subject=_str(n, "subject"),
                content=n.get("content") or {}, code=_code(n.get("code")),
                sender_id=_str(n, "sender_id"), persistent=bool(n.get("persistent"))))
        await self._services.notifier.send(batch)

    @_api
    async def notification_send_all(self, subject: str, content: Mapping[str, Any] | str,
                                    code: int, persistent: bool = False) -> None:
        """Notify every user: stored for all when persistent, pushed to those online."""
        await self._services.notifier.send_all(subject, content, _code(code), persistent)

    @_api
    async def notifications_list(self, user_id: str, limit: int = 100,
                                 cursor: str | None = None) -> tuple[list[Notification], str]:
        """A page of a user's stored notifications, oldest first, and the cursor to continue."""
        items, next_cursor = await notifications.list_notifications(
            self._services.pool, _uuid(user_id), limit, cursor or None)
        return [_notification(n) for n in items], next_cursor

    @_api
    async def notifications_delete(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Delete notifications given as {"user_id", "notification_id"}."""
        by_user: dict[str, list[str]] = {}
        for n in _items(items, "notifications"):
            by_user.setdefault(_uuid(n.get("user_id")), []).append(_str(n, "notification_id"))
        for uid, ids in by_user.items():
            await notifications.delete_notifications(self._services.pool, uid, ids)

    # -- chat ------------------------------------------------------------------------------------

    @_api
    async def channel_message_send(self, channel_id: str, content: Mapping[str, Any] | str,
                                   sender_id: str | None = None, sender_username: str | None = None,
                                   persist: bool = True) -> ChannelMessage:
        """Send a chat message (from the system user unless a sender is given) to everyone on
        the channel, stored in its history when `persist`. Returns the message sent."""
        s = self._services
        stream = _channel(channel_id)
        text = chat.check_content(_text_doc(content, "content"))
        sender = _uuid(sender_id) if sender_id else NIL_UUID
        rt = s.realtime
        writer = rt.messages if rt is not None else chat.MessageWriter(s.pool)
        m = await chat.send_message(writer, stream, sender, sender_username or "", text, persist)
        cid = chat.channel_id(stream)
        if rt is not None:
            from kizuna.realtime.handlers.channel import broadcast
            broadcast(rt, cid, stream, m)
        return _message(cid, stream, m)

    @_api
    async def channel_messages_list(self, channel_id: str, limit: int = 100, forward: bool = True,
                                    cursor: str | None = None) -> dict[str, Any]:
        """A page of a channel's history: {"messages", "next_cursor", "prev_cursor",
        "cacheable_cursor"}."""
        stream = _channel(channel_id)
        page = await chat.list_messages(self._services.pool, None, stream, limit, forward,
                                        cursor or None)
        cid = chat.channel_id(stream)
        return {"messages": [_message(cid, stream, m) for m in page.messages],
                "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor,
                "cacheable_cursor": page.cacheable_cursor}


def _uuid(value: Any) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise Error(f"Invalid user ID {value!r}: expected a UUID.", Code.INVALID_ARGUMENT) from None


def _permission(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Error(f"{name}: expected an integer.", Code.INVALID_ARGUMENT)
    return value


def _code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Error("Notification code must be a positive integer (codes of 0 and below are "
                    "reserved for the server).", Code.INVALID_ARGUMENT)
    return value


# -- the blocking API ------------------------------------------------------------------------------


class _Blocking(Generic[P, T]):
    """`nk.x(...)`: the coroutine `nk.aio.x(...)`, run on the event loop while the calling thread
    waits (bounded by the calling function's deadline)."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self._fn = fn
        self._name = fn.__name__
        self.__doc__ = fn.__doc__
        sig = inspect.signature(fn)
        self._sig = sig.replace(parameters=list(sig.parameters.values())[1:],
                                return_annotation=sig.return_annotation)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> "_Blocking[P, T]": ...

    @overload
    def __get__(self, obj: "Nk", owner: type | None = None) -> Callable[P, T]: ...

    def __get__(self, obj: "Nk | None", owner: type | None = None) -> Any:
        if obj is None:
            return self
        fn, name = self._fn, self._name

        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return obj._block(name, fn, args, kwargs)
        call.__name__ = call.__qualname__ = name
        call.__doc__ = self.__doc__
        call.__signature__ = self._sig  # type: ignore[attr-defined]
        return call


class Nk:
    """The `nk` argument of every server function. See the module docstring for the two styles."""

    def __init__(self, runtime: "Runtime | None") -> None:
        self._rt = runtime
        self.aio = AsyncNk(runtime)

    def _block(self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple,
               kwargs: dict) -> Any:
        rt = self._rt
        if rt is None:
            raise NkUnavailable(name)
        loop = rt.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise RuntimeError(
                f"nk.{name}() waits for the server and cannot be called on the event loop (it "
                f"would freeze it): in an `async def` function use `await nk.aio.{name}(...)`")
        deadline = current_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise Error(f"nk.{name}: the function's time is up (runtime.call_timeout_ms).",
                        Code.DEADLINE_EXCEEDED)
        fut = asyncio.run_coroutine_threadsafe(fn(self.aio, *args, **kwargs), loop)
        try:
            return fut.result(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise Error(f"nk.{name}: the function's time is up (runtime.call_timeout_ms).",
                        Code.DEADLINE_EXCEEDED) from None

    # -- blocking versions of every nk.aio call ----------------------------------------------------

    account_get_id = _Blocking(AsyncNk.account_get_id)
    accounts_get_id = _Blocking(AsyncNk.accounts_get_id)
    account_update_id = _Blocking(AsyncNk.account_update_id)
    account_delete_id = _Blocking(AsyncNk.account_delete_id)
    account_export_id = _Blocking(AsyncNk.account_export_id)
    users_get_id = _Blocking(AsyncNk.users_get_id)
    users_get_username = _Blocking(AsyncNk.users_get_username)
    users_ban_id = _Blocking(AsyncNk.users_ban_id)
    users_unban_id = _Blocking(AsyncNk.users_unban_id)
    authenticate_device = _Blocking(AsyncNk.authenticate_device)
    authenticate_email = _Blocking(AsyncNk.authenticate_email)
    authenticate_custom = _Blocking(AsyncNk.authenticate_custom)
    authenticate_token_generate = _Blocking(AsyncNk.authenticate_token_generate)
    link_device = _Blocking(AsyncNk.link_device)
    link_custom = _Blocking(AsyncNk.link_custom)
    link_email = _Blocking(AsyncNk.link_email)
    unlink_device = _Blocking(AsyncNk.unlink_device)
    unlink_custom = _Blocking(AsyncNk.unlink_custom)
    unlink_email = _Blocking(AsyncNk.unlink_email)
    session_logout = _Blocking(AsyncNk.session_logout)
    session_disconnect = _Blocking(AsyncNk.session_disconnect)
    storage_read = _Blocking(AsyncNk.storage_read)
    storage_write = _Blocking(AsyncNk.storage_write)
    storage_list = _Blocking(AsyncNk.storage_list)
    storage_delete = _Blocking(AsyncNk.storage_delete)
    notification_send = _Blocking(AsyncNk.notification_send)
    notifications_send = _Blocking(AsyncNk.notifications_send)
    notification_send_all = _Blocking(AsyncNk.notification_send_all)
    notifications_list = _Blocking(AsyncNk.notifications_list)
    notifications_delete = _Blocking(AsyncNk.notifications_delete)
    channel_message_send = _Blocking(AsyncNk.channel_message_send)
    channel_messages_list = _Blocking(AsyncNk.channel_messages_list)

    # -- calls that never wait (both styles) -------------------------------------------------------

    def event(self, name: str, properties: Mapping[str, str] | None = None,
              timestamp: datetime | str | None = None, external: bool = False) -> None:
        """Queue an event for the module functions registered with `register_event`."""
        if not isinstance(name, str) or not name:
            raise Error("Event name must be a non-empty string.", Code.INVALID_ARGUMENT)
        props = dict(properties or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise Error("Event properties must be a dict of strings.", Code.INVALID_ARGUMENT)
        if isinstance(timestamp, datetime):
            when = _ts(timestamp)
        else:
            when = timestamp or _ts(datetime.now(timezone.utc))
        event = {"name": name, "properties": props, "timestamp": when, "external": bool(external)}
        rt = self._rt
        if rt is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is rt.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            rt.emit_event(event, {})
        else:
            rt.loop.call_soon_threadsafe(rt.emit_event, event, {})

    @staticmethod
    def json_encode(value: Any) -> str:
        try:
            return orjson.dumps(value).decode()
        except TypeError as exc:
            raise Error(f"json_encode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def json_decode(text: str | bytes) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise Error(f"json_decode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def uuid_v4() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def channel_id_build(sender_id: str | None, target: str, type: int) -> str:
        """A channel id: type 1 (room, target = name), 2 (direct message with user `target`),
        3 (group `target`)."""
        try:
            if type == chat.TYPE_ROOM:
                stream = chat.room_stream(target)
            elif type == chat.TYPE_DIRECT_MESSAGE:
                stream = chat.dm_stream(_uuid(sender_id), _uuid(target))
            elif type == chat.TYPE_GROUP:
                stream = Stream(GROUP, _uuid(target))
            else:
                raise Error("Channel type must be 1 (room), 2 (direct) or 3 (group).",
                            Code.INVALID_ARGUMENT)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        return chat.channel_id(stream)
