"""Leaderboard and tournament reset schedules: CRON expressions and the period arithmetic built on
them, with Nakama's rules (server/core_tournament.go `calculateTournamentDeadlines`,
server/core_leaderboard.go `calculatePrevReset` and `calculateExpiryOverride`,
server/leaderboard_scheduler.go) and the field layout of its parser (internal/cronexpr).

Expressions are evaluated by croniter, in UTC. Nakama's dialect differs from croniter's in three
places, normalised here before croniter sees the text:

- the aliases are `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily` and `@hourly`, replaced
  anywhere in the text (`@midnight`, `@reboot` are not Nakama aliases and are refused);
- 5 fields are `minute hour day-of-month month day-of-week`; 6 fields add a trailing *year*
  (croniter would read a trailing *second*); 7 fields are `second minute ... day-of-week year`;
  fields past the 7th are ignored;
- times are whole seconds: `next`/`last` look from the start of the second that holds the given
  instant, as cronexpr does (it builds every candidate with zero nanoseconds).

All unix values are integer seconds; every datetime returned is timezone-aware UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from croniter import croniter  # type: ignore[import-untyped]

from kizuna.errors import invalid

__all__ = [
    "INVALID_SCHEDULE",
    "ZERO_TIME",
    "Schedule",
    "TournamentWindow",
    "expiry_override",
    "leaderboard_expiry",
    "next_reset",
    "parse",
    "prev_reset",
    "tournament_deadlines",
]

# Nakama's reply to a reset schedule cronexpr cannot parse (runtime leaderboard and tournament
# create: runtime_go_nakama.go, runtime_javascript_nakama.go, runtime_lua_nakama.go).
INVALID_SCHEDULE = "expects reset schedule to be a valid CRON expression"

# Go's zero time.Time, what cronexpr returns when no matching instant exists (a schedule limited
# to years that have passed, or past 2099); its Unix() is -62135596800.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

_ALIASES = (
    ("@yearly", "0 0 0 1 1 * *"),
    ("@annually", "0 0 0 1 1 * *"),
    ("@monthly", "0 0 0 1 * * *"),
    ("@weekly", "0 0 0 * * 0 *"),
    ("@daily", "0 0 0 * * * *"),
    ("@hourly", "0 0 * * * * *"),
)


def _normalise(expression: str) -> tuple[str, bool] | None:
    """The croniter text and its `second_at_beginning` flag, or None when Nakama's parser would
    refuse the field count."""
    text = expression
    for alias, fields in _ALIASES:
        text = text.replace(alias, fields)
    parts = text.split()
    if len(parts) < 5:
        return None
    parts = parts[:7]
    if len(parts) == 5:
        return " ".join(parts), False
    if len(parts) == 6:
        # minute hour dom month dow year: make the implicit second explicit.
        return "0 " + " ".join(parts), True
    return " ".join(parts), True


def _aware(t: datetime) -> datetime:
    """`t` in UTC (naive datetimes are taken as UTC)."""
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _floor(t: datetime) -> datetime:
    """`t` in UTC, truncated to the whole second."""
    return _aware(t).replace(microsecond=0)


def _unix(t: datetime) -> int:
    return math.floor(t.timestamp())


def _at(unix: int) -> datetime:
    return ZERO_TIME + timedelta(seconds=unix - _unix(ZERO_TIME))


@dataclass(frozen=True)
class Schedule:
    """A parsed reset schedule. `expression` is the text as given (what Nakama stores and returns
    as `reset`); constructing one with an expression Nakama would refuse raises
    `KizunaError(INVALID_ARGUMENT, INVALID_SCHEDULE)`."""

    expression: str
    _cron: str = field(init=False, repr=False, compare=False)
    _seconds_first: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        normalised = _normalise(self.expression)
        if normalised is None:
            raise invalid(INVALID_SCHEDULE)
        cron, seconds_first = normalised
        try:
            valid = bool(croniter.is_valid(cron, second_at_beginning=seconds_first))
        except Exception:
            valid = False
        if not valid:
            raise invalid(INVALID_SCHEDULE)
        object.__setattr__(self, "_cron", cron)
        object.__setattr__(self, "_seconds_first", seconds_first)

    def _iter(self, start: datetime) -> Any:
        return croniter(self._cron, start, second_at_beginning=self._seconds_first)

    def next(self, after: datetime) -> datetime:
        """The first reset strictly after the second holding `after` (cronexpr `Next`);
        `ZERO_TIME` when there is none."""
        try:
            found = self._iter(_floor(after)).get_next(datetime)
        except Exception:
            return ZERO_TIME
        assert isinstance(found, datetime)
        return found.astimezone(UTC)

    def next_n(self, after: datetime, n: int) -> list[datetime]:
        """The first `n` resets strictly after `after` (cronexpr `NextN`; shorter when the
        schedule runs out)."""
        out: list[datetime] = []
        current = after
        for _ in range(n):
            current = self.next(current)
            if current == ZERO_TIME:
                break
            out.append(current)
        return out

    def last(self, at: datetime) -> datetime:
        """The latest reset strictly before the second holding `at` (cronexpr `Last`): at an exact
        reset instant this is the *previous* reset, not `at`. `ZERO_TIME` when there is none.

        (Nakama's cronexpr `Last` mishandles 7-field expressions listing several seconds, e.g.
        `0,30 * * * * * *` at hh:mm:20 answers hh:(mm-1):30; this returns hh:mm:00.)"""
        try:
            found = self._iter(_floor(at)).get_prev(datetime)
        except Exception:
            return ZERO_TIME
        assert isinstance(found, datetime)
        return found.astimezone(UTC)

    def current(self, at: datetime) -> datetime:
        """The start of the period holding `at`: the second holding `at` when a reset falls on it,
        else `last(at)` (the rule calculateTournamentDeadlines applies once a tournament started).
        """
        if self.is_reset(at):
            return _floor(at)
        return self.last(at)

    def is_reset(self, at: datetime) -> bool:
        """Whether a reset falls on the second holding `at`."""
        second = _floor(at)
        return self.next(second - timedelta(seconds=1)) == second


def parse(expression: str | None) -> Schedule | None:
    """A schedule from its text; None for no schedule ("" or None). Raises
    `KizunaError(INVALID_ARGUMENT, "expects reset schedule to be a valid CRON expression")`."""
    if expression is None or expression == "":
        return None
    return Schedule(expression)


def leaderboard_expiry(schedule: Schedule | None, now: datetime) -> int:
    """The expiry of a leaderboard's current records (unix seconds): the next reset after `now`,
    or 0 (records never expire) without a schedule. Nakama LeaderboardRecordWrite/Delete."""
    if schedule is None:
        return 0
    return _unix(schedule.next(now))


def next_reset(schedule: Schedule | None, now: datetime) -> int:
    """`next_reset` of an api.Leaderboard: the next reset after `now`, 0 without a schedule.
    (An api.Tournament's `next_reset` is `tournament_deadlines(...).expiry` instead.)"""
    return leaderboard_expiry(schedule, now)


def prev_reset(schedule: Schedule | None, start_time: int, now: datetime) -> int:
    """`prev_reset` of an api.Leaderboard (start_time: the leaderboard's create time; the
    scheduler's reset callback passes its start_time column) and of an api.Tournament (start_time:
    the tournament's start time): 0 without a schedule or while `start_time` is after `now`,
    else `Schedule.last(now)` (Nakama calculatePrevReset)."""
    if schedule is None:
        return 0
    if _at(start_time) > _aware(now):
        # Hasn't started yet: no previous reset exists.
        return 0
    return _unix(schedule.last(now))


class TournamentWindow(NamedTuple):
    """The current period of a tournament, in unix seconds: records may be written in
    [start_active, end_active); they expire (the period resets) at `expiry` (0: never)."""

    start_active: int
    end_active: int
    expiry: int


def tournament_deadlines(start_time: int, end_time: int, duration: int,
                         schedule: Schedule | None, now: datetime) -> TournamentWindow:
    """Nakama calculateTournamentDeadlines, exactly.

    Without a schedule: (start_time, start_time + duration capped at end_time when end_time > 0,
    end_time). With one: the period is the latest reset at or before `now` (the first reset after
    start_time while `now` is before start_time), the active window is capped at the next reset,
    a start_time falling after the period's active end moves the window to the first two resets
    after start_time, a start_time inside the period raises start_active to it, and end_time > 0
    caps expiry (and end_active) when the next reset is later."""
    if schedule is None:
        end_active = start_time + duration
        if end_time > 0 and end_active > end_time:
            end_active = end_time
        return TournamentWindow(start_time, end_active, end_time)

    # Before the start: the first period opens at the first reset after start_time.
    before_start = _unix(_floor(now)) < start_time
    first = schedule.next(_at(start_time)) if before_start else schedule.current(now)
    start_active = _unix(first)

    end_active = start_active + duration
    expiry = _unix(schedule.next(_at(start_active)))
    if end_active > expiry:
        end_active = expiry

    if start_time > end_active:
        # The start time is after the end of the current active period (but before the next
        # reset): the tournament's first period is the one opening at the first reset after it.
        resets = schedule.next_n(_at(start_time), 2)
        start_active = _unix(resets[0]) if resets else _unix(ZERO_TIME)
        end_active = start_active + duration
        expiry = _unix(resets[1]) if len(resets) > 1 else _unix(ZERO_TIME)
        if end_active > expiry:
            end_active = expiry
    elif start_time > start_active:
        start_active = start_time

    if end_time > 0 and expiry > end_time:
        expiry = end_time
        if end_active > expiry:
            end_active = expiry

    return TournamentWindow(start_active, end_active, expiry)


def expiry_override(override_expiry: int, schedule: Schedule | None, now: datetime, *,
                    start_time: int = 0, end_time: int = 0,
                    duration: int = 0) -> tuple[int, bool]:
    """Nakama calculateExpiryOverride: the expiry whose records a list reads, and whether any can
    exist. A non-zero `override_expiry` is used as given. Otherwise a tournament (duration != 0,
    Nakama's IsTournament) reads its current period's expiry, and (0, False) when that expiry is
    non-zero and at or before `now`; a leaderboard reads `leaderboard_expiry` (0 without a
    schedule)."""
    if override_expiry != 0:
        return override_expiry, True
    if duration != 0:
        expiry = tournament_deadlines(start_time, end_time, duration, schedule, now).expiry
        if expiry != 0 and expiry <= _unix(_floor(now)):
            return 0, False
        return expiry, True
    return leaderboard_expiry(schedule, now), True
