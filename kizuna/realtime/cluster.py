"""The socket layer across nodes: a presence tracker and a Router that reach every node's sessions
over the cluster bus (kizuna/cluster/bus.py). The realtime service uses them instead of the
local ones when `cluster.nats_url` is set (or the node's workers run a private NATS); handlers
and use cases do not know whether a peer is local.

Presences. Each node owns the presences of its own sessions and broadcasts every change (one
message per turn of the event loop, numbered: a `Replica` of kind "pr",
kizuna/cluster/replica.py); every node keeps a replica of the others', so
listing a stream, counting it, "is this user online" and finding the node of a session are
local lookups. A node that misses a change (a gap in the numbers, a heartbeat whose number
differs from what it has, a node it had taken for dead speaking again, a NATS reconnect) asks
the owner for a snapshot of its presences, which replaces the replica. A node that stops says
goodbye; one that dies is dropped by the others after `cluster.node_timeout_ms` without a
heartbeat: its presences go, and the leader (the live node with the lowest name) announces their
leaves to the streams they were on (status followers see the users go offline).

Events. Join and leave events are produced where the presence changes (the owning node), and its
listeners deliver them through this Router, which forwards to the nodes that hold the recipients:
each event reaches each recipient once, whichever node the recipient is on.

Deliveries go to the node holding the session: one bus message per node per delivery, carrying
the envelope's bytes once and the session ids it is for. Status events to followers are
broadcast (follows are kept by the node of the following session), and so is what goes to every
socket of a user (notifications): a socket opened elsewhere a moment ago gets it too. Closing sockets by user is
broadcast; by session, sent to its node; by token, every node already hears revocations from
PostgreSQL and closes its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from kizuna.cluster.bus import Bus, Header
from kizuna.cluster.replica import Replica
from kizuna.core.streams import NOTIFICATIONS, Stream, notifications_stream
from kizuna.realtime.router import LocalRouter
from kizuna.realtime.session import SessionRegistry
from kizuna.realtime.status import StatusRegistry
from kizuna.realtime.tracker import LocalTracker, Presence

log = logging.getLogger("kizuna.cluster")

# Presences (or changes) per message, each ~150 bytes of JSON: well under NATS's 1 MiB payload.
CHUNK = 2000


def _enc(p: Presence) -> list[Any]:
    s = p.stream
    return [p.session_id, p.user_id, p.username, s.mode, s.subject, s.subcontext, s.label,
            p.persistence, p.hidden, p.status]


def _dec(node: str, r: list[Any]) -> Presence:
    return Presence(node, r[0], r[1], r[2], Stream(r[3], r[4], r[5], r[6]), r[7], r[8], r[9])


class ClusterTracker(LocalTracker):
    def __init__(self, node: str, bus: Bus) -> None:
        super().__init__(node)
        self.bus = bus
        self.replica = Replica(bus, "pr", self, chunk=CHUNK)
        self._holding = 0

    # -- this node's changes, broadcast ------------------------------------------------------

    def _add(self, p: Presence) -> None:
        super()._add(p)
        if p.node == self.node:
            self.replica.change(["+", *_enc(p)])

    def _remove(self, p: Presence) -> None:
        super()._remove(p)
        if p.node == self.node:
            self.replica.change(["-", p.session_id, *p.stream])

    @property
    def pending(self) -> bool:
        """Whether this node has presence changes not yet broadcast."""
        return self.replica.pending

    async def published_before_reply(self) -> None:
        """`published()` for a socket handler's reply: the presence events the change caused
        are held until `release()` (called once the reply is out), so the client gets its reply
        first, as on a single node."""
        self._holding += 1
        try:
            await self.published()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        self._holding -= 1
        if not self._holding and self._events:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            LocalTracker._flush(self)

    def _flush(self) -> None:
        if self._holding:  # release() flushes
            self._flush_handle = None
            return
        super()._flush()

    async def published(self) -> None:
        """Broadcast the pending changes now and wait until every live node has applied them
        (a fence, bounded): a handler's reply waits for this, so whatever a client does after
        it, at any node, finds the change there (a chat join, then the friend's join on another
        node listing it; a match join, then a player on another node sending match data)."""
        self.replica.flush()
        await self.bus.fence()

    async def synced(self, timeout: float) -> bool:
        """Wait until this node holds the presences of every live peer (their answers to its
        hello), at most `timeout` seconds: a node starting to serve before would not deliver
        to players on the others. Peers answer a hello at once, but under load the answer may
        be late: waiting one and a half heartbeats first means every live peer has been heard
        (it is in `bus.peers`), and the check then waits for each one's snapshot. Whether it
        synced in time."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        settle = self.bus.heartbeat * 1.5
        has = self.replica.has
        while True:
            elapsed = loop.time() - start
            if elapsed >= settle and all(has(p) for p in self.bus.peers):
                return True
            if elapsed >= timeout:
                missing = sorted(p for p in self.bus.peers if not has(p))
                log.warning("Serving before the presences of some nodes arrived",
                            extra={"peers": missing, "waited_ms": int(elapsed * 1000)})
                return False
            await asyncio.sleep(0.01)

    # -- the replica (kizuna/cluster/replica.py Mirror) -------------------------------------

    def own_items(self) -> list[Any]:
        return [_enc(p) for members in self._by_stream.values() for p in members.values()
                if p.node == self.node]

    def apply(self, node: str, ops: list[Any]) -> None:
        for op in ops:
            if op[0] == "+":
                self._put(_dec(node, op[1:]))
            else:
                self._drop(op[1], Stream(*op[2:6]))

    def _put(self, p: Presence) -> None:
        old = self.get(p.session_id, p.stream)
        if old is not None:
            LocalTracker._remove(self, old)
        LocalTracker._add(self, p)

    def _drop(self, session_id: str, stream: Stream) -> Presence | None:
        p = self.get(session_id, stream)
        if p is not None and p.node != self.node:
            LocalTracker._remove(self, p)
            return p
        return None

    def replace(self, node: str, items: list[Any]) -> None:
        fresh = {(r[0], Stream(r[3], r[4], r[5], r[6])): r for r in items}
        for p in self._of(node):
            if (p.session_id, p.stream) not in fresh:
                LocalTracker._remove(self, p)
        for r in fresh.values():
            self._put(_dec(node, r))

    def _of(self, node: str) -> list[Presence]:
        return [p for members in self._by_stream.values() for p in members.values()
                if p.node == node]

    def forget(self, node: str) -> None:
        gone = self._of(node)
        for p in gone:
            LocalTracker._remove(self, p)
        if not gone:
            return
        # The node cannot announce its own leaves: the leader does, as if they were its own.
        announce = self.bus.leader() == self.node
        log.info("Presences of a departed node dropped",
                 extra={"peer": node, "presences": len(gone), "announced": announce})
        if announce:
            for p in gone:
                if not p.hidden:
                    self._event(p, False)


class ClusterRouter(LocalRouter):
    def __init__(self, node: str, sessions: SessionRegistry, tracker: ClusterTracker,
                 status: StatusRegistry, bus: Bus) -> None:
        super().__init__(node, sessions, tracker, status)
        self.bus = bus
        self.ctracker = tracker
        bus.on("d", self._on_deliver)
        bus.on("u", self._on_user)
        bus.on("fol", self._on_followers)
        bus.on("cu", self._on_close_user)
        bus.on("cs", self._on_close_session)
        bus.on("ls", self._on_leave_stream)
        bus.on("so", self._on_stream_op)
        bus.on("sc", self._on_stream_close)

    # -- delivering --------------------------------------------------------------------------

    def _fan_out(self, presences: Iterable[Presence], data: bytes,
                 exclude: str | None = None) -> None:
        get, node = self.sessions.get, self.node
        remote: dict[str, list[str]] = {}
        for p in presences:
            sid = p.session_id
            if sid == exclude:
                continue
            if p.node == node:
                s = get(sid)
                if s is not None:
                    s.send(data)
            else:
                remote.setdefault(p.node, []).append(sid)
        for peer, sids in remote.items():
            self.bus.send(peer, "d", {"s": sids}, data)

    def send_to_presences(self, presences: Iterable[Presence], data: bytes) -> None:
        self._fan_out(presences, data)

    def send_to_stream(self, stream: Stream, data: bytes, exclude: str | None = None) -> None:
        self._fan_out(self.tracker.presences(stream), data, exclude)

    def send_to_user(self, user_id: str, data: bytes) -> None:
        """To every socket of the user on every node: broadcast, rather than read from the
        replica, so that a socket opened on another node a moment ago gets it too (a
        notification created right after the player connected)."""
        for s in self.sessions.for_user(user_id):
            s.send(data)
        if self.bus.peers:
            self.bus.broadcast("u", {"u": user_id}, data)

    def _on_user(self, sender: str, head: Header, data: bytes) -> None:
        for s in self.sessions.for_user(head["u"]):
            s.send(data)

    def send_to_session(self, node: str, session_id: str, data: bytes) -> bool:
        if node == self.node:
            if super().send_to_session(node, session_id, data):
                return True
            # Not here: server code that names a session without its node gets this node;
            # the session may be on another one.
            found = self._node_of(session_id)
            if found is None or found == self.node:
                return False
            node = found
        if not self.bus.is_live(node):
            return False
        self.bus.send(node, "d", {"s": [session_id]}, data)
        return True

    def _on_deliver(self, sender: str, head: Header, data: bytes) -> None:
        get = self.sessions.get
        for sid in head["s"]:
            s = get(sid)
            if s is not None:
                s.send(data)

    def send_to_followers(self, user_id: str, data: bytes) -> None:
        super().send_to_followers(user_id, data)
        if self.bus.peers:
            self.bus.broadcast("fol", {"u": user_id}, data)

    def _on_followers(self, sender: str, head: Header, data: bytes) -> None:
        super().send_to_followers(head["u"], data)

    # -- session changes ---------------------------------------------------------------------

    def _node_of(self, session_id: str) -> str | None:
        """The node holding a session, from the presences it has (every socket is on its
        user's notification stream)."""
        mine = self.ctracker._by_session.get(session_id)
        if not mine:
            return None
        return next(iter(mine.values())).node

    def leave_stream(self, user_id: str, stream: Stream) -> int:
        remote: set[str] = {p.node for p in self.tracker.presences(stream)
                            if p.user_id == user_id and p.node != self.node}
        for peer in remote:
            self.bus.send(peer, "ls", {"u": user_id, "st": list(stream)})
        return super().leave_stream(user_id, stream) + len(remote)

    def _on_leave_stream(self, sender: str, head: Header, body: bytes) -> None:
        LocalRouter.leave_stream(self, head["u"], Stream(*head["st"]))

    def _remote_op(self, op: str, stream: Stream, user_id: str, session_id: str,
                   **fields: Any) -> str | None:
        node = self._node_of(session_id)
        if node is None or node == self.node:
            return None
        p = self.tracker.get(session_id, notifications_stream(user_id))
        if p is None:  # not a session of that user
            return None
        self.bus.send(node, "so", {"op": op, "st": list(stream), "u": user_id, "sid": session_id,
                                   **fields})
        return node

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str | None) -> bool | None:
        if self.sessions.get(session_id) is not None:
            return super().stream_join(stream, user_id, session_id, hidden=hidden,
                                       persistence=persistence, status=status)
        was = self.tracker.get(session_id, stream)
        if self._remote_op("join", stream, user_id, session_id, h=hidden, p=persistence,
                           s=status) is None:
            return None
        return was is None

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str | None) -> bool | None:
        if self.sessions.get(session_id) is not None:
            return super().stream_update(stream, user_id, session_id, hidden=hidden,
                                         persistence=persistence, status=status)
        was = self.tracker.get(session_id, stream)
        if self._remote_op("update", stream, user_id, session_id, h=hidden, p=persistence,
                           s=status) is None:
            return None
        return was is None

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> bool:
        p = self.tracker.get(session_id, stream)
        if p is None or p.user_id != user_id:
            return False
        if p.node == self.node:
            return super().stream_leave(stream, user_id, session_id)
        return self._remote_op("leave", stream, user_id, session_id) is not None

    def _on_stream_op(self, sender: str, head: Header, body: bytes) -> None:
        stream, uid, sid = Stream(*head["st"]), head["u"], head["sid"]
        op = head["op"]
        if op == "join":
            LocalRouter.stream_join(self, stream, uid, sid, hidden=head["h"],
                                    persistence=head["p"], status=head["s"])
        elif op == "update":
            LocalRouter.stream_update(self, stream, uid, sid, hidden=head["h"],
                                      persistence=head["p"], status=head["s"])
        elif op == "leave":
            LocalRouter.stream_leave(self, stream, uid, sid)

    def stream_close(self, stream: Stream) -> int:
        remote = {p.node for p in self.tracker.presences(stream) if p.node != self.node}
        if remote:
            self.bus.broadcast("sc", {"st": list(stream)})
        return super().stream_close(stream)

    def _on_stream_close(self, sender: str, head: Header, body: bytes) -> None:
        LocalRouter.stream_close(self, Stream(*head["st"]))

    # -- closing -----------------------------------------------------------------------------

    def close_user(self, user_id: str, code: int, reason: str, *, notice: bytes | None = None,
                   exclude: str | None = None) -> int:
        closed = super().close_user(user_id, code, reason, notice=notice, exclude=exclude)
        # To every node, not only those the replica shows sockets on: a socket opened on
        # another node a moment ago may not have reached the replica yet (a single-socket kick
        # is exactly that case).
        if self.bus.peers:
            self.bus.broadcast("cu", {"u": user_id, "c": code, "r": reason, "x": exclude,
                                      "n": notice is not None}, notice or b"")
        return closed

    def _on_close_user(self, sender: str, head: Header, body: bytes) -> None:
        LocalRouter.close_user(self, head["u"], head["c"], head["r"],
                               notice=body if head.get("n") else None, exclude=head.get("x"))

    def close_session(self, session_id: str, code: int, reason: str) -> bool:
        if self.sessions.get(session_id) is not None:
            return super().close_session(session_id, code, reason)
        node = self._node_of(session_id)
        if node is None or node == self.node:
            return False
        self.bus.send(node, "cs", {"sid": session_id, "c": code, "r": reason})
        return True

    def _on_close_session(self, sender: str, head: Header, body: bytes) -> None:
        LocalRouter.close_session(self, head["sid"], head["c"], head["r"])

    # -- who can be reached ------------------------------------------------------------------

    def online_users(self) -> list[str]:
        return [s.subject for s in self.tracker.streams(NOTIFICATIONS)]
