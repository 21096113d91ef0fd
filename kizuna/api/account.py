"""`/v2/account/*`, `/v2/session/*` and `/v2/user`: authentication, sessions, the account, users."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import require_server_key, require_session
from kizuna.api.codec import field, json_response, prune, query, query_all, read_json, timestamp
from kizuna.config import parse_bool
from kizuna.core import accounts
from kizuna.core.errors import Code, KizunaError, invalid
from kizuna.core.sessions import IssuedSession

# -- wire encoding -------------------------------------------------------------------------------


def encode_user(row: dict[str, Any], online: bool = False) -> dict[str, Any]:
    return prune({
        "id": row["id"], "username": row["username"], "display_name": row["display_name"],
        "avatar_url": row["avatar_url"], "lang_tag": row["lang_tag"], "location": row["location"],
        "timezone": row["timezone"], "metadata": row["metadata"],
        "facebook_id": row["facebook_id"], "google_id": row["google_id"],
        "gamecenter_id": row["gamecenter_id"], "steam_id": row["steam_id"], "online": online,
        "edge_count": row["edge_count"], "create_time": timestamp(row["create_time"]),
        "update_time": timestamp(row["update_time"]),
        "facebook_instant_game_id": row["facebook_instant_game_id"], "apple_id": row["apple_id"],
    })


def encode_account(row: dict[str, Any]) -> dict[str, Any]:
    def when(t):
        return timestamp(t) if t is not None and t > accounts.EPOCH else None
    return prune({
        "user": encode_user(row), "wallet": row["wallet"], "email": row["email"],
        "devices": [{"id": d} for d in row["devices"]], "custom_id": row["custom_id"],
        "verify_time": when(row["verify_time"]),
        # disable_time is never shown to the player (as Nakama).
    })


def encode_session(issued: IssuedSession, created: bool = False) -> dict[str, Any]:
    return prune({"created": created, "token": issued.token, "refresh_token": issued.refresh_token})


# -- request parsing -----------------------------------------------------------------------------


def _str(doc: dict[str, Any], name: str) -> str | None:
    value = field(doc, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{name}: expected a string")
    return value


def _vars(doc: dict[str, Any]) -> dict[str, str] | None:
    value = field(doc, "vars")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid("vars: expected an object of string values")
    return value


def _create(request: web.Request) -> bool:
    raw = query(request, "create")
    if raw is None or raw == "":
        return True
    value = parse_bool(raw)
    if value is None:
        raise invalid(f"create: invalid boolean {raw!r}")
    return value


async def _issue(request: web.Request, result: accounts.AuthResult, vars: dict[str, str] | None) -> web.Response:
    services = request.app[SERVICES]
    issued = await services.sessions.create(services.pool, result.user_id, result.username, vars)
    return json_response(encode_session(issued, result.created))


# -- authenticate --------------------------------------------------------------------------------


async def authenticate_device(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    require_server_key(request, services.config.socket.server_key)
    body = await read_json(request)
    result = await accounts.authenticate_device(
        services.pool, _str(body, "id") or "", query(request, "username") or None, _create(request))
    return await _issue(request, result, _vars(body))


async def authenticate_custom(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    require_server_key(request, services.config.socket.server_key)
    body = await read_json(request)
    result = await accounts.authenticate_custom(
        services.pool, _str(body, "id") or "", query(request, "username") or None, _create(request))
    return await _issue(request, result, _vars(body))


async def authenticate_email(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    require_server_key(request, services.config.socket.server_key)
    body = await read_json(request)
    result = await accounts.authenticate_email(
        services.pool, _str(body, "email") or "", _str(body, "password") or "",
        query(request, "username") or None, _create(request))
    return await _issue(request, result, _vars(body))


def _unsupported(provider: str):
    async def handler(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        if request.path.startswith("/v2/account/authenticate/"):
            require_server_key(request, services.config.socket.server_key)
        else:
            require_session(request)
        raise KizunaError(Code.UNIMPLEMENTED,
                          f"{provider} accounts are not supported by this server yet.")
    return handler


# -- sessions ------------------------------------------------------------------------------------


async def session_refresh(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    require_server_key(request, services.config.socket.server_key)
    body = await read_json(request)
    token = _str(body, "token")
    if not token:
        raise invalid("Refresh token is required.")
    old = services.sessions.tokens.verify_refresh(token)
    if old is None or old.token_id in services.sessions.revoked:
        raise KizunaError(Code.UNAUTHENTICATED, "Refresh token invalid or expired.")
    username = await accounts.check_user_for_refresh(services.pool, old.user_id)
    # nakama-js sends `vars: {}` when the caller gives none: an empty map keeps the old vars.
    issued = await services.sessions.refresh(services.pool, old, username, _vars(body) or None)
    return json_response(encode_session(issued))


async def session_logout(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    session = require_session(request)
    body = await read_json(request)
    token, refresh = _str(body, "token"), _str(body, "refresh_token")
    store = services.sessions
    if not token and not refresh:
        await store.revoke_user(session.user_id)
        return json_response({})
    tids: list[str] = []
    if token:
        s = store.tokens.verify(token)
        if s is None or s.user_id != session.user_id:
            raise invalid("Session token invalid.")
        tids.append(s.token_id)
    if refresh:
        s = store.tokens.verify_refresh(refresh)
        if s is None or s.user_id != session.user_id:
            raise invalid("Refresh token invalid.")
        tids.append(s.token_id)
    # A session and its refresh token share one token id: revoking it ends both.
    await store.revoke(session.user_id, sorted(set(tids)))
    return json_response({})


# -- account -------------------------------------------------------------------------------------


async def get_account(request: web.Request) -> web.Response:
    session = require_session(request)
    row = await accounts.get_account(request.app[SERVICES].pool, session.user_id)
    return json_response(encode_account(row))


_PROFILE = ("username", "display_name", "avatar_url", "lang_tag", "location", "timezone")


async def update_account(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.update_account(request.app[SERVICES].pool, session.user_id,
                                  {name: _str(body, name) for name in _PROFILE})
    return json_response({})


async def delete_account(request: web.Request) -> web.Response:
    session = require_session(request)
    services = request.app[SERVICES]
    await services.sessions.revoke_user(session.user_id)
    await accounts.delete_account(services.pool, session.user_id)
    return json_response({})


# -- link / unlink -------------------------------------------------------------------------------


async def link_device(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.link_device(request.app[SERVICES].pool, session.user_id, _str(body, "id"))
    return json_response({})


async def link_custom(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.link_custom(request.app[SERVICES].pool, session.user_id, _str(body, "id"))
    return json_response({})


async def link_email(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.link_email(request.app[SERVICES].pool, session.user_id, _str(body, "email"),
                              _str(body, "password"))
    return json_response({})


async def unlink_device(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.unlink_device(request.app[SERVICES].pool, session.user_id, _str(body, "id"))
    return json_response({})


async def unlink_custom(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.unlink_custom(request.app[SERVICES].pool, session.user_id, _str(body, "id"))
    return json_response({})


async def unlink_email(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await read_json(request)
    await accounts.unlink_email(request.app[SERVICES].pool, session.user_id, _str(body, "email"))
    return json_response({})


# -- users ---------------------------------------------------------------------------------------


async def get_users(request: web.Request) -> web.Response:
    require_session(request)
    rows = await accounts.get_users(request.app[SERVICES].pool, query_all(request, "ids"),
                                    query_all(request, "usernames"),
                                    query_all(request, "facebook_ids"))
    return json_response(prune({"users": [encode_user(r) for r in rows]}))


_PROVIDERS = {"apple": "Apple", "facebook": "Facebook", "facebookinstantgame": "Facebook Instant Game",
              "gamecenter": "GameCenter", "google": "Google", "steam": "Steam"}


def register(app: web.Application) -> None:
    r = app.router
    r.add_post("/v2/account/authenticate/device", authenticate_device)
    r.add_post("/v2/account/authenticate/custom", authenticate_custom)
    r.add_post("/v2/account/authenticate/email", authenticate_email)
    for path, name in _PROVIDERS.items():
        r.add_post(f"/v2/account/authenticate/{path}", _unsupported(name))
        r.add_post(f"/v2/account/link/{path}", _unsupported(name))
        r.add_post(f"/v2/account/unlink/{path}", _unsupported(name))
    r.add_post("/v2/account/session/refresh", session_refresh)
    r.add_post("/v2/session/logout", session_logout)
    r.add_get("/v2/account", get_account, allow_head=False)
    r.add_put("/v2/account", update_account)
    r.add_delete("/v2/account", delete_account)
    r.add_post("/v2/account/link/device", link_device)
    r.add_post("/v2/account/link/custom", link_custom)
    r.add_post("/v2/account/link/email", link_email)
    r.add_post("/v2/account/unlink/device", unlink_device)
    r.add_post("/v2/account/unlink/custom", unlink_custom)
    r.add_post("/v2/account/unlink/email", unlink_email)
    r.add_get("/v2/user", get_users, allow_head=False)
