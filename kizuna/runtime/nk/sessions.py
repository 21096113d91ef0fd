"""nk: sessions (kizuna/core/sessions.py) and socket sessions (`domain.sockets`)."""

from __future__ import annotations

from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api


class SessionsNk(Area):

    @api
    async def session_logout(self, user_id: str, token: str | None = None,
                             refresh_token: str | None = None) -> None:
        """End one session (by its token and/or refresh token) or, with neither, all of them.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (user_id is not a UUID)
            - 3 INVALID_ARGUMENT `Session token invalid.` (not a valid token of this user)
            - 3 INVALID_ARGUMENT `Refresh token invalid.` (not a valid refresh token of this user)

        Example:
            nk.session_logout(ctx.user_id)
        """
        await self._domain.sessions.logout(args.user_id(user_id), token, refresh_token)

    @api
    async def session_disconnect(self, session_id: str) -> bool:
        """Close a socket session on this node; False if there is no such session.

        Errors:
            - None: an unknown session returns False.

        Example:
            if not nk.session_disconnect(ctx.session_id):
                logger.info("already gone")
        """
        return self._domain.sockets.disconnect_session(session_id, "server-side session disconnect")
