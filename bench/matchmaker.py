"""Matchmaker benchmark: the engine alone (kizuna/core/matchmaker), in this process.

    .venv/bin/python bench/matchmaker.py [--sizes 1000,10000] [--runs 5] [--budget 1500]
        [--passes 100] [--arrivals 40] [--seed 1]

Players of a realistic game: 8 regions, 3 modes, ranks 1-100 around 50; duels (2), free-for-all
(2-4), teams (4-8 in pairs, half of them as parties of 2) and squads (4, parties of 2). Their
queries: most pin region and mode and require a rank window (+/-5); some rank the window
instead (optional boosted clauses, so candidates are scored); some only exclude a region;
some send `*`. Scenarios, for each pool size N:

- add: N tickets added (the query parsed and compiled once per distinct text): us per add.
- cold pass: one pass over N tickets that were all just added (every one searches): ms.
- boundary pass: the tickets left unmatched all reach their last interval in the same pass
  (every one searches again, smaller groups now allowed): ms.
- burst: the cold pass again, spread by match(max_searches=--budget) over passes 200 ms apart:
  how many passes, the longest.
- steady passes: N waiting tickets that every new ticket of their region, mode and size must
  examine and reject (the pessimistic pool), then --passes passes each with --arrivals new
  tickets (40: a pass every 200 ms at 200 adds/s); only new tickets search: p50/p99/max ms.

Cold and boundary figures are the median (and worst) of --runs runs (fresh pools, other seeds),
with the groups formed and the users they hold; then the process's peak RSS. The heap is
collected and frozen before timing (see settle()).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import resource
import statistics
import time

from kizuna.core.matchmaker import Matchmaker, MatchmakerPresence
from kizuna.core.matchmaker.query import compile_query

REGIONS = ["eu", "us-east", "us-west", "asia", "sa", "oce", "me", "af"]
REGION_WEIGHTS = [30, 20, 15, 15, 8, 5, 4, 3]
MODES = ["ranked", "casual", "custom"]
MODE_WEIGHTS = [50, 35, 15]
INTERVAL = 15.0


class Players:
    """A stream of tickets for one seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = itertools.count(1)

    def ticket(self) -> dict:
        rng = self.rng
        region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
        mode = rng.choices(MODES, MODE_WEIGHTS)[0]
        rank = max(1, min(100, round(rng.gauss(50, 15))))
        shape = rng.random()
        party = 1
        if shape < 0.45:
            counts = (2, 2, 1)
        elif shape < 0.75:
            counts = (2, 4, 1)
        elif shape < 0.90:
            counts = (4, 8, 2)
            party = 2 if rng.random() < 0.5 else 1
        else:
            counts = (4, 4, 1)
            party = 2
        kind = rng.random()
        if kind < 0.60:
            query = (f"+properties.region:{region} +properties.mode:{mode} "
                     f"+properties.rank:>={rank - 5} +properties.rank:<={rank + 5}")
        elif kind < 0.80:
            query = (f"+properties.region:{region} +properties.mode:{mode} "
                     f"properties.rank:>={rank - 10}^2 properties.rank:<={rank + 10}^2")
        elif kind < 0.90:
            other = rng.choice([r for r in REGIONS if r != region])
            query = f"+properties.mode:{mode} -properties.region:{other}"
        else:
            query = "*"
        presences = []
        for _ in range(party):
            user = next(self.users)
            presences.append(MatchmakerPresence(f"u{user}", f"s{user}", f"player{user}"))
        party_id = f"p{presences[0].user_id}" if party > 1 else ""
        return dict(presences=presences, session_id="" if party_id else presences[0].session_id,
                    party_id=party_id, query=query, min_count=counts[0], max_count=counts[1],
                    count_multiple=counts[2], string_properties={"region": region, "mode": mode},
                    numeric_properties={"rank": rank})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settle() -> None:
    """Collect, then freeze the heap built so far: a full (generation 2) collection walks the
    whole heap, and one landing in a timed pass would be the collector's figure, not the
    engine's (a server would gc.freeze() after start-up for the same reason)."""
    gc.collect()
    gc.freeze()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def users_in(groups: list) -> int:
    return sum(g.size for g in groups)


def cold(n: int, seed: int) -> dict[str, float]:
    """n tickets added, then the pass where they all search, then the pass where the ones left
    all reach their last interval."""
    compile_query.cache_clear()
    players = Players(seed)
    clock = Clock()
    mm = Matchmaker(interval_sec=INTERVAL, max_intervals=2, clock=clock)
    clock.now = 1.0
    specs = [players.ticket() for _ in range(n)]
    started = time.perf_counter()
    for spec in specs:
        mm.add(**spec)
    add_us = (time.perf_counter() - started) / n * 1e6
    distinct = len({s["query"] for s in specs})
    settle()

    started = time.perf_counter()
    groups = mm.match(clock.now)
    cold = time.perf_counter() - started
    cold_groups, cold_users, left = len(groups), users_in(groups), len(mm)

    clock.now = 1.0 + 2 * INTERVAL  # every waiting ticket is now on its last interval
    started = time.perf_counter()
    groups = mm.match(clock.now)
    boundary = time.perf_counter() - started
    gc.unfreeze()
    return dict(add_us=add_us, distinct=distinct, cold=cold, cold_groups=cold_groups,
                cold_users=cold_users, left=left, boundary=boundary,
                boundary_groups=len(groups), boundary_users=users_in(groups))


def burst(n: int, seed: int, budget: int) -> dict[str, float]:
    """The cold pass spread by `match(max_searches=budget)`: passes until nothing is pending."""
    compile_query.cache_clear()
    players = Players(seed)
    clock = Clock()
    mm = Matchmaker(interval_sec=INTERVAL, max_intervals=2, clock=clock)
    clock.now = 1.0
    for _ in range(n):
        mm.add(**players.ticket())
    settle()
    times: list[float] = []
    while mm.pending(clock.now):
        started = time.perf_counter()
        mm.match(clock.now, max_searches=budget)
        times.append(time.perf_counter() - started)
        clock.now += 0.2
    gc.unfreeze()
    return dict(passes=len(times), max=max(times), left=len(mm))


def steady(n: int, seed: int, passes: int, arrivals: int) -> dict[str, float]:
    """A pool of n waiting tickets that searched already and that every new ticket of their
    region, mode and size examines and rejects (each requires a game version only it has: the
    pessimistic pool, where waiting tickets cost the most), then passes with `arrivals` new
    tickets of the usual mix each."""
    players = Players(seed)
    clock = Clock()
    mm = Matchmaker(interval_sec=INTERVAL, max_intervals=2, clock=clock)
    clock.now = 1.0
    for i in range(n):
        spec = players.ticket()
        spec["query"] = f"+properties.version:v{i} " + spec["query"].replace("*", "")
        spec["string_properties"]["version"] = f"v{i}"
        mm.add(**spec)
    assert not mm.match(clock.now)
    settle()
    times: list[float] = []
    groups = 0
    for _ in range(passes):
        clock.now += 0.2  # never reaching an interval: only the new tickets search
        for _ in range(arrivals):
            mm.add(**players.ticket())
        started = time.perf_counter()
        formed = mm.match(clock.now)
        times.append(time.perf_counter() - started)
        groups += len(formed)
    gc.unfreeze()
    return dict(p50=statistics.median(times), p99=pct(times, 99), max=max(times),
                groups=groups / passes, waiting=len(mm))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--passes", type=int, default=100)
    ap.add_argument("--arrivals", type=int, default=40)
    ap.add_argument("--budget", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"kizuna matchmaker bench: cold and boundary passes {args.runs} runs each, median "
          f"(worst); steady: {args.passes} passes of {args.arrivals} new tickets")
    for n in (int(s) for s in args.sizes.split(",")):
        results = [cold(n, args.seed + i) for i in range(args.runs)]

        def fig(key: str, scale: float = 1.0, fmt: str = "{:.1f}",
                results: list[dict[str, float]] = results) -> str:
            values = [r[key] * scale for r in results]
            return f"{fmt.format(statistics.median(values))} ({fmt.format(max(values))})"

        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"\n{n} tickets ({med['distinct']:.0f} distinct queries)")
        print(f"  add            {fig('add_us')} us per ticket")
        print(f"  cold pass      {fig('cold', 1000)} ms: all {n} search, {med['cold_groups']:.0f} "
              f"groups of {med['cold_users']:.0f} users, {med['left']:.0f} tickets left")
        print(f"  boundary pass  {fig('boundary', 1000)} ms: the {med['left']:.0f} left search "
              f"again, {med['boundary_groups']:.0f} groups of {med['boundary_users']:.0f} users")
        b = burst(n, args.seed, args.budget)
        print(f"  burst          max_searches={args.budget}: {b['passes']:.0f} passes, the longest "
              f"{b['max'] * 1000:.1f} ms, {b['left']:.0f} tickets left")
        s = steady(n, args.seed, args.passes, args.arrivals)
        print(f"  steady passes  p50 {s['p50'] * 1000:.2f} ms, p99 {s['p99'] * 1000:.2f} ms, "
              f"max {s['max'] * 1000:.2f} ms: {s['waiting']:.0f} waiting, {args.arrivals} new "
              f"per pass, {s['groups']:.1f} groups per pass")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak RSS {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
