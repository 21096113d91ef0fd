"""`POST /v2/event`: a client reports an event ({name, properties, timestamp, external}) for the
server modules' `register_event` functions. Answered `{}` at once; the functions run later, off
the request path (runtime.event_queue_size, runtime.event_queue_workers)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from kizuna.api.codec import field, read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add, request_fields
from kizuna.core.errors import invalid


async def parse_event(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    return {name: field(body, name) for name in ("name", "properties", "timestamp", "external")}


def _timestamp(value: Any) -> str:
    if value is None or value == "":
        when = datetime.now(timezone.utc)
    else:
        try:
            if not isinstance(value, str):
                raise ValueError
            when = datetime.fromisoformat(value)
        except ValueError:
            raise invalid("timestamp: expected an RFC 3339 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    text = when.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


async def event(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    name = req.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("Event name is required.")
    properties = req.get("properties") or {}
    if not isinstance(properties, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in properties.items()):
        raise invalid("properties: expected an object of string values")
    external = req.get("external")
    if external is not None and not isinstance(external, bool):
        raise invalid("external: expected a boolean")
    doc = {"name": name, "properties": dict(properties),
           "timestamp": _timestamp(req.get("timestamp")), "external": bool(external)}
    runtime = call.services.runtime
    if runtime is not None:
        runtime.emit_event(doc, request_fields(call.request, call.session))
    return {}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/event", "Event", Auth.SESSION, parse_event, event),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
