"""List limits and page cursors, as Nakama's list methods take and give them.

A limit is checked here once for every list method, REST, socket or `nk` alike: absent means the
method's default; outside 1..maximum is Nakama's "Invalid limit" error. A cursor is opaque to the
client: one codec writes every area's position (a short JSON array, base64url without padding) and
reads it back strictly, so a cursor this server did not make is a code-3 error rather than a
query on made-up values. Each area checks the decoded values fit its columns.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from kizuna.errors import invalid

MALFORMED_CURSOR = "Malformed cursor was used."


def invalid_limit_message(maximum: int = 100) -> str:
    return f"Invalid limit - limit must be between 1 and {maximum}."


INVALID_LIMIT = invalid_limit_message()


def limit(value: Any, default: int, maximum: int = 100) -> int:
    """A list method's page size: `default` when not given, else an integer in 1..maximum."""
    if value is None:
        return default
    if type(value) is not int or not 1 <= value <= maximum:
        raise invalid(invalid_limit_message(maximum))
    return value


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor holding a position (a list of JSON values)."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def decode_cursor(cursor: Any, message: str = MALFORMED_CURSOR) -> list[Any]:
    """The position a cursor of `encode_cursor` holds; `message` (code 3) for anything else."""
    try:
        if not isinstance(cursor, str) or "=" in cursor:
            raise ValueError
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = orjson.loads(raw)
        if type(values) is not list:
            raise ValueError
        return values
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise invalid(message) from None
