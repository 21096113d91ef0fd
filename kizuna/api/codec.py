"""The REST side of the wire: JSON bodies in, JSON responses out (conventions in kizuna.wire).

Input: the body must be a JSON object (an empty body is `{}`); malformed JSON is a code-3 error
worded as Nakama's gateway words it. Output: orjson, with the headers Nakama's gateway sends.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from kizuna.errors import Code, KizunaError, invalid
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
    """The request body as a JSON object ({} when empty). Malformed JSON is a code-3 error, and
    so is a body its `Content-Encoding` does not describe (a gzip header on a plain body)."""
    try:
        raw = await request.read()
    except BODY_ERRORS as exc:
        raise UnreadableBody(body_error(exc)) from None
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(_json_error(raw, exc)) from None
    if not isinstance(doc, dict):
        raise invalid("Request body must be a JSON object.")
    return doc


# What reading a body raises when aiohttp cannot decode it: a Content-Encoding the body does not
# match (a gzip header on a plain body), a coding it does not know, broken chunked framing.
BODY_ERRORS = (HttpProcessingError, RequestPayloadError)


class UnreadableBody(KizunaError):
    """A body that could not be read: code 3, and the connection is closed after the answer
    (the rest of the body cannot be skipped reliably)."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.INVALID_ARGUMENT, message)


def body_error(exc: BaseException) -> str:
    """The message for a body aiohttp could not read."""
    cause = exc if isinstance(exc, HttpProcessingError) else exc.__cause__
    detail = getattr(cause, "message", None) or ""
    detail = " ".join(str(detail).split())[:200]
    return f"Request body could not be read: {detail}" if detail else \
        "Request body could not be read."


def _json_error(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    # Go's decoder says "unexpected EOF" for truncated input; mirror that, it is what clients see.
    if exc.pos >= len(raw.rstrip()):
        return "unexpected EOF"
    return f"invalid JSON: {exc.msg} at position {exc.pos}"
