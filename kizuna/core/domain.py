"""The domain's dependencies, in one object: what every use case of `kizuna/core` may need.

A use case with several steps (delete an account, ban users, send a chat message, notify users)
takes the `Domain` and does all of them, the same for REST, the socket and server code. It reaches
connected players only through `domain.sockets` (see delivery.py), which the node's builder
(kizuna/services.py) points at the realtime service; until then, and in tools without sockets,
nobody is online. Likewise `domain.matches` (matches.py) is the runtime's authoritative matches.
"""

from __future__ import annotations

from typing import Any

from kizuna.config import Config
from kizuna.core.chat import MessageWriter
from kizuna.core.delivery import NO_SOCKETS, Sockets
from kizuna.core.leaderboards import Leaderboards
from kizuna.core.matches import NO_MATCHES, Matches
from kizuna.core.notifications import Notifier
from kizuna.core.sessions import SessionStore


class Domain:
    def __init__(self, config: Config, pool: Any, sessions: SessionStore | None = None) -> None:
        self.config = config
        self.pool = pool
        self.sessions = sessions if sessions is not None else SessionStore(pool, config)
        # One LISTEN connection for the node, shared by every area that hears NOTIFY.
        self.listener = self.sessions.listener
        self.sockets: Sockets = NO_SOCKETS
        # The authoritative matches this node runs (matches.py), set by the builder to the
        # runtime's; until then none exist.
        self.matches: Matches = NO_MATCHES
        self.notifier = Notifier(self)
        self.messages = MessageWriter(pool)
        self.leaderboards = Leaderboards(pool, self.listener)
        # A revoked token (on this node or any other) closes the sockets opened with it.
        self.sessions.revoked.listener = self._token_revoked

    def _token_revoked(self, token_id: str) -> None:
        self.sockets.token_revoked(token_id)
