"""Reading request fields, the same way for REST bodies, query strings and socket messages.

Lenient on input, as the design asks: a field may be named in snake_case or lowerCamelCase, unknown
fields are ignored, an int64 may come as a number or a numeric string, a numeric or boolean
wrapper type (Int32Value, BoolValue) as a bare value or as `{"value": x}` (a string field is read
as is: `status` reads its StringValue with `wrapped`). A field of the wrong type is a
code-3 error worded `<field>: expected <type>`, the same at every endpoint and socket message.
Absent fields read as the type's default (or None for the `optional_` readers).

Checked once, here, for every field a transport reads (body, query string, path, socket message):
no text may hold U+0000 (PostgreSQL's text and jsonb cannot store it, so it would otherwise reach
the database as a 500), and integers are read as the protocol types them: int32 or int64, in
range, from a JSON number or a strictly numeric string (ASCII digits, an optional leading '-').
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, Protocol

import orjson

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


def nul_message(name: str) -> str:
    return f"{name}: must not contain the NUL character (U+0000)"


def checked_text(value: str, name: str) -> str:
    """A string from a client, refused (code 3, naming the field) when it holds U+0000."""
    if "\x00" in value:
        raise invalid(nul_message(name))
    return value


def field(doc: Mapping[str, Any], snake: str) -> Any:
    """A field by its snake_case name or its lowerCamelCase name (None when absent). A string
    value holding U+0000 is refused here, so every reader (and every handler reading a raw field)
    gets text that PostgreSQL can store."""
    value = doc.get(snake)
    if value is None and "_" in snake:
        value = doc.get(camel(snake))
    if type(value) is str:
        if "\x00" in value:
            raise invalid(nul_message(snake))
    elif type(value) in (list, dict):
        where = find_nul(value)
        if where is not None:
            raise invalid(nul_message(snake + where))
    return value


def find_nul(value: Any) -> str | None:
    """Where a decoded JSON value holds U+0000 in a string or an object key (PostgreSQL text and
    jsonb cannot store one): "" for the value itself, `[2].key` inside it; None when nowhere.
    JSON documents are checked on their decoded value: the escaped text `\\u0000` (a backslash,
    then "u0000") is legal and storable.

    The common case (no NUL) costs one C-level encode: orjson writes U+0000 as the escape
    `\\u0000`, so a value whose encoding lacks that text holds none; only a value whose encoding
    has it (a real NUL, or the legal escaped text) is walked, to be sure and to say where."""
    if type(value) is str:
        return "" if "\x00" in value else None
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return None
    except TypeError:  # not JSON-encodable (server code's own values): walk it
        pass
    return _nul_path(value)


def _nul_path(value: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", value)]  # iterative: documents may nest deeply
    while stack:
        at, item = stack.pop()
        if type(item) is str:
            if "\x00" in item:
                return at
        elif type(item) is list:
            stack.extend((f"{at}[{i}]", v) for i, v in enumerate(item))
        elif type(item) is dict:
            for k, v in item.items():
                if type(k) is str and "\x00" in k:
                    return at
                stack.append((f"{at}.{k}", v))
    return None


def json_object(text: str, not_object: str, has_nul: str) -> dict[str, Any]:
    """A JSON document that must be an object (storage values, metadata, message content), from
    its text: `not_object` (code 3) when it is not one, `has_nul` when it holds U+0000 (which
    PostgreSQL's jsonb cannot store). The text is kept by the caller; this only checks it."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise invalid(not_object) from None
    if type(doc) is not dict:
        raise invalid(not_object)
    # A decoded NUL can only come from the escape `\u0000` in the text: skip the walk otherwise.
    if "\\u0000" in text and contains_nul(doc):
        raise invalid(has_nul)
    return doc


def contains_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds U+0000 anywhere (see `find_nul`)."""
    return find_nul(value) is not None


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
    return checked_text(value, name)


Bits = Literal[32, 64]
_NUMERIC = re.compile(r"-?[0-9]+")  # ASCII only: str.isdigit and int() also take other scripts


def in_range(value: int, bits: Bits) -> bool:
    """Whether `value` fits a signed integer of `bits` bits (the proto's int32 or int64)."""
    bound = 1 << (bits - 1)
    return -bound <= value < bound


def out_of_range_message(name: str, bits: Bits) -> str:
    return f"{name}: out of range for int{bits}"


def parse_integer(value: Any, name: str, bits: Bits = 64) -> int | None:
    """An int32/int64 value: a JSON number with no fraction, or a numeric string (ASCII digits
    and an optional leading '-', nothing else: no spaces, no '+', no other scripts' digits), as
    protojson accepts; None for null or "". Outside the type's range is a code-3 error."""
    if value is None or value == "":
        return None
    number: int | None = None
    if type(value) is int:
        number = value
    elif ((type(value) is float and value.is_integer())
          or (type(value) is str and len(value) <= 40 and _NUMERIC.fullmatch(value))):
        number = int(value)
    if number is None:
        raise invalid(f"{name}: expected an integer")
    if not in_range(number, bits):
        raise invalid(out_of_range_message(name, bits))
    return number


def optional_integer(doc: Mapping[str, Any], name: str, bits: Bits = 64) -> int | None:
    """An int32/int64 field (`bits`, as the proto types it): see `parse_integer`."""
    return parse_integer(wrapped(field(doc, name)), name, bits)


def integer(doc: Mapping[str, Any], name: str, default: int = 0, bits: Bits = 64) -> int:
    value = optional_integer(doc, name, bits)
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
    for v in value:
        checked_text(v, name)
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
    for k, v in value.items():
        checked_text(k, name)
        checked_text(v, name)
    return value


def pick(doc: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The known fields of a message under their snake_case names (for hooks and handlers)."""
    return {name: field(doc, name) for name in names}


# -- query strings -------------------------------------------------------------------------------


def query(q: MultiMapping, snake: str) -> str | None:
    """A query parameter by its snake_case or lowerCamelCase name."""
    value = q.get(snake) if snake in q else q.get(camel(snake))
    return None if value is None else checked_text(value, snake)


def query_all(q: MultiMapping, snake: str) -> list[str]:
    """Every value of a repeated query parameter, under either name."""
    alias = camel(snake)
    values = q.getall(snake, []) + (q.getall(alias, []) if alias != snake else [])
    for v in values:
        checked_text(v, snake)
    return values


def query_int(q: MultiMapping, snake: str, error: str, bits: Bits = 32) -> int | None:
    """An integer query parameter (None when absent); `error` is the message when it is not a
    strictly numeric string in the range of `bits` (the query parameters Nakama types are int32:
    limit, state, members)."""
    raw = query(q, snake)
    if not raw:  # absent or empty
        return None
    if len(raw) > 40 or not _NUMERIC.fullmatch(raw) or not in_range(int(raw), bits):
        raise invalid(error)
    return int(raw)


def path(params: Mapping[str, str], name: str, default: str | None = None) -> str:
    """A path parameter (`/v2/group/{group_id}`), checked like any other text field. `default`
    for a parameter that only some of the method's routes have (else it must be there)."""
    value = params.get(name, default)
    if value is None:
        raise KeyError(name)
    return checked_text(value, name)


def query_bool(q: MultiMapping, snake: str) -> bool | None:
    """A boolean query parameter as Go's strconv.ParseBool reads it (None when absent)."""
    raw = query(q, snake)
    if not raw:  # absent or empty
        return None
    value = parse_bool(raw)
    if value is None:
        raise invalid(f"{snake}: invalid boolean {raw!r}")
    return value
