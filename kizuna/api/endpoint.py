"""The one way a /v2 REST method is served: `Endpoint(...)` names its Nakama method and splits it
into steps, and `add(app, endpoint)` wires them so server modules' hooks run for every method, the
ones here today and any added later:

    authenticate (server key or session) -> parse: the request as a dict in Nakama's JSON shape
    -> before hook (may change or refuse it) -> handle: rules via kizuna/core, the response dict
    -> encode -> after hook -> send

`parse` reads the transport (body, path, query) and only fails where Nakama's gateway would
(malformed JSON, a query value of the wrong type); `handle` checks field types and calls core, so
what a before hook returns is checked exactly like what a client sends. With no hook registered
(or no modules at all) the hooks cost two dict lookups.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import require_server_key, require_session
from kizuna.api.codec import json_response
from kizuna.core.domain import Domain
from kizuna.core.sessions import Session
from kizuna.runtime.context import frozen
from kizuna.services import Services
from kizuna.wire.methods import api_key


class Auth(enum.Enum):
    SERVER_KEY = "server_key"  # HTTP Basic with socket.server_key (authenticate, refresh)
    SESSION = "session"  # Bearer session token


@dataclass(frozen=True, slots=True)
class Call:
    """What a handle step gets besides the request dict."""
    services: Services
    session: Session | None  # None for server-key methods
    request: web.Request

    @property
    def domain(self) -> Domain:
        return self.services.domain

    @property
    def user_id(self) -> str:
        assert self.session is not None
        return self.session.user_id


Parse = Callable[[web.Request], Awaitable[dict[str, Any]]]
Handle = Callable[[Call, dict[str, Any]], Awaitable[Any]]


async def no_body(request: web.Request) -> dict[str, Any]:
    """For methods whose request is empty (Nakama's google.protobuf.Empty)."""
    return {}


@dataclass(frozen=True)
class Endpoint:
    http_method: str
    path: str
    method: str  # Nakama's API method name: "AuthenticateDevice", "WriteStorageObjects", ...
    auth: Auth
    parse: Parse
    handle: Handle


def add(app: web.Application, e: Endpoint) -> None:
    key = api_key(e.method)
    if key is None:
        raise ValueError(f"{e.http_method} {e.path}: {e.method!r} is not a Nakama API method name "
                         f"(kizuna/wire/methods.py)")
    parse, handle, auth = e.parse, e.handle, e.auth

    async def handler(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        if auth is Auth.SERVER_KEY:
            require_server_key(request, services.config.socket.server_key)
            session = None
        else:
            session = require_session(request)
        req = await parse(request)
        runtime = services.runtime
        reg = runtime.registry
        before, after = reg.before.get(key), reg.after.get(key)
        if before is None and after is None:
            return json_response(await handle(Call(services, session, request), req))
        fields = request_fields(request, session)
        if before is not None:
            req = await runtime.before(before, fields, req)
        resp = await handle(Call(services, session, request), req)
        out = json_response(resp)
        if after is not None:
            await runtime.after(after, fields, resp, req)
        return out

    handler.__name__ = e.method
    handler.nakama_method = e.method  # type: ignore[attr-defined]  # the metrics label
    app.router.add_route(e.http_method, e.path, handler)


def request_fields(request: web.Request, session: Session | None) -> dict[str, Any]:
    """The runtime context of an HTTP request (headers, query, caller, client address)."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in request.query.items():
        query.setdefault(name, []).append(value)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    # Both dicts are new and never changed: read-only views of them, without frozen()'s copy.
    fields: dict[str, Any] = {
        "headers": MappingProxyType(headers), "query_params": MappingProxyType(query),
        "client_ip": request.remote or None,
        "client_port": str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else None,
    }
    if session is not None:
        fields.update(user_id=session.user_id, username=session.username,
                      vars=frozen(session.vars), user_session_exp=session.expires_at)
    return fields
