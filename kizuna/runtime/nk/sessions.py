"""nk: sessions (kizuna/core/sessions.py) and socket sessions (`domain.sockets`)."""

from __future__ import annotations

from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api


class SessionsNk(Area):

    @api
    async def session_logout(self, user_id: str, token: str | None = None,
                             refresh_token: str | None = None) -> None:
        """End one session (by its token and/or refresh token) or, with neither, all of them."""
        await self._domain.sessions.logout(args.user_id(user_id), token, refresh_token)

    @api
    async def session_disconnect(self, session_id: str) -> bool:
        """Close a socket session on this node; False if there is no such session."""
        return self._domain.sockets.disconnect_session(session_id, "server-side session disconnect")
