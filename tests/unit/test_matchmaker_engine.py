"""The matchmaker's engine (kizuna/core/matchmaker/engine.py, index.py): tickets, the rules of a
group, Nakama's interval behaviour, the add/remove rules, and the indexes' completeness."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from kizuna.config import MatchmakerConfig
from kizuna.core.matchmaker import (
    TICKET_NOT_FOUND,
    TOO_MANY_TICKETS,
    Matched,
    Matchmaker,
    MatchmakerPresence,
    Ticket,
)
from kizuna.errors import Code, KizunaError

INTERVAL = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mm(clock: Clock) -> Matchmaker:
    ids = (f"t{i}" for i in itertools.count(1))
    return Matchmaker(max_tickets=3, interval_sec=INTERVAL, max_intervals=2, clock=clock,
                      new_id=lambda: next(ids))


def solo(mm: Matchmaker, user: str, *, query: str = "*", min_count: int = 2,
         max_count: int = 2, count_multiple: int = 1, session: str | None = None,
         **properties: str | float) -> Ticket:
    sid = session or f"s-{user}"
    return mm.add([MatchmakerPresence(user, sid, user)], session_id=sid, query=query,
                  min_count=min_count, max_count=max_count, count_multiple=count_multiple,
                  string_properties={k: v for k, v in properties.items() if isinstance(v, str)},
                  numeric_properties={k: v for k, v in properties.items()
                                      if not isinstance(v, str)})


def party(mm: Matchmaker, party_id: str, users: list[str], *, query: str = "*",
          min_count: int = 2, max_count: int = 2, count_multiple: int = 1,
          **properties: str | float) -> Ticket:
    return mm.add([MatchmakerPresence(u, f"s-{u}", u) for u in users], party_id=party_id,
                  query=query, min_count=min_count, max_count=max_count,
                  count_multiple=count_multiple,
                  string_properties={k: v for k, v in properties.items() if isinstance(v, str)},
                  numeric_properties={k: v for k, v in properties.items()
                                      if not isinstance(v, str)})


def groups(matched: list[Matched]) -> list[set[str]]:
    return [{t.id for t in g.tickets} for g in matched]


def users_of(matched: list[Matched]) -> list[set[str]]:
    return [{p.user_id for _, p in g.entries()} for g in matched]


def last_interval(mm: Matchmaker, clock: Clock) -> None:
    """Move the clock to the tick where the tickets added so far reach their last interval."""
    clock.now = math.floor(clock.now / INTERVAL) * INTERVAL + mm.max_intervals * INTERVAL


# -- adding --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("counts", "message"), [
    ((1, 2, 1), "Invalid minimum count, must be >= 2"),
    ((3, 2, 1), "Invalid maximum count, must be >= minimum count"),
    ((1, 1, 0), "Invalid minimum count, must be >= 2"),  # Nakama's order: the first one failing
    ((2, 4, 0), "Invalid count multiple, must be >= 1"),
    ((3, 6, 2), "Invalid count multiple for minimum count, must divide"),
    ((2, 5, 2), "Invalid count multiple for maximum count, must divide"),
])
def test_counts_are_checked_as_nakama_does(mm: Matchmaker, counts: tuple[int, int, int],
                                           message: str) -> None:
    with pytest.raises(KizunaError) as caught:
        solo(mm, "a", min_count=counts[0], max_count=counts[1], count_multiple=counts[2])
    assert (caught.value.code, caught.value.message) == (Code.INVALID_ARGUMENT, message)
    assert len(mm) == 0


def test_an_invalid_query_is_refused(mm: Matchmaker) -> None:
    with pytest.raises(KizunaError) as caught:
        solo(mm, "a", query="+properties.region:(eu")
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message.startswith("Invalid matchmaker query: ")
    assert len(mm) == 0 and not mm.session_tickets("s-a")


def test_a_ticket_holds_a_session_once(mm: Matchmaker) -> None:
    p = MatchmakerPresence("a", "s-a")
    with pytest.raises(KizunaError) as caught:
        mm.add([p, p], party_id="p1", min_count=2, max_count=4)
    assert caught.value.message == "matchmaker duplicate session"
    with pytest.raises(KizunaError):
        mm.add([], session_id="s-a", min_count=2, max_count=2)


def test_a_numeric_property_must_be_a_number(mm: Matchmaker) -> None:
    with pytest.raises(KizunaError) as caught:
        solo(mm, "a", rank=float("nan"))
    assert caught.value.code == Code.INVALID_ARGUMENT
    solo(mm, "b", rank=float("inf"), query="+properties.rank:>=1000")  # infinity is ordered
    solo(mm, "c", rank=5000, query="+properties.rank:>=1000")
    assert users_of(mm.match()) == [{"b", "c"}]


def test_an_empty_query_means_everything(mm: Matchmaker) -> None:
    solo(mm, "a", query="", x=1)
    solo(mm, "b", query="+properties.x:1", x=2)
    assert len(mm.match()) == 1


def test_the_ticket_records_what_was_asked(mm: Matchmaker, clock: Clock) -> None:
    clock.now = 3.5
    t = solo(mm, "a", query="+properties.mode:duel", mode="duel", rank=7, min_count=2,
             max_count=4, count_multiple=2)
    assert t.id == "t1" and mm.get("t1") is t and "t1" in mm
    assert (t.min_count, t.max_count, t.count_multiple) == (2, 4, 2)
    assert t.string_properties == {"mode": "duel"}
    assert t.numeric_properties == {"rank": 7.0}
    assert t.session_id == "s-a" and t.party_id == "" and t.created == 3.5
    assert t.query.text == "+properties.mode:duel"
    assert [p.user_id for p in t.presences] == ["a"]


def test_a_name_in_both_property_maps_is_numeric(mm: Matchmaker) -> None:
    t = mm.add([MatchmakerPresence("a", "s-a")], session_id="s-a", min_count=2, max_count=2,
               string_properties={"rank": "high"}, numeric_properties={"rank": 3})
    assert t.values == {"properties.rank": 3.0}
    assert t.string_properties == {"rank": "high"}  # reported as given


# -- max_tickets and removal -----------------------------------------------------------------


def test_max_tickets_per_session(mm: Matchmaker) -> None:
    for _ in range(3):
        solo(mm, "a", query="+properties.never:1")
    with pytest.raises(KizunaError) as caught:
        solo(mm, "a", query="+properties.never:1")
    assert (caught.value.code, caught.value.message) == (Code.RESOURCE_EXHAUSTED,
                                                         TOO_MANY_TICKETS)
    assert caught.value.message == "matchmaker too many tickets"
    solo(mm, "b", query="+properties.never:1")  # another session is not affected
    mm.remove_session("s-a", mm.session_tickets("s-a")[0].id)
    solo(mm, "a", query="+properties.never:1")  # room again


def test_party_tickets_count_for_their_members_and_the_party(mm: Matchmaker) -> None:
    solo(mm, "a", query="+properties.never:1")
    solo(mm, "a", query="+properties.never:1")
    party(mm, "p1", ["a", "b"], query="+properties.never:1", max_count=4)
    assert len(mm.session_tickets("s-a")) == 3
    with pytest.raises(KizunaError):
        solo(mm, "a", query="+properties.never:1")  # a's third ticket is the party's
    party(mm, "p1", ["b", "c"], query="+properties.never:1", max_count=4)
    party(mm, "p1", ["c", "d"], query="+properties.never:1", max_count=4)
    with pytest.raises(KizunaError) as caught:
        party(mm, "p1", ["d", "e"], query="+properties.never:1", max_count=4)
    assert caught.value.code == Code.RESOURCE_EXHAUSTED  # the party holds 3


def test_remove_a_session_ticket(mm: Matchmaker) -> None:
    t = solo(mm, "a")
    for session, ticket in [("s-b", t.id), ("s-a", "nope")]:
        with pytest.raises(KizunaError) as caught:
            mm.remove_session(session, ticket)
        assert (caught.value.code, caught.value.message) == (Code.NOT_FOUND, TICKET_NOT_FOUND)
    assert mm.remove_session("s-a", t.id) is t
    assert len(mm) == 0 and not mm.session_tickets("s-a")
    with pytest.raises(KizunaError):
        mm.remove_session("s-a", t.id)


def test_a_party_ticket_is_removed_by_the_party_only(mm: Matchmaker) -> None:
    t = party(mm, "p1", ["a", "b"], max_count=4)
    with pytest.raises(KizunaError):
        mm.remove_session("s-a", t.id)
    with pytest.raises(KizunaError):
        mm.remove_party("p2", t.id)
    mm.remove_party("p1", t.id)
    assert len(mm) == 0 and not mm.party_tickets("p1") and not mm.session_tickets("s-b")


def test_remove_everything_of_a_session_or_a_party(mm: Matchmaker) -> None:
    a1 = solo(mm, "a", query="+properties.never:1")
    pa = party(mm, "p1", ["a", "b"], query="+properties.never:1", max_count=4)
    b1 = solo(mm, "b", query="+properties.never:1")
    assert {t.id for t in mm.remove_session_all("s-a")} == {a1.id, pa.id}  # on disconnect
    assert mm.remove_session_all("s-a") == []
    assert [t.id for t in mm.tickets()] == [b1.id]
    p2 = party(mm, "p2", ["c", "d"], query="+properties.never:1", max_count=4)
    assert mm.remove_party_all("p2") == [p2]
    assert [t.id for t in mm.remove([b1.id, "unknown"])] == [b1.id]
    assert len(mm) == 0


def test_removed_tickets_never_match(mm: Matchmaker) -> None:
    a = solo(mm, "a")
    solo(mm, "b")
    mm.remove_session("s-a", a.id)
    assert mm.match() == []
    solo(mm, "c")
    assert users_of(mm.match()) == [{"b", "c"}]


def test_indexes_are_empty_again_when_the_pool_is(mm: Matchmaker) -> None:
    solo(mm, "a", query="+properties.region:eu +properties.rank:>=3", region="eu", rank=4)
    solo(mm, "b", query="properties.mode:x properties.mode:y", mode="x", rank=9)
    solo(mm, "c", query="-properties.region:us", region="eu")
    party(mm, "p", ["d", "e"], query="+properties.rank:5", rank=5, max_count=4)
    mm.remove_session_all("s-a")
    mm.remove_session_all("s-b")
    mm.remove_session_all("s-c")
    mm.remove_party_all("p")
    index = mm._index
    assert index.tickets == {} and index.maxes == {} and index.reverse == {}
    assert index.forward == {(): {}} and index.forward_users == {} and index.numbers == {}
    assert mm._session_tickets == {} and mm._party_tickets == {}


# -- mutual acceptance -------------------------------------------------------------------------


def test_both_queries_must_accept(mm: Matchmaker) -> None:
    solo(mm, "a", query="+properties.region:eu", region="us")
    solo(mm, "b", query="*", region="us")  # a rejects b
    assert mm.match() == []
    solo(mm, "c", query="+properties.region:us", region="eu")  # c accepts a, a accepts c
    assert users_of(mm.match()) == [{"a", "c"}]


def test_every_pair_in_a_group_accepts_each_other(mm: Matchmaker) -> None:
    solo(mm, "a", max_count=3, min_count=3, rank=5)
    solo(mm, "b", max_count=3, min_count=3, rank=1, query="-properties.rank:9")
    solo(mm, "c", max_count=3, min_count=3, rank=9)  # a accepts c, but b does not
    assert mm.match() == []
    solo(mm, "d", max_count=3, min_count=3, rank=2)
    assert users_of(mm.match()) == [{"a", "b", "d"}]
    assert [t.presences[0].user_id for t in mm.tickets()] == ["c"]


def test_a_numeric_property_is_found_by_a_number_term(mm: Matchmaker) -> None:
    solo(mm, "a", query="+properties.level:3", level=1)
    solo(mm, "b", query="+properties.level:1", level=3)
    assert users_of(mm.match()) == [{"a", "b"}]


# -- sizes -------------------------------------------------------------------------------------


def test_a_group_fills_to_max_count_at_once(mm: Matchmaker) -> None:
    for u in "abc":
        solo(mm, u, min_count=2, max_count=4)
    assert mm.match() == []  # three of four: wait for a fourth
    solo(mm, "d", min_count=2, max_count=4)
    assert users_of(mm.match()) == [{"a", "b", "c", "d"}]


def test_min_count_only_on_the_last_interval(mm: Matchmaker, clock: Clock) -> None:
    for u in "abc":
        solo(mm, u, min_count=2, max_count=4)
    assert mm.match() == []
    clock.now = INTERVAL + 1  # one tick later: not the last interval yet (max_intervals 2)
    assert not mm.pending()
    assert mm.match() == []
    last_interval(mm, clock)
    assert mm.pending()
    assert users_of(mm.match()) == [{"a", "b", "c"}]


def test_count_multiple_on_the_last_interval(mm: Matchmaker, clock: Clock) -> None:
    for u in "abc":
        solo(mm, u, min_count=2, max_count=4, count_multiple=2)
    last_interval(mm, clock)
    matched = mm.match()
    assert [g.size for g in matched] == [2]  # 3 is not a multiple of 2
    assert users_of(matched) == [{"a", "b"}]  # the longest waiting
    assert len(mm) == 1


def test_sizes_are_multiples_of_every_member(mm: Matchmaker, clock: Clock) -> None:
    solo(mm, "a", min_count=2, max_count=6, count_multiple=2)
    solo(mm, "b", min_count=3, max_count=6, count_multiple=3)
    for u in "cdef":
        solo(mm, u, min_count=2, max_count=6)
    matched = mm.match()
    assert [g.size for g in matched] == [6]  # lcm(2, 3): the full group of 6
    assert users_of(matched) == [set("abcdef")]


def test_min_count_of_every_member(mm: Matchmaker, clock: Clock) -> None:
    solo(mm, "a", min_count=2, max_count=4)
    solo(mm, "b", min_count=4, max_count=4)
    solo(mm, "c", min_count=2, max_count=4)
    last_interval(mm, clock)
    matched = mm.match()
    # b needs four: a and c form a group of two without it
    assert users_of(matched) == [{"a", "c"}]


def test_a_ticket_is_not_pulled_into_a_group_smaller_than_it_wants(mm: Matchmaker,
                                                                   clock: Clock) -> None:
    solo(mm, "a", min_count=2, max_count=2)
    solo(mm, "b", min_count=2, max_count=4)
    assert mm.match() == []  # a (max 2) never pulls b (max 4); b waits for four
    last_interval(mm, clock)
    # On its last interval b takes a group of two with a (whose max is not larger).
    assert users_of(mm.match()) == [{"a", "b"}]


def test_until_its_last_interval_a_ticket_groups_with_its_own_max_count(mm: Matchmaker) -> None:
    solo(mm, "a", min_count=2, max_count=4)
    solo(mm, "b", min_count=2, max_count=3)
    solo(mm, "c", min_count=2, max_count=4)
    solo(mm, "d", min_count=2, max_count=4)
    assert mm.match() == []
    solo(mm, "e", min_count=2, max_count=4)
    assert users_of(mm.match()) == [{"a", "c", "d", "e"}]


# -- parties and users -------------------------------------------------------------------------


def test_a_party_stays_together(mm: Matchmaker) -> None:
    party(mm, "p1", ["a", "b"], min_count=3, max_count=3)
    solo(mm, "c", min_count=3, max_count=3)
    matched = mm.match()
    assert users_of(matched) == [{"a", "b", "c"}] and matched[0].size == 3
    entries = matched[0].entries()
    assert [(t.party_id, p.user_id) for t, p in entries] == [("p1", "a"), ("p1", "b"), ("", "c")]


def test_a_party_that_does_not_fit_waits(mm: Matchmaker, clock: Clock) -> None:
    party(mm, "p1", ["a", "b", "c"], min_count=2, max_count=4)
    party(mm, "p2", ["d", "e"], min_count=2, max_count=4)
    solo(mm, "f", min_count=2, max_count=4)
    matched = mm.match()
    assert users_of(matched) == [{"a", "b", "c", "f"}]  # 3 + 2 does not fit in 4
    party(mm, "p3", ["g", "h", "i"], min_count=2, max_count=2)  # bigger than its max
    last_interval(mm, clock)
    assert mm.match() == []


def test_two_tickets_of_one_party_never_meet(mm: Matchmaker) -> None:
    party(mm, "p1", ["a", "b"], min_count=4, max_count=4)
    party(mm, "p1", ["c", "d"], min_count=4, max_count=4)
    assert mm.match() == []
    party(mm, "p2", ["e", "f"], min_count=4, max_count=4)
    assert users_of(mm.match()) == [{"a", "b", "e", "f"}]


def test_a_user_never_appears_twice_in_a_group(mm: Matchmaker) -> None:
    solo(mm, "a", session="s-a1")
    solo(mm, "a", session="s-a2")  # the same user from another session
    assert mm.match() == []
    solo(mm, "b")
    matched = mm.match()
    assert users_of(matched) == [{"a", "b"}]
    assert [t.session_id for t in matched[0].tickets] == ["s-a1", "s-b"]


def test_matched_tickets_leave_the_pool(mm: Matchmaker) -> None:
    solo(mm, "a")
    solo(mm, "b")
    [group] = mm.match()
    assert len(mm) == 0 and not mm.session_tickets("s-a")
    assert all(t.id not in mm for t in group.tickets)
    with pytest.raises(KizunaError):
        mm.remove_session("s-a", group.tickets[0].id)


# -- order and scores --------------------------------------------------------------------------


def test_longest_waiting_first(mm: Matchmaker) -> None:
    for u in "abcde":
        solo(mm, u)
    assert users_of(mm.match()) == [{"a", "b"}, {"c", "d"}]
    assert [t.presences[0].user_id for t in mm.tickets()] == ["e"]


def test_higher_scores_first(mm: Matchmaker) -> None:
    solo(mm, "low", skill="low")
    solo(mm, "mid", skill="mid")
    solo(mm, "high", skill="high")
    solo(mm, "me", query="properties.skill:high^5 properties.skill:mid^2 properties.skill:low",
         skill="x")
    matched = mm.match()
    # The three older tickets searched first and paired low with mid; "me" takes high.
    assert users_of(matched) == [{"low", "mid"}, {"high", "me"}]


def test_scores_pick_among_candidates(mm: Matchmaker) -> None:
    solo(mm, "low", skill="low", query="+properties.skill:x")
    solo(mm, "high", skill="high", query="+properties.skill:x")
    assert mm.match() == []
    solo(mm, "me", query="properties.skill:high^5 properties.skill:low", skill="x")
    assert users_of(mm.match()) == [{"high", "me"}]  # the better candidate, though newer


def test_the_same_adds_give_the_same_groups(clock: Clock) -> None:
    def run() -> list[list[str]]:
        ids = (f"t{i}" for i in itertools.count(1))
        mm = Matchmaker(clock=clock, new_id=lambda: next(ids))
        rng = random.Random(7)
        for i in range(300):
            solo(mm, f"u{i}", query=f"+properties.rank:>={rng.randint(0, 5)}",
                 min_count=2, max_count=rng.choice([2, 4]), rank=rng.randint(0, 9))
        return [[t.id for t in g.tickets] for g in mm.match(0.0)]
    assert run() == run()


# -- intervals ---------------------------------------------------------------------------------


def test_intervals_follow_nakamas_ticks(mm: Matchmaker, clock: Clock) -> None:
    clock.now = 10.0
    t = solo(mm, "a", min_count=2, max_count=4)
    assert mm.intervals(t, 14.9) == 0
    assert mm.intervals(t, 15.0) == 1  # the engine's ticks are 15 s apart from its start
    assert mm.intervals(t, 30.0) == 2
    assert mm.next_due() == 30.0  # its second tick: the last interval (max_intervals 2)
    assert t.last_at == 30.0


def test_a_ticket_searches_when_added_and_at_its_last_interval(mm: Matchmaker,
                                                               clock: Clock) -> None:
    solo(mm, "a", min_count=2, max_count=4)
    assert mm.pending()
    mm.match()
    assert not mm.pending() and mm.next_due() == 2 * INTERVAL
    solo(mm, "b", min_count=2, max_count=4)
    assert mm.match() == []  # b searched; a did not need to
    clock.now = 2 * INTERVAL
    assert mm.pending()
    assert users_of(mm.match()) == [{"a", "b"}]
    assert mm.next_due() is None


def test_equal_min_and_max_never_wait_for_an_interval(mm: Matchmaker) -> None:
    solo(mm, "a", min_count=3, max_count=3)
    assert mm.next_due() is None
    mm.match()
    assert not mm.pending()


def test_each_pass_can_form_groups(mm: Matchmaker, clock: Clock) -> None:
    """Nakama matches every 15 s; Kizuna forms a full group on the first pass after its last
    ticket arrives, however often passes run."""
    solo(mm, "a")
    clock.now = 0.2
    solo(mm, "b")
    assert users_of(mm.match()) == [{"a", "b"}]


def test_max_searches_spreads_a_burst(mm: Matchmaker) -> None:
    for u in "abcdef":
        solo(mm, u, query="+properties.never:1")
    for u in "ghij":
        solo(mm, u)
    assert mm.match(max_searches=6) == []  # the six oldest searched and found nothing
    assert mm.pending()
    assert users_of(mm.match(max_searches=6)) == [{"g", "h"}, {"i", "j"}]
    assert not mm.pending()


def test_from_config(clock: Clock) -> None:
    mm = Matchmaker.from_config(MatchmakerConfig(max_tickets=1, interval_sec=5, max_intervals=3),
                                clock=clock)
    assert (mm.max_tickets, mm.interval_sec, mm.max_intervals) == (1, 5.0, 3)
    t = solo(mm, "a", min_count=2, max_count=4)
    assert t.last_at == 15.0
    with pytest.raises(KizunaError):
        solo(mm, "a")


# -- invariants on random pools ----------------------------------------------------------------


REGIONS = ["eu", "us", "asia"]
MODES = ["ranked", "casual"]


_serial = itertools.count(1)


def random_pool(mm: Matchmaker, rng: random.Random, n: int) -> None:
    for _ in range(n):
        i = next(_serial)
        region, mode, rank = rng.choice(REGIONS), rng.choice(MODES), rng.randint(1, 20)
        shape = rng.choice([(2, 2, 1), (2, 4, 1), (4, 4, 2), (2, 6, 2), (3, 3, 1)])
        query = rng.choice([
            "*",
            f"+properties.region:{region} +properties.mode:{mode}",
            f"+properties.mode:{mode} +properties.rank:>={rank - 4} +properties.rank:<={rank + 4}",
            f"properties.region:{region}^3 properties.region:{rng.choice(REGIONS)}",
            f"-properties.region:{rng.choice(REGIONS)}",
            f"+properties.rank:{rank} properties.mode:{mode}",
            f"+properties.region:{region} properties.rank:>={rank}^2",
            "properties.region:e*",
        ])
        props: dict[str, str | float] = {"region": region, "mode": mode, "rank": rank}
        size = rng.choice([1, 1, 1, 2])
        users = [f"u{rng.randint(0, n)}" for _ in range(size)]
        if len(set(users)) < size:
            continue
        if size == 1:
            solo(mm, users[0], session=f"s{i}", query=query, min_count=shape[0],
                 max_count=shape[1], count_multiple=shape[2], **props)
        else:
            mm.add([MatchmakerPresence(u, f"s{i}-{u}") for u in users],
                   party_id=f"p{i}", query=query, min_count=shape[0],
                   max_count=shape[1], count_multiple=shape[2],
                   string_properties={"region": region, "mode": mode},
                   numeric_properties={"rank": rank})


def accepts(a: Ticket, b: Ticket) -> bool:
    return a.query.evaluate(b.strings, b.numbers) >= 0


def check_group(g: Matched, now: float) -> None:
    size = g.size
    assert len(g.tickets) >= 2
    users = [p.user_id for _, p in g.entries()]
    assert len(users) == len(set(users)), "a user twice"
    parties = [t.party_id for t in g.tickets if t.party_id]
    assert len(parties) == len(set(parties)), "two tickets of one party"
    for t in g.tickets:
        assert t.min_count <= size <= t.max_count and size % t.count_multiple == 0, (t, size)
    for a, b in itertools.permutations(g.tickets, 2):
        assert accepts(a, b), (a, b)


@pytest.mark.parametrize("seed", range(6))
def test_every_group_keeps_every_rule(clock: Clock, seed: int) -> None:
    rng = random.Random(seed)
    mm = Matchmaker(clock=clock)
    formed: list[Matched] = []
    for step in range(6):
        random_pool(mm, rng, 150)
        clock.now = step * 8.0
        formed += mm.match()
    last_interval(mm, clock)
    formed += mm.match()
    assert formed
    for g in formed:
        check_group(g, clock.now)


@pytest.mark.parametrize("seed", range(4))
def test_the_indexes_never_hide_a_candidate(clock: Clock, seed: int) -> None:
    """Every ticket that could join a ticket's group is among the candidates the indexes give,
    on its last interval or not."""
    rng = random.Random(100 + seed)
    mm = Matchmaker(clock=clock)
    random_pool(mm, rng, 400)
    tickets = mm.tickets()
    for t in tickets:
        for last in (False, True):
            found = {c.id for c in mm._index.candidates(t, last)}
            for c in tickets:
                if c is t or not (accepts(t, c) and accepts(c, t)):
                    continue
                if c.max_count > t.max_count or (not last and c.max_count != t.max_count):
                    continue
                assert c.id in found, (t, c, last)


@pytest.mark.parametrize("seed", range(3))
def test_the_indexes_give_candidates_longest_waiting_first(clock: Clock, seed: int) -> None:
    rng = random.Random(200 + seed)
    mm = Matchmaker(clock=clock)
    random_pool(mm, rng, 300)
    for t in mm.tickets():
        seqs = [c.seq for c in mm._index.candidates(t, True)]
        assert seqs == sorted(seqs)


def test_no_pair_is_left_that_a_last_pass_would_match(clock: Clock) -> None:
    """After a pass where every ticket is on its last interval, no two waiting duel tickets
    accept each other (greedy, but not careless)."""
    rng = random.Random(5)
    mm = Matchmaker(clock=clock)
    for i in range(300):
        rank = rng.randint(1, 30)
        solo(mm, f"u{i}", query=f"+properties.rank:>={rank - 3} +properties.rank:<={rank + 3}",
             rank=rank)
    mm.match()
    left = mm.tickets()
    for a, b in itertools.combinations(left, 2):
        assert not (accepts(a, b) and accepts(b, a))
