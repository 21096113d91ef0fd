"""nk: users (kizuna/core/accounts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from kizuna.core import accounts, users
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import User
from kizuna.wire import encode


class UsersNk(Area):

    @api
    async def users_get_id(self, user_ids: Sequence[str],
                           facebook_ids: Sequence[str] | None = None) -> list[User]:
        """The users that exist among these ids (and Facebook ids).

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `facebook_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            users = nk.users_get_id([ctx.user_id, friend_id])
        """
        found = await accounts.get_users(self._domain, args.strings(user_ids, "user_ids"), [],
                                         args.strings(facebook_ids or [], "facebook_ids"))
        return [cast(User, encode.user(u, full=True)) for u in found]

    @api
    async def users_get_username(self, usernames: Sequence[str]) -> list[User]:
        """The users that exist among these usernames.

        Errors:
            - 3 INVALID_ARGUMENT `usernames: expected a list of strings.`

        Example:
            users = nk.users_get_username(["alice", "bob"])
        """
        found = await accounts.get_users(self._domain, [], args.strings(usernames, "usernames"))
        return [cast(User, encode.user(u, full=True)) for u in found]

    @api
    async def users_get_random(self, count: int) -> list[User]:
        """Up to `count` (0-1000) users picked at random, as Nakama: those whose ids follow a
        random one (wrapping around to the start when there are not enough); never the system user
        or a disabled (banned) account.

        Errors:
            - 3 INVALID_ARGUMENT `count must be 0-1000.`

        Example:
            opponents = nk.users_get_random(5)
        """
        if isinstance(count, bool) or not isinstance(count, int) \
                or not 0 <= count <= users.MAX_RANDOM_USERS:
            raise Error(f"count must be 0-{users.MAX_RANDOM_USERS}.", Code.INVALID_ARGUMENT)
        found = await users.random_users(self._domain.pool, count,
                                         self._domain.sockets.is_online)
        return [cast(User, encode.user(u, full=True)) for u in found]

    @api
    async def users_ban_id(self, user_ids: Sequence[str]) -> None:
        """Disable accounts: no more logins or refreshes, every session revoked (on every node),
        sockets on this node closed.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            nk.users_ban_id([cheater_id])
        """
        await accounts.ban_users(self._domain, args.strings(user_ids, "user_ids"))

    @api
    async def users_unban_id(self, user_ids: Sequence[str]) -> None:
        """Enable disabled accounts again.

        Errors:
            - 3 INVALID_ARGUMENT `user_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `ID '<id>' is not a valid system ID.` (an id that is not a UUID)

        Example:
            nk.users_unban_id([user_id])
        """
        await accounts.unban_users(self._domain.pool, args.strings(user_ids, "user_ids"))
