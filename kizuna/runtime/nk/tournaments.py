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
        limit / 1000000); `join_required`: players must join before writing."""
        return await tn.create(
            self._domain, _tid(id), bool(authoritative), sort_order_arg(sort_order),
            operator_arg(operator), reset_schedule or None, metadata_text(metadata) or "{}",
            title or "", description or "", _int(category, "category"),
            _int(start_time, "start_time"), _int(end_time, "end_time"),
            _int(duration, "duration"), _int(max_size, "max_size"),
            _int(max_num_score, "max_num_score"), bool(join_required), bool(enable_ranks))

    @api
    async def tournament_delete(self, id: str) -> None:
        """Delete a tournament and its records (an unknown id is no error)."""
        await tn.delete(self._domain, _tid(id))

    @api
    async def tournament_add_attempt(self, id: str, owner_id: str, count: int) -> None:
        """Give a player `count` more writes (negative: fewer) in the current period."""
        await tn.add_attempt(self._domain, _tid(id), args.user_id(owner_id),
                             _int(count, "count", -lb.INT64_MAX))

    @api
    async def tournament_join(self, id: str, owner_id: str, username: str | None = None) -> None:
        """Join a player to the current period (a no-op unless the tournament requires joins)."""
        await tn.join(self._domain, _tid(id), args.user_id(owner_id), username or None)

    @api
    async def tournaments_get_id(self, ids: Sequence[str]) -> list[Tournament]:
        """Tournaments by id; unknown ids are left out."""
        found = await tn.get_tournaments(self._domain, args.strings(ids, "ids"))
        return [cast(Tournament, encode.tournament(t, full=True)) for t in found]

    @api
    async def tournament_list(self, category_start: int = 0, category_end: int = 127,
                              start_time: int | None = None, end_time: int | None = None,
                              limit: int = 10, cursor: str | None = None
                              ) -> tuple[list[Tournament], str | None]:
        """Tournaments in a category range, starting at or after `start_time`, ending by
        `end_time` (None: those not ended; 0: those without an end), and the next cursor."""
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
        """Stop keeping ranks for a tournament."""
        await lb.disable_ranks(self._domain, _tid(id), tournament=True)

    @api
    async def tournament_records_list(self, id: str, owner_ids: Sequence[str] | None = None,
                                      limit: int = 10, cursor: str | None = None,
                                      expiry: int = 0) -> LeaderboardRecordList:
        """A page of the current period's records, the records of `owner_ids`, `rank_count`."""
        page = await tn.list_records(self._domain, _tid(id), paging.limit(limit, 10, tn.LIST_MAX),
                                     cursor or None, owners(owner_ids), expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def tournament_records_haystack(self, id: str, owner_id: str, limit: int = 10,
                                          cursor: str | None = None, expiry: int = 0
                                          ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included)."""
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
        active window, joins, attempts, size; authoritative tournaments accept it)."""
        record = await tn.write_record(
            self._domain, _tid(id), args.user_id(owner_id), username or None,
            int64_arg(score, "score"), int64_arg(subscore, "subscore"), metadata_text(metadata),
            override(override_operator), server=True)
        return cast(LeaderboardRecord, encode.leaderboard_record(record, full=True))

    @api
    async def tournament_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period."""
        await tn.delete_record(self._domain, _tid(id), args.user_id(owner_id), server=True)
