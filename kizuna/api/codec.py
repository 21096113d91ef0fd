"""The REST side of the wire: JSON bodies in, JSON responses out (conventions in kizuna.wire).

Input: the body must be a JSON object (an empty body is `{}`); malformed JSON is a code-3 error
worded as Nakama's gateway words it. Output: orjson, with the headers Nakama's gateway sends.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kizuna.errors import invalid
from kizuna.wire.codec import dumps

SUCCESS_HEADERS = {
    "Cache-Control": "no-store, no-cache, must-revalidate",
    "Grpc-Metadata-Content-Type": "application/grpc",
}
ERROR_HEADERS = {"Cache-Control": "no-store, no-cache, must-revalidate"}


def json_response(body: Any, status: int = 200, success: bool = True) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json",
                        headers=SUCCESS_HEADERS if success else ERROR_HEADERS)


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
