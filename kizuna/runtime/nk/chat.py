"""nk: chat (kizuna/core/chat.py). Any channel's history can be read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kizuna.core import chat
from kizuna.core.streams import NIL_UUID
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import ChannelMessage, ChannelMessageList
from kizuna.wire import codec, encode, paging


class ChatNk(Area):

    @api
    async def channel_message_send(self, channel_id: str, content: Mapping[str, Any] | str,
                                   sender_id: str | None = None, sender_username: str | None = None,
                                   persist: bool = True) -> ChannelMessage:
        """Send a chat message (from the system user unless a sender is given) to everyone on
        the channel, stored in its history when `persist`. Returns the message sent."""
        stream = args.channel(channel_id)
        text = codec.document_text(content, "content")
        sender = args.user_id(sender_id) if sender_id else NIL_UUID
        m = await chat.send(self._domain, stream, sender, sender_username or "", text, persist)
        return cast(ChannelMessage, encode.channel_message(m, full=True))

    @api
    async def channel_message_update(self, channel_id: str, message_id: str,
                                     content: Mapping[str, Any] | str, sender_id: str | None = None,
                                     sender_username: str | None = None,
                                     persist: bool = True) -> ChannelMessage:
        """Edit a chat message of `sender_id` (the system user's when None): its content in the
        history when `persist`, delivered to everyone on the channel (code 1, an update).
        Returns the update as delivered."""
        stream = args.channel(channel_id)
        text = codec.document_text(content, "content")
        sender = args.user_id(sender_id) if sender_id else NIL_UUID
        m = await chat.update(self._domain, stream, message_id, sender, sender_username or "",
                              text, persist)
        return cast(ChannelMessage, encode.channel_message(m, full=True))

    @api
    async def channel_message_remove(self, channel_id: str, message_id: str,
                                     sender_id: str | None = None,
                                     sender_username: str | None = None,
                                     persist: bool = True) -> ChannelMessage:
        """Remove a chat message of `sender_id` (the system user's when None): deleted from the
        history when `persist`, the removal delivered to everyone on the channel (code 2).
        Returns the removal as delivered."""
        stream = args.channel(channel_id)
        sender = args.user_id(sender_id) if sender_id else NIL_UUID
        m = await chat.remove(self._domain, stream, message_id, sender, sender_username or "",
                              persist)
        return cast(ChannelMessage, encode.channel_message(m, full=True))

    @api
    async def channel_messages_list(self, channel_id: str, limit: int = 100, forward: bool = True,
                                    cursor: str | None = None) -> ChannelMessageList:
        """A page of a channel's history: {"messages", "next_cursor", "prev_cursor",
        "cacheable_cursor"}."""
        stream = args.channel(channel_id)
        page = await chat.list_messages(self._domain.pool, None, stream,
                                        paging.limit(limit, default=100), forward, cursor or None)
        return cast(ChannelMessageList, encode.channel_message_list(page, full=True))
