"""The audit log: every change made through the console, newest first (`GET /v2/console/audit`)."""

from __future__ import annotations

from aiohttp import web

from kizuna.console.app import API_PREFIX, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import audit
from kizuna.errors import invalid
from kizuna.wire import paging


def _args(request: web.Request) -> tuple[int, str | None, str | None]:
    raw = request.query.get("limit")
    try:
        limit = paging.limit(int(raw) if raw is not None else None, default=50, maximum=500)
    except ValueError:
        raise invalid(paging.invalid_limit_message(500)) from None
    return limit, request.query.get("cursor") or None, request.query.get("username") or None


async def api_audit(request: web.Request) -> web.StreamResponse:
    limit, cursor, username = _args(request)
    entries, nxt = await audit.list_entries(console_of(request).pool, limit, cursor, username)
    return json_ok({"entries": [e.to_json() for e in entries], "next_cursor": nxt or ""})


async def audit_page(request: web.Request) -> web.StreamResponse:
    limit, cursor, username = _args(request)
    entries, nxt = await audit.list_entries(console_of(request).pool, limit, cursor, username)
    return render(request, "audit.html", entries=entries, next_cursor=nxt, username=username or "")


def register(app: web.Application) -> None:
    app.router.add_get(f"{API_PREFIX}/audit", api_audit)
    app.router.add_get("/audit", audit_page)
