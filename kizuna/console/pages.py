"""Server-rendered pages: the Jinja2 environment, the page frame, sign-in and sign-out.

Every page extends templates/base.html: the navigation, the operator, and a banner on every page
while the console runs with the default password. Pages that change something post their forms
through static/console.js to the REST API (`data-api` forms), so a page and a script do the same
thing the same way.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import jinja2
from aiohttp import web

from kizuna.console.app import COOKIE, console_of
from kizuna.errors import KizunaError
from kizuna.version import __version__


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("kizuna.console", "templates"),
                             autoescape=jinja2.select_autoescape(default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["bytes"] = _bytes
    env.filters["duration"] = _duration
    return env


def _when(value: Any) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _bytes(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "—"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {s}s" if minutes else f"{s}s"


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    from kizuna.console.areas import NAV

    console = console_of(request)
    cfg = console.services.config
    page = environment().get_template(template).render(
        nav=NAV, path=request.path, operator=request.get("operator"),
        default_password=console.auth.default_password, node=cfg.name, version=__version__,
        **context)
    return web.Response(text=page, status=status, content_type="text/html",
                        headers={"Cache-Control": "no-store",
                                 "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin",
                                 "Content-Security-Policy":
                                     "default-src 'self'; img-src 'self' data:; "
                                     "style-src 'self'; script-src 'self'; frame-ancestors 'none'"})


def error_page(request: web.Request, err: KizunaError) -> web.Response:
    from kizuna.api.errors import HTTP_STATUS

    return render(request, "error.html", status=HTTP_STATUS[err.code], code=int(err.code),
                  message=err.message)


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/status")


async def login(request: web.Request) -> web.StreamResponse:
    nxt = request.query.get("next", "/status")
    if not nxt.startswith("/") or nxt.startswith("//"):  # only this console's own pages
        nxt = "/status"
    return render(request, "login.html", next=nxt,
                  token_expiry_sec=console_of(request).services.config.console.token_expiry_sec)


async def logout(request: web.Request) -> web.StreamResponse:
    resp = web.HTTPFound("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp


def register(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/login", login)
    app.router.add_get("/logout", logout)
