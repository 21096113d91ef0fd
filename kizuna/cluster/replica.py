"""A part of the cluster's state that each node owns for itself and every node mirrors: the
presences of its sockets (kizuna/realtime/cluster.py), its authoritative matches
(kizuna/runtime/cluster_matches.py), its matchmaker tickets (kizuna/realtime/matchmaker.py).
Each of them is a `Replica` over the bus (kizuna/cluster/bus.py) with a kind of its own; the
owner of the state says how it looks (`Mirror`), the Replica keeps the copies in step.

Changes. The owner reports each change of its own part (`change(op)`); the changes of one turn of
the event loop go out together, broadcast as `<kind>.c` messages numbered from 1 (`flush()`
sends them at once, for a reply that must not overtake them). Every other node applies them to
its copy of that node's part, in order.

Repair. A node whose copy of a peer may be stale asks that peer for its whole part
(`<kind>.want`), and the peer broadcasts it as a snapshot (`<kind>.snap`, in parts, addressed to
the asking node or to every node with "*", and numbered with the last change it includes), which
replaces the copy. A node asks when:
- a change arrives out of sequence (one was lost);
- a heartbeat carries another number than the last change it applied (the number rides on every
  heartbeat, under the kind's name);
- a peer comes up, or says hello (it started, or its NATS connection came back): the peer is
  also sent this node's snapshot, since it may have missed this node's changes;
- this node's own NATS connection came back.
Asking the same peer is limited to once per WANT_EVERY seconds; a node that noticed a missed
change asks again at each of that peer's heartbeats until the snapshot arrives.

A peer that leaves or dies is forgotten: its part goes from every copy (`Mirror.forget`).

Compatibility: the kinds, the numbering and the shape of the three messages are part of the
bus protocol (kizuna/cluster/bus.py PROTOCOL); nodes of one cluster must agree on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from kizuna.cluster.bus import Bus, Header

log = logging.getLogger("kizuna.cluster")

# A node asks the same peer for its snapshot at most this often (seconds).
WANT_EVERY = 1.0


class Mirror(Protocol):
    """What the owner of a replicated part says about it. Items and ops are JSON values."""

    def own_items(self) -> list[Any]:
        """This node's whole part, as a snapshot carries it."""
        ...

    def apply(self, node: str, ops: list[Any]) -> None:
        """Apply changes `node` made to its part, in order."""
        ...

    def replace(self, node: str, items: list[Any]) -> None:
        """`node`'s whole part is now `items` (a snapshot)."""
        ...

    def forget(self, node: str) -> None:
        """`node` left the cluster or died: its part goes."""
        ...


class Replica:
    """One replicated part of the cluster's state (module docstring). `chunk`: items per
    message, so that a message stays well under NATS's 1 MiB payload."""

    def __init__(self, bus: Bus, kind: str, mirror: Mirror, *, chunk: int) -> None:
        self.bus = bus
        self.kind = kind
        self.node = bus.node
        self.mirror = mirror
        self.chunk = chunk
        self.seq = 0  # change messages this node has broadcast
        self._ops: list[Any] = []
        self._handle: asyncio.Handle | None = None
        self._peer_seq: dict[str, int] = {}  # the last change of each peer applied here
        self._stale: set[str] = set()  # peers whose snapshot this node waits for
        self._wanted: dict[str, float] = {}
        self._parts: dict[str, list[Any]] = {}  # snapshots arriving in parts, by sender
        self._change, self._snap, self._want_kind = f"{kind}.c", f"{kind}.snap", f"{kind}.want"
        bus.on(self._change, self._on_change)
        bus.on(self._snap, self._on_snapshot)
        bus.on(self._want_kind, self._on_want)
        bus.on("hello", self._on_hello)
        bus.on("hb", self._on_heartbeat)
        bus.on_up(self.want)
        bus.on_down(self._on_down)
        bus.on_reconnect(self._on_reconnect)
        bus.heartbeat_fields(lambda: {kind: self.seq})

    # -- this node's part ----------------------------------------------------------------------

    def change(self, op: Any) -> None:
        """A change of this node's part: broadcast at the end of this turn of the loop."""
        self._ops.append(op)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self.flush)

    @property
    def pending(self) -> bool:
        """Whether changes wait to be broadcast."""
        return bool(self._ops)

    def flush(self) -> None:
        """Broadcast the waiting changes now (in order behind everything broadcast before)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        ops, self._ops = self._ops, []
        for i in range(0, len(ops), self.chunk):
            self.seq += 1
            self.bus.broadcast(self._change, {"v": self.seq}, orjson.dumps(ops[i:i + self.chunk]))

    def send_snapshot(self, to: str) -> None:
        """This node's whole part, to one node (or "*": every node)."""
        self.flush()  # the waiting changes first: the snapshot's number includes them
        items = self.mirror.own_items()
        parts = [items[i:i + self.chunk] for i in range(0, len(items), self.chunk)] or [[]]
        for n, part in enumerate(parts):
            self.bus.broadcast(self._snap, {"to": to, "v": self.seq, "n": n,
                                            "last": n == len(parts) - 1}, orjson.dumps(part))

    # -- the others' parts ---------------------------------------------------------------------

    def has(self, node: str) -> bool:
        """Whether this node holds `node`'s whole part (a snapshot arrived, and no change has
        been missed since)."""
        return node in self._peer_seq and node not in self._stale

    def want(self, node: str) -> None:
        """Ask `node` for its snapshot (at most once per WANT_EVERY seconds)."""
        now = time.monotonic()
        if now - self._wanted.get(node, 0.0) < WANT_EVERY:
            return
        self._wanted[node] = now
        self.bus.send(node, self._want_kind, {})

    def _on_want(self, sender: str, head: Header, body: bytes) -> None:
        self.send_snapshot(sender)

    def _on_hello(self, sender: str, head: Header, body: bytes) -> None:
        # A node that starts, or is back on NATS: it may have missed our changes, we its.
        self.send_snapshot(sender)
        self.want(sender)

    def _on_reconnect(self) -> None:
        for node in list(self.bus.peers):
            self.want(node)

    def _on_heartbeat(self, sender: str, head: Header, body: bytes) -> None:
        # Asked again at every heartbeat until the snapshot comes (a want may be lost, or
        # have been held back by WANT_EVERY).
        if sender in self._stale or self._peer_seq.get(sender) != head.get(self.kind):
            self.want(sender)

    def _on_change(self, sender: str, head: Header, body: bytes) -> None:
        seq = head["v"]
        last = self._peer_seq.get(sender)
        if last is not None and seq <= last:
            return  # in a snapshot already
        if last is None or seq != last + 1:  # a change was missed: the copy needs a snapshot
            self._stale.add(sender)
            self.want(sender)
        self._peer_seq[sender] = seq
        self.mirror.apply(sender, orjson.loads(body))  # applied meanwhile all the same

    def _on_snapshot(self, sender: str, head: Header, body: bytes) -> None:
        if head.get("to") not in (self.node, "*"):
            return
        if head["n"] == 0:
            self._parts[sender] = []
        parts = self._parts.get(sender)
        if parts is None:  # a later part of a snapshot whose start we missed
            return
        parts.extend(orjson.loads(body))
        if not head["last"]:
            return
        del self._parts[sender]
        self.mirror.replace(sender, parts)
        self._peer_seq[sender] = head["v"]
        self._stale.discard(sender)
        log.debug("snapshot applied", extra={"kind": self.kind, "peer": sender,
                                             "items": len(parts)})

    def _on_down(self, node: str) -> None:
        self._peer_seq.pop(node, None)
        self._stale.discard(node)
        self._parts.pop(node, None)
        self._wanted.pop(node, None)
        self.mirror.forget(node)


__all__ = ["WANT_EVERY", "Mirror", "Replica"]
