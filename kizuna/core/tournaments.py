"""Tournaments: leaderboards with an active window, a size, attempts and joins.

A tournament is a `leaderboard` row with a duration (records, ranks, periods and record lists are
core/leaderboards.py's). Rules, as Nakama's (server/core_tournament.go, server/api_tournament.go):
- each period runs from `start_active` to `end_active` (the duration after the period starts,
  capped by the next reset and by the end time) and its records expire at `expiry` (the next
  reset, or the end time); writes are accepted only inside the active window, joins until it
  closes (before the start too);
- a join-required tournament takes writes only from players who joined this period (a join
  writes a record with score 0 and num_score 0); others write freely, and their first write joins;
- `max_size` caps the players of a period (0 at creation means no cap, stored as 2^31-1 and only
  then not counted, as Nakama); `max_num_score` caps each player's writes per period, and
  `nk.tournament_add_attempt` raises it for one player;
- at every period end the size starts again from 0; server code hears the end of the active
  window (`register_tournament_end`) and the end of the period (`register_tournament_reset`).

Where Nakama's answers are accidents (a 500 for deleting a missing tournament's record, a full
attempt count on a join-required tournament answering success, `join_required` never shown),
Kizuna answers as the rule intends: 404, the attempts error, the flag as created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kizuna.core import leaderboards as lb
from kizuna.core import schedule as cron
from kizuna.core.leaderboards import API_OPERATOR, Board
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import LeaderboardRecord, LeaderboardRecordList, Tournament, TournamentList

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

UNLIMITED = 2**31 - 1  # max_size of a tournament created with 0
MAX_CATEGORY = 127
LIST_MAX = 100  # ListTournaments and ListTournamentRecords: limit 1..100
LIST_DEFAULT = 100
RECORDS_DEFAULT = 10
AROUND_DEFAULT = 100

NOT_FOUND = "Tournament not found."
ENDED = "Tournament has ended."
NOT_FOUND_OR_ENDED = "Tournament not found or has ended."
NO_ID = "Tournament ID must be provided."
INVALID_ID = "Invalid tournament ID."
AUTHORITATIVE_WRITE = "Tournament only allows authoritative score submissions."
AUTHORITATIVE_DELETE = "Tournament only allows authoritative score deletions."
INACTIVE_SCORES = "Tournament is not active and cannot accept new scores."
INACTIVE_JOINS = "Tournament is not active and cannot accept new joins."
MUST_JOIN = "Must join tournament before attempting to write value."
MAX_ATTEMPTS = "Reached allowed max number of score attempts."
FULL_WRITE = "Tournament has reached max size."
FULL_JOIN = "Tournament cannot be joined as it has reached its max size."
CATEGORY_END = "Tournament category end must be >=0 and <128."
CATEGORY_ORDER = "Tournament category end must be greater than category start."
TIME_ORDER = "Tournament end time must be greater than start time."
LIST_LIMIT = "Limit must be between 1 and 100."
INVALID_CURSOR = "Cursor is invalid or expired."


def not_found(message: str = NOT_FOUND) -> KizunaError:
    return KizunaError(Code.NOT_FOUND, message)


def _precondition(message: str) -> KizunaError:
    return KizunaError(Code.FAILED_PRECONDITION, message)


def has_max_size(board: Board) -> bool:
    return board.max_size != UNLIMITED


def _tournament(domain: Domain, tournament_id: str) -> Board:
    board = domain.leaderboards.get(tournament_id)
    if board is None or not board.is_tournament:
        raise not_found()
    return board


def _unix(now: datetime) -> int:
    return int(now.timestamp())


# -- the api.Tournament of a board -----------------------------------------------------------------


def view(board: Board, size: int, now: datetime | None = None) -> Tournament:
    """The api.Tournament of a board, as of `now`; `size` counts only with a max size."""
    now = now or datetime.now(UTC)
    start_active, end_active, expiry = board.period(now)
    unix = _unix(now)
    can_enter = start_active <= unix and not (end_active and end_active <= unix)
    if has_max_size(board) and size >= board.max_size:
        can_enter = False
    return Tournament(
        id=board.id, title=board.title, description=board.description,
        category=board.category, sort_order=board.sort_order,
        size=size if has_max_size(board) else 0, max_size=board.max_size,
        max_num_score=board.max_num_score, can_enter=can_enter, end_active=end_active,
        next_reset=expiry, metadata=board.metadata, create_time=board.create_time,
        start_time=datetime.fromtimestamp(board.start_time, UTC), end_time=board.end_time,
        duration=board.duration, start_active=start_active,
        prev_reset=cron.prev_reset(board.schedule, board.start_time, now),
        operator=API_OPERATOR[board.operator], authoritative=board.authoritative,
        join_required=board.join_required)


async def _sizes(domain: Domain, boards: list[Board]) -> dict[str, int]:
    ids = [b.id for b in boards if has_max_size(b)]
    if not ids:
        return {}
    rows = await domain.pool.fetch("SELECT id, size FROM leaderboard WHERE id = ANY($1)", ids)
    return {r["id"]: r["size"] for r in rows}


async def current_view(domain: Domain, board: Board, now: datetime | None = None) -> Tournament:
    """The tournament as of `now`; for a period this node has just reset (the reset callback),
    with the size the period reached rather than the 0 it was reset to."""
    now = now or datetime.now(UTC)
    final = domain.leaderboards.final_sizes.get(board.id)
    if final is not None and final[0] == board.period(now)[2]:
        return view(board, final[1], now)
    sizes = await _sizes(domain, [board])
    return view(board, sizes.get(board.id, 0), now)


# -- create, delete, attempts (server code) --------------------------------------------------------


async def create(domain: Domain, tournament_id: str, authoritative: bool, sort_order: int,
                 operator: int, reset_schedule: str | None, metadata: str, title: str,
                 description: str, category: int, start_time: int, end_time: int,
                 duration: int, max_size: int, max_num_score: int, join_required: bool,
                 enable_ranks: bool) -> bool:
    """Create a tournament; an existing one is left as it is (False)."""
    lbs = domain.leaderboards
    lb.board_id(tournament_id, "Expects a tournament ID string.")
    if sort_order not in (lb.ASCENDING, lb.DESCENDING):
        raise invalid("Invalid sort order, must be 'asc' or 'desc'.")
    if operator not in API_OPERATOR:
        raise invalid("Invalid operator, must be 'best', 'set', 'incr' or 'decr'.")
    schedule = cron.parse(reset_schedule)
    json_object(metadata, "Metadata must be a JSON object.",
                "Metadata must not contain the character U+0000.")
    if not 0 <= category <= MAX_CATEGORY:
        raise invalid("Category must be 0-127.")
    if start_time < 0:
        raise invalid("Start time must be >= 0.")
    if end_time < 0:
        raise invalid("End time must be >= 0.")
    if end_time and end_time < start_time:
        raise invalid("End time must be >= start time.")
    if duration <= 0:
        raise invalid("Duration must be > 0.")
    if max_size < 0 or max_num_score < 0:
        raise invalid("Max size and max number of scores must be >= 0.")
    if len(title) > 255 or len(description) > 255:
        raise invalid("Title and description must be at most 255 characters.")
    if schedule is not None and end_time:
        first = schedule.next(datetime.fromtimestamp(start_time, UTC))
        if end_time <= _unix(first):
            raise invalid("Tournament end time cannot be before first reset schedule - either "
                          "increase end time or change/disable reset schedule.")
    existing = lbs.get(tournament_id)
    if existing is not None:
        if not existing.is_tournament:
            raise KizunaError(Code.ALREADY_EXISTS,
                              "Cannot create tournament as leaderboard is already in use.")
        return False
    created = await domain.pool.fetchval(
        "INSERT INTO leaderboard (id, authoritative, sort_order, operator, reset_schedule, "
        "metadata, title, description, category, start_time, end_time, duration, max_size, "
        "max_num_score, join_required, enable_ranks) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, "
        "$8, $9, CASE WHEN $10::bigint = 0 THEN now() ELSE to_timestamp($10) END, "
        "to_timestamp($11), $12, $13, COALESCE(NULLIF($14, 0), 1000000), $15, $16) "
        "ON CONFLICT (id) DO NOTHING RETURNING true",
        tournament_id, authoritative, sort_order, operator, reset_schedule or None, metadata,
        title, description, category, start_time, end_time, duration, max_size or UNLIMITED,
        max_num_score, join_required, enable_ranks)
    await lbs.changed(tournament_id)
    return bool(created)


async def delete(domain: Domain, tournament_id: str) -> None:
    await lb.delete(domain, tournament_id, tournament=True)


async def add_attempt(domain: Domain, tournament_id: str, owner_id: str, count: int) -> None:
    """Give a player `count` more (or fewer) writes in the current period."""
    board = _tournament(domain, tournament_id)
    if count == 0:
        raise invalid("Expects an attempt count number != 0.")
    _, end_active, expiry = board.period(datetime.now(UTC))
    if end_active <= _unix(datetime.now(UTC)):
        raise _precondition("Tournament outside of duration.")
    await domain.pool.execute(
        "UPDATE leaderboard_record SET max_num_score = GREATEST(max_num_score + $4, 1) "
        "WHERE leaderboard_id = $1 AND owner_id = $2 AND expiry_time = to_timestamp($3)",
        board.id, owner_id, expiry, count)


# -- lists -------------------------------------------------------------------------------------


def get_tournaments_boards(domain: Domain, ids: list[str]) -> list[Board]:
    seen: set[str] = set()
    out = []
    for i in ids:
        board = domain.leaderboards.get(i)
        if board is not None and board.is_tournament and i not in seen:
            seen.add(i)
            out.append(board)
    return out


async def get_tournaments(domain: Domain, ids: list[str]) -> list[Tournament]:
    boards = get_tournaments_boards(domain, ids)
    sizes = await _sizes(domain, boards)
    now = datetime.now(UTC)
    return [view(b, sizes.get(b.id, 0), now) for b in boards]


async def list_tournaments(domain: Domain, category_start: int | None, category_end: int | None,
                           start_time: int | None, end_time: int | None, limit: int,
                           cursor: str | None) -> TournamentList:
    """Tournaments by start time, then end time (latest first, no end last), category and id.
    Defaults: every category (0-127), every start, those that have not ended."""
    cat_start = category_start or 0
    cat_end = MAX_CATEGORY
    if category_end is not None:
        if not 0 <= category_end <= MAX_CATEGORY:
            raise invalid(CATEGORY_END)
        if category_end < cat_start:
            raise invalid(CATEGORY_ORDER)
        cat_end = category_end
    start = -1 if start_time is None else start_time
    end = -1 if end_time is None else end_time
    if end > 0 and end < start:
        raise invalid(TIME_ORDER)
    after: str | None = None
    if cursor:
        values = decode_cursor(cursor, INVALID_CURSOR)
        if len(values) != 1 or not isinstance(values[0], str):
            raise invalid(INVALID_CURSOR)
        after = values[0]
    now = _unix(datetime.now(UTC))

    def wanted(b: Board) -> bool:
        if not b.is_tournament or not cat_start <= b.category <= cat_end:
            return False
        if b.start_time < start:
            return False
        if end == 0:
            return b.end_time == 0
        if end == -1:
            return not (b.end_time and b.end_time < now)
        return bool(b.end_time) and b.end_time <= end

    boards = sorted((b for b in domain.leaderboards.boards.values() if wanted(b)),
                    key=lambda b: (b.start_time, -b.end_time, b.category, b.id))
    if after is not None:
        ids = [b.id for b in boards]
        boards = boards[ids.index(after) + 1:] if after in ids else []
    page, more = boards[:limit], len(boards) > limit
    sizes = await _sizes(domain, page)
    now_dt = datetime.now(UTC)
    items = [view(b, sizes.get(b.id, 0), now_dt) for b in page]
    return TournamentList(items, encode_cursor([page[-1].id]) if more and page else None)


# -- joins and records ---------------------------------------------------------------------------


async def join(domain: Domain, tournament_id: str, owner_id: str, username: str | None) -> None:
    board = _tournament(domain, tournament_id)
    if not board.join_required:
        return
    now = datetime.now(UTC)
    _, end_active, expiry = board.period(now)
    if end_active <= _unix(now):
        raise invalid(INACTIVE_JOINS)
    async with domain.pool.acquire() as conn, conn.transaction():
        joined = await conn.fetchval(
            "WITH j AS (INSERT INTO leaderboard_record (leaderboard_id, owner_id, expiry_time, "
            "username, num_score, max_num_score) VALUES ($1, $2, to_timestamp($3), $4, 0, $5) "
            "ON CONFLICT (owner_id, leaderboard_id, expiry_time) DO NOTHING RETURNING owner_id) "
            f"SELECT pg_notify('{lb.CHANNEL}', concat_ws('|', 'r', $1::text, $3::bigint, "
            "j.owner_id::text, 0, 0)) IS NOT NULL FROM j",
            board.id, owner_id, expiry, username or None, board.max_num_score)
        if joined and has_max_size(board):
            room = await conn.fetchval(
                "UPDATE leaderboard SET size = size + 1 WHERE id = $1 AND size < max_size "
                "RETURNING true", board.id)
            if not room:
                raise invalid(FULL_JOIN)  # rolls the join back
    if joined and board.enable_ranks:
        domain.leaderboards.put(board, expiry, owner_id, 0, 0)


async def write_record(domain: Domain, tournament_id: str, owner_id: str, username: str | None,
                       score: int, subscore: int, metadata: str | None, override: int = -1, *,
                       server: bool = False) -> LeaderboardRecord:
    lbs = domain.leaderboards
    board = _tournament(domain, tournament_id)
    now = datetime.now(UTC)
    unix = _unix(now)
    if board.end_time and board.end_time <= unix:
        raise not_found(NOT_FOUND_OR_ENDED)
    if board.authoritative and not server:
        raise KizunaError(Code.PERMISSION_DENIED, AUTHORITATIVE_WRITE)
    start_active, end_active, expiry = board.period(now)
    if start_active > unix or end_active <= unix:
        raise _precondition(INACTIVE_SCORES)
    operator = board.operator if override < 0 else override
    lb.check_scores(score, subscore, operator)
    async with domain.pool.acquire() as conn, conn.transaction():
        if board.join_required:
            row = await lb.update_existing(conn, board, expiry, owner_id, username, score,
                                           subscore, metadata, operator,
                                           guard="r.num_score < r.max_num_score")
            if row is None:
                if await lb.read_record(conn, board.id, expiry, owner_id) is None:
                    raise _precondition(MUST_JOIN)
                raise _precondition(MAX_ATTEMPTS)
        else:
            row = await lb.upsert(conn, board, expiry, owner_id, username, score, subscore,
                                  metadata, operator, max_num_score=board.max_num_score,
                                  every_write=True)
            if row is None:  # cannot happen with every_write, kept for the type checker
                raise KizunaError(Code.ABORTED, "The record changed during the write; try again.")
            if row["num_score"] > row["max_num_score"]:
                raise _precondition(MAX_ATTEMPTS)  # rolls the write back
            if row["num_score"] == 1 and has_max_size(board):
                room = await conn.fetchval(
                    "UPDATE leaderboard SET size = size + 1 WHERE id = $1 AND size < max_size "
                    "RETURNING true", board.id)
                if not room:
                    raise _precondition(FULL_WRITE)
    rank = (lbs.put(board, expiry, owner_id, row["score"], row["subscore"])
            if board.enable_ranks else 0)
    return lb.record_from_row(row, board.id, expiry, rank)


async def delete_record(domain: Domain, tournament_id: str, owner_id: str, *,
                        server: bool = False) -> None:
    board = _tournament(domain, tournament_id)
    if board.authoritative and not server:
        raise KizunaError(Code.PERMISSION_DENIED, AUTHORITATIVE_DELETE)
    await lb.remove_record(domain, board, owner_id)


async def list_records(domain: Domain, tournament_id: str, limit: int | None,
                       cursor: str | None, owner_ids: list[str],
                       expiry_override: int = 0) -> LeaderboardRecordList:
    board = _tournament(domain, tournament_id)
    if not expiry_override and board.end_time and board.end_time <= _unix(datetime.now(UTC)):
        raise not_found(ENDED)
    return await lb.list_records(domain, tournament_id, limit, cursor, owner_ids,
                                 expiry_override, not_found)


async def around_owner(domain: Domain, tournament_id: str, owner_id: str, limit: int,
                       cursor: str | None, expiry_override: int = 0) -> LeaderboardRecordList:
    _tournament(domain, tournament_id)
    return await lb.around_owner(domain, tournament_id, owner_id, limit, cursor,
                                 expiry_override, not_found)

