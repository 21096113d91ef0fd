"""The one mapping from KizunaError (a gRPC code) to an HTTP error response."""

from __future__ import annotations

from aiohttp import web

from kizuna.api.codec import json_response
from kizuna.errors import Code, KizunaError

HTTP_STATUS = {
    Code.OK: 200, Code.CANCELED: 499, Code.UNKNOWN: 500, Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504, Code.NOT_FOUND: 404, Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403, Code.RESOURCE_EXHAUSTED: 429, Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409, Code.OUT_OF_RANGE: 400, Code.UNIMPLEMENTED: 501, Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503, Code.DATA_LOSS: 500, Code.UNAUTHENTICATED: 401,
}


def error_response(err: KizunaError) -> web.Response:
    resp = json_response({"code": int(err.code), "message": err.message},
                         status=HTTP_STATUS[err.code], success=False)
    if err.code == Code.UNAUTHENTICATED:
        resp.headers["WWW-Authenticate"] = err.message
    return resp
