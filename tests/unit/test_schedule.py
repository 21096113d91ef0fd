"""Reset schedules (kizuna.core.schedule) against Nakama's rules: cronexpr Next/Last,
calculateTournamentDeadlines, calculatePrevReset and calculateExpiryOverride."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kizuna.core import schedule as sched
from kizuna.core.schedule import Schedule, TournamentWindow
from kizuna.errors import Code, KizunaError


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def unix(*args: int) -> int:
    return int(at(*args).timestamp())


def daily() -> Schedule:
    s = sched.parse("0 0 * * *")
    assert s is not None
    return s


# --- parse ---------------------------------------------------------------------------------------


def test_parse_empty_is_no_schedule() -> None:
    assert sched.parse(None) is None
    assert sched.parse("") is None


def test_parse_keeps_the_text_and_is_a_frozen_value() -> None:
    s = sched.parse("0 12 * * MON")
    assert s == Schedule("0 12 * * MON")
    assert s is not None and s.expression == "0 12 * * MON"
    with pytest.raises(AttributeError):
        s.expression = "x"  # type: ignore[misc]


@pytest.mark.parametrize("expr", [
    "bad", "* * * *", "61 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 * 13 *", "@midnight",
    "@reboot", "0 0 * * * 1969",
])
def test_parse_refuses_with_nakamas_message(expr: str) -> None:
    with pytest.raises(KizunaError) as caught:
        sched.parse(expr)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.message == "expects reset schedule to be a valid CRON expression"


@pytest.mark.parametrize(("expr", "expected"), [
    ("@daily", at(2024, 1, 3)),
    ("@hourly", at(2024, 1, 2, 1)),
    ("@weekly", at(2024, 1, 7)),  # Sunday
    ("@monthly", at(2024, 2, 1)),
    ("@yearly", at(2025, 1, 1)),
    ("@annually", at(2025, 1, 1)),
    # 6 fields: Nakama reads a trailing year, not croniter's trailing second.
    ("*/5 * * * * *", at(2024, 1, 2, 0, 5)),
    ("0 0 1 1 * 2030", at(2030, 1, 1)),
    # 7 fields: second minute hour dom month dow year.
    ("30 0 0 * * * *", at(2024, 1, 2, 0, 0, 30)),
    # fields past the 7th are ignored.
    ("0 0 0 * * * * extra", at(2024, 1, 3)),
    ("0 0 * * 7", at(2024, 1, 7)),  # 7 is Sunday
    ("0 0 13 * 5", at(2024, 1, 5)),  # dom and dow both restricted: either matches
])
def test_next_dialect(expr: str, expected: datetime) -> None:
    s = sched.parse(expr)
    assert s is not None
    assert s.next(at(2024, 1, 2)) == expected


# --- next / last ---------------------------------------------------------------------------------


def test_next_is_strictly_after_and_utc() -> None:
    s = daily()
    assert s.next(at(2024, 1, 1, 23, 59, 59)) == at(2024, 1, 2)
    assert s.next(at(2024, 1, 2)) == at(2024, 1, 3)
    # Whole seconds: inside the reset second counts as the reset instant.
    assert s.next(at(2024, 1, 2, 0, 0, 0, 999_999)) == at(2024, 1, 3)
    assert s.next(at(2024, 1, 2)).tzinfo is UTC
    # Naive input is UTC; other zones are converted.
    assert s.next(datetime(2024, 1, 1, 12)) == at(2024, 1, 2)
    tokyo = datetime(2024, 1, 2, 8, 59, tzinfo=UTC).astimezone(timezone(timedelta(hours=9)))
    assert s.next(tokyo) == at(2024, 1, 3)


def test_last_is_strictly_before_like_cronexpr() -> None:
    s = daily()
    assert s.last(at(2024, 1, 2, 13, 30)) == at(2024, 1, 2)
    assert s.last(at(2024, 1, 2, 0, 0, 1)) == at(2024, 1, 2)
    # At the reset instant (and within its second) cronexpr Last answers the previous reset.
    assert s.last(at(2024, 1, 2)) == at(2024, 1, 1)
    assert s.last(at(2024, 1, 2, 0, 0, 0, 500_000)) == at(2024, 1, 1)
    # current(): the period start, the reset itself at a reset instant.
    assert s.current(at(2024, 1, 2)) == at(2024, 1, 2)
    assert s.current(at(2024, 1, 2, 0, 0, 0, 500_000)) == at(2024, 1, 2)
    assert s.current(at(2024, 1, 2, 5)) == at(2024, 1, 2)
    assert s.is_reset(at(2024, 1, 2)) and not s.is_reset(at(2024, 1, 2, 0, 0, 1))


def test_weekly_and_month_boundaries() -> None:
    mondays = sched.parse("0 0 * * 1")
    assert mondays is not None
    # 2024-01-03 is a Wednesday; Mondays are Jan 1 and Jan 8.
    assert mondays.last(at(2024, 1, 3, 10)) == at(2024, 1, 1)
    assert mondays.next(at(2024, 1, 3, 10)) == at(2024, 1, 8)
    day31 = sched.parse("0 0 31 * *")
    assert day31 is not None
    assert day31.last(at(2024, 3, 10)) == at(2024, 1, 31)  # February has no 31st
    assert day31.next(at(2024, 3, 31)) == at(2024, 5, 31)


def test_next_n_and_exhausted_schedules() -> None:
    s = daily()
    assert s.next_n(at(2024, 1, 1, 12), 2) == [at(2024, 1, 2), at(2024, 1, 3)]
    once = sched.parse("0 0 1 1 * 2020")
    assert once is not None
    assert once.next(at(2024, 1, 1)) == sched.ZERO_TIME
    assert once.next_n(at(2019, 6, 1), 2) == [at(2020, 1, 1)]
    assert once.last(at(2019, 1, 1)) == sched.ZERO_TIME


# --- leaderboards --------------------------------------------------------------------------------


def test_leaderboard_expiry_and_resets() -> None:
    now = at(2024, 1, 2, 13)
    assert sched.leaderboard_expiry(None, now) == 0
    assert sched.leaderboard_expiry(daily(), now) == unix(2024, 1, 3)
    assert sched.next_reset(daily(), now) == unix(2024, 1, 3)
    assert sched.next_reset(None, now) == 0
    created = unix(2023, 12, 1)
    assert sched.prev_reset(daily(), created, now) == unix(2024, 1, 2)
    assert sched.prev_reset(None, created, now) == 0
    # At the reset instant: prev is the previous day, next the following one.
    assert sched.prev_reset(daily(), created, at(2024, 1, 2)) == unix(2024, 1, 1)
    assert sched.next_reset(daily(), at(2024, 1, 2)) == unix(2024, 1, 3)
    # Not started yet: no previous reset.
    assert sched.prev_reset(daily(), unix(2024, 1, 5), now) == 0
    # Started at exactly now: a previous reset is reported.
    assert sched.prev_reset(daily(), unix(2024, 1, 2, 13), now) == unix(2024, 1, 2)


def test_expiry_override_leaderboard() -> None:
    now = at(2024, 1, 2, 13)
    assert sched.expiry_override(0, None, now) == (0, True)
    assert sched.expiry_override(0, daily(), now) == (unix(2024, 1, 3), True)
    assert sched.expiry_override(123, daily(), now) == (123, True)


# --- tournaments: Nakama's own test vectors (server/core_tournament_test.go) ---------------------


def test_deadlines_every_fourteen_days() -> None:
    s = sched.parse("0 9 */14 * *")
    window = sched.tournament_deadlines(1692090000, 0, 1202400, s, at(2023, 8, 21, 11))
    assert window.start_active == 1692090000  # 15 Aug 2023 09:00
    assert window.end_active == 1693292400  # 29 Aug 2023 07:00
    assert window.expiry == 1693299600  # 29 Aug 2023 09:00
    assert s is not None and int(s.next(at(2023, 8, 21, 11)).timestamp()) == 1693299600


def test_deadlines_mon_thru_fri() -> None:
    s = sched.parse("0 22 * * 1-5")
    now = datetime.fromtimestamp(1692615600, UTC)  # Monday 21 Aug 2023 11:00
    window = sched.tournament_deadlines(1692090000, 0, 7200, s, now)
    assert window.start_active == 1692396000  # Friday 18 Aug 22:00
    assert window.end_active == 1692403200  # Saturday 19 Aug 00:00
    assert window.expiry == 1692655200  # Monday 21 Aug 22:00


def test_deadlines_now_is_reset_time() -> None:
    s = sched.parse("0 9 14 * *")
    now = datetime.fromtimestamp(1692003600, UTC)  # 14 Aug 2023 09:00, also the start
    window = sched.tournament_deadlines(1692003600, 0, 604800, s, now)
    assert window == TournamentWindow(1692003600, 1692608400, 1694682000)


def test_deadlines_now_before_start_period_after_start() -> None:
    s = sched.parse("0 9 14 * *")
    now = datetime.fromtimestamp(1692003600, UTC)  # 14 Aug 2023 09:00
    # Starts 1 Sep: the first period opens at the first reset after it (14 Sep), 4 weeks long,
    # before the following reset (14 Oct).
    window = sched.tournament_deadlines(1693558800, 0, 604800 * 4, s, now)
    assert window.start_active == 1694682000  # 14 Sep 09:00
    assert window.end_active == 1697101200  # 12 Oct 09:00
    assert window.expiry == 1697274000  # 14 Oct 09:00


# --- tournaments: more cases ---------------------------------------------------------------------


def test_deadlines_without_schedule() -> None:
    start, now = unix(2024, 1, 1), at(2024, 1, 2)
    assert sched.tournament_deadlines(start, 0, 3600, None, now) == (start, start + 3600, 0)
    end = unix(2024, 1, 10)
    assert sched.tournament_deadlines(start, end, 3600, None, now) == (start, start + 3600, end)
    # Duration past the end time is capped at the end time.
    assert sched.tournament_deadlines(start, end, 86400 * 30, None, now) == (start, end, end)
    # Not started, or ended: the window is the same, independent of now.
    assert sched.tournament_deadlines(start, end, 3600, None, at(2023, 1, 1)) == (
        start, start + 3600, end)
    assert sched.tournament_deadlines(start, end, 3600, None, at(2025, 1, 1)) == (
        start, start + 3600, end)


def test_deadlines_daily_inside_and_after_active_window() -> None:
    start = unix(2024, 1, 1)
    # Duration 1h: at 00:30 inside the window, at 05:00 after it (same period).
    assert sched.tournament_deadlines(start, 0, 3600, daily(), at(2024, 1, 5, 0, 30)) == (
        unix(2024, 1, 5), unix(2024, 1, 5, 1), unix(2024, 1, 6))
    assert sched.tournament_deadlines(start, 0, 3600, daily(), at(2024, 1, 5, 5)) == (
        unix(2024, 1, 5), unix(2024, 1, 5, 1), unix(2024, 1, 6))


def test_deadlines_at_exact_reset_instant() -> None:
    start = unix(2024, 1, 1)
    for now in (at(2024, 1, 5), at(2024, 1, 5, 0, 0, 0, 250_000)):
        assert sched.tournament_deadlines(start, 0, 3600, daily(), now) == (
            unix(2024, 1, 5), unix(2024, 1, 5, 1), unix(2024, 1, 6))
    # One second before the reset: still the previous period.
    assert sched.tournament_deadlines(start, 0, 3600, daily(),
                                      at(2024, 1, 4, 23, 59, 59)) == (
        unix(2024, 1, 4), unix(2024, 1, 4, 1), unix(2024, 1, 5))


def test_deadlines_duration_longer_than_period_is_capped() -> None:
    start = unix(2024, 1, 1)
    assert sched.tournament_deadlines(start, 0, 86400 * 3, daily(), at(2024, 1, 5, 12)) == (
        unix(2024, 1, 5), unix(2024, 1, 6), unix(2024, 1, 6))


def test_deadlines_not_started_yet() -> None:
    # Starts 10 Jan 12:00 (between resets); now is 5 Jan: the first period opens at the first
    # reset after the start (11 Jan), the expiry is the reset after that.
    start = unix(2024, 1, 10, 12)
    assert sched.tournament_deadlines(start, 0, 3600, daily(), at(2024, 1, 5)) == (
        unix(2024, 1, 11), unix(2024, 1, 11, 1), unix(2024, 1, 12))
    # Starting exactly on a reset: still the first reset strictly after it.
    start = unix(2024, 1, 10)
    assert sched.tournament_deadlines(start, 0, 3600, daily(), at(2024, 1, 5)) == (
        unix(2024, 1, 11), unix(2024, 1, 11, 1), unix(2024, 1, 12))


def test_deadlines_started_inside_the_current_period() -> None:
    # Started today at 00:20 with a 1h window from midnight: start_active moves to the start.
    start = unix(2024, 1, 5, 0, 20)
    assert sched.tournament_deadlines(start, 0, 3600, daily(), at(2024, 1, 5, 0, 30)) == (
        start, unix(2024, 1, 5, 1), unix(2024, 1, 6))


def test_deadlines_started_after_the_current_active_window() -> None:
    # Started today at 15:00; the daily window (noon, 1h) already closed at 13:00: the window is
    # the next one (tomorrow noon), expiring the day after.
    noon = sched.parse("0 12 * * *")
    start = unix(2024, 1, 5, 15)
    assert sched.tournament_deadlines(start, 0, 3600, noon, at(2024, 1, 5, 16)) == (
        unix(2024, 1, 6, 12), unix(2024, 1, 6, 13), unix(2024, 1, 7, 12))


def test_deadlines_end_time_caps_expiry_and_active_end() -> None:
    start = unix(2024, 1, 1)
    end = unix(2024, 1, 5, 0, 30)
    assert sched.tournament_deadlines(start, end, 3600, daily(), at(2024, 1, 5, 0, 10)) == (
        unix(2024, 1, 5), end, end)
    # After the end: the period arithmetic still runs, capped at the end time.
    assert sched.tournament_deadlines(start, end, 3600, daily(), at(2024, 1, 8, 10)) == (
        unix(2024, 1, 8), end, end)


def test_deadlines_weekly() -> None:
    mondays = sched.parse("0 0 * * 1")
    start = unix(2024, 1, 1)  # a Monday
    week = 7 * 86400
    assert sched.tournament_deadlines(start, 0, week, mondays, at(2024, 1, 10)) == (
        unix(2024, 1, 8), unix(2024, 1, 15), unix(2024, 1, 15))
    assert sched.tournament_deadlines(start, 0, 2 * 86400, mondays, at(2024, 1, 15)) == (
        unix(2024, 1, 15), unix(2024, 1, 17), unix(2024, 1, 22))


def test_tournament_prev_and_next_reset() -> None:
    start = unix(2024, 1, 1)
    now = at(2024, 1, 5, 12)
    window = sched.tournament_deadlines(start, 0, 3600, daily(), now)
    assert window.expiry == unix(2024, 1, 6)  # api.Tournament next_reset
    assert sched.prev_reset(daily(), start, now) == unix(2024, 1, 5)
    assert sched.prev_reset(daily(), unix(2024, 2, 1), now) == 0


def test_expiry_override_tournament() -> None:
    start = unix(2024, 1, 1)
    now = at(2024, 1, 5, 12)
    assert sched.expiry_override(0, daily(), now, start_time=start, duration=3600) == (
        unix(2024, 1, 6), True)
    # Without a schedule or end time records never expire.
    assert sched.expiry_override(0, None, now, start_time=start, duration=3600) == (0, True)
    # Ended: the expiry (the end time) is past, no records to read.
    assert sched.expiry_override(0, None, now, start_time=start, end_time=unix(2024, 1, 3),
                                 duration=3600) == (0, False)
    # Ending exactly now counts as past.
    assert sched.expiry_override(0, None, now, start_time=start, end_time=unix(2024, 1, 5, 12),
                                 duration=3600) == (0, False)
    assert sched.expiry_override(77, None, now, start_time=start, end_time=unix(2024, 1, 3),
                                 duration=3600) == (77, True)


def test_inputs_in_other_zones_are_the_same_instant() -> None:
    now = at(2024, 1, 5, 12)
    shifted = now.astimezone(timezone(timedelta(hours=-7)))
    start = unix(2024, 1, 1)
    assert sched.tournament_deadlines(start, 0, 3600, daily(), shifted) == \
        sched.tournament_deadlines(start, 0, 3600, daily(), now)
