"""nk: users (kizuna/core/accounts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from kizuna.core import accounts
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import User
from kizuna.wire import encode


class UsersNk(Area):

    @api
    async def users_get_id(self, user_ids: Sequence[str],
                           facebook_ids: Sequence[str] | None = None) -> list[User]:
        """The users that exist among these ids (and Facebook ids)."""
        found = await accounts.get_users(self._domain, args.strings(user_ids, "user_ids"), [],
                                         args.strings(facebook_ids or [], "facebook_ids"))
        return [cast(User, encode.user(u, full=True)) for u in found]

    @api
    async def users_get_username(self, usernames: Sequence[str]) -> list[User]:
        """The users that exist among these usernames."""
        found = await accounts.get_users(self._domain, [], args.strings(usernames, "usernames"))
        return [cast(User, encode.user(u, full=True)) for u in found]

    @api
    async def users_ban_id(self, user_ids: Sequence[str]) -> None:
        """Disable accounts: no more logins or refreshes, every session revoked (on every node),
        sockets on this node closed."""
        await accounts.ban_users(self._domain, args.strings(user_ids, "user_ids"))

    @api
    async def users_unban_id(self, user_ids: Sequence[str]) -> None:
        """Enable disabled accounts again."""
        await accounts.unban_users(self._domain.pool, args.strings(user_ids, "user_ids"))
