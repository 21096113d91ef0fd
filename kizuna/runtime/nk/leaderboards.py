"""nk: leaderboards (kizuna/core/leaderboards.py), by Nakama's runtime names and parameters (as the
Lua and JavaScript runtimes order them). Server code writes to authoritative boards too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kizuna.core import leaderboards as lb
from kizuna.errors import invalid
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Leaderboard, LeaderboardRecord, LeaderboardRecordList
from kizuna.wire import codec, encode, paging


def sort_order_arg(value: str | int) -> int:
    if isinstance(value, str) and value.lower() in lb.SORT_NAMES:
        return lb.SORT_NAMES[value.lower()]
    if type(value) is int and value in (lb.ASCENDING, lb.DESCENDING):
        return value
    raise invalid("Invalid sort order, must be 'asc' or 'desc'.")


def operator_arg(value: str | int) -> int:
    """A stored operator from a name ("best", "set", "incr", "decr")."""
    if isinstance(value, str) and value.lower() in lb.OPERATOR_NAMES:
        return lb.OPERATOR_NAMES[value.lower()]
    raise invalid("Invalid operator, must be 'best', 'set', 'incr' or 'decr'.")


def override(value: str | int | None) -> int:
    """A write's operator override: a name, the API enum (1..4), or None for the board's own."""
    if value is None or value == "":
        return -1
    if isinstance(value, str) and value.lower() in lb.OPERATOR_NAMES:
        return lb.OPERATOR_NAMES[value.lower()]
    return lb.operator_override(value)


def metadata_text(value: Mapping[str, Any] | str | None) -> str | None:
    return None if value is None else codec.document_text(value, "metadata")


def owners(values: Sequence[str] | None) -> list[str]:
    return [lb.owner_uuid(o, lb.INVALID_OWNERS)
            for o in args.strings(values or [], "owner_ids")]


class LeaderboardsNk(Area):

    @api
    async def leaderboard_create(self, id: str, authoritative: bool = False,
                                 sort_order: str = "desc", operator: str = "best",
                                 reset_schedule: str | None = None,
                                 metadata: Mapping[str, Any] | str | None = None,
                                 enable_ranks: bool = False) -> bool:
        """Create a leaderboard; an id that exists is left as it is (returns False), so a module
        can create its boards in `init_module` on every start. `sort_order` "desc" (higher is
        better) or "asc"; `operator` "best", "set", "incr" or "decr"; `reset_schedule` a CRON
        expression ("" or None: never resets); `enable_ranks`: keep ranks for owner lookups
        (Nakama's default: off)."""
        return await lb.create(self._domain, lb.board_id(id), bool(authoritative),
                               sort_order_arg(sort_order),
                               operator_arg(operator), reset_schedule or None,
                               metadata_text(metadata) or "{}", bool(enable_ranks))

    @api
    async def leaderboard_delete(self, id: str) -> None:
        """Delete a leaderboard and all its records (an unknown id is no error)."""
        await lb.delete(self._domain, lb.board_id(id))

    @api
    async def leaderboards_get_id(self, ids: Sequence[str]) -> list[Leaderboard]:
        """Leaderboards by id; unknown ids (and tournaments) are left out."""
        found = lb.get_boards(self._domain, args.strings(ids, "ids"))
        return [cast(Leaderboard, encode.leaderboard(b, full=True)) for b in found]

    @api
    async def leaderboard_list(self, limit: int = 10, cursor: str | None = None
                               ) -> tuple[list[Leaderboard], str | None]:
        """One page of leaderboards (by creation time) and the next page's cursor."""
        page = lb.list_boards(self._domain, paging.limit(limit, 10, 100), cursor or None)
        return ([cast(Leaderboard, encode.leaderboard(b, full=True)) for b in page.leaderboards],
                page.cursor)

    @api
    async def leaderboard_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a leaderboard (records then have rank 0)."""
        await lb.disable_ranks(self._domain, lb.board_id(id))

    @api
    async def leaderboard_records_list(self, id: str, owner_ids: Sequence[str] | None = None,
                                       limit: int = 10, cursor: str | None = None,
                                       expiry: int = 0) -> LeaderboardRecordList:
        """A page of records in rank order (`records`, with `next_cursor` and `prev_cursor`), the
        records of `owner_ids` (`owner_records`), and `rank_count`. `expiry` (unix seconds)
        reads a past period; 0: the current one."""
        page = await lb.list_records(self._domain, lb.board_id(id),
                                     paging.limit(limit, 10, lb.LIST_RECORDS_MAX),
                                     cursor or None, owners(owner_ids), expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def leaderboard_records_haystack(self, id: str, owner_id: str, limit: int = 10,
                                           cursor: str | None = None, expiry: int = 0
                                           ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included)."""
        page = await lb.around_owner(self._domain, lb.board_id(id), args.user_id(owner_id),
                                     paging.limit(limit, 10, lb.AROUND_OWNER_MAX),
                                     cursor or None, expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def leaderboard_records_list_cursor_from_rank(self, id: str, rank: int,
                                                        expiry: int = 0) -> str:
        """A cursor for `leaderboard_records_list` whose page starts at `rank` ("" for rank 1);
        needs a board that keeps ranks."""
        return lb.cursor_from_rank(self._domain, lb.board_id(id), rank, expiry_arg(expiry))

    @api
    async def leaderboard_record_write(self, id: str, owner_id: str, username: str | None = None,
                                       score: int = 0, subscore: int = 0,
                                       metadata: Mapping[str, Any] | str | None = None,
                                       override_operator: str | int | None = None
                                       ) -> LeaderboardRecord:
        """Write the owner's record for the current period, with the board's operator (or
        `override_operator`); authoritative boards accept it."""
        record = await lb.write_record(
            self._domain, lb.board_id(id), args.user_id(owner_id), username or None,
            int64_arg(score, "score"), int64_arg(subscore, "subscore"), metadata_text(metadata),
            override(override_operator), server=True)
        return cast(LeaderboardRecord, encode.leaderboard_record(record, full=True))

    @api
    async def leaderboard_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period."""
        await lb.delete_record(self._domain, lb.board_id(id), args.user_id(owner_id),
                               server=True)


def int64_arg(value: Any, name: str) -> int:
    if type(value) is not int or not -lb.INT64_MAX - 1 <= value <= lb.INT64_MAX:
        raise invalid(f"{name} must be an integer that fits in 64 bits.")
    return value


def expiry_arg(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= lb.INT64_MAX:
        raise invalid("expiry must be a unix time in seconds (0: the current period).")
    return value
