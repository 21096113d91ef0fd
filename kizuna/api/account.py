"""`/v2/account/*`, `/v2/session/*` and `/v2/user`: authentication, sessions, the account, users."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import field, prune, query, query_all, read_json, timestamp
from kizuna.api.endpoint import Auth, Call, Endpoint, add, no_body
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


def _online(call: "Call", user_id: str) -> bool:
    """Whether the user has a socket open with status shown (on this node)."""
    rt = call.services.realtime
    return bool(rt is not None and rt.is_online(user_id))


def encode_account(row: dict[str, Any], online: bool = False) -> dict[str, Any]:
    def when(t):
        return timestamp(t) if t is not None and t > accounts.EPOCH else None
    return prune({
        "user": encode_user(row, online), "wallet": row["wallet"], "email": row["email"],
        "devices": [{"id": d} for d in row["devices"]], "custom_id": row["custom_id"],
        "verify_time": when(row["verify_time"]),
        # disable_time is never shown to the player (as Nakama).
    })


def encode_session(issued: IssuedSession, created: bool = False) -> dict[str, Any]:
    return prune({"created": created, "token": issued.token, "refresh_token": issued.refresh_token})


# -- request parsing (transport -> Nakama-shaped request dicts) ---------------------------------


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


def _object(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{name}: expected an object")
    return value


def _create(request: web.Request) -> bool | None:
    raw = query(request, "create")
    if raw is None or raw == "":
        return None
    value = parse_bool(raw)
    if value is None:
        raise invalid(f"create: invalid boolean {raw!r}")
    return value


def _pick(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Known fields of a message, by their snake_case names (camelCase accepted on input)."""
    return {name: field(body, name) for name in names}


def _authenticate(*names: str):
    """AuthenticateXRequest: {account: {...}, create, username} (the body is the account)."""
    async def parse(request: web.Request) -> dict[str, Any]:
        body = await read_json(request)
        return {"account": _pick(body, names) if names else body, "create": _create(request),
                "username": query(request, "username") or None}
    return parse


def _body(*names: str):
    async def parse(request: web.Request) -> dict[str, Any]:
        return _pick(await read_json(request), names)
    return parse


# -- authenticate --------------------------------------------------------------------------------


def _auth_args(req: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    username = req.get("username")
    if username is not None and not isinstance(username, str):
        raise invalid("username: expected a string")
    create = req.get("create")
    if create is not None and not isinstance(create, bool):
        raise invalid("create: expected a boolean")
    return _object(req, "account"), username or None, True if create is None else create


async def _issue(call: Call, result: accounts.AuthResult, vars: dict[str, str] | None) -> dict[str, Any]:
    services = call.services
    issued = await services.sessions.create(services.pool, result.user_id, result.username, vars)
    return encode_session(issued, result.created)


async def authenticate_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_device(
        call.services.pool, _str(account, "id") or "", username, create)
    return await _issue(call, result, _vars(account))


async def authenticate_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_custom(
        call.services.pool, _str(account, "id") or "", username, create)
    return await _issue(call, result, _vars(account))


async def authenticate_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_email(
        call.services.pool, _str(account, "email") or "", _str(account, "password") or "",
        username, create)
    return await _issue(call, result, _vars(account))


def _unsupported(provider: str):
    async def handle(call: Call, req: dict[str, Any]) -> dict[str, Any]:
        raise KizunaError(Code.UNIMPLEMENTED,
                          f"{provider} accounts are not supported by this server yet.")
    return handle


# -- sessions ------------------------------------------------------------------------------------


async def session_refresh(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    services = call.services
    token = _str(req, "token")
    if not token:
        raise invalid("Refresh token is required.")
    old = services.sessions.tokens.verify_refresh(token)
    if old is None or old.token_id in services.sessions.revoked:
        raise KizunaError(Code.UNAUTHENTICATED, "Refresh token invalid or expired.")
    username = await accounts.check_user_for_refresh(services.pool, old.user_id)
    # nakama-js sends `vars: {}` when the caller gives none: an empty map keeps the old vars.
    issued = await services.sessions.refresh(services.pool, old, username, _vars(req) or None)
    return encode_session(issued)


async def session_logout(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await call.services.sessions.logout(call.user_id, _str(req, "token"),
                                        _str(req, "refresh_token"))
    return {}


# -- account -------------------------------------------------------------------------------------


async def get_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    row = await accounts.get_account(call.services.pool, call.user_id)
    return encode_account(row, _online(call, call.user_id))


_PROFILE = ("username", "display_name", "avatar_url", "lang_tag", "location", "timezone")


async def update_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.update_account(call.services.pool, call.user_id,
                                  {name: _str(req, name) for name in _PROFILE})
    return {}


async def delete_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    services = call.services
    await services.sessions.revoke_user(call.user_id)
    await accounts.delete_account(services.pool, call.user_id)
    return {}


# -- link / unlink -------------------------------------------------------------------------------


async def link_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_device(call.services.pool, call.user_id, _str(req, "id"))
    return {}


async def link_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_custom(call.services.pool, call.user_id, _str(req, "id"))
    return {}


async def link_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_email(call.services.pool, call.user_id, _str(req, "email"),
                              _str(req, "password"))
    return {}


async def unlink_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_device(call.services.pool, call.user_id, _str(req, "id"))
    return {}


async def unlink_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_custom(call.services.pool, call.user_id, _str(req, "id"))
    return {}


async def unlink_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_email(call.services.pool, call.user_id, _str(req, "email"))
    return {}


# -- users ---------------------------------------------------------------------------------------


async def parse_get_users(request: web.Request) -> dict[str, Any]:
    return {"ids": query_all(request, "ids"), "usernames": query_all(request, "usernames"),
            "facebook_ids": query_all(request, "facebook_ids")}


def _strings(req: dict[str, Any], name: str) -> list[str]:
    value = req.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{name}: expected a list of strings")
    return value


async def get_users(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    rows = await accounts.get_users(call.services.pool, _strings(req, "ids"),
                                    _strings(req, "usernames"), _strings(req, "facebook_ids"))
    return prune({"users": [encode_user(r, _online(call, r["id"])) for r in rows]})


# -- routes --------------------------------------------------------------------------------------

_PROVIDERS = {"apple": ("Apple", "Apple"), "facebook": ("Facebook", "Facebook"),
              "facebookinstantgame": ("FacebookInstantGame", "Facebook Instant Game"),
              "gamecenter": ("GameCenter", "GameCenter"), "google": ("Google", "Google"),
              "steam": ("Steam", "Steam")}

_LINK_FIELDS = {"device": ("id", "vars"), "custom": ("id", "vars"),
                "email": ("email", "password", "vars")}

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/account/authenticate/device", "AuthenticateDevice", Auth.SERVER_KEY,
             _authenticate("id", "vars"), authenticate_device),
    Endpoint("POST", "/v2/account/authenticate/custom", "AuthenticateCustom", Auth.SERVER_KEY,
             _authenticate("id", "vars"), authenticate_custom),
    Endpoint("POST", "/v2/account/authenticate/email", "AuthenticateEmail", Auth.SERVER_KEY,
             _authenticate("email", "password", "vars"), authenticate_email),
    *(e for path, (method, name) in _PROVIDERS.items() for e in (
        Endpoint("POST", f"/v2/account/authenticate/{path}", f"Authenticate{method}",
                 Auth.SERVER_KEY, _authenticate(), _unsupported(name)),
        Endpoint("POST", f"/v2/account/link/{path}", f"Link{method}", Auth.SESSION,
                 read_json, _unsupported(name)),
        Endpoint("POST", f"/v2/account/unlink/{path}", f"Unlink{method}", Auth.SESSION,
                 read_json, _unsupported(name)))),
    Endpoint("POST", "/v2/account/session/refresh", "SessionRefresh", Auth.SERVER_KEY,
             _body("token", "vars"), session_refresh),
    Endpoint("POST", "/v2/session/logout", "SessionLogout", Auth.SESSION,
             _body("token", "refresh_token"), session_logout),
    Endpoint("GET", "/v2/account", "GetAccount", Auth.SESSION, no_body, get_account),
    Endpoint("PUT", "/v2/account", "UpdateAccount", Auth.SESSION, _body(*_PROFILE),
             update_account),
    Endpoint("DELETE", "/v2/account", "DeleteAccount", Auth.SESSION, no_body, delete_account),
    Endpoint("POST", "/v2/account/link/device", "LinkDevice", Auth.SESSION,
             _body(*_LINK_FIELDS["device"]), link_device),
    Endpoint("POST", "/v2/account/link/custom", "LinkCustom", Auth.SESSION,
             _body(*_LINK_FIELDS["custom"]), link_custom),
    Endpoint("POST", "/v2/account/link/email", "LinkEmail", Auth.SESSION,
             _body(*_LINK_FIELDS["email"]), link_email),
    Endpoint("POST", "/v2/account/unlink/device", "UnlinkDevice", Auth.SESSION,
             _body(*_LINK_FIELDS["device"]), unlink_device),
    Endpoint("POST", "/v2/account/unlink/custom", "UnlinkCustom", Auth.SESSION,
             _body(*_LINK_FIELDS["custom"]), unlink_custom),
    Endpoint("POST", "/v2/account/unlink/email", "UnlinkEmail", Auth.SESSION,
             _body(*_LINK_FIELDS["email"]), unlink_email),
    Endpoint("GET", "/v2/user", "GetUsers", Auth.SESSION, parse_get_users, get_users),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
