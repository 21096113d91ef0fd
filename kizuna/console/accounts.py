"""Accounts: search, view, edit, ban and unban, log out everywhere, delete, export.

API (Nakama's console shapes, Kizuna's additions marked):
- `GET /v2/console/account?filter=&field=&cursor=&limit=` -> `{users, total_count, next_cursor}`
  (+ `total_count_exact`, `field`: the field searched; each user + `disable_time` when banned).
  `field` is one of user_id, username (prefix), email (exact or prefix), device_id, custom_id;
  without it the filter is read as a smart box (core/admin_accounts.search). An empty filter
  lists every account, in id order;
- `GET /v2/console/account/{id}` -> `{account, disable_time}` (Nakama's console Account);
- `PUT` (and Nakama's `POST`) of the same path `{username, display_name, avatar_url, lang_tag,
  location, timezone, metadata, wallet, email, custom_id, password}`: every field optional;
  metadata and wallet are JSON objects (as text, or as objects) -> `{}`;
- `DELETE` of the same path (`?record_deletion=false`: no tombstone; default true) -> `{}`;
- `POST .../ban`, `.../unban`, `.../logout` (Kizuna: every session revoked, sockets closed);
- `GET .../export` -> Nakama's AccountExport (account, objects, friends, groups, messages,
  leaderboard_records, notifications, wallet_ledgers);
- `GET .../friend`, `.../group` (`?state=&limit=&cursor=`), `.../wallet` (the ledger:
  `{items, next_cursor}`), `.../session` (Kizuna: the user's sessions, and its sockets on this
  node).

Pages: `/accounts` (the search), `/accounts/{id}` (every section and the actions, whose forms
call the API above), `/accounts/{id}/export` (the export as a download, for the page's link).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.console.app import API_PREFIX, Console, audit_note, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import admin_accounts as admin
from kizuna.core import admin_storage, friends, groups, wallet
from kizuna.core.domain import Domain
from kizuna.core.users import SYSTEM_USER_ID
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging
from kizuna.wire.codec import since_epoch, timestamp
from kizuna.wire.types import Account

FRIEND_STATES = {0: "friend", 1: "invite sent", 2: "invite received", 3: "blocked"}
GROUP_STATES = {0: "superadmin", 1: "admin", 2: "member", 3: "join request", 4: "banned"}
FIELD_LABELS = {"": "Any (smart)", "user_id": "User ID", "username": "Username (prefix)",
                "email": "Email (exact or prefix)", "device_id": "Device ID",
                "custom_id": "Custom ID"}
SECTION = 20  # rows of each section on the account page


# -- reading requests ----------------------------------------------------------------------------


def _limit(request: web.Request, default: int, maximum: int, name: str = "limit") -> int:
    raw = fields.query_int(request.query, name, paging.invalid_limit_message(maximum))
    return paging.limit(raw, default=default, maximum=maximum)


def _query(request: web.Request, name: str) -> str | None:
    return fields.query(request.query, name) or None


def _state(request: web.Request, states: dict[int, str]) -> int | None:
    raw = fields.query_int(request.query, "state", "Invalid state.")
    if raw is not None and raw not in states:
        raise invalid("Invalid state.")
    return raw


def _id(request: web.Request) -> str:
    return admin.user_id(fields.path(request.match_info, "id"))


def _domain(request: web.Request) -> Domain:
    return console_of(request).services.domain


def _document(body: dict[str, Any], name: str) -> str | None:
    """A JSON object field: as text, or as an object (written compactly)."""
    value = fields.field(body, name)
    if value is None:
        return None
    if type(value) is dict and set(value) == {"value"} and type(value["value"]) is str:
        value = value["value"]  # a StringValue wrapper
    if type(value) is dict:
        return orjson.dumps(value).decode()
    if type(value) is not str:
        raise invalid(f"{name.capitalize()} must be a JSON object.")
    return value


def _edit(body: dict[str, Any]) -> admin.AccountEdit:
    return admin.AccountEdit(
        profile={name: fields.optional_string_value(body, name) for name in admin.PROFILE},
        metadata=_document(body, "metadata"), wallet=_document(body, "wallet"),
        email=fields.optional_string_value(body, "email"),
        custom_id=fields.optional_string_value(body, "custom_id"),
        password=fields.optional_string_value(body, "password"))


# -- JSON ----------------------------------------------------------------------------------------


def account_json(a: Account) -> dict[str, Any]:
    """Nakama's console Account: the api.Account and, when banned, disable_time."""
    return _drop_none({"account": encode.account(a), "disable_time": since_epoch(a.disable_time)})


def _drop_none(doc: dict[str, Any]) -> dict[str, Any]:
    """Fields that are set (False and "" are values here)."""
    return {k: v for k, v in doc.items() if v is not None}


def row_json(r: admin.AccountRow) -> dict[str, Any]:
    out = encode.user(r.user)
    if r.disable_time is not None:
        out["disable_time"] = timestamp(r.disable_time)
    return out


def export_json(e: admin.AccountExport) -> dict[str, Any]:
    account = encode.account(e.account)
    banned_at = since_epoch(e.account.disable_time)
    if banned_at:
        account["disable_time"] = banned_at
    return {
        "account": account,
        "objects": [encode.storage_object(o) for o in e.objects],
        "friends": [encode.friend(f) for f in e.friends],
        "groups": [encode.group(ug.group) for ug in e.groups],
        "messages": [encode.channel_message(m) for m in e.messages],
        "leaderboard_records": [encode.leaderboard_record(r) for r in e.leaderboard_records],
        "notifications": [encode.notification(n) for n in e.notifications],
        "wallet_ledgers": [encode.wallet_ledger_item(i) for i in e.wallet_ledgers],
    }


def _sockets(console: Console, uid: str) -> list[dict[str, Any]]:
    """The user's sockets open on this node, now."""
    return [{"session_id": s.id, "token_id": s.token_id, "format": s.format,
             "client_ip": s.client_ip, "status": bool(s.status)}
            for s in console.services.realtime.registry.for_user(uid)]


async def _sessions(console: Console, uid: str, limit: int,
                    cursor: str | None) -> dict[str, Any]:
    items, nxt = await admin.list_sessions(console.pool, uid, limit, cursor)
    sockets = _sockets(console, uid)
    open_tokens = {s["token_id"] for s in sockets}
    now = dt.datetime.now(dt.UTC)
    return {
        "sessions": [_drop_none({
            "token_id": s.token_id, "create_time": timestamp(s.create_time),
            "expire_time": timestamp(s.expire_time), "revoke_time": timestamp(s.revoke_time),
            "state": s.state(now), "socket_open": s.token_id in open_tokens}) for s in items],
        "next_cursor": nxt or "",
        "online": console.services.realtime.is_online(uid),
        "sockets": sockets,
    }


# -- API -----------------------------------------------------------------------------------------


async def _search(request: web.Request, default: int) -> admin.AccountPage:
    console = console_of(request)
    return await admin.search(console.pool, console.services.realtime.is_online,
                              _query(request, "filter") or "", _query(request, "field"),
                              _limit(request, default, 500), _query(request, "cursor"))


async def api_list(request: web.Request) -> web.StreamResponse:
    page = await _search(request, 100)
    return json_ok({"users": [row_json(r) for r in page.accounts],
                    "total_count": page.total_count, "next_cursor": page.next_cursor or "",
                    "total_count_exact": page.total_exact, "field": page.field})


async def api_get(request: web.Request) -> web.StreamResponse:
    account = await admin.get_account(_domain(request), _id(request))
    return json_ok(account_json(account))


async def api_update(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    body = await read_json(request)
    edit = _edit(body)
    pool = console_of(request).pool
    changed = await admin.edit_account(pool, uid, edit)
    username = await admin.username_of(pool, uid)
    audit_note(request, f"edited user {username} ({', '.join(changed) or 'nothing changed'})",
               user_id=uid, fields=changed)
    return json_ok({})


async def api_delete(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    record = fields.query_bool(request.query, "record_deletion")
    domain = _domain(request)
    username = await admin.username_of(domain.pool, uid)
    await admin.delete(domain, uid, record_deletion=record is not False)
    audit_note(request, f"deleted user {username}", user_id=uid,
               record_deletion=record is not False)
    return json_ok({})


async def api_ban(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    domain = _domain(request)
    username = await admin.username_of(domain.pool, uid)
    await admin.ban(domain, uid)
    audit_note(request, f"banned user {username}", user_id=uid)
    return json_ok({})


async def api_unban(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    domain = _domain(request)
    username = await admin.username_of(domain.pool, uid)
    await admin.unban(domain, uid)
    audit_note(request, f"unbanned user {username}", user_id=uid)
    return json_ok({})


async def api_logout(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    domain = _domain(request)
    username = await admin.username_of(domain.pool, uid)
    await admin.logout_everywhere(domain, uid)
    audit_note(request, f"logged out user {username} everywhere", user_id=uid)
    return json_ok({})


async def api_export(request: web.Request) -> web.StreamResponse:
    export = await admin.export(_domain(request), _id(request))
    return json_ok(export_json(export))


async def api_friends(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    domain = _domain(request)
    await admin.username_of(domain.pool, uid)
    page = await friends.list_friends(domain, uid, _limit(request, 100, 1000),
                                      _state(request, FRIEND_STATES), _query(request, "cursor"))
    return json_ok(encode.friend_list(page))


async def api_groups(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    pool = console_of(request).pool
    await admin.username_of(pool, uid)
    page = await groups.list_user_groups(pool, uid, _limit(request, 100, 1000),
                                         _state(request, GROUP_STATES), _query(request, "cursor"))
    return json_ok(encode.user_group_list(page))


async def api_wallet(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    pool = console_of(request).pool
    await admin.username_of(pool, uid)
    page = await wallet.wallet_ledger_list(pool, uid, _limit(request, 100, wallet.LEDGER_MAX),
                                           _query(request, "cursor"))
    return json_ok({"items": [encode.wallet_ledger_item(i) for i in page.items],
                    "next_cursor": page.cursor or ""})


async def api_sessions(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    console = console_of(request)
    await admin.username_of(console.pool, uid)
    return json_ok(await _sessions(console, uid, _limit(request, 100, 1000),
                                   _query(request, "cursor")))


# -- pages ---------------------------------------------------------------------------------------


def _qs(**params: str | None) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def _pretty(text: str | None) -> str:
    try:
        return orjson.dumps(orjson.loads(text or "{}"), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text or ""


async def accounts_page(request: web.Request) -> web.StreamResponse:
    page = await _search(request, 50)
    query, field = _query(request, "filter") or "", _query(request, "field") or ""
    nxt = _qs(filter=query, field=field, cursor=page.next_cursor) if page.next_cursor else ""
    return render(request, "accounts.html", rows=page.accounts, query=query, field=field,
                  fields=FIELD_LABELS, searched=page.field, total_count=page.total_count,
                  total_exact=page.total_exact, next_href=nxt,
                  first_href=_qs(filter=query, field=field) if request.query.get("cursor")
                  else "")


async def account_page(request: web.Request) -> web.StreamResponse:
    uid = _id(request)
    console = console_of(request)
    domain, pool = console.services.domain, console.pool
    account = await admin.get_account(domain, uid)
    objects = await admin_storage.list_objects(pool, None, uid, None, SECTION, None)
    friend_page = await friends.list_friends(domain, uid, SECTION, None,
                                             _query(request, "friends_cursor"))
    group_page = await groups.list_user_groups(pool, uid, SECTION, None,
                                               _query(request, "groups_cursor"))
    banned_from = await groups.list_user_groups(pool, uid, SECTION, groups.BANNED, None)
    ledger = await wallet.wallet_ledger_list(pool, uid, SECTION, _query(request, "ledger_cursor"))
    sessions = await _sessions(console, uid, SECTION, _query(request, "sessions_cursor"))
    try:
        balances = orjson.loads(account.wallet or "{}")
    except orjson.JSONDecodeError:
        balances = {}
    api_path = f"{API_PREFIX}/account/{uid}"
    return render(
        request, "account.html", a=account, u=account.user, api_path=api_path,
        system=uid == SYSTEM_USER_ID, banned=admin.banned(account.disable_time),
        metadata=_pretty(account.user.metadata), wallet=_pretty(account.wallet),
        balances=sorted(balances.items()) if isinstance(balances, dict) else [],
        objects=objects, storage_href="/storage" + _qs(user_id=uid),
        friends=friend_page.friends, friend_states=FRIEND_STATES,
        friends_next=_qs(friends_cursor=friend_page.cursor) if friend_page.cursor else "",
        groups=group_page.user_groups, group_states=GROUP_STATES,
        groups_next=_qs(groups_cursor=group_page.cursor) if group_page.cursor else "",
        banned_from=banned_from.user_groups,
        ledger=ledger.items,
        ledger_next=_qs(ledger_cursor=ledger.cursor) if ledger.cursor else "",
        sessions=sessions["sessions"], sockets=sessions["sockets"], online=sessions["online"],
        sessions_next=_qs(sessions_cursor=sessions["next_cursor"])
        if sessions["next_cursor"] else "",
        linked=[(label, getattr(account.user, name)) for name, label in (
            ("facebook_id", "Facebook"), ("facebook_instant_game_id", "Facebook Instant"),
            ("google_id", "Google"), ("gamecenter_id", "Game Center"), ("steam_id", "Steam"),
            ("apple_id", "Apple")) if getattr(account.user, name)])


async def export_download(request: web.Request) -> web.StreamResponse:
    export = await admin.export(_domain(request), _id(request))
    body = orjson.dumps(export_json(export), option=orjson.OPT_INDENT_2)
    return web.Response(body=body, content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="account-{export.account.user.id}.json"',
        "Cache-Control": "no-store"})


def register(app: web.Application) -> None:
    base = f"{API_PREFIX}/account"
    one = base + "/{id}"
    app.router.add_get(base, api_list)
    app.router.add_get(one, api_get)
    app.router.add_put(one, api_update)
    app.router.add_post(one, api_update)  # Nakama's console binds UpdateAccount to POST
    app.router.add_delete(one, api_delete)
    app.router.add_post(one + "/ban", api_ban)
    app.router.add_post(one + "/unban", api_unban)
    app.router.add_post(one + "/logout", api_logout)
    app.router.add_get(one + "/export", api_export)
    app.router.add_get(one + "/friend", api_friends)
    app.router.add_get(one + "/group", api_groups)
    app.router.add_get(one + "/wallet", api_wallet)
    app.router.add_get(one + "/session", api_sessions)
    app.router.add_get("/accounts", accounts_page)
    app.router.add_get("/accounts/{id}", account_page)
    app.router.add_get("/accounts/{id}/export", export_download)
