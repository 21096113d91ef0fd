"""Liveness and version.

As Nakama: `GET /` is 200 with an empty body, `GET /healthcheck` is `{}` (clients and load
balancers rely on both staying exactly so: they are liveness, and stay 200 while draining).
Kizuna adds what Nakama lacks for operators: readiness at `GET /kizuna/ready` (503 as soon as a
node starts draining), a `Kizuna-Version` header on every response and `GET /kizuna/version`,
with the node name, version, commit, schema and uptime.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.api.codec import json_response
from kizuna.migrate import loader
from kizuna.ops.backup import schema_head
from kizuna.version import __version__, commit, full_version
from kizuna.wire.codec import timestamp

VERSION_HEADER = "Kizuna-Version"


async def root(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def healthcheck(request: web.Request) -> web.Response:
    return json_response({})


def _version_handler(started: float, started_at: str):
    known = [m.id for m in loader.load()]

    async def version(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        schema = None
        if services.pool is not None:
            async with services.pool.acquire() as conn:
                schema = await schema_head(conn, known)
        return json_response({
            "node": services.config.name, "version": __version__, "commit": commit(),
            "schema": schema, "started_at": started_at,
            "uptime_sec": int(time.monotonic() - started),
        })
    return version


async def readiness(request: web.Request) -> web.Response:
    """200 while the node takes traffic; 503 while it starts or drains (for load balancers)."""
    life = request.app[SERVICES].lifecycle
    if life is not None and life.ready and not life.draining:
        return json_response({"ready": True})
    state = "draining" if life is not None and life.draining else "starting"
    return json_response({"code": 14, "message": f"node is {state}"}, status=503, success=False)


async def _version_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[VERSION_HEADER] = full_version()


def register(app: web.Application) -> None:
    started = time.monotonic()
    started_at = timestamp(datetime.now(UTC))
    app.router.add_get("/", root, allow_head=False)
    app.router.add_get("/healthcheck", healthcheck, allow_head=False)
    app.router.add_get("/kizuna/version", _version_handler(started, started_at), allow_head=False)
    app.router.add_get("/kizuna/ready", readiness, allow_head=False)
    app.on_response_prepare.append(_version_header)
