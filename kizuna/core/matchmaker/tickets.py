"""The records of the matchmaker: a presence in a ticket, a waiting ticket, a formed group."""

from __future__ import annotations

from dataclasses import dataclass

from kizuna.core.matchmaker.query import Evaluator, Query

# A key of a composite index: (max_count, a value per field of the index).
IndexKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class MatchmakerPresence:
    """A user in a ticket (Nakama's MatchmakerPresence); `node` holds its session."""
    user_id: str
    session_id: str
    username: str = ""
    node: str = ""


class Ticket:
    """A waiting ticket: one session's user, or a whole party matched together.

    The public attributes are what matchmaker_add gave (and `id`, `created`); the others are the
    engine's, set once when the ticket is added."""

    __slots__ = (
        "count", "count_multiple", "created", "evaluate", "forward_keys", "id", "last_at",
        "lookups", "max_count", "min_count", "numbers", "numeric_properties", "owner", "party_id",
        "presences", "query", "route", "route_keys", "seq", "session_id", "shapes",
        "string_properties", "strings", "taken", "users", "values", "wants",
    )

    id: str
    presences: tuple[MatchmakerPresence, ...]
    session_id: str  # the owner of a solo ticket; "" for a party ticket
    party_id: str
    query: Query
    min_count: int
    max_count: int
    count_multiple: int
    string_properties: dict[str, str]
    numeric_properties: dict[str, float]
    created: float  # seconds on the engine's clock
    owner: str  # the node that added it (a cluster's replicas: "" on a single node)
    # -- the engine's
    evaluate: Evaluator  # query.evaluate
    seq: int  # creation order: the order of fairness and of every tie
    count: int  # users in the ticket
    users: frozenset[str]
    strings: dict[str, str]  # properties as queries address them: "properties.<name>"
    numbers: dict[str, float]
    values: dict[str, str | float]  # both (a name is one or the other: numeric wins, as Nakama's)
    last_at: float  # when it reaches its last interval
    route: tuple[str, ...]  # the fields its query requires exact values of, sorted
    wants: tuple[tuple[object, ...], ...]  # the combinations of values it requires of them
    route_keys: tuple[IndexKey, ...]  # its keys in the reverse index of `route`
    shapes: tuple[tuple[str, ...], ...]  # the forward indexes its query reads
    # Where its candidates are in them (keys for its own max_count); None: anywhere.
    lookups: tuple[tuple[tuple[str, ...], IndexKey], ...] | None
    forward_keys: dict[tuple[str, ...], IndexKey]  # its key in each forward index it is in
    taken: bool  # placed in a group by the current pass

    def __repr__(self) -> str:
        return (f"Ticket({self.id!r}, users={self.count}, "
                f"count={self.min_count}..{self.max_count}/{self.count_multiple}, "
                f"query={self.query.text!r})")


@dataclass(frozen=True, slots=True)
class Matched:
    """A group formed by a pass: its tickets, longest waiting first."""
    tickets: tuple[Ticket, ...]

    @property
    def size(self) -> int:
        """Users in the group."""
        return sum(t.count for t in self.tickets)

    def entries(self) -> list[tuple[Ticket, MatchmakerPresence]]:
        """One entry per user (Nakama's MatchmakerEntry: ticket, presence, properties, party)."""
        return [(t, p) for t in self.tickets for p in t.presences]
