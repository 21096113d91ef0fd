"""HTTP routes registered by server modules (`initializer.register_http(path, fn, methods)`).

They are looked up when no built-in route matches the path (a module cannot shadow a Kizuna or
Nakama route), through the runtime's current registry, so a `--dev` reload adds and removes routes
without restarting. A matching path with another method is 501 Method Not Allowed, as elsewhere.
Errors raised by the handler use Nakama's `{"code", "message"}` body.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError

from kizuna.api.app_keys import SERVICES
from kizuna.api.endpoint import request_fields
from kizuna.runtime.context import frozen
from kizuna.runtime.http import HttpRequest


async def runtime_routes(request: web.Request, handler):
    """The request's handler, or a server module's route when no built-in route matched: called
    by the transport middleware (kizuna/api/app.py) in place of the handler."""
    info = request.match_info
    if isinstance(info, MatchInfoError) and info.http_exception.status == 404:
        runtime = request.app[SERVICES].runtime
        if runtime is not None and runtime.registry.http:
            found = runtime.http_route(request.method, request.path)
            if found is not None:
                return await _serve(request, runtime, *found)
            allowed = runtime.registry.http_methods(request.path)
            if allowed:
                raise web.HTTPMethodNotAllowed(request.method, allowed)
    return await handler(request)


async def _serve(request: web.Request, runtime, route, params: dict[str, str]) -> web.Response:
    body = await request.read()
    query: dict[str, list[str]] = {}
    for name, value in request.query.items():
        query.setdefault(name, []).append(value)
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name, []).append(value)
    req = HttpRequest(method=request.method, path=request.path, path_params=frozen(params),
                      query=frozen(query), headers=frozen(headers), body=body)
    resp = await runtime.call_http(route, request_fields(request, None), req)
    data, content_type = resp.encode()
    out_headers = dict(resp.headers or {})
    if not any(k.lower() == "content-type" for k in out_headers):
        out_headers["Content-Type"] = content_type
    return web.Response(body=data, status=resp.status, headers=out_headers)
