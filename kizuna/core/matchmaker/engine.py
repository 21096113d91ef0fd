"""The matchmaker's engine: the add/remove rules and the pass that forms groups (the records are
in tickets.py, the indexes in index.py).

Pure Python and synchronous (no I/O, no asyncio): the socket layer adds and removes tickets and
calls `match()` often (every 100-200 ms, or right after an add, when `pending()`); each call
returns the groups it formed and drops their tickets. Time is seconds on one clock: the engine's
(`time.monotonic` by default), which any `now` passed in must share.

The rules of a group (every one is checked, for every member):
- every pair of tickets accepts each other: each one's query matches the other's properties;
- its size (users, a party ticket counting all its members) is within every member's
  [min_count, max_count] and a multiple of every member's count_multiple;
- no user appears twice, and two tickets of one party never meet (a party is one ticket, so it
  stays together).

When a group forms, as Nakama's (`matchmaker.interval_sec`, `max_intervals`):
- Nakama's matchmaker runs every `interval_sec` (15 s); a ticket searches on each run until it has
  done `max_intervals` runs, and is "on its last interval" at the last of them (at once when
  min_count == max_count). Before that it forms only a group of its max_count, with tickets of
  the same max_count; on its last interval also a smaller one (at least every member's
  min_count, with tickets whose max_count is not larger than its own) when no more candidates
  fit. A ticket whose max_count is larger than the searching ticket's is never pulled into its
  group: it searches for itself.
- Kizuna counts intervals the same way (the ticks of `interval_sec` since the engine started
  that passed since the ticket was added, so a ticket reaches its last interval when Nakama's
  would), but a pass can run as often as the caller likes: a full group forms on the first pass
  after its last ticket arrives, which is what keeps matching under a second.
  `rev_precision` / `rev_threshold` have no counterpart: acceptance is always checked both ways.

How a pass stays fast: a ticket searches only when something can have changed for it (it is
new, or it has just reached its last interval); the others wait at no cost and new tickets find
them. A search does not compare all pairs: it reads its candidates from the smallest index that
can hold them (index.py: by the values its query requires, by the values it offers to queries
that require them, by numeric range).
Candidates come longest-waiting first; a query whose scores can differ (optional clauses beside
required ones, boosts) collects its first `SCORE_WINDOW` acceptable candidates (fewer once enough
of them have the best score it gives) and takes them highest score first. Groups are built
greedily from the oldest searching ticket on, so the result of a pass is deterministic for a
given sequence of adds and `now` values. `match(max_searches=N)` bounds the work of one pass
after a burst of adds; the rest search in the next pass.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
import uuid
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING

from kizuna.core.matchmaker.index import Indexes
from kizuna.core.matchmaker.query import compile_query
from kizuna.core.matchmaker.tickets import Matched, MatchmakerPresence, Ticket
from kizuna.errors import Code, KizunaError

if TYPE_CHECKING:
    from kizuna.config import MatchmakerConfig

__all__ = [
    "DUPLICATE_SESSION", "SCORE_WINDOW", "TICKET_NOT_FOUND", "TOO_MANY_TICKETS", "Matchmaker",
]

# Nakama's texts. Over the socket Nakama answers every matchmaker_add failure with
# RUNTIME_EXCEPTION "Error adding to matchmaker" (the count checks before it with BAD_INPUT and
# their own words, below) and a missing ticket with BAD_INPUT "Matchmaker ticket not found";
# its runtime functions return the error texts.
TOO_MANY_TICKETS = "matchmaker too many tickets"
DUPLICATE_SESSION = "matchmaker duplicate session"
TICKET_NOT_FOUND = "Matchmaker ticket not found"

SCORE_WINDOW = 64  # acceptable candidates a scoring query ranks (plus 4 per max_count)

_seq = attrgetter("seq")


def count_error(min_count: int, max_count: int, count_multiple: int) -> str | None:
    """Nakama's checks of matchmaker_add, in its order and words."""
    if min_count < 2:
        return "Invalid minimum count, must be >= 2"
    if max_count < min_count:
        return "Invalid maximum count, must be >= minimum count"
    if count_multiple < 1:
        return "Invalid count multiple, must be >= 1"
    if min_count % count_multiple:
        return "Invalid count multiple for minimum count, must divide"
    if max_count % count_multiple:
        return "Invalid count multiple for maximum count, must divide"
    return None


class Matchmaker:
    """The waiting tickets of one node and the pass that matches them (module docstring)."""

    def __init__(self, *, max_tickets: int = 3, interval_sec: float = 15.0,
                 max_intervals: int = 2, clock: Callable[[], float] = time.monotonic,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        if max_tickets < 1 or interval_sec <= 0 or max_intervals < 1:
            raise ValueError("max_tickets, interval_sec and max_intervals must be positive")
        self.max_tickets = max_tickets
        self.interval_sec = float(interval_sec)
        self.max_intervals = max_intervals
        self._clock = clock
        self._new_id = new_id
        self._epoch = clock()  # Nakama's ticker starts with the server
        self._seq = 0
        self._index = Indexes()
        self._tickets = self._index.tickets  # creation order
        self._session_tickets: dict[str, dict[str, Ticket]] = {}
        self._party_tickets: dict[str, dict[str, Ticket]] = {}
        self._fresh: dict[str, Ticket] = {}  # added since the last pass
        self._deadlines: list[tuple[float, int, str]] = []  # (last_at, seq, id), a heap

    @classmethod
    def from_config(cls, config: MatchmakerConfig, *,
                    clock: Callable[[], float] = time.monotonic) -> Matchmaker:
        """From `matchmaker.*` (rev_precision and rev_threshold are accepted and unused)."""
        return cls(max_tickets=config.max_tickets, interval_sec=config.interval_sec,
                   max_intervals=config.max_intervals, clock=clock)

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def get(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)

    def tickets(self) -> list[Ticket]:
        """Every waiting ticket, longest waiting first."""
        return list(self._tickets.values())

    def session_tickets(self, session_id: str) -> list[Ticket]:
        """The tickets a session is in (its own and its parties')."""
        return list(self._session_tickets.get(session_id, {}).values())

    def party_tickets(self, party_id: str) -> list[Ticket]:
        return list(self._party_tickets.get(party_id, {}).values())

    def intervals(self, ticket: Ticket, now: float | None = None) -> int:
        """Nakama's interval count of a ticket: ticks of `interval_sec` since it was added."""
        now = self._clock() if now is None else now
        tick = self.interval_sec
        return (math.floor((now - self._epoch) / tick)
                - math.floor((ticket.created - self._epoch) / tick))

    def pending(self, now: float | None = None) -> bool:
        """Whether a pass can form anything: a ticket was added, or one reached its last
        interval."""
        if self._fresh:
            return True
        due = self.next_due()
        return due is not None and due <= (self._clock() if now is None else now)

    def next_due(self) -> float | None:
        """When the next waiting ticket reaches its last interval (a pass is due then)."""
        heap = self._deadlines
        while heap:
            at, seq, ticket_id = heap[0]
            t = self._tickets.get(ticket_id)
            if t is not None and t.seq == seq:
                return at
            heapq.heappop(heap)
        return None

    def settle(self, now: float | None = None) -> None:
        """For an engine that holds tickets but does not match (a cluster's follower): the
        deadlines that passed are let go, their tickets searching on the first pass instead, so
        that the deadlines do not pile up."""
        now = self._clock() if now is None else now
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, seq, ticket_id = heapq.heappop(heap)
            t = self._tickets.get(ticket_id)
            if t is not None and t.seq == seq:
                self._fresh[ticket_id] = t

    # -- adding and removing ------------------------------------------------------------------

    def add(self, presences: Iterable[MatchmakerPresence], *, session_id: str = "",
            party_id: str = "", query: str = "*", min_count: int, max_count: int,
            count_multiple: int = 1, string_properties: dict[str, str] | None = None,
            numeric_properties: dict[str, float] | None = None,
            now: float | None = None, ticket_id: str | None = None, owner: str = "",
            limits: bool = True) -> Ticket:
        """A new ticket for one session's user (`session_id`) or a whole party (`party_id`,
        presences = its members). INVALID_ARGUMENT for bad counts (Nakama's words), a bad query
        or a session twice; RESOURCE_EXHAUSTED when a session or the party already holds
        `max_tickets` tickets.

        A cluster's replica of another node's ticket gives its `ticket_id` (an id already
        waiting is INVALID_ARGUMENT), its `owner` node, when it was added (`now`) and
        `limits=False`: the owner checked `max_tickets`."""
        members = tuple(presences)
        problem = count_error(min_count, max_count, count_multiple)
        if problem is not None:
            raise KizunaError(Code.INVALID_ARGUMENT, problem)
        if not members:
            raise KizunaError(Code.INVALID_ARGUMENT, "Matchmaker ticket needs a presence")
        sessions = {p.session_id for p in members}
        if len(sessions) != len(members):
            raise KizunaError(Code.INVALID_ARGUMENT, DUPLICATE_SESSION)
        compiled = compile_query(query or "*")
        if limits:
            for sid in sessions:
                if len(self._session_tickets.get(sid, ())) >= self.max_tickets:
                    raise KizunaError(Code.RESOURCE_EXHAUSTED, TOO_MANY_TICKETS)
            if party_id and len(self._party_tickets.get(party_id, ())) >= self.max_tickets:
                raise KizunaError(Code.RESOURCE_EXHAUSTED, TOO_MANY_TICKETS)
        if ticket_id is not None and ticket_id in self._tickets:
            raise KizunaError(Code.INVALID_ARGUMENT, "Matchmaker ticket id already waiting")

        strings = dict(string_properties or {})
        numbers = {k: float(v) for k, v in (numeric_properties or {}).items()}
        for name, number in numbers.items():
            if math.isnan(number):
                raise KizunaError(Code.INVALID_ARGUMENT,
                                  f"Matchmaker numeric property {name!r} is not a number")
        t = Ticket()
        if ticket_id is not None:
            t.id = ticket_id
        else:
            t.id = self._new_id()
            while t.id in self._tickets:
                t.id = self._new_id()
        t.owner = owner
        t.presences = members
        t.session_id = "" if party_id else session_id
        t.party_id = party_id
        t.query = compiled
        t.evaluate = compiled.evaluate
        t.min_count, t.max_count, t.count_multiple = min_count, max_count, count_multiple
        t.string_properties = strings
        t.numeric_properties = numbers
        t.created = self._clock() if now is None else now
        self._seq += 1
        t.seq = self._seq
        t.count = len(members)
        t.users = frozenset(p.user_id for p in members)
        t.numbers = {"properties." + k: v for k, v in numbers.items()}
        t.strings = {"properties." + k: v for k, v in strings.items() if k not in numbers}
        t.values = {**t.strings, **t.numbers}
        t.taken = False
        t.route = tuple(field for field, _ in compiled.must_terms)
        t.wants = tuple(itertools.product(*(alts for _, alts in compiled.must_terms)))
        t.route_keys = tuple((max_count, *w) for w in t.wants)
        if compiled.match_all:
            t.shapes = ()
            t.lookups = (((), (max_count,)),)
        elif t.route:
            t.shapes = (t.route,)
            t.lookups = tuple((t.route, key) for key in t.route_keys)
        elif compiled.any_keys is not None:
            t.shapes = tuple(dict.fromkeys((field,) for field, _ in compiled.any_keys))
            t.lookups = tuple(((field,), (max_count, value))
                              for field, value in dict.fromkeys(compiled.any_keys))
        else:
            t.shapes = ()
            t.lookups = None
        if min_count == max_count:
            t.last_at = t.created  # its last interval changes nothing: it never searches again
        else:
            tick = self.interval_sec
            t.last_at = self._epoch + tick * (
                math.floor((t.created - self._epoch) / tick) + self.max_intervals)
            heapq.heappush(self._deadlines, (t.last_at, t.seq, t.id))
        self._index.add(t)
        self._fresh[t.id] = t
        for p in members:
            self._session_tickets.setdefault(p.session_id, {})[t.id] = t
        if party_id:
            self._party_tickets.setdefault(party_id, {})[t.id] = t
        return t

    def remove_session(self, session_id: str, ticket_id: str) -> Ticket:
        """matchmaker_remove: a session's own ticket (not a party's); NOT_FOUND otherwise."""
        t = self._tickets.get(ticket_id)
        if t is None or t.party_id or t.session_id != session_id:
            raise KizunaError(Code.NOT_FOUND, TICKET_NOT_FOUND)
        self._drop(t)
        return t

    def remove_party(self, party_id: str, ticket_id: str) -> Ticket:
        """party_matchmaker_remove: one of the party's tickets; NOT_FOUND otherwise."""
        t = self._tickets.get(ticket_id)
        if t is None or not party_id or t.party_id != party_id:
            raise KizunaError(Code.NOT_FOUND, TICKET_NOT_FOUND)
        self._drop(t)
        return t

    def remove_session_all(self, session_id: str) -> list[Ticket]:
        """Every ticket a session is in, its parties' included (the session is gone)."""
        gone = list(self._session_tickets.get(session_id, {}).values())
        for t in gone:
            self._drop(t)
        return gone

    def remove_party_all(self, party_id: str) -> list[Ticket]:
        """Every ticket of a party (it closed, or its members changed)."""
        gone = list(self._party_tickets.get(party_id, {}).values())
        for t in gone:
            self._drop(t)
        return gone

    def remove(self, ticket_ids: Iterable[str]) -> list[Ticket]:
        """These tickets, whoever holds them; unknown ids are ignored."""
        gone = []
        for ticket_id in ticket_ids:
            t = self._tickets.get(ticket_id)
            if t is not None:
                self._drop(t)
                gone.append(t)
        return gone

    def _drop(self, t: Ticket) -> None:
        if not self._index.drop(t):
            return
        tid = t.id
        self._fresh.pop(tid, None)
        for p in t.presences:
            _discard(self._session_tickets, p.session_id, tid)
        if t.party_id:
            _discard(self._party_tickets, t.party_id, tid)

    # -- matching -----------------------------------------------------------------------------

    def match(self, now: float | None = None, *, max_searches: int | None = None) -> list[Matched]:
        """One pass: the groups it forms (their tickets are no longer waiting).

        `max_searches` bounds the work of one pass (after a burst of adds, say): the tickets
        that did not get to search, the most recent ones, search in the next pass."""
        now = self._clock() if now is None else now
        searching = self._fresh
        self._fresh = {}
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, seq, ticket_id = heapq.heappop(heap)
            t = self._tickets.get(ticket_id)
            if t is not None and t.seq == seq:
                searching[ticket_id] = t
        order = sorted(searching.values(), key=_seq)
        if max_searches is not None and len(order) > max_searches:
            for t in order[max_searches:]:
                self._fresh[t.id] = t
            order = order[:max_searches]
        formed: list[Matched] = []
        for t in order:
            if t.taken:
                continue
            group = self._search(t, now)
            if group is not None:
                for member in group:
                    member.taken = True  # it may be further down `searching`
                    self._drop(member)  # and later searches never meet it
                formed.append(Matched(tuple(sorted(group, key=_seq))))
        return formed

    def _search(self, t: Ticket, now: float) -> list[Ticket] | None:
        """The group ticket `t` forms with waiting tickets, or None."""
        last = now >= t.last_at
        target = t.max_count
        t_eval, t_strings, t_numbers = t.evaluate, t.strings, t.numbers
        t_users, t_party, t_count = t.users, t.party_id, t.count
        candidates: Iterable[Ticket] = self._index.candidates(t, last)
        checked = False
        if t.query.scored:
            candidates = self._ranked(t, candidates, last)
            checked = True

        members = [t]
        size, lo, hi, mult = t_count, t.min_count, target, t.count_multiple
        users = set(t_users)
        parties = {t_party} if t_party else set()
        feasible = 0  # members in the longest prefix that is a valid group
        for c in candidates:
            c_max = c.max_count
            grown = size + c.count
            if grown > hi or grown > c_max:
                continue
            if not checked:
                if c is t or c_max > target or (c_max != target and not last):
                    continue
                if t_eval(c.strings, c.numbers) < 0 or c.evaluate(t_strings, t_numbers) < 0:
                    continue
            n_lo = lo if lo >= c.min_count else c.min_count
            n_hi = hi if hi <= c_max else c_max
            n_mult = mult if c.count_multiple == mult else math.lcm(mult, c.count_multiple)
            top = n_hi - n_hi % n_mult
            if top < n_lo or top < grown or (not last and top != target):
                continue
            if not users.isdisjoint(c.users) or (c.party_id and c.party_id in parties):
                continue
            if len(members) > 1 and not _accepts_all(members, c):
                continue
            members.append(c)
            size, lo, hi, mult = grown, n_lo, n_hi, n_mult
            users.update(c.users)
            if c.party_id:
                parties.add(c.party_id)
            if lo <= size and size % mult == 0:
                feasible = len(members)
            if size == target or (last and size == top):
                return members
        if last and feasible >= 2:
            return members[:feasible]
        return None

    @staticmethod
    def _ranked(t: Ticket, candidates: Iterable[Ticket], last: bool) -> list[Ticket]:
        """The first acceptable candidates of a scoring query, highest score first (then longest
        waiting): at most SCORE_WINDOW (+4 per max_count), fewer when enough of them already
        have the best score the query gives."""
        target = t.max_count
        t_eval, t_strings, t_numbers = t.evaluate, t.strings, t.numbers
        t_users, t_party, t_count = t.users, t.party_id, t.count
        best = t.query.best_score
        window = SCORE_WINDOW + 4 * target
        enough = target - t_count  # users the group still needs
        top_users = 0
        ranked: list[tuple[float, int, Ticket]] = []
        for c in candidates:
            c_max = c.max_count
            if c is t or c_max > target or (c_max != target and not last) \
                    or c.count + t_count > c_max or not t_users.isdisjoint(c.users) \
                    or (t_party and c.party_id == t_party):
                continue
            score = t_eval(c.strings, c.numbers)
            if score < 0 or c.evaluate(t_strings, t_numbers) < 0:
                continue
            ranked.append((-score, c.seq, c))
            if score >= best:
                top_users += c.count
                if top_users >= 2 * enough:
                    break
            if len(ranked) >= window:
                break
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in ranked]


def _accepts_all(members: list[Ticket], c: Ticket) -> bool:
    """c and every member but the first (checked already) accept each other."""
    c_eval, c_strings, c_numbers = c.evaluate, c.strings, c.numbers
    return all(m.evaluate(c_strings, c_numbers) >= 0 and c_eval(m.strings, m.numbers) >= 0
               for m in members[1:])


def _discard(index: dict[str, dict[str, Ticket]], key: str, ticket_id: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(ticket_id, None)
        if not bucket:
            del index[key]
