"""Status: every node of the cluster (from the node registry), and the configuration.

`GET /v2/console/status` answers Nakama's StatusList shape (`nodes[]` with name, health,
session_count, presence_count, match_count, goroutine_count, avg_latency_ms, avg_rate_sec,
avg_input_kbs, avg_output_kbs, party_count, create_time; `timestamp`), each node with Kizuna's
additions: version, commit, schema (oldest..newest it serves), state, address, uptime_sec.
This node's own figures are read live; the others' are what they wrote with their last heartbeat
(every 5 s).

`GET /v2/console/config`: `{config, warnings, server_version}` as Nakama's, `config` a JSON
string of every key with secrets masked (runtime.env values too: they often hold secrets).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
from aiohttp import web

from kizuna.console.app import API_PREFIX, Console, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import streams
from kizuna.ops import nodes as node_registry
from kizuna.version import __version__, commit

HEALTH_OK, HEALTH_ERROR, HEALTH_CONNECTING, HEALTH_DISCONNECTING = 0, 1, 2, 3
MASK = "********"


def live_figures(console: Console) -> dict[str, Any]:
    """This node's own figures, now (also what it publishes with each heartbeat)."""
    realtime = console.services.realtime
    by_mode = realtime.tracker.count_by_mode()
    return {
        "session_count": len(realtime.registry),
        "presence_count": sum(by_mode.values()),
        "match_count": realtime.tracker.count_streams(streams.MATCH_RELAYED)
        + realtime.tracker.count_streams(streams.MATCH_AUTHORITATIVE),
        "party_count": realtime.tracker.count_streams(streams.PARTY),
        "commit": commit(),
    }


def _node_json(row: node_registry.NodeRow, own: dict[str, Any] | None) -> dict[str, Any]:
    stats = {**row.stats, **(own or {})}
    health = HEALTH_OK if row.state == "serving" else HEALTH_DISCONNECTING
    started = row.started_at
    return {
        "name": row.name,
        "health": health,
        "session_count": int(stats.get("session_count", 0)),
        "presence_count": int(stats.get("presence_count", 0)),
        "match_count": int(stats.get("match_count", 0)),
        "goroutine_count": 0,
        "avg_latency_ms": float(stats.get("avg_latency_ms", 0.0)),
        "avg_rate_sec": float(stats.get("avg_rate_sec", 0.0)),
        "avg_input_kbs": float(stats.get("avg_input_kbs", 0.0)),
        "avg_output_kbs": float(stats.get("avg_output_kbs", 0.0)),
        "party_count": int(stats.get("party_count", 0)),
        "create_time": started.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        # Kizuna's additions
        "instance": row.instance,
        "version": row.version,
        "commit": stats.get("commit", ""),
        "schema_oldest": row.schema_oldest,
        "schema_newest": row.schema_newest,
        "state": row.state,
        "address": row.address,
        "uptime_sec": int(time.time() - started.timestamp()),
        "seconds_since_heartbeat": round(row.seconds_since_heartbeat, 1),
        "this_node": own is not None,
    }


async def status_data(console: Console) -> dict[str, Any]:
    rows = await node_registry.node_rows(console.pool)
    me = console.services.config.name
    own_instance = console.registry_instance
    nodes = []
    for row in rows:
        mine = row.name == me and (not own_instance or row.instance == own_instance)
        own = None
        if mine:
            own = live_figures(console)
            if console.stats is not None:
                own.update(console.stats.rates())
        nodes.append(_node_json(row, own))
    return {"nodes": nodes,
            "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")}


async def api_status(request: web.Request) -> web.StreamResponse:
    return json_ok(await status_data(console_of(request)))


def config_data(console: Console) -> dict[str, Any]:
    cfg = console.services.config
    values = cfg.to_dict(redact=True)
    if values.get("runtime.env"):
        values["runtime.env"] = [f"{item.split('=', 1)[0]}={MASK}" for item in values["runtime.env"]]
    return {"config": orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode(),
            "warnings": [{"field": "", "message": w} for w in cfg.warnings],
            "server_version": __version__}


async def api_config(request: web.Request) -> web.StreamResponse:
    return json_ok(config_data(console_of(request)))


async def status_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    data = await status_data(console)
    return render(request, "status.html", nodes=data["nodes"], timestamp=data["timestamp"])


async def config_page(request: web.Request) -> web.StreamResponse:
    data = config_data(console_of(request))
    values = orjson.loads(data["config"])
    return render(request, "config.html", values=sorted(values.items()),
                  warnings=data["warnings"], server_version=data["server_version"])


def register(app: web.Application) -> None:
    app.router.add_get(f"{API_PREFIX}/status", api_status)
    app.router.add_get(f"{API_PREFIX}/config", api_config)
    app.router.add_get("/status", status_page)
    app.router.add_get("/config", config_page)
