"""nk: friends (kizuna/core/friends.py), by Nakama's runtime names. The same rules as the REST
API: invites and accepts notify (-2, -3), a removed friendship notifies (-9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import friends
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Friend, FriendOfFriend
from kizuna.wire import codec, encode, paging


def _metadata(value: Mapping[str, Any] | str | None) -> str | None:
    return None if value is None else codec.document_text(value, "metadata")


class FriendsNk(Area):

    @api
    async def friends_list(self, user_id: str, limit: int = friends.LIST_DEFAULT,
                           state: int | None = None,
                           cursor: str | None = None) -> tuple[list[Friend], str | None]:
        """One page of a user's friends, invites and blocks (only `state` when given: 0 friend,
        1 invite sent, 2 invite received, 3 blocked) and the cursor of the next page (None at
        the end). `limit` 1..1000.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 1000.`
            - 3 INVALID_ARGUMENT `Invalid state - state must be between 0 and 3.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`
            - 13 INTERNAL `Error while trying to list friends.` (the database failed)

        Example:
            friends, cursor = nk.friends_list(ctx.user_id, limit=100, state=0)
        """
        page = await friends.list_friends(
            self._domain, args.user_id(user_id),
            paging.limit(limit, friends.LIST_DEFAULT, friends.LIST_MAX),
            friends.check_state(state), cursor or None)
        return ([cast(Friend, encode.friend(f, full=True)) for f in page.friends], page.cursor)

    @api
    async def friends_of_friends_list(self, user_id: str, limit: int = friends.FOF_DEFAULT,
                                      cursor: str | None = None
                                      ) -> tuple[list[FriendOfFriend], str | None]:
        """Users the user's friends are friends with (not the user, not already friends), each
        with the friend who knows them (`referrer`), and the next page's cursor. `limit` 1..100.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid.`
            - 13 INTERNAL `Error while trying to list friends.` (the database failed)

        Example:
            suggestions, cursor = nk.friends_of_friends_list(ctx.user_id, limit=20)
        """
        page = await friends.list_friends_of_friends(
            self._domain, args.user_id(user_id),
            paging.limit(limit, friends.FOF_DEFAULT, friends.FOF_MAX), cursor or None)
        return ([cast(FriendOfFriend, encode.friend_of_friend(f, full=True))
                 for f in page.friends_of_friends], page.cursor)

    @api
    async def friends_add(self, user_id: str, username: str | None = None,
                          ids: Sequence[str] | None = None, usernames: Sequence[str] | None = None,
                          metadata: Mapping[str, Any] | str | None = None) -> None:
        """As the user, invite these users or accept their invites (notifying them). `username`
        is the user's (shown in the notifications; looked up when not given); `metadata` is kept
        on the user's edge to each of them.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot add self as friend.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.`
            - 3 INVALID_ARGUMENT `No valid ID or username was provided.` (only usernames, and none of
              them exists)
            - 5 NOT_FOUND `User account not found.` (no `username` given and the user does not exist)
            - 13 INTERNAL `Error while trying to add friends.` (the database failed)

        Example:
            nk.friends_add(ctx.user_id, ctx.username, ids=[other_id])
        """
        await friends.add_friends(self._domain, args.user_id(user_id), username or None,
                                  args.strings(ids or [], "ids"),
                                  args.strings(usernames or [], "usernames"), _metadata(metadata))

    @api
    async def friends_delete(self, user_id: str, username: str | None = None,
                             ids: Sequence[str] | None = None,
                             usernames: Sequence[str] | None = None) -> None:
        """As the user, remove these users: unfriend, cancel or decline an invite, unblock.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot delete self.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 5 NOT_FOUND `User account not found.` (no `username` given and the user does not exist)
            - 13 INTERNAL `Error while trying to delete friends.` (the database failed)

        Example:
            nk.friends_delete(ctx.user_id, ctx.username, ids=[other_id])
        """
        await friends.delete_friends(self._domain, args.user_id(user_id), username or None,
                                     args.strings(ids or [], "ids"),
                                     args.strings(usernames or [], "usernames"))

    @api
    async def friends_block(self, user_id: str, username: str | None = None,
                            ids: Sequence[str] | None = None,
                            usernames: Sequence[str] | None = None) -> None:
        """As the user, block these users (their edge to the user is removed).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`
            - 3 INVALID_ARGUMENT `Invalid user ID '<id>'.` (an id that is not a UUID, or the nil UUID)
            - 3 INVALID_ARGUMENT `Cannot block self.`
            - 3 INVALID_ARGUMENT `Username must not be empty.`
            - 3 INVALID_ARGUMENT `No valid ID or username was provided.` (only usernames, and none of
              them exists)
            - 13 INTERNAL `Error while trying to block friends.` (the database failed)

        Example:
            nk.friends_block(ctx.user_id, usernames=["spammer"])
        """
        await friends.block_friends(self._domain, args.user_id(user_id), username or None,
                                    args.strings(ids or [], "ids"),
                                    args.strings(usernames or [], "usernames"))

    @api
    async def friend_metadata_update(self, user_id: str, friend_user_id: str,
                                     metadata: Mapping[str, Any] | str | None) -> None:
        """Replace the metadata of the user's edge to another user (a dict, or JSON text).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
              (either id)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata must be a valid JSON object.`
            - 13 INTERNAL `Error while trying to update friend metadata.` (the database failed)

        Example:
            nk.friend_metadata_update(ctx.user_id, friend_id, {"nickname": "Bestie"})
        """
        await friends.update_metadata(self._domain.pool, args.user_id(user_id),
                                      args.user_id(friend_user_id), _metadata(metadata) or "{}")
