"""The aiohttp application: middlewares shared by every route, and route registration."""

from __future__ import annotations

import logging

import asyncpg
from aiohttp import web
from aiohttp.web_response import ContentCoding

from kizuna.api import (
    account,
    channel,
    custom,
    event,
    friends,
    groups,
    health,
    leaderboard,
    match,
    matchmaker,
    notification,
    openapi,
    rpc,
    storage,
    tournament,
    unsupported,
)
from kizuna.api.app_keys import SERVICES
from kizuna.api.codec import BODY_ERRORS, UnreadableBody, body_error
from kizuna.api.endpoint import Endpoint
from kizuna.api.errors import error_response
from kizuna.errors import Code, KizunaError
from kizuna.realtime import socket
from kizuna.services import Services
from kizuna.wire.methods import api_key

log = logging.getLogger("kizuna.api")

# The modules serving Nakama's /v2 API methods: each declares ENDPOINTS (kizuna/api/endpoint.py).
API_MODULES = (account, storage, channel, notification, event, friends, groups, leaderboard,
               tournament, match, matchmaker, unsupported)


def endpoints() -> list[Endpoint]:
    """Every /v2 REST endpoint of the table (what the OpenAPI description describes)."""
    return [e for m in API_MODULES for e in m.ENDPOINTS]


def served_methods() -> frozenset[str]:
    """The hook keys of the API methods this server serves (for warnings about hooks on others)."""
    return frozenset(key for m in API_MODULES for e in m.ENDPOINTS
                     if (key := api_key(e.method)) is not None)

SCHEMA_BEHIND = ("Not available until the database is migrated to this release "
                 "(kizuna migrate up).")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization,Content-Type,User-Agent",
    "Access-Control-Allow-Methods": "GET,HEAD,POST,PUT,DELETE",
}


@web.middleware
async def transport_middleware(request: web.Request, handler):
    if request.method == "OPTIONS" and "Origin" in request.headers:
        return web.Response(status=200, headers=CORS_HEADERS)
    try:
        resp = await custom.runtime_routes(request, handler)
    except UnreadableBody as err:
        resp = _unreadable(request, err)
    except BODY_ERRORS as exc:  # a body read elsewhere (rpc, custom routes) that aiohttp refused
        resp = _unreadable(request, UnreadableBody(body_error(exc)))
    except KizunaError as err:
        resp = error_response(err)
    except web.HTTPNotFound:
        resp = error_response(KizunaError(Code.NOT_FOUND, "Not Found"))
    except web.HTTPMethodNotAllowed:
        resp = error_response(KizunaError(Code.UNIMPLEMENTED, "Method Not Allowed"))
    except web.HTTPRequestEntityTooLarge:
        resp = error_response(KizunaError(Code.INVALID_ARGUMENT, "http: request body too large"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        resp = error_response(KizunaError(_code_for_status(exc.status), exc.reason))
    except asyncpg.UndefinedTableError as exc:
        # A node of this release on a schema at the oldest of its window (a rolling upgrade):
        # the feature's tables arrive with `migrate up`.
        log.warning("table missing: the database needs migrating",
                    extra={"path": request.path, "error": str(exc)})
        resp = error_response(KizunaError(Code.UNAVAILABLE, SCHEMA_BEHIND))
    except (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError,
            asyncpg.OperatorInterventionError, asyncpg.TooManyConnectionsError,
            ConnectionError) as exc:
        # The database connection was lost under the request (a terminated backend, a restart):
        # the pool reconnects for the next one. A fault, not a bug: one line, no traceback.
        log.error("database connection lost", extra={"path": request.path,
                                                     "method": request.method, "error": str(exc)})
        resp = error_response(KizunaError(Code.UNAVAILABLE, "Database unavailable, try again."))
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        resp = error_response(KizunaError(Code.INTERNAL, "Internal Server Error"))
    if "Origin" in request.headers:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Vary"] = "Accept-Encoding"
    coding = _response_coding(request)
    if isinstance(resp, web.Response) and resp.body is not None and coding is not None:
        resp.enable_compression(coding)
    return resp


def _unreadable(request: web.Request, err: UnreadableBody) -> web.Response:
    """The answer to a body aiohttp could not decode. The rest of it cannot be skipped (aiohttp
    would try, fail again and log a traceback): the body is marked read and the connection closes
    after the answer."""
    request.content.feed_eof()
    resp = error_response(err)
    resp.force_close()
    return resp


def _response_coding(request: web.Request) -> ContentCoding | None:
    """As gorilla's CompressHandler: the first of gzip or deflate in the client's own order."""
    for item in request.headers.get("Accept-Encoding", "").split(","):
        name = item.strip()
        if name == "gzip":
            return ContentCoding.gzip
        if name == "deflate":
            return ContentCoding.deflate
    return None


def _code_for_status(status: int) -> Code:
    return {400: Code.INVALID_ARGUMENT, 401: Code.UNAUTHENTICATED, 403: Code.PERMISSION_DENIED,
            404: Code.NOT_FOUND, 409: Code.ALREADY_EXISTS, 429: Code.RESOURCE_EXHAUSTED,
            501: Code.UNIMPLEMENTED, 503: Code.UNAVAILABLE}.get(status, Code.UNKNOWN)


def build_app(services: Services) -> web.Application:
    cfg = services.config
    app = web.Application(middlewares=[transport_middleware],
                          client_max_size=cfg.socket.max_request_size_bytes)
    app[SERVICES] = services
    for item in cfg.socket.response_headers:
        name, value = item.split("=", 1)
        app.on_response_prepare.append(_static_header(name.strip(), value.strip()))
    health.register(app)
    for module in API_MODULES:
        module.register(app)
    openapi.register(app, endpoints())
    rpc.register(app)
    socket.register(app, services.realtime)
    return app


def _static_header(name: str, value: str):
    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault(name, value)
    return add


__all__ = ["build_app", "served_methods"]
