"""The HTTP listener's request handler: aiohttp's, with the limits and the error shape of Nakama.

aiohttp's HTTP parser refuses some requests before any route sees them (a request line or header
over its size limit, a `Content-Encoding` it cannot decode, malformed HTTP) and answers them
itself in plain text, logging a traceback. Those are the client's mistakes: here they are answered
like every other error, `{"code": 3, "message": ...}` with a 4xx, and logged in one line. Server
faults (5xx) keep aiohttp's handling.

Sizes: Nakama (Go's net/http) reads up to 1 MiB of request line and headers, so a `GET /v2/user`
naming a few hundred users in its query string works; aiohttp's defaults (8,190 bytes per line)
would refuse it. MAX_LINE_BYTES bounds the request line (the query string), MAX_FIELD_BYTES one
header, MAX_HEADERS their number.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from kizuna.api.errors import error_response
from kizuna.errors import Code, KizunaError

log = logging.getLogger("kizuna.api")

MAX_LINE_BYTES = 1 << 20  # the request line: method, path and query string
MAX_FIELD_BYTES = 64 << 10  # one header line
MAX_HEADERS = 128

LIMITS = {"max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_FIELD_BYTES,
          "max_headers": MAX_HEADERS}

TOO_LARGE = "Request line or header fields too large"


class NakamaRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering the requests its parser refuses in Nakama's
    shape and without a traceback in the log."""

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        text = TOO_LARGE if isinstance(exc, LineTooLong) else _reason(exc, message, status)
        log.info("Refused a malformed HTTP request",
                 extra={"status": status, "reason": text, "client": request.remote})
        resp = error_response(KizunaError(Code.INVALID_ARGUMENT, text))
        resp.force_close()
        return resp


def _reason(exc: BaseException | None, message: str | None, status: int) -> str:
    text = getattr(exc, "message", None) or message or HTTPStatus(status).phrase
    # aiohttp's messages may quote the offending bytes: keep one short, printable line.
    text = " ".join(str(text).split())
    return text[:200]


class NakamaServer(web.Server):
    def __call__(self) -> RequestHandler:
        return NakamaRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """`web.AppRunner` serving connections with NakamaRequestHandler and the limits above."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **{**LIMITS, **kwargs})

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return NakamaServer(base.request_handler, request_factory=base.request_factory,
                            handler_cancellation=base.handler_cancellation, loop=base._loop,
                            **base._kwargs)


__all__ = ["MAX_FIELD_BYTES", "MAX_HEADERS", "MAX_LINE_BYTES", "AppRunner"]
