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
        the channel, stored in its history when `persist`. Returns the message sent.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Message content must be a valid JSON object`
            - 3 INVALID_ARGUMENT `Message content must not contain NUL characters`
            - 13 INTERNAL `Could not persist message to channel history` (storing it failed: the
              database, or a sender that does not exist)

        Example:
            channel_id = nk.channel_id_build(None, "lobby", 1)
            nk.channel_message_send(channel_id, {"text": "Welcome!"})
        """
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
        Returns the update as delivered.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `content must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Message content must be a valid JSON object`
            - 3 INVALID_ARGUMENT `Invalid message identifier` (not a UUID)
            - 3 INVALID_ARGUMENT `Message content must not contain NUL characters`
            - 3 INVALID_ARGUMENT `Could not find message to update in channel history` (`persist`: no
              such message of this sender on the channel)

        Example:
            nk.channel_message_update(channel_id, message_id, {"text": "Edited"})
        """
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
        Returns the removal as delivered.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid message identifier` (not a UUID)
            - 3 INVALID_ARGUMENT `Could not find message to remove in channel history` (`persist`: no
              such message of this sender on the channel)

        Example:
            nk.channel_message_remove(channel_id, message_id)
        """
        stream = args.channel(channel_id)
        sender = args.user_id(sender_id) if sender_id else NIL_UUID
        m = await chat.remove(self._domain, stream, message_id, sender, sender_username or "",
                              persist)
        return cast(ChannelMessage, encode.channel_message(m, full=True))

    @api
    async def channel_messages_list(self, channel_id: str, limit: int = 100, forward: bool = True,
                                    cursor: str | None = None) -> ChannelMessageList:
        """A page of a channel's history: {"messages", "next_cursor", "prev_cursor",
        "cacheable_cursor"}.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid channel ID.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.channel_messages_list(channel_id, limit=50, forward=False)
            texts = [m["content"].get("text") for m in page["messages"]]
        """
        stream = args.channel(channel_id)
        page = await chat.list_messages(self._domain.pool, None, stream,
                                        paging.limit(limit, default=100), forward, cursor or None)
        return cast(ChannelMessageList, encode.channel_message_list(page, full=True))
