"""The console's aiohttp application: middlewares, the shared state, the areas' routes.

Routes:
- `/v2/console/...`: the REST API (JSON). Every route but `POST /v2/console/authenticate` needs
  an `Authorization` header (Bearer console token, or Basic); the cookie the pages use is not
  accepted here, so another site cannot make a signed-in browser call the API (the pages' script
  sends the token as a header).
- `/static/...`: the stylesheet and the script.
- every other path: a page, signed in by the `kizuna_console` cookie (redirects to /login
  otherwise).

Every API call that changes something (POST, PUT, PATCH, DELETE) and succeeds is written to the
audit log (console_audit_log: who, what, which resource) and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from kizuna.api.codec import BODY_ERRORS, UnreadableBody, body_error, read_json
from kizuna.api.errors import error_response
from kizuna.console.auth import ConsoleAuth, Operator
from kizuna.core import audit
from kizuna.errors import Code, KizunaError
from kizuna.ops.nodestats import NodeStats
from kizuna.services import Services

log = logging.getLogger("kizuna.console")

API_PREFIX = "/v2/console"
COOKIE = "kizuna_console"
STATIC = Path(__file__).parent / "static"
PUBLIC_API = {f"{API_PREFIX}/authenticate"}
PUBLIC_PAGES = {"/login", "/favicon.ico"}
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the console's handlers share: the node's services and the console's own parts."""
    services: Services
    auth: ConsoleAuth
    stats: NodeStats | None = None
    started: float = field(default_factory=time.time)
    registry_instance: str = ""  # this process's instance id in the node registry

    @property
    def pool(self) -> asyncpg.Pool:
        return self.services.pool


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def operator_of(request: web.Request) -> Operator:
    """The signed-in operator (set by the auth middleware on every non-public route)."""
    return request["operator"]


def audit_note(request: web.Request, message: str, **metadata: Any) -> None:
    """What the audit entry of this request says (a handler's own words; default: the route)."""
    request["audit"] = (message, metadata)


def is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KizunaError as err:
        if is_api(request):
            return error_response(err)
        from kizuna.console.pages import error_page
        return error_page(request, err)
    except BODY_ERRORS as exc:
        return error_response(UnreadableBody(body_error(exc)))
    except web.HTTPNotFound:
        missing = KizunaError(Code.NOT_FOUND, "Not Found")
        if is_api(request):
            return error_response(missing)
        from kizuna.console.pages import error_page
        return error_page(request, missing)
    except web.HTTPMethodNotAllowed:
        return error_response(KizunaError(Code.UNIMPLEMENTED, "Method Not Allowed"))
    except web.HTTPRequestEntityTooLarge:
        return error_response(KizunaError(Code.INVALID_ARGUMENT, "http: request body too large"))
    except web.HTTPException:
        raise
    except asyncpg.UndefinedTableError as exc:
        log.warning("console: table missing, the database needs migrating",
                    extra={"path": request.path, "error": str(exc)})
        return error_response(KizunaError(
            Code.UNAVAILABLE, "Not available until the database is migrated to this release "
                              "(kizuna migrate up)."))
    except Exception:
        log.exception("console: unhandled error", extra={"path": request.path})
        return error_response(KizunaError(Code.INTERNAL, "Internal Server Error"))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = console_of(request)
    remote = request.remote or ""
    if is_api(request):
        if request.path not in PUBLIC_API:
            header = request.headers.get("Authorization", "")
            request["operator"] = console.auth.from_header(header, remote)
        return await handler(request)
    if request.path.startswith("/static/") or request.path in PUBLIC_PAGES:
        return await handler(request)
    token = request.cookies.get(COOKIE, "")
    try:
        request["operator"] = console.auth.verify_token(token) if token else None
    except KizunaError:
        request["operator"] = None
    if request["operator"] is None:
        target = request.path_qs
        resp = web.HTTPFound(f"/login?next={_quote(target)}")
        if token:
            resp.del_cookie(COOKIE, path="/")
        raise resp
    return await handler(request)


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    if (request.method in CHANGING and is_api(request) and request.path not in PUBLIC_API
            and resp.status < 400):
        operator = operator_of(request)
        route = request.match_info.route.resource
        action = f"{request.method} {route.canonical if route is not None else request.path}"
        message, metadata = request.get("audit", ("", {}))
        log.info("Console action", extra={"console_user": operator.username, "action": action,
                                          "resource": request.path, "note": message})
        try:
            await audit.record(console_of(request).pool, operator.username, action, request.path,
                               message or action, metadata)
        except asyncpg.UndefinedTableError:
            log.warning("console: audit log table missing (kizuna migrate up); action logged only")
    return resp


async def authenticate(request: web.Request) -> web.StreamResponse:
    """POST /v2/console/authenticate {"username", "password"} -> {"token"} (as Nakama's console)."""
    body = await read_json(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username or not isinstance(password, str):
        raise KizunaError(Code.INVALID_ARGUMENT, "Username and password are required.")
    console = console_of(request)
    token = console.auth.authenticate(username, password, request.remote or "")
    try:
        await audit.record(console.pool, username, "authenticate", API_PREFIX + "/authenticate",
                           f"signed in from {request.remote or '?'}")
    except asyncpg.UndefinedTableError:
        pass
    return json_ok({"token": token})


def json_ok(body: Any, status: int = 200) -> web.Response:
    from kizuna.api.codec import json_response
    return json_response(body, status=status)


def build_console_app(console: Console) -> web.Application:
    from kizuna.console import pages
    from kizuna.console.areas import AREAS

    cfg = console.services.config
    app = web.Application(middlewares=[errors_middleware, auth_middleware, audit_middleware],
                          client_max_size=cfg.console.max_message_size_bytes)
    app[CONSOLE] = console
    app.router.add_post(f"{API_PREFIX}/authenticate", authenticate)
    app.router.add_static("/static/", STATIC, append_version=True)
    pages.register(app)
    for area in AREAS:
        area.register(app)
    return app
