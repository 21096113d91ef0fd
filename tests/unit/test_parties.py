"""Parties without a server: the rules of one party (kizuna/core/parties.py), and the node's
`PartyService` (kizuna/realtime/parties.py) on real sessions, tracker and router with in-memory
connections, to see which pushes each member gets. Over real sockets:
tests/integration/test_parties.py; through nakama-js: tests/e2e/js/parties.test.mjs."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from kizuna.config import Config
from kizuna.core import parties as rules
from kizuna.core.matchmaker import MatchmakerPresence
from kizuna.core.parties import Joined, Party, PartyError, PartyId, PartyPresence
from kizuna.errors import Code, KizunaError
from kizuna.realtime.parties import PartyService
from kizuna.realtime.router import LocalRouter
from kizuna.realtime.session import Session, SessionRegistry
from kizuna.realtime.status import StatusRegistry
from kizuna.realtime.tracker import LocalTracker

NODE = "kz"


def who(name: str, node: str = NODE) -> PartyPresence:
    return PartyPresence(f"u-{name}", f"s-{name}", name, node)


def party(open: bool = False, max_size: int = 4) -> Party:
    return Party(rules.new_id(NODE), who("lead"), open=open, max_size=max_size)


def refused(reason: str, fn, *args, **kwargs) -> None:
    with pytest.raises(PartyError) as e:
        fn(*args, **kwargs)
    assert e.value.message == reason


# -- ids and settings ------------------------------------------------------------------------------


def test_ids():
    pid = rules.new_id("node-1")
    text = str(pid)
    assert text == f"{pid.uuid}.node-1" and uuid.UUID(pid.uuid)
    assert rules.parse_id(text) == pid
    assert rules.parse_id(f"{pid.uuid.upper()}.a.b") == PartyId(pid.uuid, "a.b")  # first dot
    assert rules.parse_id(f"{pid.uuid}.") == PartyId(pid.uuid, "")
    for bad in (None, 7, "", "nodot", "not-a-uuid.kz", f".{pid.uuid}"):
        assert rules.parse_id(bad) is None, bad
    assert pid.stream == (7, pid.uuid, "", "node-1")
    assert rules.stream_id(pid.stream) == text


def test_settings():
    for ok in (1, 8, 256):
        assert rules.check_max_size(ok) == ok
    for bad in (0, -1, 257):
        with pytest.raises(KizunaError) as e:
            rules.check_max_size(bad)
        assert (e.value.code, e.value.message) == (Code.INVALID_ARGUMENT, rules.INVALID_MAX_SIZE)
    assert rules.check_label('{"mode":"ctf"}', False) == '{"mode":"ctf"}'
    with pytest.raises(KizunaError, match="hidden party cannot have a label"):
        rules.check_label("x", True)
    with pytest.raises(KizunaError, match="at most 2048 bytes"):
        rules.check_label("é" * 1025, False)
    with pytest.raises(KizunaError):
        Party(rules.new_id(NODE), who("lead"), open=True, max_size=0)


# -- the rules of one party ------------------------------------------------------------------------


def test_a_new_party():
    p = party(open=True, max_size=3)
    assert p.members == [who("lead")] and p.leader == who("lead") and len(p) == 1
    assert p.open and not p.closed and p.requests == [] and not p.hidden and p.label == ""


def test_open_party_joins_at_once_until_full():
    p = party(open=True, max_size=3)
    assert p.join(who("a")) is Joined.MEMBER
    assert p.join(who("a")) is Joined.ALREADY  # a member joining again: nothing changes
    assert p.join(who("b")) is Joined.MEMBER
    assert [m.username for m in p.members] == ["lead", "a", "b"]
    refused(rules.FULL, p.join, who("c"))
    assert p.requests == []


def test_closed_party_files_requests():
    p = party(max_size=2)
    assert p.join(who("a")) is Joined.REQUESTED
    assert p.requests == [who("a")] and p.members == [who("lead")]
    # One request per user (another session of the same user too), none from a member.
    refused(rules.REQUEST_DUPLICATE, p.join, who("a"))
    refused(rules.REQUEST_DUPLICATE, p.join, PartyPresence("u-a", "s-a2", "a", NODE))
    refused(rules.ALREADY_MEMBER, p.join, who("lead"))
    assert p.join(who("b")) is Joined.REQUESTED
    refused(rules.REQUESTS_FULL, p.join, who("c"))  # at most max_size requests
    assert p.join_requests("s-lead") == [who("a"), who("b")]
    refused(rules.NOT_LEADER, p.join_requests, "s-a")


def test_accept():
    p = party(max_size=2)
    p.join(who("a"))
    p.join(who("b"))
    refused(rules.NOT_LEADER, p.accept, "s-a", who("a"))
    refused(rules.NOT_REQUEST, p.accept, "s-lead", who("c"))
    # The presence must name the requester's user too.
    refused(rules.NOT_REQUEST, p.accept, "s-lead", PartyPresence("u-x", "s-a", "a", ""))
    # What a client names has no node: the request's own presence is admitted.
    assert p.accept("s-lead", PartyPresence("u-a", "s-a", "", "")) == who("a")
    assert p.members == [who("lead"), who("a")] and p.requests == [who("b")]
    refused(rules.FULL, p.accept, "s-lead", who("b"))  # full: the request stays
    assert p.requests == [who("b")]


def test_remove_a_member_or_reject_a_request():
    p = party(open=True)
    p.join(who("a"))
    p.open = False
    p.join(who("b"))
    refused(rules.NOT_LEADER, p.remove, "s-a", who("b"))
    refused(rules.REMOVE_SELF, p.remove, "s-lead", who("lead"))
    refused(rules.NOT_MEMBER, p.remove, "s-lead", who("nobody"))
    assert p.remove("s-lead", who("b")) == (who("b"), False)  # a request rejected
    assert p.remove("s-lead", who("a")) == (who("a"), True)  # a member removed
    assert p.members == [who("lead")] and p.requests == []


def test_promote():
    p = party(open=True)
    p.join(who("a"))
    refused(rules.NOT_LEADER, p.promote, "s-a", who("a"))
    refused(rules.NOT_MEMBER, p.promote, "s-lead", who("stranger"))
    assert p.promote("s-lead", who("a")) == who("a")
    assert p.leader == who("a") and p.is_leader("s-a")
    refused(rules.NOT_LEADER, p.close, "s-lead")  # the old leader is a member like others
    assert p.promote("s-a", who("a")) == who("a")  # promoting oneself is allowed


def test_leader_hand_over_and_the_end():
    p = party(open=True)
    for n in ("a", "b", "c"):
        p.join(who(n))
    assert p.leave("s-b") == (True, None, False)  # not the leader: nothing else changes
    assert p.leave("s-lead") == (True, who("a"), False)  # the oldest remaining member leads
    assert p.leader == who("a")
    assert p.leave("s-nobody") == (False, None, False)
    assert p.leave("s-a") == (True, who("c"), False)
    assert p.leave("s-c") == (True, None, True)  # the last one out: the party is over
    assert p.closed and p.members == []
    refused(rules.CLOSED, p.join, who("d"))


def test_a_request_then_an_open_join():
    p = party()
    p.join(who("a"))
    p.update("s-lead", label="", open=True, hidden=False)
    assert p.join(who("a")) is Joined.MEMBER and p.requests == []


def test_leave_withdraws_a_request():
    p = party()
    p.join(who("a"))
    assert p.leave("s-a") == (False, None, False)
    assert p.requests == []


def test_close():
    p = party(open=True)
    p.join(who("a"))
    p.open = False
    p.join(who("b"))
    refused(rules.NOT_LEADER, p.close, "s-a")
    assert p.close("s-lead") == [who("lead"), who("a")]
    assert p.closed and p.members == [] and p.requests == []
    for call in (lambda: p.join(who("c")), lambda: p.close("s-lead"),
                 lambda: p.sender("s-lead"), lambda: p.matchmaker_presences("s-lead")):
        refused(rules.CLOSED, call)


def test_data_senders_and_matchmaker_presences():
    p = party(open=True)
    p.join(who("a"))
    assert p.sender("s-a") == who("a")
    refused(rules.NOT_MEMBER, p.sender, "s-stranger")
    assert p.matchmaker_presences("s-lead") == [who("lead"), who("a")]
    refused(rules.NOT_LEADER, p.matchmaker_presences, "s-a")


def test_update():
    p = party(open=True)
    p.join(who("a"))
    refused(rules.NOT_LEADER, p.update, "s-a", label="", open=False, hidden=False)
    p.update("s-lead", label='{"mode":"ctf"}', open=False, hidden=False)
    assert (p.label, p.open, p.hidden) == ('{"mode":"ctf"}', False, False)
    with pytest.raises(KizunaError, match="hidden party"):
        p.update("s-lead", label="x", open=True, hidden=True)
    p.update("s-lead", label="", open=True, hidden=True)
    assert (p.label, p.open, p.hidden) == ("", True, True)


# -- the service: pushes, limits, disconnects ------------------------------------------------------


class Conn:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def try_write(self, data: bytes) -> bool:
        self.written.append(orjson.loads(data))
        return True

    async def write(self, data: bytes) -> None:
        self.try_write(data)

    def ping(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self, code=None, reason="") -> None:
        pass


class Matchmaker:
    def __init__(self) -> None:
        self.added: list[tuple[list[MatchmakerPresence], dict[str, Any]]] = []
        self.removed_all: list[str] = []
        self.fail: KizunaError | None = None

    def add(self, presences, **kw):
        if self.fail is not None:
            raise self.fail
        self.added.append((presences, kw))
        return SimpleNamespace(id=f"ticket-{len(self.added)}")

    def remove_party(self, party_id, ticket_id):
        raise KizunaError(Code.NOT_FOUND, "Matchmaker ticket not found")

    def remove_party_all(self, party_id):
        self.removed_all.append(party_id)
        return []


class Node:
    """A realtime service's parts a `PartyService` uses, on in-memory sessions."""

    def __init__(self, **socket: Any) -> None:
        self.node = NODE
        self.config = Config()
        for k, v in socket.items():
            section, key = k.split("__")
            setattr(getattr(self.config, section), key, v)
        self.registry = SessionRegistry(NODE)
        self.tracker = LocalTracker(NODE)
        self.router = LocalRouter(NODE, self.registry, self.tracker, StatusRegistry())
        self.matchmaker = Matchmaker()
        self.parties = PartyService(self)  # type: ignore[arg-type]
        self.conns: dict[str, Conn] = {}

    def connect(self, name: str) -> PartyPresence:
        conn = Conn()
        self.conns[name] = conn
        self.registry.add(Session(conn, session_id=f"s-{name}", node=NODE, user_id=f"u-{name}",
                                  username=name))
        return who(name)

    def drop(self, name: str) -> None:
        s = self.registry.get(f"s-{name}")
        assert s is not None
        s.closed = True
        self.registry.remove(s)
        self.parties.disconnect(s.id)
        self.tracker.untrack_all(s.id)

    async def pushes(self, name: str) -> list[dict[str, Any]]:
        """What a session received since the last look (after the presence events went out)."""
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        out, self.conns[name].written = self.conns[name].written, []
        return out


def wire(p: PartyPresence) -> dict[str, str]:
    return p.wire()


async def test_service_create_join_and_presence_events():
    n = Node()
    lead, a = n.connect("lead"), n.connect("a")
    p = n.parties.create(lead, open=True, max_size=4)
    pid = str(p.id)
    assert p.id.node == NODE and n.parties.get(pid) is p and len(n.parties) == 1
    assert await n.pushes("lead") == [{"party_presence_event": {"party_id": pid,
                                                                "joins": [wire(lead)]}}]
    assert n.parties.join(a, p.id) is Joined.MEMBER
    # The joiner: its `party` (the party as it is now), then the presence event, as everyone.
    event = {"party_presence_event": {"party_id": pid, "joins": [wire(a)]}}
    assert await n.pushes("a") == [
        {"party": {"party_id": pid, "open": True, "max_size": 4, "self": wire(a),
                   "leader": wire(lead), "presences": [wire(lead), wire(a)]}},
        event]
    assert await n.pushes("lead") == [event]
    assert n.matchmaker.removed_all == [pid]  # the members changed: tickets go
    assert n.parties.of_session("s-a") == [pid]
    with pytest.raises(PartyError, match="party not found"):
        n.parties.join(a, rules.new_id(NODE))
    with pytest.raises(PartyError, match="party not found"):  # another node's party
        n.parties.join(a, PartyId(p.id.uuid, "elsewhere"))


async def test_service_closed_party_requests_accept_and_reject():
    n = Node()
    lead, a, b = n.connect("lead"), n.connect("a"), n.connect("b")
    p = n.parties.create(lead, open=False, max_size=4)
    pid = str(p.id)
    await n.pushes("lead")
    assert n.parties.join(a, p.id) is Joined.REQUESTED
    assert n.parties.join(b, p.id) is Joined.REQUESTED
    assert await n.pushes("lead") == [
        {"party_join_request": {"party_id": pid, "presences": [wire(a)]}},
        {"party_join_request": {"party_id": pid, "presences": [wire(b)]}}]
    assert await n.pushes("a") == []  # it waits
    assert n.parties.join_requests(lead, p.id) == [a, b]
    n.parties.accept(lead, p.id, PartyPresence(a.user_id, a.session_id, a.username, ""))
    assert [next(iter(m)) for m in await n.pushes("a")] == ["party", "party_presence_event"]
    n.parties.remove(lead, p.id, b)  # rejected: told nothing (as Nakama)
    assert await n.pushes("b") == [] and n.parties.of_session("s-b") == []
    assert p.members == [lead, a] and p.requests == []


async def test_service_remove_promote_and_leader_leaving():
    n = Node()
    lead, a, b = n.connect("lead"), n.connect("a"), n.connect("b")
    p = n.parties.create(lead, open=True, max_size=4)
    pid = str(p.id)
    n.parties.join(a, p.id)
    n.parties.join(b, p.id)
    for name in ("lead", "a", "b"):
        await n.pushes(name)
    n.parties.remove(lead, p.id, b)
    assert await n.pushes("b") == [{"party_close": {"party_id": pid}}]
    leave = {"party_presence_event": {"party_id": pid, "leaves": [wire(b)]}}
    assert await n.pushes("lead") == [leave] and await n.pushes("a") == [leave]
    n.parties.promote(lead, p.id, a)
    promoted = {"party_leader": {"party_id": pid, "presence": wire(a)}}
    assert await n.pushes("lead") == [promoted] and await n.pushes("a") == [promoted]
    # The leader leaves: the oldest remaining member leads (here the only one: lead).
    n.parties.leave(a, p.id)
    assert await n.pushes("lead") == [
        {"party_leader": {"party_id": pid, "presence": wire(lead)}},
        {"party_presence_event": {"party_id": pid, "leaves": [wire(a)]}}]
    n.parties.leave(lead, p.id)  # the last one: the party is over
    assert n.parties.get(pid) is None and len(n.parties) == 0
    assert n.parties.of_session("s-lead") == []


async def test_service_close_data_and_disconnects():
    n = Node()
    lead, a, b, c = n.connect("lead"), n.connect("a"), n.connect("b"), n.connect("c")
    p = n.parties.create(lead, open=True, max_size=4)
    pid = str(p.id)
    n.parties.join(a, p.id)
    n.parties.join(b, p.id)
    for name in ("lead", "a", "b"):
        await n.pushes(name)
    n.parties.data(a, p.id, 7, "AQI=")
    data = {"party_data": {"party_id": pid, "presence": wire(a), "op_code": "7", "data": "AQI="}}
    assert await n.pushes("lead") == [data] and await n.pushes("b") == [data]
    assert await n.pushes("a") == []  # no echo
    with pytest.raises(PartyError, match="party member not found"):
        n.parties.data(c, p.id, 1, "")
    # The leader's socket closes: `a` leads; then `b`'s closes.
    n.drop("lead")
    handed_over = [{"party_leader": {"party_id": pid, "presence": wire(a)}},
                   {"party_presence_event": {"party_id": pid, "leaves": [wire(lead)]}}]
    assert await n.pushes("a") == handed_over and await n.pushes("b") == handed_over
    p.open = False
    n.parties.join(c, p.id)  # a request, withdrawn by closing its socket
    assert await n.pushes("a") == [  # to the new leader
        {"party_join_request": {"party_id": pid, "presences": [wire(c)]}}]
    n.drop("c")
    assert p.requests == [] and n.parties.of_session("s-c") == []
    n.parties.close(a, p.id)
    assert await n.pushes("b") == [{"party_close": {"party_id": pid}}]
    assert await n.pushes("a") == [{"party_close": {"party_id": pid}}]
    assert n.parties.get(pid) is None and n.tracker.count(p.id.stream) == 0
    assert n.parties.of_session("s-a") == n.parties.of_session("s-b") == []


async def test_service_matchmaker():
    n = Node()
    lead, a = n.connect("lead"), n.connect("a")
    p = n.parties.create(lead, open=True, max_size=4)
    pid = str(p.id)
    n.parties.join(a, p.id)
    await n.pushes("lead")
    await n.pushes("a")
    with pytest.raises(PartyError, match="party leader only"):
        n.parties.matchmaker_add(a, p.id, query="*", min_count=2, max_count=4, count_multiple=1,
                                 string_properties={}, numeric_properties={})
    ticket = n.parties.matchmaker_add(lead, p.id, query="*", min_count=2, max_count=4,
                                      count_multiple=2, string_properties={"r": "eu"},
                                      numeric_properties={"rank": 3.0})
    presences, kw = n.matchmaker.added[0]
    assert presences == [MatchmakerPresence("u-lead", "s-lead", "lead", NODE),
                         MatchmakerPresence("u-a", "s-a", "a", NODE)]
    assert kw == {"party_id": pid, "query": "*", "min_count": 2, "max_count": 4,
                  "count_multiple": 2, "string_properties": {"r": "eu"},
                  "numeric_properties": {"rank": 3.0}}
    # The other members are told; the leader gets it as its reply.
    assert await n.pushes("a") == [{"party_matchmaker_ticket": {"party_id": pid, "ticket": ticket}}]
    assert await n.pushes("lead") == []
    with pytest.raises(PartyError, match=r"^matchmaker ticket not found$"):
        n.parties.matchmaker_remove(lead, p.id, "nope")
    n.matchmaker.fail = KizunaError(Code.RESOURCE_EXHAUSTED, "matchmaker too many tickets")
    with pytest.raises(PartyError, match=r"^matchmaker too many tickets$"):
        n.parties.matchmaker_add(lead, p.id, query="*", min_count=2, max_count=4,
                                 count_multiple=1, string_properties={}, numeric_properties={})
    n.parties.close(lead, p.id)
    assert n.matchmaker.removed_all[-1] == pid


async def test_service_limits_and_single_party():
    n = Node(socket__max_parties_per_socket=2)
    lead, a = n.connect("lead"), n.connect("a")
    p1 = n.parties.create(lead, open=False, max_size=4)
    n.parties.create(lead, open=True, max_size=4)
    with pytest.raises(KizunaError, match="at most 2 parties"):
        n.parties.create(lead, open=True, max_size=4)
    q1 = n.parties.create(a, open=True, max_size=4)
    n.parties.join(a, p1.id)  # a request counts as well
    with pytest.raises(KizunaError, match="at most 2 parties"):
        n.parties.join(a, n.parties.create(n.connect("x"), open=True, max_size=4).id)
    n.parties.leave(a, p1.id)  # withdrawn: room again
    assert n.parties.of_session("s-a") == [str(q1.id)]

    m = Node(session__single_party=True)
    lead, a = m.connect("lead"), m.connect("a")
    one = m.parties.create(lead, open=True, max_size=4)
    other = m.parties.create(a, open=True, max_size=4)
    m.parties.join(a, one.id)  # in `one` now: out of `other`, which is over
    assert m.parties.of_session("s-a") == [str(one.id)] and m.parties.get(other.id) is None
    two = m.parties.create(lead, open=True, max_size=4)  # lead leaves `one`: `a` leads it
    assert m.parties.of_session("s-lead") == [str(two.id)] and one.leader == a
