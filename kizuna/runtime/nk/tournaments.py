"""nk: tournaments (kizuna/core/tournaments.py), by Nakama's runtime names and parameters (as the
Lua runtime orders them). Server code writes to authoritative tournaments too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import leaderboards as lb
from kizuna.core import tournaments as tn
from kizuna.errors import invalid
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.nk.leaderboards import (
    expiry_arg,
    int64_arg,
    metadata_text,
    operator_arg,
    override,
    owners,
    sort_order_arg,
)
from kizuna.runtime.shapes import LeaderboardRecord, LeaderboardRecordList, Tournament
from kizuna.wire import encode, paging


def _int(value: Any, name: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum or value > lb.INT64_MAX:
        raise invalid(f"{name} must be an integer >= {minimum}.")
    return value


def _tid(value: Any) -> str:
    return lb.board_id(value, "Expects a tournament ID string.")


class TournamentsNk(Area):

    @api
    async def tournament_create(self, id: str, authoritative: bool = False,
                                sort_order: str = "desc", operator: str = "best",
                                duration: int = 0, reset_schedule: str | None = None,
                                metadata: Mapping[str, Any] | str | None = None,
                                title: str = "", description: str = "", category: int = 0,
                                start_time: int = 0, end_time: int = 0, max_size: int = 0,
                                max_num_score: int = 0, join_required: bool = False,
                                enable_ranks: bool = False) -> bool:
        """Create a tournament; an existing one is left as it is (returns False), so modules can
        create theirs in `init_module`. `duration` (seconds, > 0) is each period's active window;
        `reset_schedule` (CRON) starts new periods; `start_time`/`end_time` unix seconds (0: now
        / never); `max_size` players per period and `max_num_score` writes per player (0: no
        limit / 1000000); `join_required`: players must join before writing.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid sort order, must be 'asc' or 'desc'.`
            - 3 INVALID_ARGUMENT `Invalid operator, must be 'best', 'set', 'incr' or 'decr'.`
            - 3 INVALID_ARGUMENT `expects reset schedule to be a valid CRON expression`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain the
              character U+0000.`
            - 3 INVALID_ARGUMENT `<argument> must be an integer >= 0.` (`category`, `start_time`,
              `end_time`, `duration`, `max_size`, `max_num_score`)
            - 3 INVALID_ARGUMENT `Category must be 0-127.`
            - 3 INVALID_ARGUMENT `End time must be >= start time.`
            - 3 INVALID_ARGUMENT `Duration must be > 0.`
            - 3 INVALID_ARGUMENT `Title and description must be at most 255 characters.`
            - 3 INVALID_ARGUMENT `Tournament end time cannot be before first reset schedule - either
              increase end time or change/disable reset schedule.`
            - 6 ALREADY_EXISTS `Cannot create tournament as leaderboard is already in use.`

        Example:
            nk.tournament_create("daily_race", sort_order="asc", operator="best", duration=3600,
                                 reset_schedule="0 12 * * *", title="Daily race", max_size=1000)
        """
        return await tn.create(
            self._domain, _tid(id), bool(authoritative), sort_order_arg(sort_order),
            operator_arg(operator), reset_schedule or None, metadata_text(metadata) or "{}",
            title or "", description or "", _int(category, "category"),
            _int(start_time, "start_time"), _int(end_time, "end_time"),
            _int(duration, "duration"), _int(max_size, "max_size"),
            _int(max_num_score, "max_num_score"), bool(join_required), bool(enable_ranks))

    @api
    async def tournament_delete(self, id: str) -> None:
        """Delete a tournament and its records (an unknown id is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)

        Example:
            nk.tournament_delete("daily_race")
        """
        await tn.delete(self._domain, _tid(id))

    @api
    async def tournament_add_attempt(self, id: str, owner_id: str, count: int) -> None:
        """Give a player `count` more writes (negative: fewer) in the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `count must be an integer >= -9223372036854775807.`
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Expects an attempt count number != 0.`
            - 9 FAILED_PRECONDITION `Tournament outside of duration.` (not active now)

        Example:
            nk.tournament_add_attempt("daily_race", ctx.user_id, 1)
        """
        await tn.add_attempt(self._domain, _tid(id), args.user_id(owner_id),
                             _int(count, "count", -lb.INT64_MAX))

    @api
    async def tournament_join(self, id: str, owner_id: str, username: str | None = None) -> None:
        """Join a player to the current period (a no-op unless the tournament requires joins).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Tournament is not active and cannot accept new joins.`
            - 3 INVALID_ARGUMENT `Tournament cannot be joined as it has reached its max size.`

        Example:
            nk.tournament_join("daily_race", ctx.user_id, ctx.username)
        """
        await tn.join(self._domain, _tid(id), args.user_id(owner_id), username or None)

    @api
    async def tournaments_get_id(self, ids: Sequence[str]) -> list[Tournament]:
        """Tournaments by id; unknown ids are left out.

        Errors:
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            tournaments = nk.tournaments_get_id(["daily_race"])
        """
        found = await tn.get_tournaments(self._domain, args.strings(ids, "ids"))
        return [cast(Tournament, encode.tournament(t, full=True)) for t in found]

    @api
    async def tournament_list(self, category_start: int = 0, category_end: int = 127,
                              start_time: int | None = None, end_time: int | None = None,
                              limit: int = 10, cursor: str | None = None
                              ) -> tuple[list[Tournament], str | None]:
        """Tournaments in a category range, starting at or after `start_time`, ending by
        `end_time` (None: those not ended; 0: those without an end), and the next cursor.

        Errors:
            - 3 INVALID_ARGUMENT `<argument> must be an integer >= 0.` (`category_start`,
              `category_end`, `start_time`, `end_time`)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Tournament category end must be >=0 and <128.`
            - 3 INVALID_ARGUMENT `Tournament category end must be greater than category start.`
            - 3 INVALID_ARGUMENT `Tournament end time must be greater than start time.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            tournaments, cursor = nk.tournament_list(category_start=1, category_end=1, limit=20)
        """
        page = await tn.list_tournaments(
            self._domain, _int(category_start, "category_start"),
            _int(category_end, "category_end"),
            None if start_time is None else _int(start_time, "start_time"),
            None if end_time is None else _int(end_time, "end_time"),
            paging.limit(limit, 10, tn.LIST_MAX), cursor or None)
        return ([cast(Tournament, encode.tournament(t, full=True)) for t in page.tournaments],
                page.cursor)

    @api
    async def tournament_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a tournament.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 5 NOT_FOUND `Tournament not found.`

        Example:
            nk.tournament_ranks_disable("daily_race")
        """
        await lb.disable_ranks(self._domain, _tid(id), tournament=True)

    @api
    async def tournament_records_list(self, id: str, owner_ids: Sequence[str] | None = None,
                                      limit: int = 10, cursor: str | None = None,
                                      expiry: int = 0) -> LeaderboardRecordList:
        """A page of the current period's records, the records of `owner_ids`, `rank_count`.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `owner_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `One or more owner IDs are invalid.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Tournament not found.`
            - 5 NOT_FOUND `Tournament has ended.` (with `expiry` 0)
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.tournament_records_list("daily_race", owner_ids=[ctx.user_id], limit=20)
        """
        page = await tn.list_records(self._domain, _tid(id), paging.limit(limit, 10, tn.LIST_MAX),
                                     cursor or None, owners(owner_ids), expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def tournament_records_haystack(self, id: str, owner_id: str, limit: int = 10,
                                          cursor: str | None = None, expiry: int = 0
                                          ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Tournament not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.tournament_records_haystack("daily_race", ctx.user_id, limit=10)
        """
        page = await tn.around_owner(self._domain, _tid(id), args.user_id(owner_id),
                                     paging.limit(limit, 10, tn.LIST_MAX), cursor or None,
                                     expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def tournament_record_write(self, id: str, owner_id: str, username: str | None = None,
                                      score: int = 0, subscore: int = 0,
                                      metadata: Mapping[str, Any] | str | None = None,
                                      override_operator: str | int | None = None
                                      ) -> LeaderboardRecord:
        """Write the owner's record for the current period (the tournament's rules apply:
        active window, joins, attempts, size; authoritative tournaments accept it).

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `score must be an integer that fits in 64 bits.` (and `subscore`)
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Invalid operator.` (an `override_operator` that is not a name or
              1-4)
            - 3 INVALID_ARGUMENT `Invalid score value, must be >= 0.` / `Invalid subscore value, must
              be >= 0.` (any operator but incr)
            - 3 INVALID_ARGUMENT `Score or subscore would overflow: the result must fit in a 64-bit
              integer.`
            - 5 NOT_FOUND `Tournament not found.`
            - 5 NOT_FOUND `Tournament not found or has ended.`
            - 9 FAILED_PRECONDITION `Tournament is not active and cannot accept new scores.`
            - 9 FAILED_PRECONDITION `Must join tournament before attempting to write value.`
            - 9 FAILED_PRECONDITION `Reached allowed max number of score attempts.`
            - 9 FAILED_PRECONDITION `Tournament has reached max size.`
            - 10 ABORTED `The record changed during the write; try again.` (deleted while being
              written)

        Example:
            record = nk.tournament_record_write("daily_race", ctx.user_id, ctx.username, score=5230)
        """
        record = await tn.write_record(
            self._domain, _tid(id), args.user_id(owner_id), username or None,
            int64_arg(score, "score"), int64_arg(subscore, "subscore"), metadata_text(metadata),
            override(override_operator), server=True)
        return cast(LeaderboardRecord, encode.leaderboard_record(record, full=True))

    @api
    async def tournament_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Expects a tournament ID string.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Tournament not found.`

        Example:
            nk.tournament_record_delete("daily_race", cheater_id)
        """
        await tn.delete_record(self._domain, _tid(id), args.user_id(owner_id), server=True)
