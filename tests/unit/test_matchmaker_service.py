"""The matchmaker service (kizuna/realtime/matchmaker.py) in-process: its driver (a pass soon after
an add, at most every MIN_GAP, and when a ticket reaches its last interval), the pushes it sends
through the Router, the matched function's answers, the tokens, and the stats. No server, no
database: a RealtimeService on a Domain without a pool, its Router's sends captured."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from kizuna import config
from kizuna.core.domain import Domain
from kizuna.core.matchmaker import MatchmakerPresence, tokens
from kizuna.errors import Code, KizunaError
from kizuna.realtime import matchmaker as service_module
from kizuna.realtime.service import RealtimeService

KEY = "defaultencryptionkey"


class Modules:
    """A stand-in for the runtime: the matched function's answer, or an exception."""

    def __init__(self, answer: Any = None, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[list[dict[str, Any]]] = []

    def has_matchmaker_matched(self) -> bool:
        return True

    async def matchmaker_matched(self, entries: list[dict[str, Any]]) -> str | None:
        self.calls.append(entries)
        await asyncio.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
async def rt():
    rt = RealtimeService(Domain(config.load(["--matchmaker.interval_sec", "1"], env={}), None))
    rt.sent = []  # type: ignore[attr-defined]

    def send(node: str, session_id: str, data: bytes) -> bool:
        rt.sent.append((time.perf_counter(), node, session_id,  # type: ignore[attr-defined]
                        orjson.loads(data)["matchmaker_matched"]))
        return True

    rt.router.send_to_session = send  # type: ignore[method-assign]
    await rt.matchmaker.start()
    yield rt
    await rt.matchmaker.stop()


def solo(rt: RealtimeService, n: int, *, query: str = "*", min_count: int = 2,
         max_count: int = 2, **strings: str):
    p = MatchmakerPresence(f"u{n}", f"s{n}", f"user{n}", "kizuna")
    return rt.matchmaker.add([p], session_id=p.session_id, query=query, min_count=min_count,
                             max_count=max_count, count_multiple=None,
                             string_properties=strings, numeric_properties={"n": float(n)})


async def pushes(rt: RealtimeService, n: int, timeout: float = 3.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while len(rt.sent) < n:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, rt.sent  # type: ignore[attr-defined]
        await asyncio.sleep(0.005)
    return rt.sent  # type: ignore[attr-defined]


async def test_a_full_group_is_told_at_once_with_one_token(rt):
    t1 = solo(rt, 1, query="+properties.r:eu", r="eu")
    await asyncio.sleep(0.25)
    assert rt.sent == []
    started = time.perf_counter()
    t2 = solo(rt, 2, r="eu")
    sent = await pushes(rt, 2)
    assert max(at for at, *_ in sent) - started < 0.05  # the last pass was long ago: at once
    (_, n1, s1, p1), (_, n2, s2, p2) = sent
    assert (n1, s1, n2, s2) == ("kizuna", "s1", "kizuna", "s2")
    users = [{"presence": {"user_id": f"u{i}", "session_id": f"s{i}", "username": f"user{i}"},
              "string_properties": {"r": "eu"}, "numeric_properties": {"n": i}} for i in (1, 2)]
    assert p1 == {"ticket": t1.id, "token": p1["token"], "users": users, "self": users[0]}
    assert p2 == {"ticket": t2.id, "token": p1["token"], "users": users, "self": users[1]}
    mid = tokens.read(KEY, p1["token"])
    assert not mid.authoritative and mid.stream.mode == 5
    assert len(rt.matchmaker) == 0
    assert len(rt.matchmaker.completions) == 2


async def test_passes_are_at_least_min_gap_apart(rt):
    solo(rt, 1)
    solo(rt, 2)
    first = await pushes(rt, 2)
    done = first[-1][0]
    solo(rt, 3)
    solo(rt, 4)
    sent = await pushes(rt, 4)
    assert sent[-1][0] - done >= service_module.MIN_GAP - 0.01


async def test_a_smaller_group_forms_on_the_last_interval(rt):
    started = time.perf_counter()
    solo(rt, 1, min_count=2, max_count=4)
    solo(rt, 2, min_count=2, max_count=4)
    await asyncio.sleep(0.3)
    assert rt.sent == []  # waiting for four
    sent = await pushes(rt, 2, timeout=4)  # interval_sec 1, max_intervals 2: within 1-2 s
    assert 0.9 < sent[0][0] - started < 2.5


async def test_removed_tickets_are_not_matched(rt):
    t1 = solo(rt, 1)
    assert rt.matchmaker.remove_session("s1", t1.id) is t1
    with pytest.raises(KizunaError) as info:
        rt.matchmaker.remove_session("s1", t1.id)
    assert (info.value.code, info.value.message) == (Code.NOT_FOUND, "Matchmaker ticket not found")
    solo(rt, 2)
    assert [t.id for t in rt.matchmaker.remove_session_all("s2")]
    solo(rt, 3)
    await asyncio.sleep(0.3)
    assert rt.sent == [] and len(rt.matchmaker) == 1


@pytest.mark.parametrize("answer, expected", [
    ("abc.kizuna", "abc.kizuna"), (None, None), ("", None),
    (RuntimeError("boom"), None)])
async def test_the_matched_function_chooses_the_match(rt, answer, expected):
    rt.modules = Modules(answer)
    t1 = solo(rt, 1)
    t2 = solo(rt, 2)
    sent = await pushes(rt, 2)
    [entries] = rt.modules.calls
    assert entries == [
        {"presence": {"user_id": "u1", "session_id": "s1", "username": "user1", "node": "kizuna"},
         "properties": {"n": 1.0}, "party_id": "", "ticket": t1.id},
        {"presence": {"user_id": "u2", "session_id": "s2", "username": "user2", "node": "kizuna"},
         "properties": {"n": 2.0}, "party_id": "", "ticket": t2.id}]
    for *_, push in sent:
        if expected is None:
            assert "match_id" not in push and tokens.read(KEY, push["token"])
        else:
            assert push["match_id"] == expected and "token" not in push


async def test_a_slow_matched_function_holds_no_other_group(rt):
    rt.modules = Modules("slow.kizuna", delay=1.0)
    solo(rt, 1)
    solo(rt, 2)
    await asyncio.sleep(0.15)
    rt.modules.delay = 0.0
    solo(rt, 3)
    solo(rt, 4)
    sent = await pushes(rt, 2)
    assert {s[2] for s in sent[:2]} == {"s3", "s4"}
    await pushes(rt, 4)


async def test_stop_cancels_what_is_under_way(rt):
    rt.modules = Modules("never.kizuna", delay=30)
    solo(rt, 1)
    solo(rt, 2)
    await asyncio.sleep(0.2)
    await asyncio.wait_for(rt.matchmaker.stop(), 2)
    assert rt.sent == []


async def test_stats_and_pass_figures(rt):
    assert rt.matchmaker.stats().ticket_count == 0
    assert rt.matchmaker.pass_quantiles() == {}
    solo(rt, 1, query="+properties.r:none")
    stats = rt.matchmaker.stats()
    assert stats.ticket_count == 1
    assert stats.oldest_ticket_create_time is not None
    assert abs(stats.oldest_ticket_create_time.timestamp() - time.time()) < 2
    await asyncio.sleep(0.2)
    assert set(rt.matchmaker.pass_quantiles()) == {("0.5",), ("0.99",), ("1",)}


def test_numbers_as_protojson_writes_doubles():
    number = service_module._number
    assert (number(3.0), number(2.5), number(float("inf")), number(-float("inf"))) == (
        3, 2.5, "Infinity", "-Infinity")
    assert isinstance(number(1e300), float)


def test_tokens():
    mid = "11111111-2222-3333-4444-555555555555."
    token = tokens.issue(KEY, mid, now=time.time())
    assert str(tokens.read(KEY, token)) == mid
    for bad in (tokens.issue("other", mid), tokens.issue(KEY, mid, now=time.time() - 31),
                tokens.issue(KEY, "nope"), "x.y.z", ""):
        with pytest.raises(KizunaError) as info:
            tokens.read(KEY, bad)
        assert info.value.message == "Invalid match token"
    assert tokens.relayed_match_id().endswith(".")
