"""Matches: their ids, the listing, and the interface to the authoritative matches a node runs.

Nakama has two kinds of match, and so does Kizuna:

- relayed: a stream (mode 5) whose members send data to each other through the server; its id is
  "<uuid>." (no node); it exists while it has members (kizuna/realtime/handlers/match.py);
- authoritative: server code (a match handler a module registered) runs the game: it decides who
  may join, receives the players' inputs in its loop and sends the state out. Its id is
  "<uuid>.<node>", the node that runs it; its players are presences on a stream of mode 6 whose
  label is that node.

The authoritative matches live in the memory of the node that created them, behind `Matches`: the
node's runtime implements it (kizuna/runtime/matches.py runs the handlers), the socket layer and
`nk` reach it through `domain.matches`. Every call names the match by its id, which names its
node, so a cluster can route each call to the node that owns the match. Until a runtime is built
(tools, `kizuna check`) it is `NO_MATCHES`: no match exists.

Listing (GET /v2/match and `nk.match_list`) is one use case here, as Nakama's: authoritative
matches (filtered by exact label, by a query on the label, by size), then relayed ones (by size)
when the filters allow them. A label that is a JSON object is searchable with Nakama's query
syntax (Bleve's query string, parsed by kizuna/core/matchmaker/query.py): its fields are
`label.<key>` (nested objects `label.<key>.<key>`), strings matched as keywords, numbers in
ranges, booleans as the words `true` and `false`.

The deliveries to players a match makes (its data, kicks, its end) are use cases here too, through
`domain.sockets`, so a cluster-aware router makes them cluster-aware.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

from kizuna.core.matchmaker.query import compile_query
from kizuna.core.streams import (
    MATCH_AUTHORITATIVE,
    MATCH_RELAYED,
    PresenceId,
    Stream,
    node_id,
    parse_node_id,
)
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.types import Match

if TYPE_CHECKING:
    from kizuna.core.delivery import Sockets
    from kizuna.core.domain import Domain

MIN_TICK_RATE = 1
MAX_TICK_RATE = 60
LABEL_MAX_BYTES = 2048  # as Nakama
MAX_LIST_LIMIT = 100

INVALID_MATCH_ID = "Invalid match ID"
MATCH_NOT_FOUND = "Match not found"
LABEL_FILTER_NOT_AUTHORITATIVE = "Label filtering is not supported for non-authoritative matches."
QUERY_FILTER_NOT_AUTHORITATIVE = "Query filtering is not supported for non-authoritative matches."
INVALID_MIN_SIZE = "Invalid minimum size - min size must be >= 0."
INVALID_MAX_SIZE = "Invalid maximum size - max size must be >= 0."
INVALID_SIZE_RANGE = "Invalid maximum size - max size must be >= min size."


def not_found() -> KizunaError:
    return KizunaError(Code.NOT_FOUND, MATCH_NOT_FOUND)


# -- ids -----------------------------------------------------------------------------------------


class MatchId(NamedTuple):
    """A parsed match id: its UUID and its node ("" for a relayed match)."""

    uuid: str
    node: str

    @property
    def authoritative(self) -> bool:
        return bool(self.node)

    @property
    def stream(self) -> Stream:
        """The stream its players are on."""
        if self.node:
            return Stream(MATCH_AUTHORITATIVE, self.uuid, "", self.node)
        return Stream(MATCH_RELAYED, self.uuid)

    def __str__(self) -> str:
        return f"{self.uuid}.{self.node}"


def parse_id(value: object) -> MatchId | None:
    """The id "<uuid>.<node>" (authoritative) or "<uuid>." (relayed), or None."""
    parsed = parse_node_id(value)
    return None if parsed is None else MatchId(*parsed)


def new_id(node: str) -> MatchId:
    return MatchId(str(uuid.uuid4()), node)


def stream_id(stream: Stream) -> str:
    """The id of the match whose players are on `stream` (mode 5 or 6)."""
    return node_id(stream)


# -- presences and the running matches -------------------------------------------------------------


class MatchPresence(NamedTuple):
    """A player in a match: one socket session of a user, on a node."""

    user_id: str
    session_id: str
    username: str
    node: str

    def as_dict(self) -> dict[str, str]:
        """As match handlers get it: {user_id, session_id, username, node}."""
        return {"user_id": self.user_id, "session_id": self.session_id,
                "username": self.username, "node": self.node}

    def wire(self) -> dict[str, Any]:
        """As the socket shows it (a UserPresence)."""
        return {"user_id": self.user_id, "session_id": self.session_id,
                "username": self.username}


@dataclass(frozen=True, slots=True)
class LabelIndex:
    """A label's searchable fields: `label.<path>` -> keyword, `label.<path>` -> number."""

    strings: Mapping[str, str]
    numbers: Mapping[str, float]


NO_INDEX = LabelIndex({}, {})


MAX_LABEL_DEPTH = 16


def index_label(label: str) -> LabelIndex:
    """The fields a query can search: those of a label that is a JSON object (others: none).
    Arrays, nulls and objects nested deeper than 16 levels are not searchable."""
    if not label.startswith("{"):
        return NO_INDEX
    try:
        doc = orjson.loads(label)
    except orjson.JSONDecodeError:
        return NO_INDEX
    if not isinstance(doc, dict):
        return NO_INDEX
    strings: dict[str, str] = {}
    numbers: dict[str, float] = {}

    def walk(value: Any, path: str, depth: int = 0) -> None:
        if isinstance(value, dict):
            if depth < MAX_LABEL_DEPTH:
                for key, inner in value.items():
                    walk(inner, f"{path}.{key}", depth + 1)
        elif isinstance(value, bool):
            strings[path] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            numbers[path] = float(value)
        elif isinstance(value, str):
            strings[path] = value

    walk(doc, "label")
    return LabelIndex(strings, numbers)


def check_label(label: Any) -> str:
    """A label a handler gives (match_init, match_label_update): text of at most 2048 bytes."""
    if label is None:
        return ""
    if not isinstance(label, str):
        raise invalid("match label: expected a string")
    if "\x00" in label:
        raise invalid("match label: must not contain U+0000")
    if len(label.encode()) > LABEL_MAX_BYTES:
        raise invalid(f"match label: at most {LABEL_MAX_BYTES} bytes")
    return label


class RunningMatch(Protocol):
    """What the listing and the socket read of an authoritative match."""

    @property
    def match_id(self) -> str: ...

    @property
    def stream(self) -> Stream: ...

    @property
    def handler_name(self) -> str: ...

    @property
    def tick_rate(self) -> int: ...

    @property
    def label(self) -> str: ...

    @property
    def label_index(self) -> LabelIndex: ...

    @property
    def created(self) -> int:
        """Creation order (higher: newer): strictly increasing on its node, and its creation
        time, so that the matches of several nodes sort by age too."""
        ...


class JoinResult(NamedTuple):
    """What match_join_attempt decided, and the label the joining player is told."""

    accepted: bool
    reason: str
    label: str


class Matches(Protocol):
    """The authoritative matches of the node (kizuna/runtime/matches.py). Every method is called
    on the event loop."""

    def get(self, match_id: str) -> RunningMatch | None:
        """A running match by id, None when it does not run (here)."""
        ...

    def running(self) -> Iterable[RunningMatch]:
        """Every running match (for listings)."""
        ...

    async def create(self, name: str, params: Any) -> str:
        """Start a match of the handler registered under `name`: runs its match_init; the id."""
        ...

    async def signal(self, match_id: str, data: str) -> str:
        """The result of the match's match_signal; KizunaError NOT_FOUND if it does not run."""
        ...

    async def join_attempt(self, match_id: str, presence: MatchPresence,
                           metadata: dict[str, str]) -> JoinResult:
        """Ask the match whether a player may join; KizunaError NOT_FOUND if it does not run."""
        ...

    def presences(self, match_id: str, joins: list[MatchPresence],
                  leaves: list[MatchPresence]) -> None:
        """Players joined (tracked on its stream) or left it: queued for match_join and
        match_leave."""
        ...

    def data(self, match_id: str, sender: MatchPresence, op_code: int, data: bytes,
             reliable: bool) -> None:
        """A player's input (match_data_send), queued for the next match_loop."""
        ...


class NoMatches:
    """No runtime: no authoritative match exists."""

    def get(self, match_id: str) -> RunningMatch | None:
        return None

    def running(self) -> Iterable[RunningMatch]:
        return ()

    async def create(self, name: str, params: Any) -> str:
        raise KizunaError(Code.UNAVAILABLE, "Authoritative matches need the node's runtime.")

    async def signal(self, match_id: str, data: str) -> str:
        raise not_found()

    async def join_attempt(self, match_id: str, presence: MatchPresence,
                           metadata: dict[str, str]) -> JoinResult:
        raise not_found()

    def presences(self, match_id: str, joins: list[MatchPresence],
                  leaves: list[MatchPresence]) -> None:
        return None

    def data(self, match_id: str, sender: MatchPresence, op_code: int, data: bytes,
             reliable: bool) -> None:
        return None


NO_MATCHES: Matches = NoMatches()


# -- use cases -----------------------------------------------------------------------------------


def _record(m: RunningMatch, size: int) -> Match:
    return Match(match_id=m.match_id, authoritative=True, label=m.label, size=size,
                 tick_rate=m.tick_rate, handler_name=m.handler_name)


def get(domain: Domain, match_id: Any) -> Match | None:
    """A match by id: a running authoritative match of this node, or a relayed match with
    members; None otherwise."""
    parsed = parse_id(match_id)
    if parsed is None:
        raise invalid(INVALID_MATCH_ID)
    if parsed.authoritative:
        m = domain.matches.get(str(parsed))
        return None if m is None else _record(m, domain.sockets.stream_count(m.stream))
    size = domain.sockets.stream_count(parsed.stream)
    return Match(match_id=str(parsed), authoritative=False, size=size) if size else None


def _sizes(min_size: int | None, max_size: int | None) -> None:
    if min_size is not None and min_size < 0:
        raise invalid(INVALID_MIN_SIZE)
    if max_size is not None and max_size < 0:
        raise invalid(INVALID_MAX_SIZE)
    if min_size is not None and max_size is not None and min_size > max_size:
        raise invalid(INVALID_SIZE_RANGE)


def list_matches(domain: Domain, limit: int, authoritative: bool | None = None,
                 label: str | None = None, min_size: int | None = None,
                 max_size: int | None = None, query: str | None = None) -> list[Match]:
    """Up to `limit` matches: authoritative ones first (with a query: best score first; then
    newest first), then relayed ones, unless `authoritative` is False (relayed only) or True
    (authoritative only). A `label` (exact) or a `query` only ever matches authoritative matches.
    Sizes are inclusive bounds on how many players a match has."""
    _sizes(min_size, max_size)
    compiled = None
    if query is not None:
        try:
            compiled = compile_query(query)
        except KizunaError as exc:
            raise invalid(exc.message.replace("Invalid matchmaker query", "Invalid match query",
                                              1)) from None
    out: list[Match] = []
    if authoritative is not False:
        found: list[tuple[float, int, Match]] = []
        count = domain.sockets.stream_count
        for m in domain.matches.running():
            if label is not None and m.label != label:
                continue
            size = count(m.stream)
            if (min_size is not None and size < min_size) or (
                    max_size is not None and size > max_size):
                continue
            score = 0.0
            if compiled is not None and not compiled.match_all:
                index = m.label_index
                score = compiled.evaluate(index.strings, index.numbers)
                if score < 0:
                    continue
            found.append((-score, -m.created, _record(m, size)))
        found.sort(key=lambda f: (f[0], f[1]))
        out = [f[2] for f in found[:limit]]
    if authoritative is not True and label is None and query is None:
        for stream, size in domain.sockets.stream_counts(MATCH_RELAYED):
            if len(out) >= limit:
                break
            if (min_size is not None and size < min_size) or (
                    max_size is not None and size > max_size):
                continue
            out.append(Match(match_id=stream_id(stream), authoritative=False, size=size))
    return out


async def create(domain: Domain, name: Any, params: Any) -> str:
    if not isinstance(name, str) or not name:
        raise invalid("module: expected the name a match handler is registered under")
    return await domain.matches.create(name, params)


async def signal(domain: Domain, match_id: Any, data: Any) -> str:
    parsed = parse_id(match_id)
    if parsed is None:
        raise invalid(INVALID_MATCH_ID)
    if not isinstance(data, str):
        raise invalid("data: expected a string")
    if not parsed.authoritative:
        raise not_found()
    return await domain.matches.signal(str(parsed), data)


# -- deliveries of a match -------------------------------------------------------------------------


def match_data(match_id: str, op_code: int, data_b64: str, sender: Mapping[str, Any] | None,
               reliable: bool) -> dict[str, Any]:
    """A `match_data` push: {match_id, presence?, op_code, data, reliable}, defaults left out."""
    out: dict[str, Any] = {"match_id": match_id}
    if sender is not None:
        out["presence"] = sender
    if op_code:
        out["op_code"] = str(op_code)
    if data_b64:
        out["data"] = data_b64
    if reliable:
        out["reliable"] = True
    return out


def send(sockets: Sockets, stream: Stream, body: dict[str, Any],
         to: list[PresenceId] | None) -> None:
    """A `match_data` to every player of the match, or to the sessions `to`."""
    sockets.stream_envelope(stream, "match_data", body, to)


def players(sockets: Sockets, stream: Stream) -> list[MatchPresence]:
    return [MatchPresence(p.user_id, p.session_id, p.username, p.node)
            for p in sockets.stream_presences(stream)]


def _told_out(sockets: Sockets, stream: Stream, gone: list[MatchPresence]) -> None:
    """The players taken out of a match (kicked, or the match ended) hear it: a
    `match_presence_event` with their leave, sent to them (the others hear it from the
    stream)."""
    if not gone:
        return
    event = {"match_id": stream_id(stream), "leaves": [p.wire() for p in gone]}
    sockets.stream_envelope(stream, "match_presence_event", event,
                            [PresenceId(p.node, p.session_id) for p in gone])


def kick(sockets: Sockets, stream: Stream, who: list[tuple[str, str]]) -> None:
    """Take players (user id, session id) out of a match (the dispatcher's match_kick)."""
    gone = []
    for user_id, session_id in who:
        p = sockets.stream_presence(stream, session_id)
        if p is None or p.user_id != user_id:
            continue
        sockets.stream_leave(stream, user_id, session_id)
        gone.append(MatchPresence(p.user_id, p.session_id, p.username, p.node))
    _told_out(sockets, stream, gone)


def close(sockets: Sockets, stream: Stream) -> None:
    """A match ended: every player is taken off its stream and told."""
    gone = players(sockets, stream)
    sockets.stream_close(stream)
    _told_out(sockets, stream, gone)
