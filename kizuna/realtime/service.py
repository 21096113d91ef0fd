"""The realtime service of a node: sessions, tracker, router, status follows, dispatch, keepalive.

Built once at start-up (server.py) and reached by the /ws handler through the app's services.
`start()` installs the notification delivery hook (so core code can reach online users) and starts
the keepalive loop; `stop()` closes every socket with a close frame (1001, going away) and waits,
bounded, for the sessions to clean up.

What a socket session does over its life:
- connect: registered, tracked (hidden) on its user's notification stream, following its own
  user's status (implicitly, see status.py), and, with `status=true`, shown online on its status
  stream; with `session.single_socket`, the user's older sockets get notification -7 and are
  closed;
- each envelope is decoded and dispatched to its handler; errors become error envelopes;
- disconnect: leaves every stream (presence events to the others), drops its follows.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from kizuna.api import codec
from kizuna.config import Config
from kizuna.core import chat
from kizuna.core.errors import KizunaError
from kizuna.core.notifications import CODE_SINGLE_SOCKET, NewNotification, Notification, Notifier
from kizuna.core.notifications import make as make_notification
from kizuna.core.streams import notifications_stream, status_stream
from kizuna.realtime import envelope, handlers
from kizuna.realtime.envelope import EnvelopeError, ErrorCode, RealtimeError
from kizuna.realtime.router import LocalRouter, Router
from kizuna.realtime.session import Session, SessionRegistry
from kizuna.realtime.status import StatusRegistry
from kizuna.realtime.tracker import LocalTracker, Tracker

log = logging.getLogger("kizuna.realtime")


class RealtimeService:
    def __init__(self, config: Config, pool: Any, sessions: Any, notifier: Notifier) -> None:
        self.config = config
        self.pool = pool
        self.sessions = sessions  # kizuna.core.sessions.SessionStore (token checks)
        self.notifier = notifier
        self.messages = chat.MessageWriter(pool)
        self.node = config.name
        self.registry = SessionRegistry(self.node)
        self.tracker: Tracker = LocalTracker(self.node)
        self.router: Router = LocalRouter(self.node, self.registry, self.tracker)
        self.status = StatusRegistry(self.registry)
        self.handlers = handlers.table()
        handlers.install(self)
        self._keepalive: asyncio.Task | None = None
        self.stopping = False
        # The server modules (kizuna.runtime.service.Runtime), when loaded: RPCs, realtime hooks,
        # session events.
        self.runtime: Any = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        raise_fd_limit()
        self.notifier.attach(self.deliver_notifications, self.registry.users)
        self.sessions.revoked.listener = self.close_revoked
        self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop(),
                                                                 name="realtime-keepalive")

    async def stop(self) -> None:
        """Close every socket (1001) and wait for the sessions to leave, bounded."""
        self.stopping = True
        self.notifier.attach(None)
        self.sessions.revoked.listener = None
        if self._keepalive is not None:
            self._keepalive.cancel()
            await asyncio.gather(self._keepalive, return_exceptions=True)
            self._keepalive = None
        sessions = list(self.registry)
        for s in sessions:
            s.close(1001, "server shutting down")
        # Each socket's reader notices the close and leaves the registry; wait for that, bounded.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.socket.close_ack_wait_ms / 1000 + 1
        while len(self.registry) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for s in list(self.registry):
            s.conn.abort()
        if sessions:
            log.info("Closed realtime sockets", extra={"count": len(sessions)})

    # -- sessions --------------------------------------------------------------------------------

    def connect(self, session: Session) -> None:
        self.registry.add(session)
        self.tracker.track(session.id, notifications_stream(session.user_id), session.user_id,
                           session.username, hidden=True)
        if session.status:
            self.tracker.track(session.id, status_stream(session.user_id), session.user_id,
                               session.username, status="")
        if self.config.session.single_socket:
            self._kick_others(session)
        if self.runtime is not None:
            self.runtime.session_event("start", session)

    def _kick_others(self, session: Session) -> None:
        others = [s for s in self.registry.for_user(session.user_id) if s.id != session.id]
        if not others:
            return
        n = make_notification(NewNotification(user_id=session.user_id, subject="single_socket",
                                               content={}, code=CODE_SINGLE_SOCKET,
                                               persistent=False))
        data = envelope.push("notifications", {"notifications": [codec.notification(n)]})
        for other in others:
            other.send(data)
            other.close(1000, "server-side session disconnect")

    def disconnect(self, session: Session) -> None:
        session.closed = True
        self.registry.remove(session)
        self.status.unfollow_all(session.id)
        self.tracker.untrack_all(session.id)
        if self.runtime is not None:
            self.runtime.session_event("end", session)

    def disconnect_user(self, user_id: str, reason: str = "server-side session disconnect") -> int:
        """Close every socket of a user on this node (a ban, a deleted account)."""
        sessions = self.registry.for_user(user_id)
        for s in sessions:
            s.close(1000, reason)
        return len(sessions)

    # -- dispatch --------------------------------------------------------------------------------

    async def dispatch(self, session: Session, raw: bytes | str) -> None:
        try:
            cid, kind, body = envelope.decode(raw)
        except EnvelopeError as exc:
            session.send(envelope.error(exc.cid, exc.code, exc.message))
            return
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD, "Unrecognized message.")
            runtime = self.runtime
            if runtime is not None:
                # Every kind passes here: server modules' realtime hooks (kizuna/runtime/hooks.py)
                # cover each message handler, present and future, by construction.
                reg = runtime.registry
                if kind in reg.rt_before or kind in reg.rt_after:
                    await runtime.dispatch_rt(reg, self, handler, session, cid, kind, body)
                    return
            pending = handler(self, session, cid, body)
            if pending is not None:
                await pending
        except KizunaError as exc:
            session.send(envelope.error(cid, envelope.socket_error(exc), exc.message))
        except RealtimeError as exc:
            session.send(envelope.error(cid if exc.reply else None, exc.code, exc.message,
                                        exc.context))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("realtime handler failed", extra={"kind": kind, "sid": session.id,
                                                            "uid": session.user_id})
            session.send(envelope.error(cid, ErrorCode.RUNTIME_EXCEPTION, "Internal server error"))

    # -- notifications ---------------------------------------------------------------------------

    def deliver_notifications(self, user_id: str, notifications: list[Notification]) -> None:
        """The Notifier's delivery hook: one `notifications` push to each socket of the user."""
        data = envelope.push("notifications",
                             {"notifications": [codec.notification(n) for n in notifications]})
        self.router.send_to_user(user_id, data)

    def close_revoked(self, token_id: str) -> None:
        """A session token was revoked (logout, ban, account deletion, single session, on any
        node): close the sockets opened with it."""
        for s in list(self.registry):
            if s.token_id == token_id:
                s.close(1000, "session revoked")

    def is_online(self, user_id: str) -> bool:
        return self.tracker.exists(status_stream(user_id))

    # -- keepalive -------------------------------------------------------------------------------

    async def _keepalive_loop(self) -> None:
        """Ping idle sockets every `socket.ping_period_ms`; drop those silent for
        `socket.pong_wait_ms` (any frame, pongs included, counts as a sign of life)."""
        period = self.config.socket.ping_period_ms / 1000
        wait = self.config.socket.pong_wait_ms / 1000
        tick = max(0.02, min(period, wait) / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            try:
                for s in self.registry:
                    if s.closed:
                        continue
                    idle = now - s.last_recv
                    if idle >= wait:
                        log.info("Closing a silent session", extra={"sid": s.id, "uid": s.user_id})
                        s.close(1001, "ping timeout", abort=True)
                    elif idle >= period and now - s.last_ping >= period:
                        s.last_ping = now
                        s.conn.ping()
            except Exception:  # never let one bad session stop the keepalive
                log.exception("keepalive pass failed")


def raise_fd_limit() -> None:
    """Allow as many sockets as the hard limit permits (each connection is a file descriptor)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 20
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # pragma: no cover
        pass
