"""`POST /v2/event`: a client reports an event ({name, properties, timestamp, external}) for the
server modules' `register_event` functions. Answered `{}` at once; the functions run later, off
the request path (runtime.event_queue_size, runtime.event_queue_workers)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add, request_fields
from kizuna.errors import invalid
from kizuna.wire import codec, fields


async def parse_event(request: web.Request) -> dict[str, Any]:
    return fields.pick(await read_json(request), ("name", "properties", "timestamp", "external"))


def _timestamp(value: Any) -> str:
    if value is None or value == "":
        return codec.now()
    return codec.timestamp(codec.parse_timestamp(value), "fraction") or ""


async def event(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    name = req.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("Event name is required.")
    doc = {"name": name, "properties": dict(fields.optional_string_map(req, "properties") or {}),
           "timestamp": _timestamp(req.get("timestamp")),
           "external": fields.boolean(req, "external")}
    call.services.runtime.emit_event(doc, request_fields(call.request, call.session))
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/event", "Event", Auth.SESSION, parse_event, event),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
