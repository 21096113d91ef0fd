"""The cluster bus: how the nodes of one game talk, over NATS.

Every node (a worker process is a node) holds one NATS connection and subscribes to three
subjects under `cluster.subject_prefix`:

- `<prefix>.all`: broadcasts to every node (heartbeats, hellos, presence changes and snapshots,
  status events for followers, closes addressed by user). One subscription, so what one node
  broadcasts reaches every other node in the order it was sent;
- `<prefix>.node.<node>`: messages for this node only (deliveries to its sockets, changes to
  its sessions' streams);
- `<prefix>.req.<node>`: requests that wait for an answer (a join attempt to a match this node
  runs, a party request); `request()` sends them and waits at most `cluster.request_timeout_ms`.

A message is one JSON header line (`{"k": kind, "f": from node, "i": its instance, ...}`), a
newline, then an opaque payload (usually the bytes of an envelope for sockets, shared by every
recipient). Handlers are registered per kind with `on()` (fire and forget) and `serve()`
(requests); they run on the event loop, in arrival order.

Liveness: every node broadcasts a heartbeat every `cluster.heartbeat_ms`; a node not heard for
`cluster.node_timeout_ms` is down (`on_down` callbacks: its presences leave). A node heard for the
first time, or with a new instance id (the same name restarted, as a supervisor restarts a
crashed worker), is up (`on_up`), after a down for the old instance. When the NATS connection
comes back after an outage the node says hello again (`on_reconnect` callbacks re-synchronise
state): NATS does not keep what was published while a node was cut off.

Publishing is synchronous for callers (the socket layer's Router is): messages go to an outgoing
queue that one task writes to NATS in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from kizuna.config import Config
from kizuna.errors import Code, KizunaError

log = logging.getLogger("kizuna.cluster")

Header = dict[str, Any]
Handler = Callable[[str, Header, bytes], None]
RequestHandler = Callable[[str, Header, bytes], Awaitable[tuple[Header, bytes]]]
NodeCallback = Callable[[str], None]

# Largest payload this node sends in one message: NATS refuses more than its max_payload
# (1 MiB by default); senders of big things (snapshots) split them below this.
MAX_CHUNK = 512 * 1024

# The bus's wire protocol. Compatibility rule between releases (nodes of two releases run side by
# side in a rolling upgrade): a release may add message kinds and header fields, never change
# what an existing kind or field means (that is a new kind); a node ignores kinds it does not
# know, and answers requests it does not serve with UNIMPLEMENTED. A release that must break
# this raises PROTOCOL, and nodes refuse to talk across the difference (say so in the changelog).
PROTOCOL = 1

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_token(node: str) -> str:
    """A node name as one NATS subject token (dots, spaces and wildcards escaped)."""
    return _UNSAFE.sub(lambda m: f"~{ord(m.group()):x}", node) or "~"


def pack(header: Header, payload: bytes = b"") -> bytes:
    return orjson.dumps(header) + b"\n" + payload


def unpack(data: bytes) -> tuple[Header, bytes]:
    cut = data.find(b"\n")
    if cut < 0:
        return orjson.loads(data), b""
    return orjson.loads(data[:cut]), data[cut + 1:]


class Peer:
    __slots__ = ("instance", "last_seen")

    def __init__(self, instance: str, now: float) -> None:
        self.instance = instance
        self.last_seen = now


class Bus:
    def __init__(self, config: Config, node: str) -> None:
        c = config.cluster
        self.config = config
        self.node = node
        self.instance = uuid.uuid4().hex[:12]
        self.urls = list(c.nats_url)
        self.prefix = c.subject_prefix
        self.heartbeat = c.heartbeat_ms / 1000
        self.timeout = c.node_timeout_ms / 1000
        self.request_timeout = c.request_timeout_ms / 1000
        self.all_subject = f"{self.prefix}.all"
        self.peers: dict[str, Peer] = {}
        self._incompatible: set[str] = set()
        self._handlers: dict[str, list[Handler]] = {}
        self._servers: dict[str, RequestHandler] = {}
        self._on_up: list[NodeCallback] = []
        self._on_down: list[NodeCallback] = []
        self._on_reconnect: list[Callable[[], None]] = []
        self._beat_extra: list[Callable[[], Header]] = []
        self._out: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._nc: Any = None
        self._subs: list[tuple[Any, list[int]]] = []  # (subscription, messages handled)
        self._fences: dict[int, tuple[set[str], asyncio.Future[None]]] = {}
        self._fence_seq = 0
        self._handlers["fence"] = [self._on_fence]
        self._handlers["fenced"] = [self._on_fenced]
        self.connected = False
        self.stopping = False
        self.sent = 0
        self.received = 0

    # -- registration --------------------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Handle messages of a kind (broadcast or addressed to this node); several handlers of
        one kind each get every message, in the order they were added."""
        self._handlers.setdefault(kind, []).append(handler)

    def serve(self, kind: str, handler: RequestHandler) -> None:
        """Answer requests of a kind (`request()` on another node)."""
        self._servers[kind] = handler

    def on_up(self, fn: NodeCallback) -> None:
        self._on_up.append(fn)

    def on_down(self, fn: NodeCallback) -> None:
        self._on_down.append(fn)

    def on_reconnect(self, fn: Callable[[], None]) -> None:
        self._on_reconnect.append(fn)

    def heartbeat_fields(self, fn: Callable[[], Header]) -> None:
        """Fields added to every heartbeat (a presence sequence number, say)."""
        self._beat_extra.append(fn)

    # -- who is there --------------------------------------------------------------------------

    def nodes(self) -> list[str]:
        """The live nodes, this one included, sorted by name."""
        return sorted([self.node, *self.peers])

    def is_live(self, node: str) -> bool:
        return node == self.node or node in self.peers

    def leader(self) -> str:
        """The live node with the lowest name: the one that does what only one node should (run
        the matchmaker, announce the leaves of a node that died). Every node computes the same
        answer from its own view, which converges within a heartbeat or two."""
        return min(self.peers, default=self.node) if self.peers and min(
            self.peers) < self.node else self.node

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        import nats

        try:
            self._nc = await nats.connect(
                servers=self.urls, name=f"kizuna {self.node}", allow_reconnect=True,
                max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=3,
                ping_interval=max(1, int(self.timeout)), max_outstanding_pings=2,
                error_cb=self._error, disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected, closed_cb=self._closed)
        except Exception as exc:  # nats raises its own errors, OSError, TimeoutError
            raise KizunaError(Code.UNAVAILABLE,
                              f"cannot reach NATS at {', '.join(self.urls)}: {exc}") from None
        self.connected = True
        token = subject_token(self.node)
        self._subs = []
        for subject in (self.all_subject, f"{self.prefix}.node.{token}"):
            handled = [0]

            async def receive(msg: Any, handled: list[int] = handled) -> None:
                try:
                    await self._receive(msg)
                finally:
                    handled[0] += 1

            sub = await self._nc.subscribe(subject, cb=receive, pending_msgs_limit=-1,
                                           pending_bytes_limit=-1)
            self._subs.append((sub, handled))
        await self._nc.subscribe(f"{self.prefix}.req.{token}", cb=self._answer,
                                 pending_msgs_limit=-1, pending_bytes_limit=-1)
        await self._nc.flush()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send_loop(), name="cluster-send"),
                       loop.create_task(self._beat_loop(), name="cluster-heartbeat")]
        self.broadcast("hello", {"v": PROTOCOL})
        log.info("Joined the cluster", extra={"node": self.node, "nats": self.urls,
                                              "subject_prefix": self.prefix})

    async def stop(self) -> None:
        """Say goodbye (the others drop this node at once rather than after the timeout), send
        what is queued, close the connection."""
        self.stopping = True
        if self._nc is None:
            return
        self.broadcast("bye", {})
        self._wake.set()
        deadline = time.monotonic() + 2
        while self._out and self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._nc.flush(), 1)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._nc.close(), 2)
        self._nc = None

    # -- sending -------------------------------------------------------------------------------

    def _stamp(self, kind: str, header: Header) -> Header:
        header["k"] = kind
        header["f"] = self.node
        header["i"] = self.instance
        return header

    def broadcast(self, kind: str, header: Header, payload: bytes = b"") -> None:
        """To every other node (this one ignores its own broadcasts)."""
        self._queue(self.all_subject, pack(self._stamp(kind, header), payload))

    def send(self, node: str, kind: str, header: Header, payload: bytes = b"") -> None:
        """To one node."""
        self._queue(f"{self.prefix}.node.{subject_token(node)}",
                    pack(self._stamp(kind, header), payload))

    def _queue(self, subject: str, data: bytes) -> None:
        if self._nc is None:
            return
        self._out.append((subject, data))
        self._wake.set()

    async def _send_loop(self) -> None:
        out = self._out
        while True:
            await self._wake.wait()
            self._wake.clear()
            while out:
                subject, data = out[0]
                try:
                    await self._nc.publish(subject, data)
                except Exception as exc:  # disconnected with a full buffer, payload too big
                    if len(data) > MAX_CHUNK * 2:
                        log.error("cluster message too large, dropped",
                                  extra={"bytes": len(data), "subject": subject})
                        out.popleft()
                        continue
                    log.warning("cluster publish failed; retrying",
                                extra={"error": repr(exc), "queued": len(out)})
                    await asyncio.sleep(0.2)
                    continue
                out.popleft()
                self.sent += 1
            self._flushed.set()

    async def flush(self, timeout: float = 0.25) -> None:
        """Wait until what is queued has reached the NATS server (a round trip to it), at most
        `timeout` seconds (a NATS outage must not hold replies)."""
        if self._nc is None or not self.connected:
            return
        deadline = time.monotonic() + timeout
        while self._out and time.monotonic() < deadline:
            self._flushed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), max(0.001, deadline - time.monotonic()))
        with contextlib.suppress(Exception):
            await self._nc.flush(timeout=max(0.01, deadline - time.monotonic()))

    async def fence(self, timeout: float = 0.25) -> None:
        """Return once every live peer has handled what this node broadcast before the call (at
        most `timeout` seconds): a "fence" goes out after those broadcasts, on the same subject
        and so in order behind them, and each peer answers it once it got there. A reply that
        must be visible on every node before the client hears it (a presence change) waits for
        this."""
        if self._nc is None or not self.connected or not self.peers:
            return
        self._fence_seq += 1
        fid = self._fence_seq
        waiting = set(self.peers)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fences[fid] = (waiting, done)
        self.broadcast("fence", {"id": fid})
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            log.debug("fence timed out", extra={"waiting": sorted(waiting)})
        finally:
            self._fences.pop(fid, None)

    def _on_fence(self, sender: str, head: Header, body: bytes) -> None:
        self.send(sender, "fenced", {"id": head["id"]})

    def _on_fenced(self, sender: str, head: Header, body: bytes) -> None:
        found = self._fences.get(head.get("id", -1))
        if found is None:
            return
        waiting, done = found
        waiting.discard(sender)
        if not waiting.intersection(self.peers) and not done.done():
            done.set_result(None)

    async def barrier(self, timeout: float = 0.25) -> None:
        """Return once every message NATS had for this node when called has been handled (at
        most `timeout` seconds): a round trip to the server, which sends what it holds for this
        connection before its answer, then until the handlers have caught up with what had
        arrived. A handler that reads presences right after a client acted elsewhere (a chat
        join after a friend's join on another node) waits for this first."""
        if self._nc is None or not self.connected:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with contextlib.suppress(Exception):
            await self._nc.flush(timeout=timeout)
            targets = [(sub._received, handled) for sub, handled in self._subs]
            while any(handled[0] < n for n, handled in targets) and loop.time() < deadline:
                await asyncio.sleep(0)

    async def request(self, node: str, kind: str, header: Header, payload: bytes = b"",
                      timeout: float | None = None) -> tuple[Header, bytes]:
        """Ask another node and wait for its answer. An answer `{"error": [code, message]}`
        raises that KizunaError; no answer in time raises UNAVAILABLE."""
        if self._nc is None or not self.is_live(node):
            raise KizunaError(Code.UNAVAILABLE, f"node {node} is not reachable")
        data = pack(self._stamp(kind, header), payload)
        try:
            msg = await self._nc.request(f"{self.prefix}.req.{subject_token(node)}", data,
                                         timeout=timeout or self.request_timeout)
        except Exception as exc:  # timeout, no responders, connection closed
            raise KizunaError(Code.UNAVAILABLE,
                              f"node {node} did not answer ({type(exc).__name__})") from None
        head, body = unpack(msg.data)
        err = head.get("error")
        if err:
            raise KizunaError(Code(err[0]), err[1])
        return head, body

    # -- receiving -----------------------------------------------------------------------------

    def _seen(self, node: str, instance: str) -> bool:
        """Note a sign of life; False if it comes from an instance already replaced."""
        peer = self.peers.get(node)
        now = time.monotonic()
        if peer is None:
            self.peers[node] = Peer(instance, now)
            self._fire(self._on_up, node)
            return True
        if peer.instance != instance:
            # The same name with a new instance (restarted): the old one is gone.
            log.info("Node restarted", extra={"peer": node})
            del self.peers[node]
            self._fire(self._on_down, node)
            self.peers[node] = Peer(instance, now)
            self._fire(self._on_up, node)
            return True
        peer.last_seen = now
        return True

    async def _receive(self, msg: Any) -> None:
        try:
            head, body = unpack(msg.data)
        except Exception:
            log.warning("unreadable cluster message", extra={"subject": msg.subject})
            return
        sender = head.get("f")
        if sender == self.node or not isinstance(sender, str):
            return
        self.received += 1
        kind = head.get("k")
        if kind in ("hb", "hello") and head.get("v", PROTOCOL) != PROTOCOL:
            if sender not in self._incompatible:
                self._incompatible.add(sender)
                log.error("A node speaks another cluster protocol: ignoring it", extra={
                    "peer": sender, "its_protocol": head.get("v"), "ours": PROTOCOL})
            return
        if sender in self._incompatible:
            return
        if kind == "bye":
            if sender in self.peers and self.peers[sender].instance == head.get("i"):
                del self.peers[sender]
                log.info("Node left the cluster", extra={"peer": sender})
                self._fire(self._on_down, sender)
            return
        self._seen(sender, head.get("i", ""))
        for handler in self._handlers.get(kind, ()):  # type: ignore[arg-type]
            try:
                handler(sender, head, body)
            except Exception:
                log.exception("cluster message handler failed", extra={"kind": kind})

    async def _answer(self, msg: Any) -> None:
        try:
            head, body = unpack(msg.data)
        except Exception:
            return
        sender = head.get("f", "")
        if sender != self.node:
            self._seen(sender, head.get("i", ""))
        server = self._servers.get(head.get("k", ""))
        try:
            if server is None:
                raise KizunaError(Code.UNIMPLEMENTED, f"node {self.node} does not serve "
                                                      f"{head.get('k')!r} (another release?)")
            out_head, out_body = await server(sender, head, body)
        except KizunaError as exc:
            out_head, out_body = {"error": [int(exc.code), exc.message]}, b""
        except Exception:
            log.exception("cluster request failed", extra={"kind": head.get("k")})
            out_head, out_body = {"error": [int(Code.INTERNAL), "Internal server error"]}, b""
        if msg.reply:
            with contextlib.suppress(Exception):
                await self._nc.publish(msg.reply, pack(out_head, out_body))

    def _fire(self, callbacks: list[Any], *args: Any) -> None:
        for fn in callbacks:
            try:
                fn(*args)
            except Exception:
                log.exception("cluster callback failed")

    # -- liveness ------------------------------------------------------------------------------

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                header: Header = {"v": PROTOCOL}
                for fn in self._beat_extra:
                    header.update(fn())
                self.broadcast("hb", header)
                self._expire()
            except Exception:
                log.exception("cluster heartbeat failed")

    def _expire(self) -> None:
        now = time.monotonic()
        for node, peer in list(self.peers.items()):
            if now - peer.last_seen > self.timeout:
                del self.peers[node]
                log.warning("Node timed out: its presences leave",
                            extra={"peer": node, "timeout_ms": int(self.timeout * 1000)})
                self._fire(self._on_down, node)

    # -- NATS connection events ----------------------------------------------------------------

    async def _error(self, exc: Exception) -> None:
        if not self.stopping:
            log.warning("NATS error", extra={"error": repr(exc)})

    async def _disconnected(self) -> None:
        self.connected = False
        if not self.stopping:
            log.warning("Lost the NATS connection; reconnecting", extra={"nats": self.urls})

    async def _reconnected(self) -> None:
        self.connected = True
        log.info("NATS connection back: re-synchronising", extra={"nats": self.urls})
        self._wake.set()
        self.broadcast("hello", {"v": PROTOCOL})
        self._fire(self._on_reconnect)

    async def _closed(self) -> None:
        self.connected = False
