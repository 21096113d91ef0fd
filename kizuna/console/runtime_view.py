"""Runtime and API explorer: the server modules this node loaded, and calling their RPCs.

`GET /v2/console/runtime`: Nakama's RuntimeInfo shape (`lua_modules`, `go_modules`,
`js_modules` of `{path, mod_time}`, and `lua|go|js_rpc_functions`), all empty here, with
Kizuna's Python modules under `py_modules` (name, path, mod_time, loaded_at, and what each
registered: RPCs, before/after hooks, realtime hooks, events, leaderboard and tournament
callbacks, custom HTTP routes...) and `py_rpc_functions`; plus `runtime_path`, `loaded_at`,
`dev` (reloads on change) and `summary`. Read from the registry the node serves now, so a
`--dev` reload shows at once.

`GET /v2/console/api/endpoints`: `{endpoints: [], rpc_endpoints: [{method, body_template}]}` as
Nakama's console (Kizuna's explorer calls RPCs only; each entry also names its `module`).

`POST /v2/console/api/endpoints/rpc/{id}` (Nakama's CallRpcEndpoint) with
`{"user_id": "...", "body": "<payload>"}` calls an RPC through the runtime's own RPC path
(`Runtime.rpc_function` / `Runtime.call_rpc`, as `POST /v2/rpc/{id}` does), either
- as a user (`user_id` set): the ctx a session call of that user gets: user_id, username (read
  from the database now), empty vars, execution mode "rpc"; or
- with the HTTP key (`user_id` empty): no user, as `POST /v2/rpc/{id}?http_key=...`.
No game HTTP request exists, so `headers` and `query_params` are empty mappings and `client_ip`
is unset. The answer is `{"body": "<result>", "error_message": ""}`; a failing RPC answers 200
too, with its `error_message` and (Kizuna's addition) `error_code`, as the call was made. An
unknown RPC or user is 404 (code 5), a malformed user id 400 (code 3). Every call is audited.
`POST /v2/console/api/endpoints/rpc` takes the id as `method` in the body (the page's form).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.console.app import API_PREFIX, audit_note, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import accounts
from kizuna.errors import Code, KizunaError, invalid
from kizuna.runtime import loader
from kizuna.runtime.context import frozen
from kizuna.runtime.registry import Function, HttpRoute, Registry
from kizuna.runtime.service import Runtime
from kizuna.wire import methods

# How a registry field's keys read: API methods and socket messages by their Nakama names.
_KEY_NAMES = {"before": methods.api_name, "after": methods.api_name,
              "rt_before": methods.rt_name, "rt_after": methods.rt_name}
# The kind shown for a registry field (others: the field's own name).
_KINDS = {"rpcs": "rpc", "events": "event"}


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def _function_name(f: Function) -> str:
    fn = f.fn
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
               or type(fn).__name__)


def registrations(registry: Registry) -> dict[str, list[dict[str, str]]]:
    """What each module registered: module -> [{kind, name, function}], in the registry's order.

    Every field of the registry is read (dicts of id -> function, lists of functions, custom
    HTTP routes), so what the runtime learns to register later shows up here too."""
    out: dict[str, list[dict[str, str]]] = {m: [] for m in registry.modules}
    for fld in dataclasses.fields(registry):
        if fld.name == "modules":
            continue
        kind = _KINDS.get(fld.name, fld.name)
        value = getattr(registry, fld.name)
        entries: list[tuple[str, Any]]
        if isinstance(value, dict):
            name_of = _KEY_NAMES.get(fld.name, str)
            entries = sorted((name_of(k), v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            entries = [("", v) for v in value]
        elif value is None:
            entries = []
        else:
            entries = [("", value)]
        for name, item in entries:
            if isinstance(item, HttpRoute):
                verbs = ",".join(sorted(item.methods)) if item.methods else "any method"
                name, item = f"{item.path} ({verbs})", item.function
            if not isinstance(item, Function):
                continue
            out.setdefault(item.module, []).append(
                {"kind": kind, "name": name, "function": _function_name(item)})
    return out


def _files(root: Path) -> dict[str, tuple[str, float | None]]:
    """module name -> (file path, modification time) of the modules now under runtime.path."""
    found, _ = loader.discover(root)
    out: dict[str, tuple[str, float | None]] = {}
    for f in found:
        try:
            mtime: float | None = f.file.stat().st_mtime
        except OSError:
            mtime = None
        out[f.name] = (str(f.file.resolve()), mtime)
    return out


async def runtime_data(runtime: Runtime) -> dict[str, Any]:
    registry = runtime.registry  # read once: a reload swaps it whole
    files = await asyncio.to_thread(_files, runtime.path)
    loaded_at = _iso(runtime.loaded_at)
    by_module = registrations(registry)
    modules = []
    for name in registry.modules:
        path, mtime = files.get(name, ("", None))
        modules.append({"name": name, "path": path, "mod_time": _iso(mtime),
                        "loaded_at": loaded_at, "registrations": by_module.get(name, [])})
    return {
        "lua_rpc_functions": [], "go_rpc_functions": [], "js_rpc_functions": [],
        "go_modules": [], "lua_modules": [], "js_modules": [],
        "py_rpc_functions": sorted(registry.rpcs),
        "py_modules": modules,
        "runtime_path": str(runtime.path.resolve()),
        "loaded_at": loaded_at,
        "dev": runtime.dev,
        "summary": registry.summary(),
    }


async def api_runtime(request: web.Request) -> web.StreamResponse:
    return json_ok(await runtime_data(console_of(request).services.runtime))


def rpc_endpoints(runtime: Runtime) -> list[dict[str, str]]:
    return [{"method": rpc_id, "body_template": "", "module": f.module}
            for rpc_id, f in sorted(runtime.registry.rpcs.items())]


async def api_endpoints(request: web.Request) -> web.StreamResponse:
    runtime = console_of(request).services.runtime
    return json_ok({"endpoints": [], "rpc_endpoints": rpc_endpoints(runtime)})


async def call_rpc(request: web.Request, rpc_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call an RPC as a user or with the HTTP key; the answer of CallRpcEndpoint."""
    services = console_of(request).services
    runtime = services.runtime
    user_id = body.get("user_id", body.get("userId"))
    payload = body.get("body")
    if user_id is None:
        user_id = ""
    if payload is None:
        payload = ""
    if not isinstance(user_id, str):
        raise invalid("user_id must be a string.")
    if not isinstance(payload, str):
        raise invalid("body must be a string (the RPC's payload).")
    if not isinstance(rpc_id, str) or not rpc_id.strip():
        raise invalid("RPC ID must be set.")
    function = runtime.rpc_function(rpc_id.strip())
    if function is None:
        raise KizunaError(Code.NOT_FOUND, "RPC function not found.")
    key = rpc_id.strip().lower()

    # The ctx of POST /v2/rpc/{id}: no game HTTP request here, so no headers, query or address.
    fields: dict[str, Any] = {"headers": frozen({}), "query_params": frozen({})}
    user_id = user_id.strip()
    username = ""
    if user_id:
        users = await accounts.get_users(services.domain, [user_id], [])
        if not users:
            raise KizunaError(Code.NOT_FOUND, "User not found.")
        user_id, username = users[0].id, users[0].username
        fields.update(user_id=user_id, username=username, vars=frozen({}))
        caller = f"as user {user_id} ({username})"
    else:
        caller = "with the HTTP key"

    started = time.perf_counter()
    result, message, code = "", "", 0
    try:
        result = await runtime.call_rpc(function, fields, payload)
    except KizunaError as exc:
        message, code = exc.message, int(exc.code)
    took = round((time.perf_counter() - started) * 1000, 1)
    audit_note(request, f"called rpc {key} {caller}", rpc=key, user_id=user_id,
               error_code=code)
    return {"body": result, "error_message": message,
            # Kizuna's additions: the error's gRPC code (0: none), who the call ran as, how long
            "error_code": code, "rpc": key, "user_id": user_id, "username": username,
            "duration_ms": took}


async def api_call_rpc(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_ok(await call_rpc(request, request.match_info["id"], body))


async def api_call_rpc_form(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    rpc_id = body.get("method", body.get("rpc", ""))
    if not isinstance(rpc_id, str):
        raise invalid("method must be a string (the RPC ID).")
    return json_ok(await call_rpc(request, rpc_id, body))


async def runtime_page(request: web.Request) -> web.StreamResponse:
    data = await runtime_data(console_of(request).services.runtime)
    return render(request, "runtime.html", modules=data["py_modules"],
                  runtime_path=data["runtime_path"], loaded_at=data["loaded_at"],
                  dev=data["dev"], rpc_count=len(data["py_rpc_functions"]))


async def explorer_page(request: web.Request) -> web.StreamResponse:
    runtime = console_of(request).services.runtime
    rpcs = rpc_endpoints(runtime)
    chosen = request.query.get("rpc", "").lower()
    return render(request, "explorer.html", rpcs=rpcs, chosen=chosen,
                  user_id=request.query.get("user_id", ""))


def register(app: web.Application) -> None:
    app.router.add_get(f"{API_PREFIX}/runtime", api_runtime)
    app.router.add_get(f"{API_PREFIX}/api/endpoints", api_endpoints)
    app.router.add_post(f"{API_PREFIX}/api/endpoints/rpc", api_call_rpc_form)
    app.router.add_post(f"{API_PREFIX}/api/endpoints/rpc/{{id:.+}}", api_call_rpc)
    app.router.add_get("/runtime", runtime_page)
    app.router.add_get("/explorer", explorer_page)
