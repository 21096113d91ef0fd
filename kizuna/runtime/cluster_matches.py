"""Authoritative matches across the nodes of a cluster: `domain.matches` when the node has a bus
(kizuna/cluster/bus.py), over the node's own `MatchRegistry` (kizuna/runtime/matches.py).

A match runs on the node that created it, the node its id names ("<uuid>.<node>"); nothing about
a match moves. Every call that names a match goes to that node:

- a join attempt and a signal are requests to the owner (`mt.join`, `mt.sig`), answered with
  `match_join_attempt`'s verdict and label, or `match_signal`'s result (errors as on one node:
  "Match not found" when it does not run there);
- the joins and leaves of its stream and the players' inputs are messages to the owner (`mt.p`,
  `mt.d`): the player's node sees them (its tracker fires the events of its own presences), the
  owner queues them for the match. A player's messages reach the owner in the order it sent them.

What a match sends its players already crosses nodes: it goes through `domain.sockets`, whose
router delivers to the node of each session; a kick asks the player's node to untrack it.

Listings (`nk.match_get`, `nk.match_list`, GET /v2/match) are local reads: every node keeps a
replica of the other nodes' running matches (id, handler, tick rate, label and its query index,
creation time). Each node broadcasts its changes (a match started, its label changed, it ended),
batched per turn of the event loop and numbered (`mt.c`: a `Replica` of kind "mt",
kizuna/cluster/replica.py); the number also rides on every heartbeat. A node that sees a gap, a
heartbeat number it does not have, a node come up, or a node say hello (a start, or its NATS
connection back) asks that node for a snapshot of its matches (`mt.want` -> `mt.snap`, broadcast in
order with the changes), which replaces the replica. A node that leaves or dies takes its matches
with it: the others drop them from their replicas and take their own sessions off those matches'
streams, telling each player (a `match_presence_event` with its leave), as when a match ends on one
node. A size in a listing is the count of the match's stream, which the cluster tracker sees across
nodes.

A match created while this node broadcasts its start: `create` returns once the start is on NATS,
so a client that lists or joins at another node right after finds it there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kizuna.cluster.replica import Replica
from kizuna.core import matches as core
from kizuna.core.matches import (
    JoinResult,
    LabelIndex,
    MatchPresence,
    RunningMatch,
    not_found,
    parse_id,
)
from kizuna.core.streams import MATCH_AUTHORITATIVE, Stream

if TYPE_CHECKING:
    from kizuna.cluster.bus import Bus, Header
    from kizuna.runtime.matches import Match, MatchRegistry

log = logging.getLogger("kizuna.cluster")

# Matches (or changes) per message: labels are up to 2048 bytes each, so a message stays under
# about 220 KiB, well under NATS's 1 MiB payload.
CHUNK = 100


@dataclass(slots=True)
class RemoteMatch:
    """A match another node runs, as this node's listings see it (core.matches.RunningMatch)."""

    match_id: str
    stream: Stream
    handler_name: str
    tick_rate: int
    label: str
    label_index: LabelIndex
    created: int
    node: str


def _entry(m: Match) -> list[Any]:
    return [m.match_id, m.handler_name, m.tick_rate, m.label, m.created]


class ClusterMatches:
    """core.matches.Matches for a node of a cluster."""

    def __init__(self, registry: MatchRegistry, bus: Bus) -> None:
        self.local = registry
        self.bus = bus
        self.node = bus.node
        # Time a call to a match may take on its node: its queue, then the handler's call.
        self.call_timeout = bus.request_timeout + registry.rt.config.runtime.call_timeout_ms / 1000
        self._remote: dict[str, dict[str, RemoteMatch]] = {}  # node -> match id -> match
        self._dirty: dict[str, Match] = {}
        self._dirty_handle: asyncio.Handle | None = None
        self.replica = Replica(bus, "mt", self, chunk=CHUNK)
        registry.on_change(self._local_changed)
        bus.serve("mt.join", self._serve_join)
        bus.serve("mt.sig", self._serve_signal)
        bus.on("mt.p", self._on_presences)
        bus.on("mt.d", self._on_data)

    # -- core.matches.Matches ----------------------------------------------------------------

    def _owner(self, match_id: str) -> str:
        return match_id.rpartition(".")[2]

    def get(self, match_id: str) -> RunningMatch | None:
        node = self._owner(match_id)
        if node == self.node:
            return self.local.get(match_id)
        return self._remote.get(node, {}).get(match_id)

    def running(self) -> Iterable[RunningMatch]:
        out: list[RunningMatch] = list(self.local.running())
        for matches in self._remote.values():
            out.extend(matches.values())
        return out

    async def create(self, name: str, params: Any) -> str:
        match_id = await self.local.create(name, params)
        # The start is on NATS before the caller hears of the match.
        self._flush_changes()
        await self.bus.flush()
        return match_id

    def _reachable(self, match_id: str) -> str:
        """The node of a match on another node; NOT_FOUND when that node is not in the
        cluster (any more)."""
        node = self._owner(match_id)
        if not self.bus.is_live(node):
            raise not_found()
        return node

    async def signal(self, match_id: str, data: str) -> str:
        if self._owner(match_id) == self.node:
            return await self.local.signal(match_id, data)
        head, _ = await self.bus.request(self._reachable(match_id), "mt.sig",
                                         {"m": match_id, "d": data}, timeout=self.call_timeout)
        return str(head.get("r", ""))

    async def join_attempt(self, match_id: str, presence: MatchPresence,
                           metadata: dict[str, str]) -> JoinResult:
        if self._owner(match_id) == self.node:
            return await self.local.join_attempt(match_id, presence, metadata)
        head, _ = await self.bus.request(self._reachable(match_id), "mt.join",
                                         {"m": match_id, "p": list(presence), "md": metadata},
                                         timeout=self.call_timeout)
        return JoinResult(bool(head["a"]), str(head.get("r", "")), str(head.get("l", "")))

    def presences(self, match_id: str, joins: list[MatchPresence],
                  leaves: list[MatchPresence]) -> None:
        node = self._owner(match_id)
        if node == self.node:
            self.local.presences(match_id, joins, leaves)
        elif self.bus.is_live(node):
            self.bus.send(node, "mt.p", {"m": match_id, "j": [list(p) for p in joins],
                                         "l": [list(p) for p in leaves]})

    def data(self, match_id: str, sender: MatchPresence, op_code: int, data: bytes,
             reliable: bool) -> None:
        node = self._owner(match_id)
        if node == self.node:
            self.local.data(match_id, sender, op_code, data, reliable)
        elif self.bus.is_live(node):
            self.bus.send(node, "mt.d", {"m": match_id, "s": list(sender), "o": op_code,
                                         "r": reliable}, data)

    # -- calls from other nodes to this node's matches ----------------------------------------

    async def _serve_join(self, sender: str, head: Header, body: bytes) -> tuple[Header, bytes]:
        metadata = head.get("md") or {}
        answer = await self.local.join_attempt(head["m"], MatchPresence(*head["p"]), metadata)
        return {"a": answer.accepted, "r": answer.reason, "l": answer.label}, b""

    async def _serve_signal(self, sender: str, head: Header,
                            body: bytes) -> tuple[Header, bytes]:
        return {"r": await self.local.signal(head["m"], head["d"])}, b""

    def _on_presences(self, sender: str, head: Header, body: bytes) -> None:
        self.local.presences(head["m"], [MatchPresence(*p) for p in head["j"]],
                             [MatchPresence(*p) for p in head["l"]])

    def _on_data(self, sender: str, head: Header, body: bytes) -> None:
        self.local.data(head["m"], MatchPresence(*head["s"]), head["o"], body, head["r"])

    # -- this node's matches, broadcast --------------------------------------------------------

    def _local_changed(self, match: Match) -> None:
        # A match changing twice in one turn of the loop goes out once, as it is at the end.
        self._dirty.pop(match.match_id, None)
        self._dirty[match.match_id] = match
        if self._dirty_handle is None:
            self._dirty_handle = asyncio.get_running_loop().call_soon(self._flush_changes)

    def _flush_changes(self) -> None:
        if self._dirty_handle is not None:
            self._dirty_handle.cancel()
            self._dirty_handle = None
        dirty, self._dirty = self._dirty, {}
        for m in dirty.values():
            self.replica.change(["-", m.match_id] if m.ended else ["+", *_entry(m)])
        self.replica.flush()

    # -- the replica (kizuna/cluster/replica.py Mirror) ---------------------------------------

    def own_items(self) -> list[Any]:
        self._flush_changes()  # changes first: the snapshot's number includes them
        return [_entry(m) for m in self.local.running() if not m.ended]

    def apply(self, node: str, ops: list[Any]) -> None:
        for op in ops:
            if op[0] == "+":
                self._put(node, op[1:])
            else:
                self._remote.get(node, {}).pop(op[1], None)

    def replace(self, node: str, items: list[Any]) -> None:
        self._remote.pop(node, None)
        for entry in items:
            self._put(node, entry)

    def _put(self, node: str, entry: list[Any]) -> None:
        match_id, handler, tick_rate, label, created = entry
        parsed = parse_id(match_id)
        if parsed is None or parsed.node != node:
            return
        matches = self._remote.setdefault(node, {})
        old = matches.get(match_id)
        index = old.label_index if old is not None and old.label == label else (
            core.index_label(label))
        matches[match_id] = RemoteMatch(match_id, parsed.stream, handler, tick_rate, label, index,
                                        created, node)

    def forget(self, node: str) -> None:
        gone = self._remote.pop(node, {})
        # Its matches ended with it: this node's players leave them and are told, as when a
        # match ends (the others' players are their nodes' to tell).
        sockets = self.local.rt.domain.sockets
        streams = [s for s, _ in sockets.stream_counts(MATCH_AUTHORITATIVE) if s.label == node]
        players = 0
        for stream in streams:
            mine = [(p.user_id, p.session_id) for p in sockets.stream_presences(stream)
                    if p.node == self.node]
            if mine:
                players += len(mine)
                core.kick(sockets, stream, mine)
        if gone or players:
            log.info("Matches of a departed node dropped",
                     extra={"peer": node, "matches": len(gone), "players_out": players})
