"""JSON on the wire: orjson encoding, protojson's omission of defaults, timestamps, documents.

Output follows what Nakama's protojson marshaller writes: snake_case names, fields holding their
default value left out, int64 as strings, timestamps as RFC 3339 UTC with a `Z`, and JSON documents
(storage values, metadata, wallets, message content) as strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, overload

import orjson

from kizuna.errors import invalid

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Precision = Literal["seconds", "fraction"]


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def prune(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop fields holding default values, as protojson does (EmitUnpopulated=false)."""
    return {k: v for k, v in doc.items() if v not in (None, False, 0, "", [], {}) or v is True}


_SECONDS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


@overload
def timestamp(value: datetime, precision: Precision = "seconds") -> str: ...
@overload
def timestamp(value: datetime | None, precision: Precision = "seconds") -> str | None: ...


def timestamp(value: datetime | None, precision: Precision = "seconds") -> str | None:
    """RFC 3339 UTC with a `Z`; None stays None.

    `seconds`: whole seconds (what Nakama sends for the times of stored records it reads back).
    `fraction`: the full time as protojson writes a Timestamp, with 0, 3 or 6 fractional digits
    (PostgreSQL keeps microseconds).
    """
    if value is None:
        return None
    if value.tzinfo is not UTC:  # asyncpg's times are UTC already: skip the conversion
        value = value.astimezone(UTC)
    if precision == "seconds" or not value.microsecond:
        # orjson's formatter: five times faster than isoformat or strftime (whose %Y does not
        # pad years before 1000 on every libc); pages of records format thousands of times.
        return orjson.dumps(value, option=_SECONDS)[1:-1].decode()
    year = f"{value.year:04d}"
    text = year + value.strftime("-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if text.endswith("000") else text) + "Z"


def since_epoch(value: datetime | None, precision: Precision = "seconds") -> str | None:
    """A time that the schema stores as the epoch when unset (verify_time, disable_time)."""
    return timestamp(value, precision) if value is not None and value > EPOCH else None


def now() -> str:
    """The current time as a protojson Timestamp."""
    return timestamp(datetime.now(UTC), "fraction") or ""


def parse_timestamp(value: Any, name: str = "timestamp") -> datetime:
    """An RFC 3339 time from a client (a time without an offset is taken as UTC)."""
    try:
        if not isinstance(value, str):
            raise ValueError
        when = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"{name}: expected an RFC 3339 time") from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        # In UTC it must still be a date of the calendar (0001-01-01 to 9999-12-31, protojson's
        # Timestamp range): "0001-01-01T00:00:00+01:00" is not.
        return when.astimezone(UTC)
    except OverflowError:
        raise invalid(f"{name}: time out of range") from None


def document(text: str | None) -> Any:
    """A JSON document kept as text, decoded for server code ({} when empty)."""
    return orjson.loads(text) if text else {}


def document_text(value: Any, what: str) -> str:
    """A JSON document given as text (kept as is) or as a value (encoded)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        raise invalid(f"{what} must be JSON-encodable.") from None
