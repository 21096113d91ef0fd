"""Liveness, as Nakama: `GET /` is 200 with an empty body, `GET /healthcheck` is `{}`."""

from __future__ import annotations

from aiohttp import web

from kizuna.api.codec import json_response


async def root(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def healthcheck(request: web.Request) -> web.Response:
    return json_response({})


def register(app: web.Application) -> None:
    app.router.add_get("/", root, allow_head=False)
    app.router.add_get("/healthcheck", healthcheck, allow_head=False)
