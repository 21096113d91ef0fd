"""`/v2/group` and `/v2/user/{user_id}/group`: groups, membership and their listings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import groups
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging

INVALID_STATE = "Invalid state - state must be between 0 and 4."


def _state(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= groups.BANNED:
        raise invalid(INVALID_STATE)
    return value


# -- groups --------------------------------------------------------------------------------------

_CREATE_FIELDS = ("name", "description", "lang_tag", "avatar_url", "open", "max_count")
_UPDATE_FIELDS = ("name", "description", "lang_tag", "avatar_url", "open")


async def parse_create(request: web.Request) -> dict[str, Any]:
    return fields.pick(await read_json(request), _CREATE_FIELDS)


async def create(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    max_count = fields.integer(req, "max_count", bits=32)
    group = await groups.create_group(
        call.domain.pool, call.user_id, fields.text(req, "name"),
        lang_tag=fields.text(req, "lang_tag"), description=fields.text(req, "description"),
        avatar_url=fields.text(req, "avatar_url"), open=fields.boolean(req, "open"),
        max_count=max_count or groups.DEFAULT_MAX_COUNT)
    return encode.group(group)


async def parse_update(request: web.Request) -> dict[str, Any]:
    return {"group_id": fields.path(request.match_info, "group_id"),
            **fields.pick(await read_json(request), _UPDATE_FIELDS)}


async def update(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    gid = groups.group_id(fields.text(req, "group_id"))
    await groups.update_group(
        call.domain.pool, gid, call.user_id, name=fields.optional_string_value(req, "name"),
        lang_tag=fields.optional_string_value(req, "lang_tag"),
        description=fields.optional_string_value(req, "description"),
        avatar_url=fields.optional_string_value(req, "avatar_url"),
        open=fields.optional_boolean(req, "open"))
    return {}


async def parse_group(request: web.Request) -> dict[str, Any]:
    """Methods naming only the group (delete, join, leave)."""
    return {"group_id": fields.path(request.match_info, "group_id")}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await groups.delete_group(call.domain, groups.group_id(fields.text(req, "group_id")),
                              call.user_id)
    return {}


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"name": fields.query(q, "name"), "cursor": fields.query(q, "cursor") or None,
            "limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "lang_tag": fields.query(q, "lang_tag"),
            "members": fields.query_int(q, "members", "Invalid members - members must be an int32."),
            "open": fields.query_bool(q, "open")}


async def list_(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    page = await groups.list_groups(
        call.domain.pool, paging.limit(fields.optional_integer(req, "limit", bits=32), default=1),
        name=fields.text(req, "name"), lang_tag=fields.text(req, "lang_tag"),
        members=fields.optional_integer(req, "members", bits=32), open=fields.optional_boolean(req, "open"),
        cursor=fields.text(req, "cursor") or None)
    return encode.group_list(page)


# -- membership ----------------------------------------------------------------------------------


async def join(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    assert call.session is not None
    await groups.join_group(call.domain, groups.group_id(fields.text(req, "group_id")),
                            call.user_id, call.session.username)
    return {}


async def leave(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    assert call.session is not None
    await groups.leave_group(call.domain, groups.group_id(fields.text(req, "group_id")),
                             call.user_id, call.session.username)
    return {}


async def parse_users(request: web.Request) -> dict[str, Any]:
    return {"group_id": fields.path(request.match_info, "group_id"),
            "user_ids": fields.query_all(request.query, "user_ids")}


def _manage(use_case: Any, *, required: bool = False) -> Any:
    """add, kick, ban, promote, demote: `user_ids` on a group; none is a no-op (demote: an error)."""

    async def handle(call: Call, req: dict[str, Any]) -> dict[str, Any]:
        gid = groups.group_id(fields.text(req, "group_id"))
        ids = fields.strings(req, "user_ids")
        if not ids:
            if required:
                raise invalid("User IDs must be set.")
            return {}
        await use_case(call.domain, call.user_id, gid, groups.user_ids(ids))
        return {}
    return handle


async def parse_group_users(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"group_id": fields.path(request.match_info, "group_id"),
            "limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "state": fields.query_int(q, "state", INVALID_STATE),
            "cursor": fields.query(q, "cursor") or None}


async def list_group_users(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    gid = groups.group_id(fields.text(req, "group_id"))
    page = await groups.list_group_users(
        call.domain, gid, paging.limit(fields.optional_integer(req, "limit", bits=32), default=100),
        _state(fields.optional_integer(req, "state", bits=32)), fields.text(req, "cursor") or None)
    return encode.group_user_list(page)


async def parse_user_groups(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"user_id": fields.path(request.match_info, "user_id"),
            "limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "state": fields.query_int(q, "state", INVALID_STATE),
            "cursor": fields.query(q, "cursor") or None}


async def list_user_groups(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    user_id = fields.text(req, "user_id")
    if not user_id:
        raise invalid("User ID must be set.")
    uid = groups.user_ids([user_id])[0]
    page = await groups.list_user_groups(
        call.domain.pool, uid, paging.limit(fields.optional_integer(req, "limit", bits=32), default=100),
        _state(fields.optional_integer(req, "state", bits=32)), fields.text(req, "cursor") or None)
    return encode.user_group_list(page)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/group", "CreateGroup", Auth.SESSION, parse_create, create),
    Endpoint("GET", "/v2/group", "ListGroups", Auth.SESSION, parse_list, list_),
    Endpoint("PUT", "/v2/group/{group_id}", "UpdateGroup", Auth.SESSION, parse_update, update),
    Endpoint("DELETE", "/v2/group/{group_id}", "DeleteGroup", Auth.SESSION, parse_group, delete),
    Endpoint("POST", "/v2/group/{group_id}/join", "JoinGroup", Auth.SESSION, parse_group, join),
    Endpoint("POST", "/v2/group/{group_id}/leave", "LeaveGroup", Auth.SESSION, parse_group, leave),
    Endpoint("POST", "/v2/group/{group_id}/add", "AddGroupUsers", Auth.SESSION, parse_users,
             _manage(groups.add_group_users)),
    Endpoint("POST", "/v2/group/{group_id}/kick", "KickGroupUsers", Auth.SESSION, parse_users,
             _manage(groups.kick_group_users)),
    Endpoint("POST", "/v2/group/{group_id}/ban", "BanGroupUsers", Auth.SESSION, parse_users,
             _manage(groups.ban_group_users)),
    Endpoint("POST", "/v2/group/{group_id}/promote", "PromoteGroupUsers", Auth.SESSION,
             parse_users, _manage(groups.promote_group_users)),
    Endpoint("POST", "/v2/group/{group_id}/demote", "DemoteGroupUsers", Auth.SESSION,
             parse_users, _manage(groups.demote_group_users, required=True)),
    Endpoint("GET", "/v2/group/{group_id}/user", "ListGroupUsers", Auth.SESSION,
             parse_group_users, list_group_users),
    Endpoint("GET", "/v2/user/{user_id}/group", "ListUserGroups", Auth.SESSION,
             parse_user_groups, list_user_groups),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
