"""The indexes a search reads its candidates from, so that a pass never compares all pairs.

Every index is keyed by max_count first: a ticket groups with tickets of its own max_count until
its last interval, then with tickets whose max_count is not larger (see engine.py).

- forward: tickets by their own values of some fields. One composite index per set of fields
  that waiting tickets' queries require exact values of (`+properties.region:eu
  +properties.mode:ranked` reads the (mode, region) index: one lookup finds the tickets with
  both values), and one per field of the optional exact terms of queries that have nothing
  else (`properties.region:eu properties.region:us`). The index of no field (max_count alone)
  always exists. An index is built from the waiting tickets when a query first needs it and is
  dropped when no waiting query uses it.
- reverse: tickets filed under the exact values their own query requires, looked up with the
  searching ticket's values: the tickets that can accept it (tickets whose query requires no
  exact value are filed under max_count alone).
- ranges: tickets by numeric value per field, for required ranges (`+properties.rank:>=5`);
  sorted when read, dropped tickets skipped and purged lazily, so adds and drops stay O(1).

A search takes the smallest of the sources that apply, in creation order (buckets are dicts in
insertion order, several merged by sequence number).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable
from operator import attrgetter

from kizuna.core.matchmaker.query import NumericRange
from kizuna.core.matchmaker.tickets import IndexKey, Ticket

Index = dict[IndexKey, dict[str, Ticket]]

_seq = attrgetter("seq")
_SMALL = 32  # a source this small is taken without looking at the others


class _Numbers:
    """The numeric values of one field: (value, seq, ticket id), sorted on demand."""

    __slots__ = ("dead", "entries", "sorted")

    def __init__(self) -> None:
        self.entries: list[tuple[float, int, str]] = []
        self.sorted = True
        self.dead = 0

    def add(self, entry: tuple[float, int, str]) -> None:
        entries = self.entries
        if self.sorted and entries and entry < entries[-1]:
            self.sorted = False
        entries.append(entry)

    def purge(self, live: dict[str, Ticket]) -> None:
        self.entries = [e for e in self.entries if (t := live.get(e[2])) is not None
                        and t.seq == e[1]]
        self.dead = 0

    def span(self, r: NumericRange, live: dict[str, Ticket]) -> tuple[int, int]:
        """Positions of the entries within the range (dropped ones included)."""
        if self.dead * 2 > len(self.entries):
            self.purge(live)
        if not self.sorted:
            self.entries.sort()
            self.sorted = True
        entries = self.entries
        start = bisect.bisect_left(entries, (r.low, -1)) if r.low_inclusive \
            else bisect.bisect_right(entries, (r.low, math.inf))
        stop = bisect.bisect_right(entries, (r.high, math.inf)) if r.high_inclusive \
            else bisect.bisect_left(entries, (r.high, -1))
        return start, max(start, stop)


class Indexes:
    """The waiting tickets and every index over them."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}  # creation order
        self.maxes: dict[int, int] = {}  # max_count -> tickets waiting with it
        self.forward: dict[tuple[str, ...], Index] = {(): {}}
        self.forward_users: dict[tuple[str, ...], int] = {}
        self.reverse: dict[tuple[str, ...], Index] = {}
        self.numbers: dict[str, _Numbers] = {}

    def add(self, t: Ticket) -> None:
        tid = t.id
        self.tickets[tid] = t
        self.maxes[t.max_count] = self.maxes.get(t.max_count, 0) + 1
        t.forward_keys = {}
        for shape in t.shapes:
            if shape not in self.forward:
                self._build(shape)
            self.forward_users[shape] = self.forward_users.get(shape, 0) + 1
        values = t.values
        for shape, index in self.forward.items():
            if all(f in values for f in shape):
                fkey: IndexKey = (t.max_count, *(values[f] for f in shape))
                t.forward_keys[shape] = fkey
                index.setdefault(fkey, {})[tid] = t
        reverse = self.reverse.get(t.route)
        if reverse is None:
            reverse = self.reverse[t.route] = {}
        for key in t.route_keys:
            reverse.setdefault(key, {})[tid] = t
        for field, value in t.numbers.items():
            numbers = self.numbers.get(field)
            if numbers is None:
                numbers = self.numbers[field] = _Numbers()
            numbers.add((value, t.seq, tid))

    def drop(self, t: Ticket) -> bool:
        """Remove a ticket from every index; False if it was not there."""
        tid = t.id
        if self.tickets.pop(tid, None) is None:
            return False
        left = self.maxes[t.max_count] - 1
        if left:
            self.maxes[t.max_count] = left
        else:
            del self.maxes[t.max_count]
        forward = self.forward
        for shape, key in t.forward_keys.items():
            index = forward.get(shape)
            if index is not None:
                _discard(index, key, tid)
        for shape in t.shapes:
            users = self.forward_users[shape] - 1
            if users:
                self.forward_users[shape] = users
            else:
                del self.forward_users[shape]
                if shape:
                    del forward[shape]
        reverse = self.reverse[t.route]
        for key in t.route_keys:
            _discard(reverse, key, tid)
        if not reverse:
            del self.reverse[t.route]
        for field in t.numbers:
            numbers = self.numbers[field]
            numbers.dead += 1
            if numbers.dead == len(numbers.entries):
                del self.numbers[field]
            elif numbers.dead > 1024 and numbers.dead * 4 > len(numbers.entries) * 3:
                numbers.purge(self.tickets)  # memory stays bounded without range reads
        return True

    def _build(self, shape: tuple[str, ...]) -> None:
        index: Index = {}
        for c in self.tickets.values():
            values = c.values
            if all(f in values for f in shape):
                key = (c.max_count, *(values[f] for f in shape))
                c.forward_keys[shape] = key
                index.setdefault(key, {})[c.id] = c
        self.forward[shape] = index

    def candidates(self, t: Ticket, last: bool) -> Iterable[Ticket]:
        """Tickets that may match `t` (a superset), longest waiting first, read from the
        cheapest source."""
        q = t.query
        lookups: Iterable[tuple[tuple[str, ...], IndexKey]] | None
        if last:
            maxes = [m for m in self.maxes if m <= t.max_count]
            lookups = None if t.lookups is None else [
                (shape, (m, *key[1:])) for shape, key in t.lookups for m in maxes]
        else:
            maxes = [t.max_count]
            lookups = t.lookups
        forward = self.forward
        best: list[dict[str, Ticket]] | None = None  # None: every waiting ticket
        best_cost = len(self.tickets)
        if lookups is not None:
            best = [b for shape, key in lookups if (b := forward[shape].get(key))]
            best_cost = 0
            for b in best:
                best_cost += len(b)
        if best_cost <= _SMALL:
            return _read(best, self.tickets)
        for r in q.must_ranges:
            numbers = self.numbers.get(r.field)
            if numbers is None:
                return ()
            start, stop = numbers.span(r, self.tickets)
            if 2 * (stop - start) < best_cost:  # sorted by value: they must be sorted again
                live = self.tickets
                found = [c for _, seq, tid in numbers.entries[start:stop]
                         if (c := live.get(tid)) is not None and c.seq == seq]
                found.sort(key=_seq)
                return found
        # The other way round: tickets whose query requires values t has.
        values = t.values
        buckets = []
        for fields, index in self.reverse.items():
            if not fields:
                buckets += [b for m in maxes if (b := index.get((m,)))]
            else:
                have = tuple(map(values.get, fields))
                if None not in have:
                    buckets += [b for m in maxes if (b := index.get((m, *have)))]
        cost = 0
        for b in buckets:
            cost += len(b)
        if cost < best_cost:
            return _read(buckets, self.tickets)
        return _read(best, self.tickets)


def _read(buckets: list[dict[str, Ticket]] | None, every: dict[str, Ticket]) -> Iterable[Ticket]:
    """The tickets of some buckets (each in creation order) in creation order, lazily."""
    if buckets is None:
        return every.values()
    if len(buckets) == 1:
        return buckets[0].values()
    if not buckets:
        return ()
    return heapq.merge(*(b.values() for b in buckets), key=_seq)


def _discard(index: Index, key: IndexKey, ticket_id: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(ticket_id, None)
        if not bucket:
            del index[key]


