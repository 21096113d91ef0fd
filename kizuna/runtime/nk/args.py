"""Reading the arguments of nk calls, with nk's own wording (`Error`, code 3).

Lenient like the rest of nk: a single dict or string where a list is expected is a list of one.
The fields of those dicts are read with `kizuna.wire.fields`, as REST and the socket read theirs
(its `KizunaError` becomes `Error` in the `api` wrapper, kizuna/runtime/nk/base.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kizuna.core import chat
from kizuna.core.streams import NIL_UUID, Stream
from kizuna.errors import Code
from kizuna.runtime.errors import Error


def user_id(value: Any) -> str:
    """A user id: a UUID, in its canonical form."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise Error(f"Invalid user ID {value!r}: expected a UUID.", Code.INVALID_ARGUMENT) from None


def owner(value: Any) -> str:
    """A storage owner: a user id, or "" / None / the nil UUID for the system user."""
    if value is None or value == "" or value == NIL_UUID:
        return ""
    if not isinstance(value, str):
        raise Error("user_id: expected a string.", Code.INVALID_ARGUMENT)
    return user_id(value)


def items(value: Any, what: str) -> list[Mapping[str, Any]]:
    """A list of dicts (one dict is taken as a list of one)."""
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, Mapping) for i in value):
        raise Error(f"{what}: expected a list of dicts.", Code.INVALID_ARGUMENT)
    return list(value)


def strings(value: Any, what: str) -> list[str]:
    """A list of strings (one string is taken as a list of one)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, str) for i in value):
        raise Error(f"{what}: expected a list of strings.", Code.INVALID_ARGUMENT)
    return list(value)


def notification_code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Error("Notification code must be a positive integer (codes of 0 and below are "
                    "reserved for the server).", Code.INVALID_ARGUMENT)
    return value


def channel(channel_id: Any) -> Stream:
    """The stream a channel id names."""
    stream = chat.parse_channel_id(channel_id)
    if stream is None:
        raise Error("Invalid channel ID.", Code.INVALID_ARGUMENT)
    return stream
