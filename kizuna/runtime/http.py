"""Custom HTTP routes (`initializer.register_http`): the request a handler gets, the response it
may return.

A handler returns an `HttpResponse`, or a shortcut: a dict or list (JSON, 200), a str (text/plain,
200), bytes (application/octet-stream, 200) or None (200, empty body). Raising `Error` answers
with Nakama's error body `{"code", "message"}` and the matching HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from kizuna.runtime.errors import Code, Error


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, list[str]]
    headers: Mapping[str, list[str]]
    body: bytes = b""

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a malformed body is `Error(..., INVALID_ARGUMENT)` (400)."""
        try:
            return orjson.loads(self.body) if self.body.strip() else None
        except orjson.JSONDecodeError:
            raise Error("Request body is not valid JSON.", Code.INVALID_ARGUMENT) from None

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of a header, by case-insensitive name."""
        low = name.lower()
        for key, values in self.headers.items():
            if key.lower() == low and values:
                return values[0]
        return default


@dataclass(slots=True)
class HttpResponse:
    body: Any = b""
    """bytes, str, or anything JSON-encodable (then sent as application/json)."""
    status: int = 200
    headers: Mapping[str, str] | None = field(default_factory=dict)
    """None is no extra header, as {} is (the positional form `HttpResponse(b, 404, None, t)`)."""
    content_type: str | None = None

    def problem(self) -> str | None:
        """What makes this response unsendable, in words for the module's author; None if fine."""
        status = self.status
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            return f"status must be an int from 100 to 599, got {status!r}"
        headers = self.headers if self.headers is not None else {}
        if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            return "headers must be a dict of str to str (or None)"
        if self.content_type is not None and not isinstance(self.content_type, str):
            return f"content_type must be a str (or None), got {type(self.content_type).__name__}"
        if not isinstance(self.body, (bytes, str)) and self.body is not None:
            try:
                orjson.dumps(self.body)
            except TypeError as exc:
                return f"body must be bytes, str or JSON-encodable: {exc}"
        return None

    def encode(self) -> tuple[bytes, str]:
        body, ctype = self.body, self.content_type
        if isinstance(body, bytes):
            return body, ctype or "application/octet-stream"
        if isinstance(body, str):
            return body.encode(), ctype or "text/plain; charset=utf-8"
        if body is None:
            return b"", ctype or "text/plain; charset=utf-8"
        return orjson.dumps(body), ctype or "application/json"


def as_response(result: Any) -> HttpResponse:
    """The response a handler's result stands for; `InvalidResponse` (naming what is wrong) when
    it cannot be sent."""
    if isinstance(result, HttpResponse):
        resp = result
    elif result is None:
        resp = HttpResponse(b"")
    else:
        resp = HttpResponse(result)
    problem = resp.problem()
    if problem is not None:
        raise InvalidResponse(problem)
    return resp


class InvalidResponse(Exception):
    """A custom HTTP handler returned something that cannot be sent (see HttpResponse)."""
