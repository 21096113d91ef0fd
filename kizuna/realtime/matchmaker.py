"""The node's matchmaker service: the one owner of its `Matchmaker` engine (kizuna/core/matchmaker)
and of the task that drives it. `RealtimeService.matchmaker`, built with it.

Every ticket of this node lives in the engine, and the engine is reached only through this
object: the socket's `matchmaker_add` / `matchmaker_remove` (handlers/matchmaker.py), the
parties' `party_matchmaker_add` / `_remove`, and a session's or a party's end (`remove_session_all`,
`remove_party_all`). Tickets are addressed by session or party, like presences, so a cluster can
route a call to the node that holds them.

How a group forms (the driver): Nakama matches on a fixed interval (`matchmaker.interval_sec`,
15 s). Here a pass runs as soon as something can have changed, at most every `MIN_GAP` (0.1 s):
an add wakes the driver, and it also wakes when a waiting ticket reaches its last interval
(`Matchmaker.next_due()`, when smaller groups become allowed, as Nakama's intervals decide). So a
full group forms within about 0.1 s of its last ticket. A pass only searches for the tickets that
are new or just reached their last interval (the engine's design), bounded by `MAX_SEARCHES`: a
burst of adds is spread over consecutive passes, so one pass never holds the event loop for long.
Passes run on the event loop itself: the engine is plain Python (a worker thread would share the
interpreter lock and buy nothing but a lock around every add and remove), and it is touched from
one place at a time.

Each group then goes to its members as `matchmaker_matched`. With a `register_matchmaker_matched`
function (`rt.modules`), it is called first, in its own task, so a slow one holds neither the
driver nor the event loop: the match id it returns reaches the members as `match_id`. Otherwise
(no function, no id, an error: logged) they get a `token` for a new relayed match
(kizuna/core/matchmaker/tokens.py), which `match_join {token}` opens. Every member gets its own
push, with its ticket and its own entry as `self`, through the Router.

In a cluster (`rt.bus`), one matcher at a time: every node keeps a replica of every ticket, and
only the leader (`bus.leader()`, the live node with the lowest name) runs passes. A ticket
belongs to the node that added it (its `owner`: the node of the session, or of the party), which
checks `matchmaker.max_tickets` and broadcasts its adds and removes, numbered (a `Replica` of
kind "mm", kizuna/cluster/replica.py: a lost change, a node that comes up, reconnects or says
hello, gets a snapshot of that node's own tickets); a dead node's tickets are dropped by every
node. The leader delivers the groups it forms (its
`register_matchmaker_matched`, or a token: every node shares `session.encryption_key`) through
the Router to the members' nodes, and broadcasts their removal ("mm.m"). When the leader dies,
the next one already holds every ticket: they all search on its first pass. A node leads only
once it has been on the bus for two heartbeats (it knows its peers and has their tickets).
`stats()` is the cluster's (every node holds every ticket and hears of every group); the pass
durations and `matched_groups` are this node's (only the leader forms groups).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from kizuna.cluster.replica import Replica
from kizuna.core.matchmaker import Matched, Matchmaker, MatchmakerPresence, Ticket, tokens
from kizuna.errors import KizunaError
from kizuna.realtime import envelope
from kizuna.wire.types import MatchmakerStats

if TYPE_CHECKING:
    from kizuna.cluster.bus import Header
    from kizuna.realtime.service import RealtimeService

log = logging.getLogger("kizuna.realtime.matchmaker")

MIN_GAP = 0.1  # seconds between the start of two passes
MAX_SEARCHES = 1500  # tickets that search in one pass (the rest in the next ones)
SLOW_PASS = 0.1  # a pass longer than this is logged (at most every SLOW_LOG_EVERY seconds)
SLOW_LOG_EVERY = 10.0
RECENT_PASSES = 256  # pass durations kept for the node's metrics
COMPLETIONS_KEPT = 100  # recent completions kept for GET /v2/matchmaker/stats
CHUNK = 1000  # tickets (or changes) per bus message (well under NATS's payload limit)
FOLLOWER_RECHECK = 1.0  # seconds between a follower's looks at who leads


def _number(value: float) -> float | int | str:
    """A double as protojson writes it: integral values without a fraction, infinities as
    strings (JSON has no number for them)."""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _user(t: Ticket, p: MatchmakerPresence) -> dict[str, Any]:
    """A MatchmakerUser of the matchmaker_matched push."""
    out: dict[str, Any] = {"presence": {"user_id": p.user_id, "session_id": p.session_id,
                                        "username": p.username}}
    if t.party_id:
        out["party_id"] = t.party_id
    if t.string_properties:
        out["string_properties"] = dict(t.string_properties)
    if t.numeric_properties:
        out["numeric_properties"] = {k: _number(v) for k, v in t.numeric_properties.items()}
    return out


def entries(group: Matched) -> list[dict[str, Any]]:
    """The group as server code's matchmaker matched function gets it: one entry per user, as
    Nakama's runtimes give it (properties: the string ones, then the numeric ones over them)."""
    return [{"presence": {"user_id": p.user_id, "session_id": p.session_id,
                          "username": p.username, "node": p.node},
             "properties": {**t.string_properties, **t.numeric_properties},
             "party_id": t.party_id, "ticket": t.id}
            for t, p in group.entries()]


def _encode(t: Ticket, created: float) -> dict[str, Any]:
    """A ticket as the bus carries it (`created`: unix seconds; numbers as text, so that the
    infinities survive JSON)."""
    return {"id": t.id, "o": t.owner, "ps": [[p.user_id, p.session_id, p.username, p.node]
                                             for p in t.presences],
            "s": t.session_id, "p": t.party_id, "q": t.query.text, "mn": t.min_count,
            "mx": t.max_count, "cm": t.count_multiple, "sp": t.string_properties,
            "np": {k: repr(v) for k, v in t.numeric_properties.items()}, "c": created}


class MatchmakerService:
    """The node's matchmaker (module docstring). Every method runs on the event loop."""

    def __init__(self, rt: RealtimeService) -> None:
        self.rt = rt
        self.node = rt.node
        self.engine = Matchmaker.from_config(rt.config.matchmaker)
        self._key = rt.config.session.encryption_key
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._last_pass = -math.inf
        self._slow_logged = -math.inf
        # (seconds, groups formed) of the recent passes, for the node's metrics.
        self.recent_passes: deque[tuple[float, int]] = deque(maxlen=RECENT_PASSES)
        self.passes = 0
        self.matched_groups = 0
        # (created, completed) unix seconds of the tickets recently matched.
        self.completions: deque[tuple[float, float]] = deque(maxlen=COMPLETIONS_KEPT)
        # The cluster (module docstring): None on a single node.
        self.bus = rt.bus
        self._since = math.inf  # when this node joined the bus (it leads two heartbeats later)
        self.replica: Replica | None = None
        if self.bus is not None:
            self.replica = Replica(self.bus, "mm", self, chunk=CHUNK)
            self.bus.on("mm.m", self._on_matched)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._since = time.monotonic()
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._drive(),
                                                                name="matchmaker")

    async def stop(self) -> None:
        """Stop forming groups; deliveries under way (a matched function running) are cancelled.
        The tickets are dropped with their sessions."""
        task, self._task = self._task, None
        pending = [t for t in (task, *self._deliveries) if t is not None]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- tickets -----------------------------------------------------------------------------------

    def add(self, presences: list[MatchmakerPresence], *, session_id: str | None = None,
            party_id: str | None = None, query: str, min_count: int, max_count: int,
            count_multiple: int | None, string_properties: dict[str, str],
            numeric_properties: dict[str, float]) -> Ticket:
        """A new ticket, for one session's user (`session_id`) or a whole party (`party_id`,
        `presences` its members): KizunaError as the engine raises them (bad counts or query:
        INVALID_ARGUMENT; a session or party at `matchmaker.max_tickets`: RESOURCE_EXHAUSTED).
        The driver runs a pass for it shortly."""
        t = self.engine.add(presences, session_id=session_id or "", party_id=party_id or "",
                            query=query, min_count=min_count, max_count=max_count,
                            count_multiple=1 if count_multiple is None else count_multiple,
                            string_properties=string_properties,
                            numeric_properties=numeric_properties, owner=self.node)
        if self.replica is not None:
            self.replica.change(["+", _encode(t, self.wall_time(t))])
        if self._wake is not None:
            self._wake.set()
        return t

    async def published(self) -> None:
        """Wait until every live node holds the tickets this node added before (a fence,
        bounded): the reply to an add waits for this, so the ticket waits on every node, the
        leader's included, before its player hears of it. Two players queueing one after the
        other on different nodes are then in the leader's order of arrival, as on one node."""
        if self.replica is not None:
            self.replica.flush()
            await self.replica.bus.fence()

    def _removed(self, gone: list[Ticket]) -> list[Ticket]:
        """Tell the other nodes that these tickets no longer wait."""
        if self.replica is not None:
            for t in gone:
                self.replica.change(["-", t.id])
        return gone

    def remove_session(self, session_id: str, ticket_id: str) -> Ticket:
        """A session's own ticket (matchmaker_remove); NOT_FOUND "Matchmaker ticket not found"."""
        return self._removed([self.engine.remove_session(session_id, ticket_id)])[0]

    def remove_party(self, party_id: str, ticket_id: str) -> Ticket:
        """One of a party's tickets (party_matchmaker_remove); NOT_FOUND as above."""
        return self._removed([self.engine.remove_party(party_id, ticket_id)])[0]

    def remove_session_all(self, session_id: str) -> list[Ticket]:
        """Every ticket a session is in, its parties' included (the socket closed)."""
        return self._removed(self.engine.remove_session_all(session_id))

    def remove_party_all(self, party_id: str) -> list[Ticket]:
        """Every ticket of a party (it closed, or its members changed)."""
        return self._removed(self.engine.remove_party_all(party_id))

    # -- the cluster's replicas ----------------------------------------------------------------------

    def leading(self) -> bool:
        """Whether this node runs the passes: always on a single node; in a cluster, the leader,
        once it has been on the bus for two heartbeats."""
        bus = self.bus
        if bus is None:
            return True
        return bus.leader() == self.node and time.monotonic() - self._since >= 2 * bus.heartbeat

    def _replicate(self, r: dict[str, Any]) -> None:
        """Another node's ticket, as its owner added it."""
        if r["id"] in self.engine:
            return
        presences = [MatchmakerPresence(*p) for p in r["ps"]]
        created = time.monotonic() - max(0.0, time.time() - r["c"])
        try:
            self.engine.add(presences, session_id=r["s"], party_id=r["p"], query=r["q"],
                            min_count=r["mn"], max_count=r["mx"], count_multiple=r["cm"],
                            string_properties=r["sp"],
                            numeric_properties={k: float(v) for k, v in r["np"].items()},
                            now=created, ticket_id=r["id"], owner=r["o"], limits=False)
        except KizunaError as exc:  # another release's rules: the ticket waits there only
            log.warning("Matchmaker ticket of another node refused",
                        extra={"peer": r["o"], "error": exc.message})

    def _on_matched(self, sender: str, head: Header, body: bytes) -> None:
        """The leader formed groups of these tickets: they no longer wait (their completions are
        the cluster's)."""
        completed, mono = head["t"], time.monotonic()
        for t in self.engine.remove(head["ids"]):
            self.completions.append((completed - (mono - t.created), completed))

    # -- the replica (kizuna/cluster/replica.py Mirror) ---------------------------------------------

    def own_items(self) -> list[Any]:
        node = self.node
        return [_encode(t, self.wall_time(t)) for t in self.engine.tickets() if t.owner == node]

    def apply(self, node: str, ops: list[Any]) -> None:
        added = False
        for op in ops:
            if op[0] == "+":
                self._replicate(op[1])
                added = True
            else:
                self.engine.remove([op[1]])
        if added and self._wake is not None:
            self._wake.set()

    def replace(self, node: str, items: list[Any]) -> None:
        fresh = {r["id"]: r for r in items}
        self.engine.remove([t.id for t in self.engine.tickets()
                            if t.owner == node and t.id not in fresh])
        for r in sorted(fresh.values(), key=lambda r: r["c"]):
            self._replicate(r)
        if self._wake is not None:
            self._wake.set()

    def forget(self, node: str) -> None:
        """A node died (or left): its tickets go; a new leader may have to take over."""
        gone = self.engine.remove([t.id for t in self.engine.tickets() if t.owner == node])
        if gone:
            log.info("Matchmaker tickets of a departed node dropped",
                     extra={"peer": node, "tickets": len(gone)})
        if self._wake is not None:
            self._wake.set()

    # -- reading -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.engine)

    def session_tickets(self, session_id: str) -> list[Ticket]:
        return self.engine.session_tickets(session_id)

    def wall_time(self, t: Ticket) -> float:
        """When a ticket was added, in unix seconds (the engine counts on the monotonic clock)."""
        return time.time() - (time.monotonic() - t.created)

    def oldest_ticket_created(self) -> float | None:
        """Unix seconds of the longest-waiting ticket, or None."""
        for t in self.engine.tickets():  # longest waiting first: the first one
            return self.wall_time(t)
        return None

    def stats(self) -> MatchmakerStats:
        """GET /v2/matchmaker/stats: the tickets waiting (on every node of a cluster), the oldest
        one's creation, and the recent completions (the last COMPLETIONS_KEPT tickets
        matched)."""
        oldest = self.oldest_ticket_created()
        stamp = partial(datetime.fromtimestamp, tz=UTC)
        return MatchmakerStats(
            ticket_count=len(self.engine),
            oldest_ticket_create_time=None if oldest is None else stamp(int(oldest)),
            completions=[(stamp(a), stamp(b)) for a, b in self.completions])

    def pass_quantiles(self) -> dict[tuple[str, ...], float]:
        """Durations (seconds) of the recent passes: the median, the 99th percentile and the
        longest, by `quantile` label (for the node's metrics); empty before the first pass."""
        took = sorted(d for d, _ in self.recent_passes)
        if not took:
            return {}
        last = len(took) - 1
        return {("0.5",): took[last // 2], ("0.99",): took[min(last, round(last * 0.99))],
                ("1",): took[last]}

    # -- the driver ----------------------------------------------------------------------------------

    async def _drive(self) -> None:
        wake = self._wake
        assert wake is not None
        engine = self.engine
        clock = time.monotonic
        while True:
            wake.clear()
            now = clock()
            if not self.leading():  # a follower: it holds the tickets, the leader matches
                engine.settle(now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), FOLLOWER_RECHECK)
                continue
            if engine.pending(now):
                gap = self._last_pass + MIN_GAP - now
                if gap > 0:
                    await asyncio.sleep(gap)
                    continue
                self._pass(now)
                await asyncio.sleep(0)  # let what the pass sent and what waits run
                continue
            due = engine.next_due()
            timeout = None if due is None else max(due - now, 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    def _pass(self, now: float) -> None:
        started = time.perf_counter()
        self._last_pass = time.monotonic()
        try:
            groups = self.engine.match(now, max_searches=MAX_SEARCHES)
        except Exception:  # a bug in the engine must not stop the matchmaker
            log.exception("Matchmaker pass failed")
            groups = []
        took = time.perf_counter() - started
        self.passes += 1
        self.recent_passes.append((took, len(groups)))
        if took > SLOW_PASS and self._last_pass - self._slow_logged >= SLOW_LOG_EVERY:
            self._slow_logged = self._last_pass
            log.warning("Slow matchmaker pass", extra={
                "ms": round(took * 1000, 1), "tickets": len(self.engine), "groups": len(groups)})
        if groups and self.bus is not None:
            self.bus.broadcast("mm.m", {"t": time.time(),
                                        "ids": [t.id for g in groups for t in g.tickets]})
        if groups:
            try:
                self._deliver(groups)
            except Exception:  # never let one bad delivery stop the matchmaker
                log.exception("Matchmaker delivery failed")

    # -- deliveries ----------------------------------------------------------------------------------

    def _deliver(self, groups: Iterable[Matched]) -> None:
        completed, mono = time.time(), time.monotonic()
        hooked = self.rt.modules.has_matchmaker_matched()
        for group in groups:
            self.matched_groups += 1
            for t in group.tickets:
                self.completions.append((completed - (mono - t.created), completed))
            if hooked:
                task = asyncio.get_running_loop().create_task(self._ask_and_send(group),
                                                              name="matchmaker-matched")
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)
            else:
                self._send(group, None)

    async def _ask_and_send(self, group: Matched) -> None:
        try:
            match_id = await self.rt.modules.matchmaker_matched(entries(group))
        except asyncio.CancelledError:
            raise
        except Exception:  # the runtime logs its own failures; anything else is a bug
            log.exception("Matchmaker matched function call failed")
            match_id = None
        try:
            self._send(group, match_id)
        except Exception:
            log.exception("Matchmaker delivery failed")

    def _send(self, group: Matched, match_id: str | None) -> None:
        """`matchmaker_matched` to each member: the same users and match id (or token), its own
        ticket and `self`."""
        pairs = group.entries()
        users = [_user(t, p) for t, p in pairs]
        if match_id:
            key, value = "match_id", match_id
        else:
            key, value = "token", tokens.issue(self._key, tokens.relayed_match_id())
        send = self.rt.router.send_to_session
        for (t, p), me in zip(pairs, users, strict=True):
            body = {"ticket": t.id, key: value, "users": users, "self": me}
            send(p.node or self.node, p.session_id, envelope.push("matchmaker_matched", body))
