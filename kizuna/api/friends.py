"""`/v2/friend`: add, list, delete and block friends; friends of friends; imports (501)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.account import _unsupported
from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import friends
from kizuna.wire import encode, fields, paging

_LIMIT = paging.invalid_limit_message(friends.LIST_MAX)
_FOF_LIMIT = paging.invalid_limit_message(friends.FOF_MAX)


def _users(*extra: str):
    """Requests naming users by `ids` and `usernames` (repeated query parameters)."""
    async def parse(request: web.Request) -> dict[str, Any]:
        q = request.query
        req: dict[str, Any] = {"ids": fields.query_all(q, "ids"),
                               "usernames": fields.query_all(q, "usernames")}
        for name in extra:
            req[name] = fields.query(q, name)
        return req
    return parse


def _session_username(call: Call) -> str | None:
    return call.session.username if call.session is not None else None


async def add_friends(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await friends.add_friends(call.domain, call.user_id, _session_username(call),
                              fields.strings(req, "ids"), fields.strings(req, "usernames"),
                              fields.optional_text(req, "metadata"))
    return {}


async def delete_friends(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await friends.delete_friends(call.domain, call.user_id, _session_username(call),
                                 fields.strings(req, "ids"), fields.strings(req, "usernames"))
    return {}


async def block_friends(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await friends.block_friends(call.domain, call.user_id, _session_username(call),
                                fields.strings(req, "ids"), fields.strings(req, "usernames"))
    return {}


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"limit": fields.query_int(q, "limit", _LIMIT),
            "state": fields.query_int(q, "state", friends.INVALID_STATE),
            "cursor": fields.query(q, "cursor") or None}


async def list_friends(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = paging.limit(fields.optional_integer(req, "limit", bits=32), friends.LIST_DEFAULT,
                         friends.LIST_MAX)
    state = friends.check_state(fields.optional_integer(req, "state", bits=32))
    page = await friends.list_friends(call.domain, call.user_id, limit, state,
                                      fields.text(req, "cursor") or None)
    return encode.friend_list(page)


async def parse_list_fof(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"limit": fields.query_int(q, "limit", _FOF_LIMIT),
            "cursor": fields.query(q, "cursor") or None}


async def list_friends_of_friends(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = paging.limit(fields.optional_integer(req, "limit", bits=32), friends.FOF_DEFAULT,
                         friends.FOF_MAX)
    page = await friends.list_friends_of_friends(call.domain, call.user_id, limit,
                                                 fields.text(req, "cursor") or None)
    return encode.friends_of_friends_list(page)


async def _parse_import(request: web.Request) -> dict[str, Any]:
    return {"account": await read_json(request), "reset": fields.query_bool(request.query, "reset")}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/friend", "ListFriends", Auth.SESSION, parse_list, list_friends),
    Endpoint("POST", "/v2/friend", "AddFriends", Auth.SESSION, _users("metadata"), add_friends),
    Endpoint("DELETE", "/v2/friend", "DeleteFriends", Auth.SESSION, _users(), delete_friends),
    Endpoint("POST", "/v2/friend/block", "BlockFriends", Auth.SESSION, _users(), block_friends),
    Endpoint("GET", "/v2/friend/friends", "ListFriendsOfFriends", Auth.SESSION, parse_list_fof,
             list_friends_of_friends),
    Endpoint("POST", "/v2/friend/facebook", "ImportFacebookFriends", Auth.SESSION, _parse_import,
             _unsupported("Facebook")),
    Endpoint("POST", "/v2/friend/steam", "ImportSteamFriends", Auth.SESSION, _parse_import,
             _unsupported("Steam")),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
