"""`GET|POST /v2/rpc/{id}`: call a server module's RPC function over HTTP.

As Nakama's custom handler (it sits beside grpc-gateway, not behind it), with its own rules:

- Auth: an `Authorization` header decides: Basic carries the HTTP key (`runtime.http_key`),
  anything else must be a valid Bearer session token. Without the header, the `http_key` query
  parameter. Without either: 401.
- POST: the body is a JSON string literal holding the payload (nakama-js encodes twice) and the
  answer is `{"payload": "<result>"}`. With `?unwrap` (any value), the raw body is the payload and
  the raw result is the answer, with the request's content type echoed.
- GET: the payload is the `payload` query parameter.
- The id is case-insensitive. Other query parameters reach the function as ctx.query_params
  (without http_key), the headers as ctx.headers.
- Errors are written with three keys: {"error": <message>, "message": <message>, "code": <grpc>}
  and the gRPC code's HTTP status.
"""

from __future__ import annotations

import hmac

import orjson
from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.auth import basic_username
from kizuna.api.endpoint import request_fields
from kizuna.api.errors import HTTP_STATUS
from kizuna.errors import Code, KizunaError
from kizuna.runtime.context import frozen
from kizuna.wire.fields import path as path_param

NO_AUTH = "Auth token or HTTP key required"
BAD_KEY = "HTTP key invalid"
BAD_TOKEN = "Auth token invalid"


def error(code: Code, message: str) -> web.Response:
    return web.Response(body=orjson.dumps({"error": message, "message": message, "code": int(code)}),
                        status=HTTP_STATUS[code], content_type="application/json")


def _key_ok(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


async def rpc(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    http_key = services.config.runtime.http_key
    session = None
    header = request.headers.get("Authorization")
    if header is not None:
        key = basic_username(header)
        if key is not None:
            if not _key_ok(key, http_key):
                return error(Code.UNAUTHENTICATED, BAD_KEY)
        else:
            scheme, _, token = header.partition(" ")
            try:
                if scheme.lower() != "bearer" or not token.strip():
                    raise KizunaError(Code.UNAUTHENTICATED, BAD_TOKEN)
                session = services.sessions.authenticate(token.strip())
            except KizunaError:
                return error(Code.UNAUTHENTICATED, BAD_TOKEN)
    elif request.query.get("http_key"):
        if not _key_ok(request.query["http_key"], http_key):
            return error(Code.UNAUTHENTICATED, BAD_KEY)
    else:
        return error(Code.UNAUTHENTICATED, NO_AUTH)

    try:
        rpc_id = path_param(request.match_info, "id", "")
    except KizunaError as exc:
        return error(exc.code, exc.message)
    if not rpc_id:
        return error(Code.INVALID_ARGUMENT, "RPC ID must be set")
    runtime = services.runtime
    function = runtime.rpc_function(rpc_id) if runtime is not None else None
    if function is None:
        return error(Code.NOT_FOUND, "RPC function not found")

    unwrap = "unwrap" in request.query
    if request.method == "POST":
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error(Code.INVALID_ARGUMENT, "http: request body too large")
        if raw and not unwrap:
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return error(Code.INVALID_ARGUMENT, f"Invalid JSON body: {exc.msg}")
            if not isinstance(payload, str):
                return error(Code.INVALID_ARGUMENT, "The body must be a JSON string holding the "
                                                    "payload (or call with ?unwrap).")
        else:
            payload = raw.decode("utf-8", errors="replace")
    else:
        payload = request.query.get("payload", "")

    fields = request_fields(request, session)
    fields["query_params"] = frozen({k: v for k, v in fields["query_params"].items()
                                     if k != "http_key"})
    try:
        result = await runtime.call_rpc(function, fields, payload)  # type: ignore[union-attr]
    except KizunaError as exc:
        return error(exc.code, exc.message)
    if unwrap:
        return web.Response(body=result.encode(), headers={
            "Content-Type": request.headers.get("Content-Type") or "text/plain"})
    return web.Response(body=orjson.dumps({"payload": result}), content_type="application/json")


# The API method RPCs are timed under in the node's metrics (api.proto's RpcFunc).
rpc.nakama_method = "RpcFunc"  # type: ignore[attr-defined]


def register(app: web.Application) -> None:
    app.router.add_route("GET", "/v2/rpc/{id:.*}", rpc)
    app.router.add_route("POST", "/v2/rpc/{id:.*}", rpc)
