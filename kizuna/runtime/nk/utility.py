"""nk calls that never wait (on `nk` only; they work in plain functions and coroutines alike):
JSON, UUIDs, events and channel ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kizuna.core import chat
from kizuna.core.streams import GROUP, Stream
from kizuna.errors import Code, KizunaError
from kizuna.runtime.errors import Error, from_kizuna
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Host
from kizuna.wire import codec


class UtilityNk:
    _rt: Host | None

    def event(self, name: str, properties: Mapping[str, str] | None = None,
              timestamp: datetime | str | None = None, external: bool = False) -> None:
        """Queue an event for the module functions registered with `register_event`."""
        if not isinstance(name, str) or not name:
            raise Error("Event name must be a non-empty string.", Code.INVALID_ARGUMENT)
        props = dict(properties or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise Error("Event properties must be a dict of strings.", Code.INVALID_ARGUMENT)
        when = (codec.timestamp(timestamp, "fraction") if isinstance(timestamp, datetime)
                else timestamp or codec.now())
        event = {"name": name, "properties": props, "timestamp": when, "external": bool(external)}
        rt = self._rt
        if rt is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is rt.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            rt.emit_event(event, {})
        else:
            rt.loop.call_soon_threadsafe(rt.emit_event, event, {})

    @staticmethod
    def json_encode(value: Any) -> str:
        try:
            return codec.dumps(value).decode()
        except TypeError as exc:
            raise Error(f"json_encode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def json_decode(text: str | bytes) -> Any:
        try:
            return codec.loads(text)
        except ValueError as exc:  # orjson.JSONDecodeError
            raise Error(f"json_decode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def uuid_v4() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def channel_id_build(sender_id: str | None, target: str, type: int) -> str:
        """A channel id: type 1 (room, target = name), 2 (direct message with user `target`),
        3 (group `target`)."""
        try:
            if type == chat.TYPE_ROOM:
                stream = chat.room_stream(target)
            elif type == chat.TYPE_DIRECT_MESSAGE:
                stream = chat.dm_stream(args.user_id(sender_id), args.user_id(target))
            elif type == chat.TYPE_GROUP:
                stream = Stream(GROUP, args.user_id(target))
            else:
                raise Error("Channel type must be 1 (room), 2 (direct) or 3 (group).",
                            Code.INVALID_ARGUMENT)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        return chat.channel_id(stream)
