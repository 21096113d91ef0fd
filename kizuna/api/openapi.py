"""An OpenAPI 3 description of the REST API, generated from the endpoint table.

The routes, their HTTP methods, path parameters, operation ids (Nakama's method names) and
authentication come from `ENDPOINTS` of every module in `api.app.API_MODULES`: a route added there
is described here without another edit. What the table does not say (the query parameters and
body fields each method reads) is listed below by Nakama method name, as Nakama's own
apigrpc.swagger.json names them; a method missing there is still described, with a free-form
body. Served at `GET /v2/openapi.json`; the fuzzing suite (tests/fuzz) drives schemathesis with it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from kizuna.api.endpoint import Auth, Endpoint
from kizuna.version import __version__

PATH = "/v2/openapi.json"

_S: dict[str, Any] = {"type": "string"}
_I32: dict[str, Any] = {"type": "integer", "format": "int32"}
_B: dict[str, Any] = {"type": "boolean"}
_STRINGS: dict[str, Any] = {"type": "array", "items": _S}
_MAP: dict[str, Any] = {"type": "object", "additionalProperties": _S}

# Query parameters (name -> schema) and body fields of each method, by Nakama method name.
_ACCOUNT_QUERY = {"create": _B, "username": _S}
_PAGE = {"limit": _I32, "cursor": _S}
_USERS = {"ids": _STRINGS, "usernames": _STRINGS}
QUERY: dict[str, dict[str, Any]] = {
    "AuthenticateDevice": _ACCOUNT_QUERY, "AuthenticateCustom": _ACCOUNT_QUERY,
    "AuthenticateEmail": _ACCOUNT_QUERY,
    "GetUsers": {**_USERS, "facebook_ids": _STRINGS},
    "ListChannelMessages": {**_PAGE, "forward": _B},
    "ListFriends": {**_PAGE, "state": _I32}, "ListFriendsOfFriends": _PAGE,
    "AddFriends": {**_USERS, "metadata": _S}, "DeleteFriends": _USERS, "BlockFriends": _USERS,
    "ImportFacebookFriends": {"reset": _B}, "ImportSteamFriends": {"reset": _B},
    "ListGroups": {**_PAGE, "name": _S, "lang_tag": _S, "members": _I32, "open": _B},
    "AddGroupUsers": {"user_ids": _STRINGS}, "KickGroupUsers": {"user_ids": _STRINGS},
    "BanGroupUsers": {"user_ids": _STRINGS}, "PromoteGroupUsers": {"user_ids": _STRINGS},
    "DemoteGroupUsers": {"user_ids": _STRINGS},
    "ListGroupUsers": {**_PAGE, "state": _I32}, "ListUserGroups": {**_PAGE, "state": _I32},
    "ListNotifications": {"limit": _I32, "cacheable_cursor": _S},
    "DeleteNotifications": {"ids": _STRINGS},
    "ListStorageObjects": {**_PAGE, "user_id": _S},
    "ListMatches": {"limit": _I32, "authoritative": _B, "label": _S, "min_size": _I32,
                    "max_size": _I32, "query": _S},
}
_OBJECT_ID = {"collection": _S, "key": _S, "user_id": _S, "version": _S}
BODY: dict[str, dict[str, Any]] = {
    "AuthenticateDevice": {"id": _S, "vars": _MAP},
    "AuthenticateCustom": {"id": _S, "vars": _MAP},
    "AuthenticateEmail": {"email": _S, "password": _S, "username": _S, "vars": _MAP},
    "SessionRefresh": {"token": _S, "vars": _MAP},
    "SessionLogout": {"token": _S, "refresh_token": _S},
    "UpdateAccount": {"username": _S, "display_name": _S, "avatar_url": _S, "lang_tag": _S,
                      "location": _S, "timezone": _S},
    "LinkDevice": {"id": _S}, "LinkCustom": {"id": _S}, "UnlinkDevice": {"id": _S},
    "UnlinkCustom": {"id": _S}, "LinkEmail": {"email": _S, "password": _S},
    "UnlinkEmail": {"email": _S, "password": _S},
    "Event": {"name": _S, "properties": _MAP, "timestamp": _S, "external": _B},
    "CreateGroup": {"name": _S, "description": _S, "lang_tag": _S, "avatar_url": _S,
                    "open": _B, "max_count": _I32},
    "UpdateGroup": {"name": _S, "description": _S, "lang_tag": _S, "avatar_url": _S, "open": _B},
    "WriteStorageObjects": {"objects": {"type": "array", "items": {
        "type": "object", "properties": {"collection": _S, "key": _S, "value": _S, "version": _S,
                                         "permission_read": _I32, "permission_write": _I32}}}},
    "ReadStorageObjects": {"object_ids": {"type": "array", "items": {
        "type": "object", "properties": _OBJECT_ID}}},
    "DeleteStorageObjects": {"object_ids": {"type": "array", "items": {
        "type": "object", "properties": _OBJECT_ID}}},
}
_NO_BODY = frozenset({"GET", "DELETE"})
_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")

ERROR = {"type": "object", "required": ["code", "message"],
         "properties": {"code": {"type": "integer"}, "message": _S}}


def operation(e: Endpoint) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _S}
        for name in _PARAM.findall(e.path)]
    for name, schema in QUERY.get(e.method, {}).items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": False,
                                 "schema": schema}
        if schema.get("type") == "array":
            param.update(style="form", explode=True)
        params.append(param)
    op: dict[str, Any] = {
        "operationId": e.method, "tags": [e.method],
        "security": [{"ServerKey": []}] if e.auth is Auth.SERVER_KEY else [{"Session": []}],
        "responses": {
            "200": {"description": "Success", "content": {"application/json": {
                "schema": {"type": "object"}}}},
            "default": {"description": "An error: a gRPC code and a message",
                        "content": {"application/json": {"schema": ERROR}}}},
    }
    if params:
        op["parameters"] = params
    if e.http_method not in _NO_BODY:
        body = BODY.get(e.method)
        schema = {"type": "object", "properties": body} if body else {"type": "object"}
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": schema}}}
    return op


def document(endpoints: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", e.path)
        paths.setdefault(path, {})[e.http_method.lower()] = operation(e)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Kizuna (Nakama client API)", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {
            "ServerKey": {"type": "http", "scheme": "basic",
                          "description": "socket.server_key as the user name, no password"},
            "Session": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


def register(app: web.Application, endpoints: list[Endpoint]) -> None:
    body = document(endpoints)

    async def serve(request: web.Request) -> web.Response:
        return web.json_response(body)

    app.router.add_get(PATH, serve)
