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
    """Metadata given as a dict or as JSON text: a JSON object, as REST requires."""
    return None if value is None else lb.check_metadata(codec.document_text(value, "metadata"))


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
        (Nakama's default: off).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid sort order, must be 'asc' or 'desc'.`
            - 3 INVALID_ARGUMENT `Invalid operator, must be 'best', 'set', 'incr' or 'decr'.`
            - 3 INVALID_ARGUMENT `expects reset schedule to be a valid CRON expression`
            - 3 INVALID_ARGUMENT `metadata must be JSON-encodable.` (a value json cannot encode)
            - 3 INVALID_ARGUMENT `Metadata value must be JSON, if provided.` (text that is not a
              JSON object)
            - 3 INVALID_ARGUMENT `Metadata must be a JSON object.` / `Metadata must not contain the
              character U+0000.`

        Example:
            nk.leaderboard_create("weekly_kills", authoritative=True, sort_order="desc",
                                  operator="incr", reset_schedule="0 0 * * 1")
        """
        return await lb.create(self._domain, lb.board_id(id), bool(authoritative),
                               sort_order_arg(sort_order),
                               operator_arg(operator), reset_schedule or None,
                               metadata_text(metadata) or "{}", bool(enable_ranks))

    @api
    async def leaderboard_delete(self, id: str) -> None:
        """Delete a leaderboard and all its records (an unknown id is no error).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)

        Example:
            nk.leaderboard_delete("weekly_kills")
        """
        await lb.delete(self._domain, lb.board_id(id))

    @api
    async def leaderboards_get_id(self, ids: Sequence[str]) -> list[Leaderboard]:
        """Leaderboards by id; unknown ids (and tournaments) are left out.

        Errors:
            - 3 INVALID_ARGUMENT `ids: expected a list of strings.`

        Example:
            boards = nk.leaderboards_get_id(["weekly_kills", "high_score"])
        """
        found = lb.get_boards(self._domain, args.strings(ids, "ids"))
        return [cast(Leaderboard, encode.leaderboard(b, full=True)) for b in found]

    @api
    async def leaderboard_list(self, limit: int = 10, cursor: str | None = None
                               ) -> tuple[list[Leaderboard], str | None]:
        """One page of leaderboards (by creation time) and the next page's cursor.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            boards, cursor = nk.leaderboard_list(limit=50)
        """
        page = lb.list_boards(self._domain, paging.limit(limit, 10, 100), cursor or None)
        return ([cast(Leaderboard, encode.leaderboard(b, full=True)) for b in page.leaderboards],
                page.cursor)

    @api
    async def leaderboard_ranks_disable(self, id: str) -> None:
        """Stop keeping ranks for a leaderboard (records then have rank 0).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 5 NOT_FOUND `Leaderboard not found.`

        Example:
            nk.leaderboard_ranks_disable("weekly_kills")
        """
        await lb.disable_ranks(self._domain, lb.board_id(id))

    @api
    async def leaderboard_records_list(self, id: str, owner_ids: Sequence[str] | None = None,
                                       limit: int = 10, cursor: str | None = None,
                                       expiry: int = 0) -> LeaderboardRecordList:
        """A page of records in rank order (`records`, with `next_cursor` and `prev_cursor`), the
        records of `owner_ids` (`owner_records`), and `rank_count`. `expiry` (unix seconds)
        reads a past period; 0: the current one.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `owner_ids: expected a list of strings.`
            - 3 INVALID_ARGUMENT `One or more owner IDs are invalid.`
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 1000.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.leaderboard_records_list("weekly_kills", owner_ids=[ctx.user_id], limit=10)
            top = [(r["username"], r["score"]) for r in page["records"]]
        """
        page = await lb.list_records(self._domain, lb.board_id(id),
                                     paging.limit(limit, 10, lb.LIST_RECORDS_MAX),
                                     cursor or None, owners(owner_ids), expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def leaderboard_records_haystack(self, id: str, owner_id: str, limit: int = 10,
                                           cursor: str | None = None, expiry: int = 0
                                           ) -> LeaderboardRecordList:
        """`limit` records around the owner's record (theirs included).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Cursor is invalid or expired.`

        Example:
            page = nk.leaderboard_records_haystack("weekly_kills", ctx.user_id, limit=11)
        """
        page = await lb.around_owner(self._domain, lb.board_id(id), args.user_id(owner_id),
                                     paging.limit(limit, 10, lb.AROUND_OWNER_MAX),
                                     cursor or None, expiry_arg(expiry))
        return cast(LeaderboardRecordList, encode.leaderboard_record_list(page, full=True))

    @api
    async def leaderboard_records_list_cursor_from_rank(self, id: str, rank: int,
                                                        expiry: int = 0) -> str:
        """A cursor for `leaderboard_records_list` whose page starts at `rank` ("" for rank 1);
        needs a board that keeps ranks.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `expiry must be a unix time in seconds (0: the current period).`
            - 5 NOT_FOUND `Leaderboard not found.`
            - 3 INVALID_ARGUMENT `Invalid rank: must be 1 or more.`
            - 9 FAILED_PRECONDITION `Leaderboard does not keep ranks.` (created without
              `enable_ranks`)
            - 3 INVALID_ARGUMENT `Rank is beyond the end of the leaderboard.`

        Example:
            cursor = nk.leaderboard_records_list_cursor_from_rank("weekly_kills", 101)
            page = nk.leaderboard_records_list("weekly_kills", limit=100, cursor=cursor)
        """
        return lb.cursor_from_rank(self._domain, lb.board_id(id), rank, expiry_arg(expiry))

    @api
    async def leaderboard_record_write(self, id: str, owner_id: str, username: str | None = None,
                                       score: int = 0, subscore: int = 0,
                                       metadata: Mapping[str, Any] | str | None = None,
                                       override_operator: str | int | None = None
                                       ) -> LeaderboardRecord:
        """Write the owner's record for the current period, with the board's operator (or
        `override_operator`); authoritative boards accept it.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
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
            - 5 NOT_FOUND `Leaderboard not found.`
            - 10 ABORTED `The record changed during the write; try again.` (deleted while being
              written)

        Example:
            record = nk.leaderboard_record_write("weekly_kills", ctx.user_id, ctx.username, score=3)
        """
        record = await lb.write_record(
            self._domain, lb.board_id(id), args.user_id(owner_id), username or None,
            int64_arg(score, "score"), int64_arg(subscore, "subscore"), metadata_text(metadata),
            override(override_operator), server=True)
        return cast(LeaderboardRecord, encode.leaderboard_record(record, full=True))

    @api
    async def leaderboard_record_delete(self, id: str, owner_id: str) -> None:
        """Delete the owner's record of the current period.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid leaderboard ID.` (empty, not a string, or over 128
              characters)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (owner_id is not a UUID)
            - 5 NOT_FOUND `Leaderboard not found.` (also for a tournament's id)

        Example:
            nk.leaderboard_record_delete("weekly_kills", cheater_id)
        """
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
