"""Nakama's JSON conventions on the wire, in one place.

Output: snake_case names, default values omitted (false, 0, "", empty lists and objects), int64
as strings, timestamps as RFC 3339 UTC with `Z`, JSON documents as strings. Input: snake_case or
lowerCamelCase names, unknown fields ignored, int64 as string or number.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from aiohttp import web

from kizuna.core.errors import invalid

SUCCESS_HEADERS = {
    "Cache-Control": "no-store, no-cache, must-revalidate",
    "Grpc-Metadata-Content-Type": "application/grpc",
}
ERROR_HEADERS = {"Cache-Control": "no-store, no-cache, must-revalidate"}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(body: Any, status: int = 200, success: bool = True) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json",
                        headers=SUCCESS_HEADERS if success else ERROR_HEADERS)


def prune(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop fields holding default values, as protojson does (EmitUnpopulated=false)."""
    return {k: v for k, v in doc.items() if v not in (None, False, 0, "", [], {}) or v is True}


def timestamp(value: datetime | None, precision: str = "seconds") -> str | None:
    """RFC 3339 UTC with a `Z`.

    `seconds`: whole seconds (what Nakama sends for reads). `fraction`: the full timestamp as
    protojson writes it, with 0, 3 or 6 fractional digits (PostgreSQL keeps microseconds).
    """
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    if precision == "seconds" or not value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if text.endswith("000") else text) + "Z"


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty). Malformed JSON is a code-3 error."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(_json_error(raw, exc)) from None
    if not isinstance(doc, dict):
        raise invalid("Request body must be a JSON object.")
    return doc


def _json_error(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    # Go's decoder says "unexpected EOF" for truncated input; mirror that, it is what clients see.
    if exc.pos >= len(raw.rstrip()):
        return "unexpected EOF"
    return f"invalid JSON: {exc.msg} at position {exc.pos}"


def field(doc: dict[str, Any], snake: str) -> Any:
    """A request field by its snake_case name or its lowerCamelCase name."""
    if snake in doc:
        return doc[snake]
    head, *rest = snake.split("_")
    camel = head + "".join(p[:1].upper() + p[1:] for p in rest)
    return doc.get(camel)


def query(request: web.Request, snake: str) -> str | None:
    """A query parameter by its snake_case or lowerCamelCase name."""
    q = request.query
    if snake in q:
        return q[snake]
    head, *rest = snake.split("_")
    camel = head + "".join(p[:1].upper() + p[1:] for p in rest)
    return q.get(camel)


def query_all(request: web.Request, snake: str) -> list[str]:
    q = request.query
    head, *rest = snake.split("_")
    camel = head + "".join(p[:1].upper() + p[1:] for p in rest)
    return q.getall(snake, []) + (q.getall(camel, []) if camel != snake else [])


def query_int(request: web.Request, snake: str, error: str) -> int | None:
    """An integer query parameter (None when absent); `error` is the message when it is not one."""
    raw = query(request, snake)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(error) from None


def notification(n: Any) -> dict[str, Any]:
    """A core Notification as Nakama's Notification message, for REST lists and socket pushes
    alike (times in whole seconds, defaults omitted)."""
    out: dict[str, Any] = {"id": n.id, "subject": n.subject, "content": n.content}
    if n.code:
        out["code"] = n.code
    if n.sender_id:
        out["sender_id"] = n.sender_id
    out["create_time"] = timestamp(n.create_time)
    if n.persistent:
        out["persistent"] = True
    return out
