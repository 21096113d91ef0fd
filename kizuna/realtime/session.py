"""A connected socket session, and the registry of this node's sessions.

A session is one authenticated socket: who (user id, username), how (lang, whether its online
status is shown, format) and a way to write to the peer (a `Connection`, the thin adapter over the
socket library, see socket.py).

Outgoing envelopes go through `Session.send(data)`, which never blocks the caller, so one slow
peer cannot stall a fan-out:
- while the peer keeps up, the frame is written to the transport at once (no task switch);
- when the transport's buffer is full (the peer reads slowly), frames wait in a bounded queue
  (`socket.outgoing_queue_size`) drained by a writer task that respects flow control; the task
  exists only while there is a backlog;
- when the queue is full, or one frame cannot be written within `socket.write_wait_ms`, the session
  is closed: memory per session stays bounded whatever the peer does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Protocol

log = logging.getLogger("kizuna.realtime")


class Connection(Protocol):
    """What a session needs from the socket library."""

    def try_write(self, data: bytes) -> bool:
        """Write one text frame now if the transport has room; False means "queue it"."""

    async def write(self, data: bytes) -> None:
        """Write one text frame, waiting for the transport to have room."""

    def ping(self) -> None:
        """Send a ping control frame."""

    async def close(self, code: int, reason: str) -> None:
        """Close with a close frame and wait (bounded) for the peer's answer."""

    def abort(self, code: int | None = None, reason: str = "") -> None:
        """Drop the connection now (after a best-effort close frame when a code is given)."""


def node_bits(node: str) -> int:
    """48 bits derived from the node name, as the node part of session UUIDs (multicast bit set)."""
    return int.from_bytes(hashlib.sha1(node.encode()).digest()[:6], "big") | 0x010000000000


class Session:
    __slots__ = (
        "__weakref__",
        "_closer",
        "_queue",
        "_queue_size",
        "_write_wait",
        "_writer",
        "client_ip",
        "client_port",
        "closed",
        "conn",
        "expiry",
        "format",
        "id",
        "lang",
        "last_ping",
        "last_recv",
        "node",
        "status",
        "token_id",
        "user_id",
        "username",
        "vars",
    )

    def __init__(self, conn: Connection, *, session_id: str, node: str, user_id: str,
                 username: str, vars: dict[str, str] | None = None, token_id: str = "",
                 expiry: int = 0, lang: str = "en", status: bool = False, format: str = "json",
                 queue_size: int = 64, write_wait: float = 5.0, now: float = 0.0,
                 client_ip: str = "", client_port: str = "") -> None:
        self.id = session_id
        self.node = node
        self.user_id = user_id
        self.username = username
        self.vars = vars or {}
        self.token_id = token_id
        self.expiry = expiry
        self.lang = lang
        self.status = status
        self.format = format
        self.conn = conn
        self.closed = False
        self.last_recv = now
        self.last_ping = now
        self.client_ip = client_ip
        self.client_port = client_port
        self._queue: deque[bytes] | None = None  # made on first need: most sessions never queue
        self._queue_size = queue_size
        self._write_wait = write_wait
        self._writer: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"Session({self.id}, user={self.user_id})"

    # -- writing -----------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Frames waiting in the outgoing queue (the peer reads slower than the node sends)."""
        queue = self._queue
        return len(queue) if queue else 0

    def send(self, data: bytes) -> bool:
        """Queue one encoded envelope for the peer. False if the session is (now) closed."""
        if self.closed:
            return False
        queue = self._queue
        if not queue:
            if self.conn.try_write(data):
                return True
            if queue is None:
                queue = self._queue = deque()
        elif len(queue) >= self._queue_size:
            log.warning("Closing a session whose outgoing queue is full",
                        extra={"sid": self.id, "uid": self.user_id, "queued": len(queue)})
            self.close(1008, "outgoing queue full", abort=True)
            return False
        queue.append(data)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return True

    async def _drain(self) -> None:
        queue, conn = self._queue, self.conn
        assert queue is not None
        try:
            while queue:
                data = queue.popleft()
                async with asyncio.timeout(self._write_wait):
                    await conn.write(data)
        except TimeoutError:
            log.warning("Closing a session that stopped reading",
                        extra={"sid": self.id, "uid": self.user_id})
            self._writer = None
            self.close(1008, "write timeout", abort=True)
        except (ConnectionError, RuntimeError, OSError):
            queue.clear()
            self.closed = True
        finally:
            self._writer = None

    @property
    def queued(self) -> int:
        return len(self._queue) if self._queue else 0

    # -- closing -----------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "", *, abort: bool = False) -> None:
        """Stop sending and close the socket (what is already queued goes out first, unless
        `abort`). Returns at once; the reader side notices and cleans the session up."""
        if self.closed:
            return
        self.closed = True
        if abort:
            if self._queue:
                self._queue.clear()
            if self._writer is not None:
                self._writer.cancel()
                self._writer = None
            self.conn.abort(code, reason)
            return
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        writer = self._writer
        try:
            if writer is not None:
                async with asyncio.timeout(self._write_wait):
                    await asyncio.shield(writer)
            await self.conn.close(code, reason)
        except (TimeoutError, ConnectionError, RuntimeError, OSError):
            self.conn.abort()
        except asyncio.CancelledError:
            self.conn.abort()
            raise

    async def wait_closed(self) -> None:
        if self._closer is not None:
            await asyncio.gather(self._closer, return_exceptions=True)


class SessionRegistry:
    """This node's sessions, by id and by user. Deliveries and closes addressed to users,
    sessions or tokens go through the Router (router.py), never straight to this registry."""

    def __init__(self, node: str = "") -> None:
        self.node = node
        self._bits = node_bits(node)
        self._sessions: dict[str, Session] = {}
        self._by_user: dict[str, dict[str, Session]] = {}

    def new_id(self) -> str:
        return str(uuid.uuid1(node=self._bits))

    def add(self, session: Session) -> None:
        self._sessions[session.id] = session
        self._by_user.setdefault(session.user_id, {})[session.id] = session

    def remove(self, session: Session) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        mine = self._by_user.get(session.user_id)
        if mine is not None:
            mine.pop(session.id, None)
            if not mine:
                del self._by_user[session.user_id]

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def for_user(self, user_id: str) -> list[Session]:
        return list(self._by_user.get(user_id, {}).values())

    def users(self) -> list[str]:
        """The users with at least one socket on this node."""
        return list(self._by_user)

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))
