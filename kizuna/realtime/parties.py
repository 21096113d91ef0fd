"""The parties of this node: `PartyService`, the one owner of their state (`rt.parties`).

The rules of a party are kizuna/core/parties.py; this service holds the node's parties, keeps the
socket side in step with them and makes the deliveries, all through the `Router`:

- a party's members are also presences on its stream (mode 7, `Stream(7, uuid, "", node)`), so
  sends to the party go through `Router.send_to_stream`, the console counts parties like Nakama's
  (streams of mode 7), and joins and leaves become `party_presence_event`s to the members (the
  tracker's listener, on the next turn of the event loop: after the reply to the request that
  caused them). A member who joined without creating the party gets its `party` (the party as it
  is then) from the same listener, just before the presence event;
- every call names the party by its id "<uuid>.<node>" and the caller by its presence (node and
  session): a party of another node is "party not found" here, and a cluster can route the call
  to the node that holds it instead (the same interface as the presences');
- a socket closing leaves its parties and withdraws its join requests (`disconnect`, called by
  the realtime service before the session's presences go);
- a party that closes, or whose members change, loses its matchmaker tickets (as Nakama).

Limits: a socket may be in, or be waiting to join, at most `socket.max_parties_per_socket`
parties (Kizuna's own, 100 by default); with `session.single_party` a socket that joins a party
leaves the others it was in.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kizuna.core import parties as rules
from kizuna.core.matchmaker import MatchmakerPresence
from kizuna.core.parties import Joined, Party, PartyError, PartyId, PartyPresence
from kizuna.core.streams import PARTY, Stream
from kizuna.errors import Code, KizunaError
from kizuna.realtime import envelope
from kizuna.wire import encode

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.tracker import Presence

log = logging.getLogger("kizuna.realtime")


def too_many_parties(limit: int) -> KizunaError:
    return KizunaError(Code.INVALID_ARGUMENT,
                       f"Party limit reached - a socket may be in at most {limit} parties.")


def party_body(party: Party, me: PartyPresence) -> dict[str, Any]:
    """A `party` message as `me` sees it (protojson: false and empty fields left out)."""
    out: dict[str, Any] = {"party_id": str(party.id)}
    if party.open:
        out["open"] = True
    if party.hidden:
        out["hidden"] = True
    out["max_size"] = party.max_size
    out["self"] = me.wire()
    out["leader"] = party.leader.wire()
    out["presences"] = [m.wire() for m in party.members]
    if party.label:
        out["label"] = party.label
    return out


class PartyService:
    """The parties this node holds (module docstring). Synchronous: every call runs to its end on
    the event loop, so a party never changes in the middle of another call."""

    def __init__(self, rt: RealtimeService) -> None:
        self.rt = rt
        self.node = rt.node
        self._parties: dict[str, Party] = {}
        # session id -> ids of the parties it is in or asked to join (limits, disconnects)
        self._of_session: dict[str, set[str]] = {}
        # (party id, session id) of members to send their `party` when their join is announced
        self._welcome: set[tuple[str, str]] = set()
        rt.tracker.listen(PARTY, self._on_presence)

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._parties)

    def get(self, party_id: PartyId | str) -> Party | None:
        return self._parties.get(str(party_id))

    def of_session(self, session_id: str) -> list[str]:
        """The ids of the parties a session is in or asked to join."""
        return sorted(self._of_session.get(session_id, ()))

    def _party(self, party_id: PartyId) -> Party:
        if party_id.node != self.node:
            raise PartyError(rules.NOT_FOUND, Code.NOT_FOUND)
        party = self._parties.get(str(party_id))
        if party is None:
            raise PartyError(rules.NOT_FOUND, Code.NOT_FOUND)
        return party

    # -- bookkeeping -----------------------------------------------------------------------------

    def _room_for(self, session_id: str, party_id: str) -> None:
        mine = self._of_session.get(session_id, ())
        limit = self.rt.config.socket.max_parties_per_socket
        if party_id not in mine and len(mine) >= limit:
            raise too_many_parties(limit)

    def _index(self, session_id: str, party_id: str) -> None:
        self._of_session.setdefault(session_id, set()).add(party_id)

    def _unindex(self, session_id: str, party_id: str) -> None:
        mine = self._of_session.get(session_id)
        if mine is not None:
            mine.discard(party_id)
            if not mine:
                del self._of_session[session_id]

    def _connected(self, session_id: str) -> bool:
        session = self.rt.registry.get(session_id)
        return session is not None and not session.closed

    def _track(self, party: Party, who: PartyPresence) -> None:
        self.rt.tracker.track(who.session_id, party.id.stream, who.user_id, who.username)

    def _send(self, who: PartyPresence, kind: str, body: dict[str, Any]) -> None:
        self.rt.router.send_to_session(who.node, who.session_id, envelope.push(kind, body))

    def _tickets_gone(self, party: Party) -> None:
        """The party closed or its members changed: its matchmaker tickets go (as Nakama)."""
        self.rt.matchmaker.remove_party_all(str(party.id))

    def _became_member(self, party: Party, who: PartyPresence, *, welcome: bool) -> None:
        """Put a new member on the party's stream; with `session.single_party`, take it out of
        its other parties."""
        if welcome:
            self._welcome.add((str(party.id), who.session_id))
        self._index(who.session_id, str(party.id))
        self._track(party, who)
        if self.rt.config.session.single_party:
            for other in self.of_session(who.session_id):
                there = self._parties.get(other)
                if there is not None and there is not party and there.member(who.session_id):
                    self._leave(there, who.session_id)

    def _end(self, party: Party, *, members: list[PartyPresence],
             requesters: list[PartyPresence]) -> None:
        """Forget a party that is over: its members (already told) leave its stream, its
        requesters' requests go, its tickets go."""
        pid = str(party.id)
        self._parties.pop(pid, None)
        stream = party.id.stream
        for m in members:
            self._unindex(m.session_id, pid)
            self._welcome.discard((pid, m.session_id))
            self.rt.tracker.untrack(m.session_id, stream)
        for r in requesters:
            self._unindex(r.session_id, pid)
        self._tickets_gone(party)

    def _leave(self, party: Party, session_id: str) -> None:
        pid = str(party.id)
        left = party.leave(session_id)
        self._unindex(session_id, pid)
        if not left.was_member:
            return
        self._welcome.discard((pid, session_id))
        self.rt.tracker.untrack(session_id, party.id.stream)
        if left.ended:
            self._end(party, members=[], requesters=party.requests)
            return
        if left.new_leader is not None:
            self.rt.router.send_to_stream(party.id.stream, envelope.push(
                "party_leader", {"party_id": pid, "presence": left.new_leader.wire()}))
        self._tickets_gone(party)

    # -- the calls of the socket's messages --------------------------------------------------------

    def create(self, me: PartyPresence, *, open: bool, max_size: int, label: str = "",
               hidden: bool = False) -> Party:
        """party_create: a new party on this node, `me` its first member and leader."""
        party_id = rules.new_id(self.node)
        party = Party(party_id, me, open=open, max_size=max_size, label=label, hidden=hidden)
        self._room_for(me.session_id, str(party_id))
        self._parties[str(party_id)] = party
        self._became_member(party, me, welcome=False)
        return party

    def join(self, me: PartyPresence, party_id: PartyId) -> Joined:
        """party_join: in at once (open party; `party` and presence events follow), or a join
        request pushed to the leader (closed party)."""
        party = self._party(party_id)
        pid = str(party_id)
        self._room_for(me.session_id, pid)
        joined = party.join(me)
        if joined is Joined.MEMBER:
            self._became_member(party, me, welcome=True)
            self._tickets_gone(party)
        elif joined is Joined.REQUESTED:
            self._index(me.session_id, pid)
            self._send(party.leader, "party_join_request",
                       {"party_id": pid, "presences": [me.wire()]})
        return joined

    def leave(self, me: PartyPresence, party_id: PartyId) -> None:
        """party_leave: out of the party (or the join request withdrawn); nothing if neither."""
        party = self._parties.get(str(party_id)) if party_id.node == self.node else None
        if party is not None:
            self._leave(party, me.session_id)

    def promote(self, me: PartyPresence, party_id: PartyId, target: PartyPresence) -> None:
        """party_promote: the leader hands over; `party_leader` to every member."""
        party = self._party(party_id)
        leader = party.promote(me.session_id, target)
        self.rt.router.send_to_stream(party_id.stream, envelope.push(
            "party_leader", {"party_id": str(party_id), "presence": leader.wire()}))

    def accept(self, me: PartyPresence, party_id: PartyId, target: PartyPresence) -> None:
        """party_accept: the leader admits a requester (who gets `party`; presence events)."""
        party = self._party(party_id)
        member = party.accept(me.session_id, target)
        if member.node == self.node and not self._connected(member.session_id):
            # Its socket is gone (closing withdraws a request, so only a race gets here).
            party.leave(member.session_id)
            self._unindex(member.session_id, str(party_id))
            raise PartyError(rules.ACCEPT_FAILED)
        self._became_member(party, member, welcome=True)
        self._tickets_gone(party)

    def remove(self, me: PartyPresence, party_id: PartyId, target: PartyPresence) -> None:
        """party_remove: the leader removes a member (who gets `party_close`) or rejects a join
        request (nothing is sent, as Nakama)."""
        party = self._party(party_id)
        removed = party.remove(me.session_id, target)
        pid = str(party_id)
        self._unindex(removed.presence.session_id, pid)
        if not removed.was_member:
            return
        self._welcome.discard((pid, removed.presence.session_id))
        self.rt.tracker.untrack(removed.presence.session_id, party_id.stream)
        self._send(removed.presence, "party_close", {"party_id": pid})
        self._tickets_gone(party)

    def close(self, me: PartyPresence, party_id: PartyId) -> None:
        """party_close: the leader ends the party; `party_close` to every member."""
        party = self._party(party_id)
        requesters = party.requests
        members = party.close(me.session_id)
        self.rt.router.send_to_stream(party_id.stream,
                                      envelope.push("party_close", {"party_id": str(party_id)}))
        self._end(party, members=members, requesters=requesters)

    def join_requests(self, me: PartyPresence, party_id: PartyId) -> list[PartyPresence]:
        """party_join_request_list: the pending requests (leader only)."""
        return self._party(party_id).join_requests(me.session_id)

    def matchmaker_add(self, me: PartyPresence, party_id: PartyId, *, query: str, min_count: int,
                       max_count: int, count_multiple: int, string_properties: dict[str, str],
                       numeric_properties: dict[str, float]) -> str:
        """party_matchmaker_add: the leader queues the whole party as one ticket; its id, also
        pushed (`party_matchmaker_ticket`) to the other members."""
        party = self._party(party_id)
        members = party.matchmaker_presences(me.session_id)
        presences = [MatchmakerPresence(m.user_id, m.session_id, m.username, m.node)
                     for m in members]
        try:
            ticket = self.rt.matchmaker.add(
                presences, party_id=str(party_id), query=query, min_count=min_count,
                max_count=max_count, count_multiple=count_multiple,
                string_properties=string_properties, numeric_properties=numeric_properties)
        except PartyError:
            raise
        except KizunaError as exc:
            raise PartyError(exc.message, exc.code) from None
        ticket_id = ticket.id
        body = {"party_id": str(party_id), "ticket": ticket_id}
        for m in members:
            if m.session_id != me.session_id:
                self._send(m, "party_matchmaker_ticket", body)
        return ticket_id

    def matchmaker_remove(self, me: PartyPresence, party_id: PartyId, ticket: str) -> None:
        """party_matchmaker_remove: the leader withdraws one of the party's tickets."""
        party = self._party(party_id)
        party.check_leader(me.session_id)
        try:
            self.rt.matchmaker.remove_party(str(party_id), ticket)
        except KizunaError as exc:
            if exc.code == Code.NOT_FOUND:
                raise PartyError(rules.TICKET_NOT_FOUND, Code.NOT_FOUND) from None
            raise PartyError(exc.message, exc.code) from None

    def data(self, me: PartyPresence, party_id: PartyId, op_code: int, data: str) -> None:
        """party_data_send: `party_data` (base64 `data`) to the other members."""
        party = self._party(party_id)
        sender = party.sender(me.session_id)
        others = [m for m in party.members if m.session_id != me.session_id]
        if not others:
            return
        body: dict[str, Any] = {"party_id": str(party_id), "presence": sender.wire()}
        if op_code:
            body["op_code"] = str(op_code)
        if data:
            body["data"] = data
        out = envelope.push("party_data", body)
        send = self.rt.router.send_to_session
        for m in others:
            send(m.node, m.session_id, out)

    def update(self, me: PartyPresence, party_id: PartyId, *, label: str, open: bool,
               hidden: bool) -> None:
        """party_update: the leader changes label, open and hidden; `party_update` to every
        member."""
        party = self._party(party_id)
        party.update(me.session_id, label=label, open=open, hidden=hidden)
        body: dict[str, Any] = {"party_id": str(party_id)}
        if party.label:
            body["label"] = party.label
        if party.open:
            body["open"] = True
        if party.hidden:
            body["hidden"] = True
        self.rt.router.send_to_stream(party_id.stream, envelope.push("party_update", body))

    # -- sockets closing ---------------------------------------------------------------------------

    def disconnect(self, session_id: str) -> None:
        """A socket closed: it leaves its parties (leaders hand over, emptied parties end) and
        its join requests go."""
        for pid in self.of_session(session_id):
            party = self._parties.get(pid)
            if party is None:
                self._unindex(session_id, pid)
            else:
                self._leave(party, session_id)

    # -- presence events ---------------------------------------------------------------------------

    def _on_presence(self, stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        """Joins and leaves of a party's stream: first each new member's `party` (the party as
        it is now), then one `party_presence_event` to every member."""
        pid = rules.stream_id(stream)
        party = self._parties.get(pid)
        if party is not None:
            for p in joins:
                key = (pid, p.session_id)
                if key in self._welcome:
                    self._welcome.discard(key)
                    me = party.member(p.session_id)
                    if me is not None:
                        self._send(me, "party", party_body(party, me))
        event: dict[str, Any] = {"party_id": pid}
        if joins:
            event["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [encode.user_presence(p) for p in leaves]
        self.rt.router.send_to_stream(stream, envelope.push("party_presence_event", event))
