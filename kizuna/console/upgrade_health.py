"""Upgrade health: where this database and its nodes stand against this release, in one place.

`GET /v2/console/upgrade` answers with `schema` (the database's applied head, this release's head
and window, the schema guard's verdict), `nodes` (every live node with its release and schema
window, `in_window` false for one whose release does not serve the database's schema, and
`blocks_contract`), `migrations` (pending, unknown, changed and interrupted, as `kizuna migrate
status` computes them, and `contract`: who would make `migrate up` refuse the next contract
migration), `backups` (the last manual and automatic backups, the archives in this node's
backup.dir), `plan` (what `kizuna upgrade plan` says, its lines and its document) and `clients`
(the SDKs seen in the last 7 days against the release's tested ones; `clients_limit`,
`clients_cursor` page them, as `GET /v2/console/upgrade/clients?limit=&cursor=` does).
The page `/upgrade` shows the same. Everything is read through `kizuna.ops.upgrade_health`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.console.app import API_PREFIX, Console, console_of, json_ok
from kizuna.console.pages import render
from kizuna.errors import invalid
from kizuna.migrate import loader
from kizuna.migrate.loader import Migration
from kizuna.ops import upgrade_health as health
from kizuna.release import manifest
from kizuna.wire import paging

PLAN_CACHE = web.AppKey("upgrade_plan_cache", health.PlanCache)
MIGRATIONS = web.AppKey("upgrade_migrations", list)
CLIENTS_DEFAULT, CLIENTS_MAX = 50, 200


def _limit(raw: str | None) -> int:
    try:
        return paging.limit(int(raw) if raw not in (None, "") else None, default=CLIENTS_DEFAULT,
                            maximum=CLIENTS_MAX)
    except ValueError:
        raise invalid(paging.invalid_limit_message(CLIENTS_MAX)) from None


def _migrations(app: web.Application) -> list[Migration]:
    cached: list[Migration] = app[MIGRATIONS]
    if not cached:
        cached.extend(loader.load())
    return cached


async def upgrade_data(request: web.Request) -> dict[str, Any]:
    console: Console = console_of(request)
    cfg = console.services.config
    limit = _limit(request.query.get("clients_limit"))
    cursor = request.query.get("clients_cursor") or None
    async with console.pool.acquire() as conn:
        return await health.report(
            conn, cfg, manifest(), _migrations(request.app), node_name=cfg.name,
            instance=console.registry_instance, clients_limit=limit, clients_cursor=cursor,
            plan_cache=request.app[PLAN_CACHE])


async def api_upgrade(request: web.Request) -> web.StreamResponse:
    return json_ok(await upgrade_data(request))


async def api_clients(request: web.Request) -> web.StreamResponse:
    limit = _limit(request.query.get("limit"))
    cursor = request.query.get("cursor") or None
    async with console_of(request).pool.acquire() as conn:
        return json_ok(await health.clients_section(conn, manifest(), limit, cursor))


async def upgrade_page(request: web.Request) -> web.StreamResponse:
    data = await upgrade_data(request)
    return render(request, "upgrade.html", schema=data["schema"], nodes=data["nodes"],
                  migrations=data["migrations"], backups=data["backups"], plan=data["plan"],
                  clients=data["clients"], timestamp=data["timestamp"],
                  clients_cursor=request.query.get("clients_cursor") or "")


def register(app: web.Application) -> None:
    app[PLAN_CACHE] = health.PlanCache()
    app[MIGRATIONS] = []
    app.router.add_get(f"{API_PREFIX}/upgrade", api_upgrade)
    app.router.add_get(f"{API_PREFIX}/upgrade/clients", api_clients)
    app.router.add_get("/upgrade", upgrade_page)
