"""Leaderboard ranks in memory: "rank of this record" and "the record at this rank" in O(log n).

One `RankTable` per (board, period): a sorted list (sortedcontainers, a B-tree-like list of lists)
of one integer key per record, plus a map from owner to key. The key packs the record's order into
one Python int: score, then subscore, then the owner id (as Nakama orders ties: by the owner's
UUID bytes), negated for descending boards so that the table is always ascending and position 0
is rank 1. Scores and subscores are non-negative int64s and owner ids 128-bit, so the fields never
overlap.

`Ranks` holds the tables of every board whose ranks are enabled, for each period that has not
expired. It is kept correct by the writers of this node (`put`/`drop`, called right after their
statement) and, for writes made on other nodes, by the record events every write publishes
(`apply`, see core/leaderboards.py); at start and whenever the event listener reconnects, the
tables are rebuilt from the database (`load`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sortedcontainers import SortedList

_SUB = 1 << 64
_OWNER = 1 << 128


def _key(descending: bool, score: int, subscore: int, owner: int) -> int:
    k = ((score * _SUB + subscore) * _OWNER) + owner
    return -k if descending else k


def _unkey(descending: bool, key: int) -> tuple[int, int, int]:
    """(score, subscore, owner) from a key."""
    if descending:
        key = -key
    rest, owner = divmod(key, _OWNER)
    score, subscore = divmod(rest, _SUB)
    return score, subscore, owner


@dataclass(frozen=True, slots=True)
class Ranked:
    owner_id: str
    score: int
    subscore: int
    rank: int


class RankTable:
    """The records of one board period, in rank order."""

    __slots__ = ("descending", "keys", "owners")

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self.keys: SortedList = SortedList()
        self.owners: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.owners)

    def put(self, owner_id: str, score: int, subscore: int) -> int:
        """Insert or move a record; its rank (1-based)."""
        owner = uuid.UUID(owner_id).int
        key = _key(self.descending, score, subscore, owner)
        old = self.owners.get(owner)
        if old != key:
            if old is not None:
                self.keys.remove(old)
            self.keys.add(key)
            self.owners[owner] = key
        return int(self.keys.index(key)) + 1

    def drop(self, owner_id: str) -> None:
        key = self.owners.pop(uuid.UUID(owner_id).int, None)
        if key is not None:
            self.keys.remove(key)

    def rank(self, owner_id: str) -> int:
        """The owner's rank, 0 when the owner has no record here."""
        key = self.owners.get(uuid.UUID(owner_id).int)
        return 0 if key is None else int(self.keys.index(key)) + 1

    def at(self, rank: int) -> Ranked | None:
        """The record at a rank (1-based), None past either end."""
        if not 1 <= rank <= len(self.keys):
            return None
        score, subscore, owner = _unkey(self.descending, self.keys[rank - 1])
        return Ranked(str(uuid.UUID(int=owner)), score, subscore, rank)

    def merge(self, rows: list[tuple[str, int, int]]) -> None:
        """Add (owner_id, score, subscore) rows read from the database, in one bulk insert. An
        owner already here keeps its entry: it came from an event newer than the read."""
        fresh: dict[int, int] = {}
        for owner_id, score, subscore in rows:
            owner = uuid.UUID(owner_id).int
            if owner not in self.owners:
                fresh[owner] = _key(self.descending, score, subscore, owner)
        self.owners.update(fresh)
        if not self.keys:
            self.keys = SortedList(fresh.values())
        else:
            self.keys.update(fresh.values())


class Ranks:
    """Every rank table of this node, by (board id, expiry in unix seconds; 0 never expires)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, int], RankTable] = {}

    def table(self, board: str, expiry: int) -> RankTable | None:
        return self.tables.get((board, expiry))

    def ensure(self, board: str, expiry: int, descending: bool) -> RankTable:
        t = self.tables.get((board, expiry))
        if t is None:
            t = self.tables[(board, expiry)] = RankTable(descending)
        return t

    def rank(self, board: str, expiry: int, owner_id: str) -> int:
        t = self.tables.get((board, expiry))
        return 0 if t is None else t.rank(owner_id)

    def count(self, board: str, expiry: int) -> int:
        t = self.tables.get((board, expiry))
        return 0 if t is None else len(t)

    def drop(self, board: str, expiry: int, owner_id: str) -> None:
        t = self.tables.get((board, expiry))
        if t is not None:
            t.drop(owner_id)

    def forget(self, board: str, expiry: int | None = None) -> None:
        """Drop a board's tables (one period, or all of them)."""
        for key in [k for k in self.tables if k[0] == board and (expiry is None or k[1] == expiry)]:
            del self.tables[key]

    def trim(self, now: int) -> None:
        """Drop the tables of periods that have ended."""
        for key in [k for k in self.tables if k[1] and k[1] <= now]:
            del self.tables[key]

    def records(self) -> int:
        return sum(len(t) for t in self.tables.values())
