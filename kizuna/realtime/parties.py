"""The parties of this node: `PartyService`, the one owner of their state (`rt.parties`).

The rules of a party are kizuna/core/parties.py; this service holds the node's parties, keeps the
socket side in step with them and makes the deliveries, all through the `Router`:

- a party's members are also presences on its stream (mode 7, `Stream(7, uuid, "", node)`): the
  console counts parties like Nakama's (streams of mode 7), and joins and leaves become
  `party_presence_event`s to the members (the tracker's listener, on the next turn of the event
  loop: after the reply to the request that caused them); the other pushes go to the members
  as the party holds them. A member who joined without creating the party gets its `party` (the party as it
  is then) from the same listener, just before the presence event;
- every call names the party by its id "<uuid>.<node>" and the caller by its presence (node and
  session): a party of another node is "party not found" here, and a cluster routes the call to
  the node that holds it instead (below);
- a socket closing leaves its parties and withdraws its join requests (`disconnect`, called by
  the realtime service before the session's presences go);
- a party that closes, or whose members change, loses its matchmaker tickets (as Nakama).

Limits: a socket may be in, or be waiting to join, at most `socket.max_parties_per_socket`
parties (Kizuna's own, 100 by default); with `session.single_party` a socket that joins a party
leaves the others it was in.

In a cluster (`rt.bus`) a party lives on the node that created it. A call for a party of another
node (the `*_any` coroutines the handlers await) is a request to that node ("pt.call", with the
caller's presence and the arguments); its refusals come back as the same `PartyError`s. The
party's node keeps the socket side of its remote members in step with one-way messages to their
nodes, which own their presences: "pt.mem" (a member admitted: its node tracks it on the party's
stream and welcomes it with its `party`), "pt.ut" (off the stream), "pt.ix" (the session is no
longer in, or waiting for, the party: its node keeps the per-socket limit and the disconnects).
A member's node tells the party's node "pt.gone" when the socket closes (or leaves with
`session.single_party`). A member that joins by itself is tracked by its own node after the
answer, so that it gets its reply, then its `party`, then the presence events, as on one node.
Pushes go through the Router, which reaches every node. A node that dies takes its parties with
it: their members on the other nodes get `party_close` (what a single node sends when a party
ends) and leave its stream without presence events; its own sessions leave the parties of the
other nodes as if their sockets had closed (leaders hand over, presence events).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kizuna.core import parties as rules
from kizuna.core.matchmaker import MatchmakerPresence
from kizuna.core.parties import Joined, Party, PartyError, PartyId, PartyPresence
from kizuna.core.streams import PARTY, Stream, notifications_stream
from kizuna.errors import Code, KizunaError
from kizuna.realtime import envelope
from kizuna.wire import encode

if TYPE_CHECKING:
    from kizuna.cluster.bus import Bus, Header
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.tracker import Presence

log = logging.getLogger("kizuna.realtime")

OVER_KEPT = 30.0  # seconds an ended party's id is remembered (its members' leaves are not sent)


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


def _enc(p: PartyPresence) -> list[str]:
    return [p.user_id, p.session_id, p.username, p.node]


def _dec(r: list[str]) -> PartyPresence:
    return PartyPresence(str(r[0]), str(r[1]), str(r[2]), str(r[3]))


class PartyService:
    """The parties this node holds (module docstring). The calls for a party of this node are
    synchronous: each runs to its end on the event loop, so a party never changes in the middle
    of another call."""

    def __init__(self, rt: RealtimeService) -> None:
        self.rt = rt
        self.node = rt.node
        self._parties: dict[str, Party] = {}
        # session id (of this node) -> ids of the parties (of any node) it is in or asked to join
        self._of_session: dict[str, set[str]] = {}
        # (party id, session id) of members to send their `party` when their join is announced
        self._welcome: set[tuple[str, str]] = set()
        # The same for this node's sessions admitted to another node's party: the `party` to send.
        self._welcome_body: dict[tuple[str, str], dict[str, Any]] = {}
        # Parties that ended (party id -> when): the leaves of their members are not announced.
        self._over: dict[str, float] = {}
        rt.tracker.listen(PARTY, self._on_presence)
        self.bus: Bus | None = getattr(rt, "bus", None)  # (tests' stand-ins may have none)
        if self.bus is not None:
            bus = self.bus
            bus.serve("pt.call", self._serve)
            bus.on("pt.mem", self._on_member)
            bus.on("pt.ut", self._on_untrack)
            bus.on("pt.ix", self._on_unindex)
            bus.on("pt.gone", self._on_gone)
            bus.on_down(self._on_node_down)

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._parties)

    def get(self, party_id: PartyId | str) -> Party | None:
        return self._parties.get(str(party_id))

    def of_session(self, session_id: str) -> list[str]:
        """The ids of the parties a session of this node is in or asked to join."""
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

    def _unindex_local(self, session_id: str, party_id: str) -> None:
        mine = self._of_session.get(session_id)
        if mine is not None:
            mine.discard(party_id)
            if not mine:
                del self._of_session[session_id]
        self._welcome_body.pop((party_id, session_id), None)

    def _unindex(self, who: PartyPresence, party_id: str) -> None:
        """`who` is no longer in, or waiting for, the party: its node forgets it."""
        if who.node == self.node:
            self._unindex_local(who.session_id, party_id)
        elif self.bus is not None and self.bus.is_live(who.node):
            self.bus.send(who.node, "pt.ix", {"p": party_id, "s": who.session_id})

    def _connected(self, who: PartyPresence) -> bool:
        if who.node == self.node:
            session = self.rt.registry.get(who.session_id)
            return session is not None and not session.closed
        return (self.bus is not None and self.bus.is_live(who.node)
                and self.rt.tracker.get(who.session_id,
                                        notifications_stream(who.user_id)) is not None)

    def _track(self, party: Party, who: PartyPresence, *, welcome: bool) -> None:
        """Put a member on the party's stream, on its own node (which welcomes it)."""
        if who.node == self.node:
            if welcome:
                self._welcome.add((str(party.id), who.session_id))
            self.rt.tracker.track(who.session_id, party.id.stream, who.user_id, who.username)
        elif self.bus is not None and self.bus.is_live(who.node):
            self.bus.send(who.node, "pt.mem", {
                "p": str(party.id), "s": who.session_id, "u": who.user_id, "n": who.username,
                "w": party_body(party, who) if welcome else None})

    def _untrack(self, party_id: PartyId, who: PartyPresence, *, ended: bool = False) -> None:
        """Take a member off the party's stream, on its own node."""
        pid = str(party_id)
        if who.node == self.node:
            self._welcome.discard((pid, who.session_id))
            self.rt.tracker.untrack(who.session_id, party_id.stream)
        elif self.bus is not None and self.bus.is_live(who.node):
            self.bus.send(who.node, "pt.ut", {"p": pid, "s": who.session_id, "end": ended})

    def _mark_over(self, party_id: str) -> None:
        now = time.monotonic()
        self._over[party_id] = now
        if len(self._over) > 64:
            for pid, at in list(self._over.items()):
                if now - at > OVER_KEPT:
                    del self._over[pid]

    def _send(self, who: PartyPresence, kind: str, body: dict[str, Any]) -> None:
        self.rt.router.send_to_session(who.node, who.session_id, envelope.push(kind, body))

    def _send_all(self, members: list[PartyPresence], data: bytes) -> None:
        """To the members as the party holds them (a member just admitted on another node may
        not be on the stream here yet; one that just left may still be)."""
        send = self.rt.router.send_to_session
        for m in members:
            send(m.node, m.session_id, data)

    def _tickets_gone(self, party: Party) -> None:
        """The party closed or its members changed: its matchmaker tickets go (as Nakama)."""
        self.rt.matchmaker.remove_party_all(str(party.id))

    def _became_member(self, party: Party, who: PartyPresence, *, welcome: bool) -> None:
        """Put a new member on the party's stream; with `session.single_party`, take it out of
        its other parties (its own node does, for a member of another node)."""
        if who.node == self.node:
            self._index(who.session_id, str(party.id))
        self._track(party, who, welcome=welcome)
        if who.node == self.node:
            self._single(who.session_id, str(party.id))

    def _single(self, session_id: str, keep: str) -> None:
        """`session.single_party`: a session of this node that became a member of party `keep`
        leaves the other parties it is a member of (its join requests stay)."""
        if not self.rt.config.session.single_party:
            return
        for other in self.of_session(session_id):
            if other == keep:
                continue
            there = self._parties.get(other)
            if there is not None:
                if there.member(session_id):
                    self._leave(there, session_id)
                continue
            other_id = rules.parse_id(other)
            if other_id is None or other_id.node == self.node:
                continue
            if self.rt.tracker.get(session_id, other_id.stream) is None:
                continue  # a join request only
            self._unindex_local(session_id, other)
            self.rt.tracker.untrack(session_id, other_id.stream)
            if self.bus is not None and self.bus.is_live(other_id.node):
                self.bus.send(other_id.node, "pt.gone", {"p": other, "s": session_id})

    def _end(self, party: Party, *, members: list[PartyPresence],
             requesters: list[PartyPresence]) -> None:
        """Forget a party that is over: its members (already told) leave its stream, its
        requesters' requests go, its tickets go."""
        pid = str(party.id)
        self._parties.pop(pid, None)
        self._mark_over(pid)
        for m in members:
            self._unindex(m, pid)
            self._untrack(party.id, m, ended=True)
        for r in requesters:
            self._unindex(r, pid)
        self._tickets_gone(party)

    def _leave(self, party: Party, session_id: str) -> None:
        pid = str(party.id)
        who = party.presence_of(session_id)
        left = party.leave(session_id)
        if who is None:
            self._unindex_local(session_id, pid)
            return
        self._unindex(who, pid)
        if not left.was_member:
            return
        self._untrack(party.id, who)
        if left.ended:
            self._end(party, members=[], requesters=party.requests)
            return
        if left.new_leader is not None:
            self._send_all(party.members, envelope.push(
                "party_leader", {"party_id": pid, "presence": left.new_leader.wire()}))
        self._tickets_gone(party)

    # -- the calls of the socket's messages, for a party of this node ------------------------------

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
        request pushed to the leader (closed party). A caller of another node was checked
        against its limit there, and its node puts it on the stream (`join_any`)."""
        party = self._party(party_id)
        pid = str(party_id)
        local = me.node == self.node
        if local:
            self._room_for(me.session_id, pid)
        joined = party.join(me)
        if joined is Joined.MEMBER:
            if local:
                self._became_member(party, me, welcome=True)
            self._tickets_gone(party)
        elif joined is Joined.REQUESTED:
            if local:
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
        self._send_all(party.members, envelope.push(
            "party_leader", {"party_id": str(party_id), "presence": leader.wire()}))

    def accept(self, me: PartyPresence, party_id: PartyId, target: PartyPresence) -> None:
        """party_accept: the leader admits a requester (who gets `party`; presence events)."""
        party = self._party(party_id)
        member = party.accept(me.session_id, target)
        if not self._connected(member):
            # Its socket is gone (closing withdraws a request, so only a race gets here).
            party.leave(member.session_id)
            self._unindex(member, str(party_id))
            raise PartyError(rules.ACCEPT_FAILED)
        self._became_member(party, member, welcome=True)
        self._tickets_gone(party)

    def remove(self, me: PartyPresence, party_id: PartyId, target: PartyPresence) -> None:
        """party_remove: the leader removes a member (who gets `party_close`) or rejects a join
        request (nothing is sent, as Nakama)."""
        party = self._party(party_id)
        removed = party.remove(me.session_id, target)
        pid = str(party_id)
        self._unindex(removed.presence, pid)
        if not removed.was_member:
            return
        self._untrack(party_id, removed.presence)
        self._send(removed.presence, "party_close", {"party_id": pid})
        self._tickets_gone(party)

    def close(self, me: PartyPresence, party_id: PartyId) -> None:
        """party_close: the leader ends the party; `party_close` to every member."""
        party = self._party(party_id)
        requesters = party.requests
        members = party.close(me.session_id)
        self._send_all(members, envelope.push("party_close", {"party_id": str(party_id)}))
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
        self._send_all(party.members, envelope.push("party_update", body))

    # -- the calls of the socket's messages, for a party of any node ---------------------------------

    async def _ask(self, op: str, me: PartyPresence, party_id: PartyId,
                   args: dict[str, Any] | None = None) -> Any:
        """A call for a party of another node, made there; its refusal raised here."""
        bus = self.bus
        if bus is None or not bus.is_live(party_id.node):
            raise PartyError(rules.NOT_FOUND, Code.NOT_FOUND)
        head, _ = await bus.request(party_id.node, "pt.call", {
            "op": op, "me": _enc(me), "p": str(party_id), "a": args or {}})
        refused = head.get("pe")
        if refused:
            raise PartyError(refused[1], Code(refused[0]))
        return head.get("r")

    def _still_here(self, session_id: str) -> bool:
        session = self.rt.registry.get(session_id)
        return session is not None and not session.closed

    async def join_any(self, me: PartyPresence, party_id: PartyId) -> Joined:
        """`join`, for a party of any node: this node checks its socket's limit, and puts it on
        the party's stream once it is a member (its `party` follows, then the events)."""
        if party_id.node == self.node:
            return self.join(me, party_id)
        pid = str(party_id)
        self._room_for(me.session_id, pid)
        answer = await self._ask("join", me, party_id)
        joined = Joined(answer["j"])
        if joined is Joined.ALREADY:
            return joined
        if not self._still_here(me.session_id):  # the socket closed while it waited
            if self.bus is not None and self.bus.is_live(party_id.node):
                self.bus.send(party_id.node, "pt.gone", {"p": pid, "s": me.session_id})
            return joined
        self._index(me.session_id, pid)
        if joined is Joined.MEMBER:
            self._welcome_body[(pid, me.session_id)] = answer["w"]
            self.rt.tracker.track(me.session_id, party_id.stream, me.user_id, me.username)
            self._single(me.session_id, pid)
        return joined

    async def leave_any(self, me: PartyPresence, party_id: PartyId) -> None:
        if party_id.node == self.node:
            self.leave(me, party_id)
            return
        pid = str(party_id)
        if self.bus is not None and self.bus.is_live(party_id.node):
            await self._ask("leave", me, party_id)
        self._unindex_local(me.session_id, pid)

    async def promote_any(self, me: PartyPresence, party_id: PartyId,
                          target: PartyPresence) -> None:
        if party_id.node == self.node:
            return self.promote(me, party_id, target)
        await self._ask("promote", me, party_id, {"t": _enc(target)})

    async def accept_any(self, me: PartyPresence, party_id: PartyId,
                         target: PartyPresence) -> None:
        if party_id.node == self.node:
            return self.accept(me, party_id, target)
        await self._ask("accept", me, party_id, {"t": _enc(target)})

    async def remove_any(self, me: PartyPresence, party_id: PartyId,
                         target: PartyPresence) -> None:
        if party_id.node == self.node:
            return self.remove(me, party_id, target)
        await self._ask("remove", me, party_id, {"t": _enc(target)})

    async def close_any(self, me: PartyPresence, party_id: PartyId) -> None:
        if party_id.node == self.node:
            return self.close(me, party_id)
        await self._ask("close", me, party_id)

    async def join_requests_any(self, me: PartyPresence,
                                party_id: PartyId) -> list[PartyPresence]:
        if party_id.node == self.node:
            return self.join_requests(me, party_id)
        return [_dec(r) for r in await self._ask("requests", me, party_id)]

    async def matchmaker_add_any(self, me: PartyPresence, party_id: PartyId, *, query: str,
                                 min_count: int, max_count: int, count_multiple: int,
                                 string_properties: dict[str, str],
                                 numeric_properties: dict[str, float]) -> str:
        """`matchmaker_add`: the ticket is the party's node's (its owner in the matchmaker)."""
        if party_id.node == self.node:
            local = self.matchmaker_add(
                me, party_id, query=query, min_count=min_count, max_count=max_count,
                count_multiple=count_multiple, string_properties=string_properties,
                numeric_properties=numeric_properties)
            await self.rt.matchmaker.published()
            return local
        ticket: str = await self._ask("mm_add", me, party_id, {
            "q": query, "mn": min_count, "mx": max_count, "cm": count_multiple,
            "sp": string_properties,
            "np": {k: repr(v) for k, v in numeric_properties.items()}})  # infinities as text
        return ticket

    async def matchmaker_remove_any(self, me: PartyPresence, party_id: PartyId,
                                    ticket: str) -> None:
        if party_id.node == self.node:
            return self.matchmaker_remove(me, party_id, ticket)
        await self._ask("mm_rm", me, party_id, {"t": ticket})

    async def data_any(self, me: PartyPresence, party_id: PartyId, op_code: int,
                       data: str) -> None:
        if party_id.node == self.node:
            return self.data(me, party_id, op_code, data)
        await self._ask("data", me, party_id, {"o": op_code, "d": data})

    async def update_any(self, me: PartyPresence, party_id: PartyId, *, label: str, open: bool,
                         hidden: bool) -> None:
        if party_id.node == self.node:
            return self.update(me, party_id, label=label, open=open, hidden=hidden)
        await self._ask("update", me, party_id, {"l": label, "o": open, "h": hidden})

    # -- the calls of other nodes' sessions, for this node's parties ---------------------------------

    async def _serve(self, sender: str, head: Header, body: bytes) -> tuple[Header, bytes]:
        me = _dec(head["me"])
        party_id = rules.parse_id(head["p"])
        if me.node != sender or party_id is None:
            raise KizunaError(Code.INVALID_ARGUMENT, "party call from the wrong node")
        try:
            result = self._call(head["op"], me, party_id, head.get("a") or {})
        except PartyError as exc:
            return {"pe": [int(exc.code), exc.message]}, b""
        if head["op"] == "mm_add":  # the ticket waits on every node before the caller hears
            await self.rt.matchmaker.published()
        return {"r": result}, b""

    def _call(self, op: str, me: PartyPresence, party_id: PartyId, a: dict[str, Any]) -> Any:
        if op == "join":
            joined = self.join(me, party_id)
            out: dict[str, Any] = {"j": joined.value}
            party = self._parties.get(str(party_id))
            if joined is Joined.MEMBER and party is not None:
                out["w"] = party_body(party, me)
            return out
        if op == "leave":
            return self.leave(me, party_id)
        if op == "promote":
            return self.promote(me, party_id, _dec(a["t"]))
        if op == "accept":
            return self.accept(me, party_id, _dec(a["t"]))
        if op == "remove":
            return self.remove(me, party_id, _dec(a["t"]))
        if op == "close":
            return self.close(me, party_id)
        if op == "requests":
            return [_enc(r) for r in self.join_requests(me, party_id)]
        if op == "mm_add":
            return self.matchmaker_add(
                me, party_id, query=a["q"], min_count=a["mn"], max_count=a["mx"],
                count_multiple=a["cm"], string_properties=a["sp"],
                numeric_properties={k: float(v) for k, v in a["np"].items()})
        if op == "mm_rm":
            return self.matchmaker_remove(me, party_id, a["t"])
        if op == "data":
            return self.data(me, party_id, a["o"], a["d"])
        if op == "update":
            return self.update(me, party_id, label=a["l"], open=a["o"], hidden=a["h"])
        raise KizunaError(Code.UNIMPLEMENTED, f"unknown party call {op!r}")

    def _on_member(self, sender: str, head: Header, body: bytes) -> None:
        """pt.mem: a session of this node was admitted to a party of `sender`."""
        pid, sid = head["p"], head["s"]
        party_id = rules.parse_id(pid)
        if party_id is None or party_id.node != sender or not self._still_here(sid):
            return  # a closed socket: its disconnect told the party's node
        self._index(sid, pid)
        if head.get("w"):
            self._welcome_body[(pid, sid)] = head["w"]
        self.rt.tracker.track(sid, party_id.stream, head["u"], head["n"])
        self._single(sid, pid)

    def _on_untrack(self, sender: str, head: Header, body: bytes) -> None:
        """pt.ut: a session of this node is off a party of `sender` (`end`: the party ended)."""
        pid, sid = head["p"], head["s"]
        party_id = rules.parse_id(pid)
        if party_id is None or party_id.node != sender:
            return
        if head.get("end"):
            self._mark_over(pid)
        self._welcome_body.pop((pid, sid), None)
        p = self.rt.tracker.get(sid, party_id.stream)
        if p is not None and p.node == self.node:
            self.rt.tracker.untrack(sid, party_id.stream)

    def _on_unindex(self, sender: str, head: Header, body: bytes) -> None:
        """pt.ix: a session of this node is no longer in, or waiting for, a party of `sender`."""
        pid = head["p"]
        party_id = rules.parse_id(pid)
        if party_id is not None and party_id.node == sender:
            self._unindex_local(head["s"], pid)

    def _on_gone(self, sender: str, head: Header, body: bytes) -> None:
        """pt.gone: a session of `sender` closed (or left with `session.single_party`)."""
        party = self._parties.get(head["p"])
        if party is None:
            return
        who = party.presence_of(head["s"])
        if who is not None and who.node == sender:
            self._leave(party, who.session_id)

    def _on_node_down(self, node: str) -> None:
        """A node died or left. Its sessions leave this node's parties (as their sockets would
        have); this node's sessions lose that node's parties: its members get `party_close`."""
        for party in list(self._parties.values()):
            gone = [p.session_id for p in (*party.members, *party.requests) if p.node == node]
            for sid in gone:
                if str(party.id) in self._parties:
                    self._leave(party, sid)
        # Its parties are over: no presence event for them (the leaves of its own sessions, that
        # the tracker's leader announces, included).
        for stream in self.rt.tracker.streams(PARTY):
            if stream.label == node:
                self._mark_over(rules.stream_id(stream))
        suffix = f".{node}"
        for sid, pids in list(self._of_session.items()):
            for pid in [p for p in pids if p.endswith(suffix)]:
                party_id = rules.parse_id(pid)
                if party_id is None or party_id.node != node:
                    continue
                self._mark_over(pid)
                self._unindex_local(sid, pid)
                p = self.rt.tracker.get(sid, party_id.stream)
                if p is not None and p.node == self.node:  # a member (not a requester)
                    self.rt.router.send_to_session(self.node, sid, envelope.push(
                        "party_close", {"party_id": pid}))
                    self.rt.tracker.untrack(sid, party_id.stream)

    # -- sockets closing ---------------------------------------------------------------------------

    def disconnect(self, session_id: str) -> None:
        """A socket of this node closed: it leaves its parties (leaders hand over, emptied
        parties end) and its join requests go, on whichever node the party is."""
        for pid in self.of_session(session_id):
            party = self._parties.get(pid)
            if party is not None:
                self._leave(party, session_id)
                continue
            self._unindex_local(session_id, pid)
            party_id = rules.parse_id(pid)
            if (party_id is not None and party_id.node != self.node and self.bus is not None
                    and self.bus.is_live(party_id.node)):
                self.bus.send(party_id.node, "pt.gone", {"p": pid, "s": session_id})

    # -- presence events ---------------------------------------------------------------------------

    def _on_presence(self, stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        """Joins and leaves of a party's stream: first each new member's `party` (the party as
        it is now; as its node sent it, for a party of another node), then one
        `party_presence_event` to every member. Nothing for a party that ended."""
        pid = rules.stream_id(stream)
        if pid in self._over:
            return
        party = self._parties.get(pid)
        for p in joins:
            key = (pid, p.session_id)
            if party is not None and key in self._welcome:
                self._welcome.discard(key)
                me = party.member(p.session_id)
                if me is not None:
                    self._send(me, "party", party_body(party, me))
            elif key in self._welcome_body:
                self.rt.router.send_to_session(self.node, p.session_id, envelope.push(
                    "party", self._welcome_body.pop(key)))
        event: dict[str, Any] = {"party_id": pid}
        if joins:
            event["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [encode.user_presence(p) for p in leaves]
        self.rt.router.send_to_stream(stream, envelope.push("party_presence_event", event))
