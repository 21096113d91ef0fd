"""Parties: the rules of one party (issue 14). Pure and synchronous: no I/O, no sockets.

A party is a group of players (socket sessions) that stays together between matches: they talk
through it (`party_data`) and queue in the matchmaker as one ticket. Its id is "<uuid>.<node>", the
node that holds it, as Nakama's; it lives in that node's memory while it has members
(kizuna/realtime/parties.py owns the parties of a node and does the deliveries). What is decided
here, on one `Party` object:

- members: presences (one socket session of a user each) in the order they joined; the first one
  is the creator, who leads. A party holds at most `max_size` members (1-256, the creator
  included). A user may be in a party with several sessions (each counts).
- open or closed: joining an open party is immediate; joining a closed one files a join request
  that the leader accepts (`accept`) or rejects (`remove`). A party keeps at most `max_size`
  requests, one per user.
- the leader: only the leader may accept, remove, promote, close, list requests, queue the party
  in the matchmaker and update it. When the leader leaves, the oldest remaining member leads;
  when the last member leaves, the party is over.
- data: only members may send to the others.

Errors are `PartyError`s carrying Nakama's reason texts ("party full", "party leader only"...); the
socket layer prefixes them with the operation as Nakama does ("Error joining party: party full").
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import NamedTuple

from kizuna.core.streams import PARTY, Stream, node_id, parse_node_id
from kizuna.errors import Code, KizunaError

MAX_SIZE = 256  # Nakama's bound on max_size
LABEL_MAX_BYTES = 2048  # as match labels

# The socket's own texts (Nakama's, unprefixed).
INVALID_PARTY_ID = "Invalid party ID"
INVALID_MAX_SIZE = "Invalid party max size, must be 1-256"
INVALID_PRESENCE = "Invalid presence"
INVALID_TICKET = "Invalid matchmaker ticket"
INVALID_LABEL = f"Invalid party label, must be at most {LABEL_MAX_BYTES} bytes"
HIDDEN_LABEL = "Invalid party label, a hidden party cannot have a label"

# Nakama's reasons (its runtime errors' texts), prefixed by the socket layer.
NOT_FOUND = "party not found"
CLOSED = "party closed"
FULL = "party full"
REQUEST_DUPLICATE = "party join request duplicate"
ALREADY_MEMBER = "party join request already member"
REQUESTS_FULL = "party join requests full"
NOT_LEADER = "party leader only"
NOT_MEMBER = "party member not found"
NOT_REQUEST = "party join request not found"
ACCEPT_FAILED = "party could not accept request"
REMOVE_SELF = "party cannot remove self"
TICKET_NOT_FOUND = "matchmaker ticket not found"


class PartyError(KizunaError):
    """A party rule refused the call; `message` is Nakama's reason ("party full")."""

    def __init__(self, reason: str, code: Code = Code.FAILED_PRECONDITION) -> None:
        super().__init__(code, reason)


# -- ids -------------------------------------------------------------------------------------------


class PartyId(NamedTuple):
    """A parsed party id: its UUID and the node that holds the party."""

    uuid: str
    node: str

    @property
    def stream(self) -> Stream:
        """The stream its members are on (mode 7, Nakama's layout: subject uuid, label node)."""
        return Stream(PARTY, self.uuid, "", self.node)

    def __str__(self) -> str:
        return f"{self.uuid}.{self.node}"


def parse_id(value: object) -> PartyId | None:
    """The id "<uuid>.<node>", or None (as Nakama: split at the first dot, the rest is the node)."""
    parsed = parse_node_id(value)
    return None if parsed is None else PartyId(*parsed)


def new_id(node: str) -> PartyId:
    return PartyId(str(uuid.uuid4()), node)


def stream_id(stream: Stream) -> str:
    """The id of the party whose members are on `stream` (mode 7)."""
    return node_id(stream)


# -- settings --------------------------------------------------------------------------------------


def check_max_size(max_size: int) -> int:
    if not 1 <= max_size <= MAX_SIZE:
        raise KizunaError(Code.INVALID_ARGUMENT, INVALID_MAX_SIZE)
    return max_size


def check_label(label: str, hidden: bool) -> str:
    """A party's label: free text (a JSON object to be searchable, as match labels) of at most
    2048 bytes; a hidden party has none."""
    if label and hidden:
        raise KizunaError(Code.INVALID_ARGUMENT, HIDDEN_LABEL)
    if len(label.encode()) > LABEL_MAX_BYTES:
        raise KizunaError(Code.INVALID_ARGUMENT, INVALID_LABEL)
    return label


# -- members ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyPresence:
    """A member (or a requester): one socket session of a user, on a node."""

    user_id: str
    session_id: str
    username: str
    node: str

    def wire(self) -> dict[str, str]:
        """As the socket shows it (a UserPresence)."""
        return {"user_id": self.user_id, "session_id": self.session_id,
                "username": self.username}


class Joined(enum.Enum):
    MEMBER = "member"        # in the party now
    REQUESTED = "requested"  # a join request waits for the leader
    ALREADY = "already"      # was a member already: nothing changed


class Removed(NamedTuple):
    presence: PartyPresence
    was_member: bool  # False: a join request was rejected


class Left(NamedTuple):
    """What a leave changed."""

    was_member: bool               # False: the session was not a member (a request may be gone)
    new_leader: PartyPresence | None  # the leader left and this member leads now
    ended: bool                    # the last member left: the party is over


class Party:
    """One party's state and rules (module docstring). Members and requests are keyed by session
    id (session ids are unique across nodes)."""

    __slots__ = ("_members", "_requests", "closed", "hidden", "id", "label", "leader",
                 "max_size", "open")

    def __init__(self, party_id: PartyId, creator: PartyPresence, *, open: bool, max_size: int,
                 label: str = "", hidden: bool = False) -> None:
        self.id = party_id
        self.open = open
        self.max_size = check_max_size(max_size)
        self.hidden = hidden
        self.label = check_label(label, hidden)
        self.closed = False
        self._members: dict[str, PartyPresence] = {creator.session_id: creator}  # join order
        self._requests: dict[str, PartyPresence] = {}  # request order
        self.leader: PartyPresence = creator

    # -- reading -------------------------------------------------------------------------------

    @property
    def members(self) -> list[PartyPresence]:
        """The members, oldest first."""
        return list(self._members.values())

    @property
    def requests(self) -> list[PartyPresence]:
        """The pending join requests, oldest first."""
        return list(self._requests.values())

    def __len__(self) -> int:
        return len(self._members)

    def member(self, session_id: str) -> PartyPresence | None:
        return self._members.get(session_id)

    def has_request(self, session_id: str) -> bool:
        return session_id in self._requests

    def presence_of(self, session_id: str) -> PartyPresence | None:
        """The member, or else the requester, of that session."""
        return self._members.get(session_id) or self._requests.get(session_id)

    def is_leader(self, session_id: str) -> bool:
        return self.leader.session_id == session_id

    # -- checks ----------------------------------------------------------------------------------

    def _live(self) -> None:
        if self.closed:
            raise PartyError(CLOSED)

    def _leader(self, by: str) -> None:
        self._live()
        if not self.is_leader(by):
            raise PartyError(NOT_LEADER)

    def _find(self, where: dict[str, PartyPresence], target: PartyPresence) -> PartyPresence | None:
        """The member or request `target` names (session and user must both match)."""
        found = where.get(target.session_id)
        return found if found is not None and found.user_id == target.user_id else None

    # -- changes ---------------------------------------------------------------------------------

    def join(self, who: PartyPresence) -> Joined:
        """Join an open party, or file a join request with a closed one."""
        self._live()
        if who.session_id in self._members:
            if self.open:
                return Joined.ALREADY
            raise PartyError(ALREADY_MEMBER)
        if len(self._members) >= self.max_size:
            raise PartyError(FULL)
        if self.open:
            self._requests.pop(who.session_id, None)  # asked while it was closed
            self._members[who.session_id] = who
            return Joined.MEMBER
        if len(self._requests) >= self.max_size:
            raise PartyError(REQUESTS_FULL)
        if any(r.user_id == who.user_id for r in self._requests.values()):
            raise PartyError(REQUEST_DUPLICATE)
        self._requests[who.session_id] = who
        return Joined.REQUESTED

    def accept(self, by: str, target: PartyPresence) -> PartyPresence:
        """The leader admits a requester: a member now (returned, as it asked)."""
        self._leader(by)
        if len(self._members) >= self.max_size:
            raise PartyError(FULL)
        found = self._find(self._requests, target)
        if found is None:
            raise PartyError(NOT_REQUEST)
        del self._requests[found.session_id]
        self._members[found.session_id] = found
        return found

    def remove(self, by: str, target: PartyPresence) -> Removed:
        """The leader removes a member, or rejects a join request."""
        self._leader(by)
        if target.session_id == self.leader.session_id and target.user_id == self.leader.user_id:
            raise PartyError(REMOVE_SELF)
        found = self._find(self._members, target)
        if found is not None:
            del self._members[found.session_id]
            return Removed(found, True)
        found = self._find(self._requests, target)
        if found is not None:
            del self._requests[found.session_id]
            return Removed(found, False)
        raise PartyError(NOT_MEMBER)

    def promote(self, by: str, target: PartyPresence) -> PartyPresence:
        """The leader hands leadership to a member (itself included)."""
        self._leader(by)
        found = self._find(self._members, target)
        if found is None:
            raise PartyError(NOT_MEMBER)
        self.leader = found
        return found

    def leave(self, session_id: str) -> Left:
        """A session leaves (or withdraws its join request). A leaving leader hands over to the
        oldest remaining member; the last member leaving ends the party."""
        self._requests.pop(session_id, None)
        if self.closed or self._members.pop(session_id, None) is None:
            return Left(False, None, False)
        if not self._members:
            self.closed = True
            return Left(True, None, True)
        if self.leader.session_id != session_id:
            return Left(True, None, False)
        self.leader = next(iter(self._members.values()))
        return Left(True, self.leader, False)

    def close(self, by: str) -> list[PartyPresence]:
        """The leader ends the party: its members, who are out now."""
        self._leader(by)
        self.closed = True
        members = self.members
        self._members.clear()
        self._requests.clear()
        return members

    def join_requests(self, by: str) -> list[PartyPresence]:
        self._leader(by)
        return self.requests

    def matchmaker_presences(self, by: str) -> list[PartyPresence]:
        """The leader queues the party: every member goes into the one ticket."""
        self._leader(by)
        return self.members

    def check_leader(self, by: str) -> None:
        self._leader(by)

    def update(self, by: str, *, label: str, open: bool, hidden: bool) -> None:
        """The leader changes the label, open and hidden (Nakama 3.40's party_update)."""
        self._leader(by)
        self.label = check_label(label, hidden)
        self.open = open
        self.hidden = hidden

    def sender(self, session_id: str) -> PartyPresence:
        """The member sending data to the others."""
        self._live()
        found = self._members.get(session_id)
        if found is None:
            raise PartyError(NOT_MEMBER)
        return found
