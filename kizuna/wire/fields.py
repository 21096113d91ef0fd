"""Reading request fields, the same way for REST bodies, query strings and socket messages.

Lenient on input, as the design asks: a field may be named in snake_case or lowerCamelCase, unknown
fields are ignored, an int64 may come as a number or a numeric string, a numeric or boolean
wrapper type (Int32Value, BoolValue) as a bare value or as `{"value": x}` (a string field is read
as is: `status` reads its StringValue with `wrapped`). A field of the wrong type is a
code-3 error worded `<field>: expected <type>`, the same at every endpoint and socket message.
Absent fields read as the type's default (or None for the `optional_` readers).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

from kizuna.config import parse_bool
from kizuna.errors import invalid


class MultiMapping(Protocol):
    """A query string: the part of aiohttp's `request.query` (a MultiDictProxy) read here."""

    def __contains__(self, key: object, /) -> bool: ...

    def get(self, key: str, /) -> str | None: ...

    def getall(self, key: str, default: list[str], /) -> list[str]: ...


@lru_cache(maxsize=1024)
def camel(snake: str) -> str:
    """`user_id` -> `userId`: the lowerCamelCase JSON name protojson also accepts."""
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def field(doc: Mapping[str, Any], snake: str) -> Any:
    """A field by its snake_case name or its lowerCamelCase name (None when absent)."""
    value = doc.get(snake)
    if value is None and "_" in snake:
        value = doc.get(camel(snake))
    return value


def wrapped(value: Any) -> Any:
    """A wrapper type's value: protojson writes it bare; `{"value": x}` is accepted too."""
    if type(value) is dict:
        return value.get("value")
    return value


def optional_text(doc: Mapping[str, Any], name: str) -> str | None:
    value = field(doc, name)
    if value is None:
        return None
    if type(value) is not str:
        raise invalid(f"{name}: expected a string")
    return value


def text(doc: Mapping[str, Any], name: str) -> str:
    return optional_text(doc, name) or ""


def optional_string_value(doc: Mapping[str, Any], name: str) -> str | None:
    """A StringValue field (set or not, "" included): a bare string or `{"value": "..."}`."""
    value = field(doc, name)
    if type(value) is dict:
        value = value.get("value", "")
    if value is None:
        return None
    if type(value) is not str:
        raise invalid(f"{name}: expected a string")
    return value


def optional_integer(doc: Mapping[str, Any], name: str) -> int | None:
    """An int32/int64 field: a JSON number or a numeric string, as protojson accepts."""
    value = wrapped(field(doc, name))
    if value is None or value == "":
        return None
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    raise invalid(f"{name}: expected an integer")


def integer(doc: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = optional_integer(doc, name)
    return default if value is None else value


def optional_boolean(doc: Mapping[str, Any], name: str) -> bool | None:
    value = wrapped(field(doc, name))
    if value is None:
        return None
    if type(value) is bool:
        return value
    if type(value) is str and value in ("true", "false"):
        return value == "true"
    raise invalid(f"{name}: expected a boolean")


def boolean(doc: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = optional_boolean(doc, name)
    return default if value is None else value


def strings(doc: Mapping[str, Any], name: str) -> list[str]:
    value = field(doc, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(type(v) is str for v in value):
        raise invalid(f"{name}: expected a list of strings")
    return value


def objects(doc: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    value = field(doc, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(type(v) is dict for v in value):
        raise invalid(f"{name}: expected a list of objects")
    return value


def obj(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = field(doc, name)
    if value is None:
        return {}
    if type(value) is not dict:
        raise invalid(f"{name}: expected an object")
    return value


def optional_string_map(doc: Mapping[str, Any], name: str) -> dict[str, str] | None:
    """A map<string, string> (session vars, event properties)."""
    value = field(doc, name)
    if value is None:
        return None
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise invalid(f"{name}: expected an object of string values")
    return value


def pick(doc: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The known fields of a message under their snake_case names (for hooks and handlers)."""
    return {name: field(doc, name) for name in names}


# -- query strings -------------------------------------------------------------------------------


def query(q: MultiMapping, snake: str) -> str | None:
    """A query parameter by its snake_case or lowerCamelCase name."""
    if snake in q:
        return q.get(snake)
    return q.get(camel(snake))


def query_all(q: MultiMapping, snake: str) -> list[str]:
    """Every value of a repeated query parameter, under either name."""
    alias = camel(snake)
    return q.getall(snake, []) + (q.getall(alias, []) if alias != snake else [])


def query_int(q: MultiMapping, snake: str, error: str) -> int | None:
    """An integer query parameter (None when absent); `error` is the message when it is not one."""
    raw = query(q, snake)
    if not raw:  # absent or empty
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(error) from None


def query_bool(q: MultiMapping, snake: str) -> bool | None:
    """A boolean query parameter as Go's strconv.ParseBool reads it (None when absent)."""
    raw = query(q, snake)
    if not raw:  # absent or empty
        return None
    value = parse_bool(raw)
    if value is None:
        raise invalid(f"{snake}: invalid boolean {raw!r}")
    return value
