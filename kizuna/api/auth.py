"""Who is calling: the server key (HTTP Basic) and session tokens (Bearer)."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from kizuna.api.app_keys import SERVICES
from kizuna.core.sessions import Session
from kizuna.errors import Code, KizunaError


def _header(request: web.Request) -> str:
    headers = request.headers
    return headers.get("Authorization") or headers.get("grpcgateway-authorization") or ""


def basic_username(value: str) -> str | None:
    """The username part of an HTTP Basic credential, or None if malformed."""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, _password = decoded.partition(":")
    if not sep:  # Go's parseBasicAuth needs the colon: "key" alone is malformed
        return None
    return username


def require_server_key(request: web.Request, server_key: str) -> None:
    value = _header(request)
    if not value:
        raise KizunaError(Code.UNAUTHENTICATED, "Server key required")
    username = basic_username(value)
    if username is None or not hmac.compare_digest(username.encode(), server_key.encode()):
        raise KizunaError(Code.UNAUTHENTICATED, "Server key invalid")


def bearer_token(request: web.Request) -> str | None:
    value = _header(request)
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def require_session(request: web.Request) -> Session:
    """The caller's session; 401 `Auth token required` / `Auth token invalid` otherwise."""
    value = _header(request)
    if not value:
        raise KizunaError(Code.UNAUTHENTICATED, "Auth token required")
    token = bearer_token(request)
    if not token:
        raise KizunaError(Code.UNAUTHENTICATED, "Auth token invalid")
    return request.app[SERVICES].sessions.authenticate(token)
