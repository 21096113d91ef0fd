"""The realtime service of a node: sessions, tracker, router, status follows, dispatch, keepalive.

Built once per node by kizuna/services.py on the `Domain` (config, pool, session store, notifier,
chat writer) and served at /ws by socket.py. It is the domain's `Sockets`
(kizuna/core/delivery.py): the domain reaches players through it, and it delivers everything, as
everything else in this package does, through its `Router` (so a cluster-aware router makes every
delivery cluster-aware). It reaches server modules through `modules` (realtime/modules.py), set by
the builder; until then there are none.

`start()` starts the keepalive loop; `stop()` closes every socket with a close frame (1001, going
away) and waits, bounded, for the sessions to clean up.

What a socket session does over its life:
- connect: registered, tracked (hidden) on its user's notification stream, following its own
  user's status (implicitly, see status.py), and, with `status=true`, shown online on its status
  stream; with `session.single_socket`, the user's older sockets get notification -7 and are
  closed;
- each envelope goes through `dispatch`: decoded, passed to server modules' before hook, handled,
  its reply sent with the request's cid, then server modules' after hook; errors become error
  envelopes;
- disconnect: leaves its parties (a leader hands over) and withdraws its join requests, leaves
  every stream (presence events to the others), drops its follows and its matchmaker tickets
  (its parties' too); the custom streams server code put it on (nk.stream_user_join) included.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from time import perf_counter
from typing import TYPE_CHECKING, Any

from kizuna.core.domain import Domain
from kizuna.core.notifications import CODE_SINGLE_SOCKET, NewNotification
from kizuna.core.notifications import make as make_notification
from kizuna.core.streams import (
    BUILTIN_MODES,
    STATUS,
    PresenceId,
    Stream,
    StreamPresence,
    notifications_stream,
    status_stream,
)
from kizuna.errors import KizunaError
from kizuna.realtime import envelope, handlers
from kizuna.realtime.envelope import EnvelopeError, ErrorCode, RealtimeError
from kizuna.realtime.handlers import streams as stream_handlers
from kizuna.realtime.matchmaker import MatchmakerService
from kizuna.realtime.modules import NO_MODULES, Modules
from kizuna.realtime.parties import PartyService
from kizuna.realtime.router import LocalRouter, Router
from kizuna.realtime.session import Session, SessionRegistry
from kizuna.realtime.status import StatusRegistry
from kizuna.realtime.tracker import LocalTracker, Presence, Tracker
from kizuna.wire import encode
from kizuna.wire.types import ChannelMessage, Notification

if TYPE_CHECKING:
    from kizuna.cluster.bus import Bus
    from kizuna.metrics.node import NodeMetrics
    from kizuna.realtime.cluster import ClusterTracker

log = logging.getLogger("kizuna.realtime")

UNRECOGNIZED = "Unrecognized message."
# Socket messages whose reply lists presences, or that act on another session's: in a cluster,
# they first wait until every change other nodes made before has arrived (`Bus.barrier`).
READS_PRESENCES = frozenset({"channel_join", "match_join", "status_follow", "party_join",
                             "party_accept", "party_promote", "party_remove",
                             "party_join_request_list"})
KICKED = "server-side session disconnect"


class RealtimeService:
    def __init__(self, domain: Domain, bus: Bus | None = None) -> None:
        self.domain = domain
        self.config = domain.config
        self.pool = domain.pool
        self.sessions = domain.sessions  # kizuna.core.sessions.SessionStore (token checks)
        self.notifier = domain.notifier
        self.messages = domain.messages
        self.node = self.config.name
        self.registry = SessionRegistry(self.node)
        self.status = StatusRegistry()
        # With a cluster bus (cluster.nats_url, or the workers' private NATS), the tracker and
        # the router reach the other nodes (realtime/cluster.py); handlers cannot tell.
        self.bus = bus
        self.cluster_tracker: ClusterTracker | None = None
        if bus is None:
            self.tracker: Tracker = LocalTracker(self.node)
            self.router: Router = LocalRouter(self.node, self.registry, self.tracker, self.status)
        else:
            from kizuna.realtime.cluster import ClusterRouter, ClusterTracker

            ctracker = ClusterTracker(self.node, bus)
            self.tracker = ctracker
            self.cluster_tracker = ctracker
            self.router = ClusterRouter(self.node, self.registry, ctracker, self.status, bus)
        # Server modules (kizuna.runtime.service.Runtime, set by kizuna/services.py): realtime
        # hooks, RPCs, session events.
        self.modules: Modules = NO_MODULES
        # The node's matchmaker: its tickets and the task forming groups (realtime/matchmaker.py).
        self.matchmaker = MatchmakerService(self)
        # The node's parties (realtime/parties.py): their members, leaders and join requests.
        self.parties = PartyService(self)
        self.handlers = handlers.table()
        handlers.install(self)
        self._keepalive: asyncio.Task | None = None
        self.stopping = False
        # The node's metrics (kizuna/metrics/node.py), set by the builder when
        # metrics.prometheus_port is set; None costs the dispatcher one test per message.
        self.metrics: NodeMetrics | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        raise_fd_limit()
        self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop(),
                                                                 name="realtime-keepalive")
        await self.matchmaker.start()

    async def stop(self) -> None:
        """Close every socket of this node (1001) and wait for the sessions to leave, bounded."""
        self.stopping = True
        await self.matchmaker.stop()
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
        self.modules.session_event("start", session)

    def _kick_others(self, session: Session) -> None:
        """`session.single_socket`: the user's other sockets get notification -7 and are closed."""
        n = make_notification(NewNotification(user_id=session.user_id, subject="single_socket",
                                               content={}, code=CODE_SINGLE_SOCKET,
                                               persistent=False))
        self.router.close_user(session.user_id, 1000, KICKED, exclude=session.id,
                               notice=envelope.push("notifications", encode.notifications([n])))

    async def connected(self) -> None:
        """After `connect`: in a cluster, the other nodes have this socket's presences (its user
        shows online everywhere) before it reads its first message."""
        ct = self.cluster_tracker
        if ct is not None and ct.pending:
            await ct.published()

    def disconnect(self, session: Session) -> None:
        session.closed = True
        self.registry.remove(session)
        self.status.unfollow_all(session.id)
        self.matchmaker.remove_session_all(session.id)
        self.parties.disconnect(session.id)
        self.tracker.untrack_all(session.id)
        self.modules.session_event("end", session)

    # -- dispatch --------------------------------------------------------------------------------

    async def dispatch(self, session: Session, raw: bytes | str) -> None:
        """Handle one envelope: decode, before hook, handler, reply (with the cid), after hook.

        Every kind passes here, so server modules' realtime hooks cover each message handler,
        present and future, by construction. The reply is sent before the after hook runs, and
        before any presence event the handler caused (the tracker sends those on the next turn of
        the event loop): nothing is awaited between the handler's return and the reply.
        """
        metrics = self.metrics
        started = perf_counter() if metrics is not None else 0.0
        try:
            cid, kind, message = envelope.decode(raw)
        except EnvelopeError as exc:
            session.send(envelope.error(exc.cid, exc.code, exc.message))
            if metrics is not None:
                metrics.socket_message("invalid", exc.code.name, perf_counter() - started)
            return
        handler = self.handlers.get(kind)
        code = "OK"
        try:
            if handler is None:
                raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD, UNRECOGNIZED)
            hooks = self.modules.socket_hooks(kind)
            if hooks is not None:
                message = await hooks.before(session, message)
            if kind in READS_PRESENCES and self.bus is not None:
                # What other nodes changed before the client sent this has arrived.
                await self.bus.barrier()
            reply = handler.fn(self, session, message)
            if handler.is_async:
                reply = await reply  # type: ignore[misc]
            ct = self.cluster_tracker
            held = ct is not None and ct.pending
            if held:  # the other nodes see the change before the client sees the reply
                await ct.published_before_reply()  # type: ignore[union-attr]
            try:
                if not handler.replies:
                    reply = None
                elif reply is None:
                    session.send(envelope.empty(cid))
                else:
                    session.send(envelope.reply(cid, *reply))  # type: ignore[misc]
            finally:
                if held:  # the presence events the handler caused follow its reply
                    ct.release()  # type: ignore[union-attr]
            if hooks is not None:
                await hooks.after(session, None if reply is None else reply[1],  # type: ignore[index]
                                  message)
        except KizunaError as exc:
            code = exc.code.name
            session.send(envelope.error(cid, envelope.socket_error(exc), exc.message))
        except RealtimeError as exc:
            code = exc.code.name
            session.send(envelope.error(cid if exc.reply else None, exc.code, exc.message,
                                        exc.context))
        except asyncio.CancelledError:
            raise
        except Exception:
            code = ErrorCode.RUNTIME_EXCEPTION.name
            log.exception("realtime handler failed", extra={"kind": kind, "sid": session.id,
                                                            "uid": session.user_id})
            session.send(envelope.error(cid, ErrorCode.RUNTIME_EXCEPTION, "Internal server error"))
        if metrics is not None:
            metrics.socket_message(kind, code, perf_counter() - started)

    # -- the domain's Sockets (kizuna.core.delivery), all through the Router ---------------------

    def is_online(self, user_id: str) -> bool:
        return self.router.is_online(user_id)

    def online_users(self) -> list[str]:
        return self.router.online_users()

    def notify(self, user_id: str, notifications: list[Notification]) -> None:
        """One `notifications` push to each socket of the user."""
        self.router.send_to_user(user_id, envelope.push("notifications",
                                                        encode.notifications(notifications)))

    def channel_message(self, stream: Stream, message: ChannelMessage) -> None:
        """A `channel_message` to everyone on the channel, its sender included."""
        self.router.send_to_stream(stream, envelope.push("channel_message",
                                                         encode.channel_message(message)))

    def leave_stream(self, user_id: str, stream: Stream) -> None:
        """Every socket of the user leaves the stream (kicked or banned from a group)."""
        self.router.leave_stream(user_id, stream)

    def disconnect_user(self, user_id: str, reason: str = KICKED) -> None:
        """Close every socket of a user (a ban, a deleted account)."""
        self.router.close_user(user_id, 1000, reason)

    def disconnect_session(self, session_id: str, reason: str = KICKED) -> bool:
        """Close one socket session (nk session_disconnect); False if it is not connected."""
        return self.router.close_session(session_id, 1000, reason)

    def token_revoked(self, token_id: str) -> None:
        """A session token was revoked (logout, ban, account deletion, single session, on any
        node): close the sockets opened with it."""
        if self.metrics is not None:
            self.metrics.revocations.inc()
        self.router.close_token(token_id, 1000, "session revoked")

    # -- streams (nk.stream_*, kizuna/core/streams.py) -------------------------------------------

    @staticmethod
    def _status(stream: Stream, status: str) -> str | None:
        """What a presence holds as status: the text on status and custom streams; on the other
        built-in streams none unless given (their events show a status only when there is one)."""
        if stream.mode == STATUS or stream.mode not in BUILTIN_MODES or status:
            return status
        return None

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str) -> bool | None:
        return self.router.stream_join(stream, user_id, session_id, hidden=hidden,
                                       persistence=persistence, status=self._status(stream, status))

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str) -> bool | None:
        return self.router.stream_update(stream, user_id, session_id, hidden=hidden,
                                         persistence=persistence,
                                         status=self._status(stream, status))

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> None:
        self.router.stream_leave(stream, user_id, session_id)

    def stream_close(self, stream: Stream) -> None:
        self.router.stream_close(stream)

    @staticmethod
    def _presence(p: Presence) -> StreamPresence:
        return StreamPresence(user_id=p.user_id, session_id=p.session_id, node=p.node,
                              username=p.username, hidden=p.hidden, persistence=p.persistence,
                              status=p.status or "")

    def stream_presences(self, stream: Stream) -> list[StreamPresence]:
        return [self._presence(p) for p in self.tracker.list(stream, include_hidden=True)]

    def stream_presence(self, stream: Stream, session_id: str) -> StreamPresence | None:
        p = self.tracker.get(session_id, stream)
        return None if p is None else self._presence(p)

    def stream_count(self, stream: Stream) -> int:
        return self.tracker.count(stream)

    def stream_counts(self, mode: int) -> list[tuple[Stream, int]]:
        count = self.tracker.count
        return [(s, count(s)) for s in self.tracker.streams(mode)]

    def _send(self, stream: Stream, data: bytes, to: list[PresenceId] | None) -> None:
        if to is None:
            self.router.send_to_stream(stream, data)
            return
        for node, session_id in dict.fromkeys(to):  # each session once
            self.router.send_to_session(node, session_id, data)

    def stream_data(self, stream: Stream, data: str, reliable: bool,
                    to: list[PresenceId] | None) -> None:
        self._send(stream, stream_handlers.stream_data(stream, data, reliable), to)

    def stream_envelope(self, stream: Stream, kind: str, body: dict[str, Any],
                        to: list[PresenceId] | None) -> None:
        self._send(stream, envelope.push(kind, body), to)

    # -- read by the node's metrics when Prometheus scrapes ---------------------------------------

    def outbound_backlog(self) -> tuple[int, int]:
        """(frames waiting in sockets' outgoing queues, sockets with such a backlog)."""
        frames = sockets = 0
        for s in self.registry:
            n = s.backlog
            if n:
                frames += n
                sockets += 1
        return frames, sockets

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
