"""`/v2/account/*`, `/v2/session/*` and `/v2/user`: authentication, sessions, the account, users."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add, no_body
from kizuna.core import accounts
from kizuna.errors import Code, KizunaError
from kizuna.wire import encode, fields
from kizuna.wire.types import Session

# -- request parsing (transport -> Nakama-shaped request dicts) ---------------------------------


def _authenticate(*names: str):
    """AuthenticateXRequest: {account: {...}, create, username} (the body is the account)."""
    async def parse(request: web.Request) -> dict[str, Any]:
        body = await read_json(request)
        return {"account": fields.pick(body, names) if names else body,
                "create": fields.query_bool(request.query, "create"),
                "username": fields.query(request.query, "username") or None}
    return parse


def _body(*names: str):
    async def parse(request: web.Request) -> dict[str, Any]:
        return fields.pick(await read_json(request), names)
    return parse


# -- authenticate --------------------------------------------------------------------------------


def _auth_args(req: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    username = fields.optional_text(req, "username")
    create = fields.optional_boolean(req, "create")
    return fields.obj(req, "account"), username or None, True if create is None else create


async def _issue(call: Call, result: accounts.AuthResult, vars: dict[str, str] | None) -> dict[str, Any]:
    issued = await call.domain.sessions.create(call.domain.pool, result.user_id, result.username,
                                               vars)
    return encode.session(Session(issued.token, issued.refresh_token, result.created))


async def authenticate_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_device(
        call.domain.pool, fields.text(account, "id"), username, create)
    return await _issue(call, result, fields.optional_string_map(account, "vars"))


async def authenticate_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_custom(
        call.domain.pool, fields.text(account, "id"), username, create)
    return await _issue(call, result, fields.optional_string_map(account, "vars"))


async def authenticate_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    account, username, create = _auth_args(req)
    result = await accounts.authenticate_email(
        call.domain.pool, fields.text(account, "email"), fields.text(account, "password"),
        username, create)
    return await _issue(call, result, fields.optional_string_map(account, "vars"))


def _unsupported(provider: str):
    async def handle(call: Call, req: dict[str, Any]) -> dict[str, Any]:
        raise KizunaError(Code.UNIMPLEMENTED,
                          f"{provider} accounts are not supported by this server yet.")
    return handle


# -- sessions ------------------------------------------------------------------------------------


async def session_refresh(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    # nakama-js sends `vars: {}` when the caller gives none: an empty map keeps the old vars.
    issued = await accounts.refresh_session(call.domain, fields.text(req, "token"),
                                            fields.optional_string_map(req, "vars") or None)
    return encode.session(Session(issued.token, issued.refresh_token))


async def session_logout(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await call.domain.sessions.logout(call.user_id, fields.optional_text(req, "token"),
                                      fields.optional_text(req, "refresh_token"))
    return {}


# -- account -------------------------------------------------------------------------------------


async def get_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    return encode.account(await accounts.get_account(call.domain, call.user_id))


_PROFILE = ("username", "display_name", "avatar_url", "lang_tag", "location", "timezone")


async def update_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.update_account(call.domain.pool, call.user_id,
                                  {name: fields.optional_text(req, name) for name in _PROFILE})
    return {}


async def delete_account(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.delete_account(call.domain, call.user_id)
    return {}


# -- link / unlink -------------------------------------------------------------------------------


async def link_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_device(call.domain.pool, call.user_id, fields.optional_text(req, "id"))
    return {}


async def link_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_custom(call.domain.pool, call.user_id, fields.optional_text(req, "id"))
    return {}


async def link_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.link_email(call.domain.pool, call.user_id, fields.optional_text(req, "email"),
                              fields.optional_text(req, "password"))
    return {}


async def unlink_device(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_device(call.domain.pool, call.user_id, fields.optional_text(req, "id"))
    return {}


async def unlink_custom(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_custom(call.domain.pool, call.user_id, fields.optional_text(req, "id"))
    return {}


async def unlink_email(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await accounts.unlink_email(call.domain.pool, call.user_id, fields.optional_text(req, "email"))
    return {}


# -- users ---------------------------------------------------------------------------------------


async def parse_get_users(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"ids": fields.query_all(q, "ids"), "usernames": fields.query_all(q, "usernames"),
            "facebook_ids": fields.query_all(q, "facebook_ids")}


async def get_users(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    users = await accounts.get_users(call.domain, fields.strings(req, "ids"),
                                     fields.strings(req, "usernames"),
                                     fields.strings(req, "facebook_ids"))
    return encode.users(users)


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
