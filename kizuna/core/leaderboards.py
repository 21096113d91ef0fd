"""Leaderboards: boards created by server code, records written and read by players, ranks.

Rules, as Nakama's (server/core_leaderboard.go, server/api_leaderboard.go):
- a board has a sort order (0 ascending: lower is better; 1 descending), an operator (best, set,
  increment, decrement), an optional CRON reset schedule, metadata, and may be authoritative
  (only server code writes or deletes its records);
- records are kept per period: a record's `expiry_time` is the next reset after it was written
  (the epoch when the board never resets), so after a reset reads show the new, empty period and
  the old one stays readable with `expiry`;
- a write applies the operator to the player's record of the current period: best keeps the
  better score and, independently, the better subscore (Nakama's rule); set replaces both;
  increment adds; decrement subtracts, stopping at 0. A write that changes nothing (a worse "best")
  still answers with the record as it is, and does not count in `num_score`;
- records are listed by score, then subscore, then owner id (descending boards: all three
  descending); a page's ranks follow from its position (the cursor carries the rank), and the
  records of given owners, "around owner" lists and written records take their rank from the rank
  structure (core/ranks.py), when the board keeps ranks (`enable_ranks`).

Boards live in memory (`Leaderboards.boards`), loaded at start. Every change to a board or a
record publishes an event on the PostgreSQL channel `kizuna_leaderboard` in the same statement,
so every node sharing the database keeps its boards and rank tables current; when the listening
connection is lost, the node reloads both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

import asyncpg

from kizuna.core import schedule as cron
from kizuna.core.listener import Listener
from kizuna.core.ranks import Ranks, RankTable
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import (
    Leaderboard,
    LeaderboardList,
    LeaderboardRecord,
    LeaderboardRecordList,
)

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

log = logging.getLogger("kizuna.leaderboards")

CHANNEL = "kizuna_leaderboard"

ASCENDING, DESCENDING = 0, 1
# The operator as stored (leaderboard.operator) and as the API numbers it (api.Operator).
BEST, SET, INCREMENT, DECREMENT = 0, 1, 2, 3
NO_OVERRIDE = 0
API_OPERATOR = {BEST: 1, SET: 2, INCREMENT: 3, DECREMENT: 4}
FROM_API_OPERATOR = {v: k for k, v in API_OPERATOR.items()}
SORT_NAMES = {"asc": ASCENDING, "ascending": ASCENDING, "desc": DESCENDING,
              "descending": DESCENDING}
OPERATOR_NAMES = {"best": BEST, "set": SET, "incr": INCREMENT, "increment": INCREMENT,
                  "decr": DECREMENT, "decrement": DECREMENT}

INT64_MAX = (1 << 63) - 1
MAX_ID = 128  # leaderboard.id is VARCHAR(128)

LIST_RECORDS_MAX = 1000  # ListLeaderboardRecords: limit 1..1000 (absent: 1)
AROUND_OWNER_MAX = 100  # ListLeaderboardRecordsAroundOwner: limit 1..100 (absent: 1)

NOT_FOUND = "Leaderboard not found."
INVALID_ID = "Invalid leaderboard ID."
INVALID_CURSOR = "Cursor is invalid or expired."
INVALID_OWNERS = "One or more owner IDs are invalid."
NO_OWNER = "Owner ID must be provided for a haystack query."
INVALID_OWNER = "Invalid owner ID provided."
AUTHORITATIVE_WRITE = "Leaderboard only allows authoritative score submissions."
AUTHORITATIVE_DELETE = "Leaderboard only allows authoritative score deletions."
NO_RECORD = "Invalid input, record score value is required."
BAD_METADATA = "Metadata value must be JSON, if provided."
NEGATIVE_SCORE = "Invalid score value, must be >= 0."
NEGATIVE_SUBSCORE = "Invalid subscore value, must be >= 0."
OVERFLOW = "Score or subscore would overflow: the result must fit in a 64-bit integer."
INVALID_OPERATOR = "Invalid operator."

_RECORD_COLUMNS = ("owner_id::text AS owner_id, username, score, subscore, num_score, "
                   "max_num_score, metadata::text AS metadata, create_time, update_time")
_BOARD_COLUMNS = (
    "id, authoritative, sort_order, operator, reset_schedule, metadata::text AS metadata, "
    "create_time, COALESCE(enable_ranks, true) AS enable_ranks, category, description, duration, "
    "extract(epoch FROM end_time)::bigint AS end_time, join_required, max_size, max_num_score, "
    "title, floor(extract(epoch FROM start_time))::bigint AS start_time")


# -- boards --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard or tournament definition (a `leaderboard` row), as every node caches it."""
    id: str
    authoritative: bool
    sort_order: int
    operator: int
    reset_schedule: str | None
    metadata: str
    create_time: datetime
    enable_ranks: bool = True
    category: int = 0
    description: str = ""
    duration: int = 0
    end_time: int = 0  # unix seconds, 0: never ends
    join_required: bool = False
    max_size: int = 100_000_000
    max_num_score: int = 1_000_000
    title: str = ""
    start_time: int = 0  # unix seconds
    schedule: cron.Schedule | None = field(default=None, compare=False)
    # The last period computed and until when it holds: CRON arithmetic costs 0.1-0.5 ms, and
    # a period only changes at one of its own boundaries.
    _period: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def descending(self) -> bool:
        return self.sort_order == DESCENDING

    @property
    def is_tournament(self) -> bool:
        return self.duration > 0

    def period(self, now: datetime | None = None) -> tuple[int, int, int]:
        """The current period as (start_active, end_active, expiry), unix seconds. A leaderboard
        has only an expiry (0: its records never expire); see schedule.tournament_deadlines."""
        now = now or datetime.now(UTC)
        unix = now.timestamp()
        cached = self._period
        if cached and cached[0] <= unix < cached[1]:
            return cast(tuple[int, int, int], cached[2])
        if self.is_tournament:
            value = tuple(cron.tournament_deadlines(self.start_time, self.end_time,
                                                    self.duration, self.schedule, now))
        else:
            value = (0, 0, cron.leaderboard_expiry(self.schedule, now))
        # Valid from this second until the next boundary of the period (at most a minute).
        bounds = (*value, self.start_time, self.end_time)
        until = min([t for t in bounds if t > unix] + [int(unix) + 60])
        self._period[:] = [int(unix), until, value]
        return cast(tuple[int, int, int], value)

    def expiry(self, now: datetime | None = None) -> int:
        """The end of the current period (unix seconds; 0: records never expire)."""
        return self.period(now)[2]

    def api(self, now: datetime | None = None) -> Leaderboard:
        now = now or datetime.now(UTC)
        prev_reset = cron.prev_reset(self.schedule, int(self.create_time.timestamp()), now)
        return Leaderboard(self.id, self.sort_order, API_OPERATOR[self.operator], prev_reset,
                           cron.next_reset(self.schedule, now), self.metadata, self.create_time,
                           self.authoritative)


def board_from_row(row: asyncpg.Record) -> Board:
    expr = row["reset_schedule"] or None
    return Board(
        id=row["id"], authoritative=row["authoritative"], sort_order=row["sort_order"],
        operator=row["operator"], reset_schedule=expr, metadata=row["metadata"],
        create_time=row["create_time"], enable_ranks=row["enable_ranks"],
        category=row["category"], description=row["description"], duration=row["duration"],
        end_time=max(int(row["end_time"]), 0), join_required=row["join_required"],
        max_size=row["max_size"], max_num_score=row["max_num_score"], title=row["title"],
        start_time=int(row["start_time"]), schedule=_parse_schedule(expr))


def _parse_schedule(expr: str | None) -> cron.Schedule | None:
    try:
        return cron.parse(expr)
    except KizunaError:
        # A row written by another tool with a schedule this node cannot read: the board stays
        # usable, without resets.
        log.warning("unreadable reset schedule", extra={"schedule": expr})
        return None


class BoardHooks(Protocol):
    """Server code called when periods end (the runtime implements it)."""

    async def leaderboard_reset(self, board: Board, reset: int) -> None: ...
    async def tournament_end(self, board: Board, end: int, reset: int) -> None: ...
    async def tournament_reset(self, board: Board, end: int, reset: int) -> None: ...


# -- the node's boards, ranks and schedule -------------------------------------------------------


class Leaderboards:
    """Boards in memory, the rank tables, the event listener and the reset scheduler of a node."""

    def __init__(self, pool: asyncpg.Pool, listener: Listener) -> None:
        self.pool = pool
        self.listener = listener
        listener.subscribe(CHANNEL, self._on_event)
        self.boards: dict[str, Board] = {}
        self.ranks = Ranks()
        self.hooks: BoardHooks | None = None
        self._lost = asyncio.Event()
        listener.on_lost.append(self._lost.set)
        self._generation = 0  # the listener's connection the loaded state is current for
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.loaded_ms = 0  # how long the last load of boards and ranks took
        self._pruned = 0.0
        self.migrated: bool | None = None  # False while the schema lacks the leaderboard tables
        # Tournament id -> (expiry, size) of the last period this node reset: the reset callback
        # is shown the size the period reached, not the 0 it was reset to (tournaments fix).
        self.final_sizes: dict[str, tuple[int, int]] = {}

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.listener.start()
        self._generation = self.listener.generation
        await self.load_if_migrated()
        self._tasks.append(asyncio.create_task(self._watch_listener(), name="leaderboard-events"))
        self._tasks.append(asyncio.create_task(self._scheduler(), name="leaderboard-scheduler"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def load_if_migrated(self) -> None:
        """Load, unless the schema predates the leaderboard tables: a node of this release may
        serve a database at the oldest schema of its window (a rolling upgrade) until
        `migrate up` adds them; the watcher then loads them (within 5 s)."""
        try:
            await self.load()
            self.migrated = True
        except asyncpg.UndefinedTableError:
            if self.migrated is not False:
                log.warning("Leaderboards wait for migration 0008_leaderboards "
                            "(kizuna migrate up): none are served until then")
            self.migrated = False

    async def load(self) -> None:
        """Read every board and rebuild the rank tables of their current periods. Events heard
        while this runs are applied as they come; a loaded row never overwrites a record an
        event already placed."""
        started = time.monotonic()
        rows = await self.pool.fetch(f"SELECT {_BOARD_COLUMNS} FROM leaderboard")
        self.boards = {r["id"]: board_from_row(r) for r in rows}
        self.ranks = Ranks()
        for board in list(self.boards.values()):
            await self._load_ranks(board)
        self.loaded_ms = int((time.monotonic() - started) * 1000)
        log.info("Leaderboards loaded", extra={
            "boards": len(self.boards), "ranked_records": self.ranks.records(),
            "load_ms": self.loaded_ms})

    async def _load_ranks(self, board: Board) -> None:
        if not board.enable_ranks:
            return
        expiry = board.expiry()
        if expiry and expiry <= time.time():
            return
        table = self.ranks.ensure(board.id, expiry, board.descending)
        rows = await self.pool.fetch(
            "SELECT owner_id::text, score, subscore FROM leaderboard_record "
            "WHERE leaderboard_id = $1 AND expiry_time = to_timestamp($2)", board.id, expiry)
        table.merge([(r[0], r[1], r[2]) for r in rows])

    async def _watch_listener(self) -> None:
        """Reload when the node's listener connection was replaced (failover,
        pg_terminate_backend): events sent while nobody listened are not replayed. Also loads the
        boards once `migrate up` has added their tables."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._lost.wait()
            self._lost.clear()
            try:
                await self.listener.check()
                if self.listener.generation != self._generation and self.listener.listening:
                    self._generation = self.listener.generation
                    log.warning("leaderboard events may have been missed; reloading")
                    await self.load_if_migrated()
                elif self.migrated is False:
                    await self.load_if_migrated()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("leaderboard reload failed", extra={"error": str(exc)})
                self._generation = -1  # try again
                await asyncio.sleep(1)

    def _on_event(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            self.apply(payload)
        except Exception:  # a malformed event must not stop the listener
            log.exception("bad leaderboard event", extra={"payload": payload[:200]})

    def apply(self, payload: str) -> None:
        """An event: `r|board|expiry|owner|score|subscore` (a record now holds these values),
        `d|board|expiry|owner` (a record was deleted), `b|board` (a board changed)."""
        kind, _, rest = payload.partition("|")
        if kind == "b":
            asyncio.get_running_loop().create_task(self._reload_board(rest))
            return
        if kind == "r":
            board_id, expiry, owner, score, subscore = rest.rsplit("|", 4)
            board = self.boards.get(board_id)
            if board is not None and board.enable_ranks:
                self.put(board, int(expiry), owner, int(score), int(subscore))
        elif kind == "d":
            board_id, expiry, owner = rest.rsplit("|", 2)
            self.ranks.drop(board_id, int(expiry), owner)

    def put(self, board: Board, expiry: int, owner: str, score: int, subscore: int) -> int:
        """A record now holds these values: place it in its period's rank table; its rank."""
        if expiry and expiry <= time.time():
            return 0
        return self.ranks.ensure(board.id, expiry, board.descending).put(owner, score, subscore)

    async def _reload_board(self, board_id: str) -> None:
        row = await self.pool.fetchrow(f"SELECT {_BOARD_COLUMNS} FROM leaderboard WHERE id = $1",
                                       board_id)
        old = self.boards.get(board_id)
        if row is None:
            self.boards.pop(board_id, None)
            self.ranks.forget(board_id)
            return
        board = board_from_row(row)
        self.boards[board_id] = board
        if old is None or old.sort_order != board.sort_order or not board.enable_ranks:
            self.ranks.forget(board_id)
        if board.enable_ranks and (old is None or not old.enable_ranks):
            await self._load_ranks(board)
        self._wake.set()

    async def changed(self, board_id: str) -> None:
        """After this node created, changed or deleted a board: update here, tell the others."""
        await self.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, "b|" + board_id)
        await self._reload_board(board_id)

    def get(self, board_id: str) -> Board | None:
        return self.boards.get(board_id)

    # -- resets and ends: server code's callbacks --------------------------------------------------

    def _next_events(self, board: Board, now: datetime) -> list[tuple[int, str, int, int]]:
        """The coming period ends of a board: (unix seconds, kind, end, reset)."""
        if board.is_tournament:
            _, end_active, expiry = board.period(now)
            unix = now.timestamp()
            if board.end_time and board.end_time < unix:
                return []  # over: nothing more happens
            events = []
            if end_active > unix:
                events.append((end_active, "tournament_end", end_active, expiry))
            if expiry > unix:
                events.append((expiry, "tournament_reset", end_active, expiry))
            return events
        if board.schedule is None:
            return []
        reset = int(board.schedule.next(now).timestamp())
        return [(reset, "leaderboard_reset", 0, reset)]

    async def _scheduler(self) -> None:
        """Sleep until the next period end of any board, then run its callback once per cluster
        (the node that records the event in `kizuna_leaderboard_event` runs it), and drop rank
        tables of ended periods. Wakes early when a board changes."""
        while True:
            now = datetime.now(UTC)
            events = [(b, *e) for b in list(self.boards.values())
                      for e in self._next_events(b, now)]
            soonest = min((e[1] for e in events), default=None)
            delay = 60.0 if soonest is None else min(max(soonest - now.timestamp(), 0.0), 60.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
            fired_at = time.time()
            for board, at, kind, end, reset in events:
                if at <= fired_at:
                    await self._fire(board, kind, at, end, reset)
            self.ranks.trim(int(fired_at))
            if fired_at - self._pruned > 3600:
                # The record of which callbacks ran is only needed while nodes might still be
                # about to run them: keep a week.
                self._pruned = fired_at
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await self.pool.execute("DELETE FROM kizuna_leaderboard_event "
                                            "WHERE event_time < now() - interval '7 days'")

    async def _fire(self, board: Board, kind: str, at: int, end: int, reset: int) -> None:
        try:
            claimed = await self.pool.fetchval(
                "INSERT INTO kizuna_leaderboard_event (leaderboard_id, kind, event_time) "
                "VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING RETURNING true",
                board.id, kind, at)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("leaderboard event not recorded", extra={"error": str(exc),
                                                                  "leaderboard_id": board.id})
            return
        if not claimed:
            return
        if kind == "tournament_reset":
            # The next period counts its players from 0 (callbacks or not). The size the period
            # reached is kept for the reset callback, as Nakama reads the tournament before
            # resetting it (tournaments fix; `o` is the row as it was before this update).
            final = await self.pool.fetchval(
                "UPDATE leaderboard l SET size = 0 FROM leaderboard o WHERE l.id = $1 "
                "AND o.id = $1 RETURNING o.size", board.id)
            self.final_sizes[board.id] = (at, final or 0)
        hooks = self.hooks
        if hooks is None:
            return
        try:
            if kind == "leaderboard_reset":
                await hooks.leaderboard_reset(board, reset)
            elif kind == "tournament_end":
                await hooks.tournament_end(board, end, reset)
            elif kind == "tournament_reset":
                await hooks.tournament_reset(board, end, reset)
        except Exception:
            log.exception("leaderboard callback failed", extra={"leaderboard_id": board.id,
                                                                 "kind": kind})


# -- arguments -----------------------------------------------------------------------------------


def board_id(value: Any, message: str = INVALID_ID) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise invalid(message)
    return value


def owner_uuid(value: str, message: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise invalid(message) from None


def check_metadata(metadata: str | None) -> str | None:
    """Record metadata: a JSON object as text, or None to keep what the record has."""
    if not metadata:
        return None
    json_object(metadata, BAD_METADATA, "Metadata must not contain the character U+0000.")
    return metadata


def operator_override(value: Any) -> int:
    """The API `Operator` of a write (0 no override .. 4 decrement): the stored operator to use,
    or -1 for none."""
    if value in (None, NO_OVERRIDE, "NO_OVERRIDE"):
        return -1
    if isinstance(value, str):
        names = {"BEST": 1, "SET": 2, "INCREMENT": 3, "DECREMENT": 4}
        if value not in names:
            raise invalid(INVALID_OPERATOR)
        value = names[value]
    if type(value) is not int or value not in FROM_API_OPERATOR:
        raise invalid(INVALID_OPERATOR)
    return FROM_API_OPERATOR[value]


def not_found(message: str = NOT_FOUND) -> KizunaError:
    return KizunaError(Code.NOT_FOUND, message)


# -- create, delete, get, list (server code) -------------------------------------------------------


async def create(domain: Domain, board_id_: str, authoritative: bool, sort_order: int,
                 operator: int, reset_schedule: str | None, metadata: str,
                 enable_ranks: bool) -> bool:
    """Create a leaderboard; an existing id is left as it is (False)."""
    lbs = domain.leaderboards
    board_id(board_id_)
    if sort_order not in (ASCENDING, DESCENDING):
        raise invalid("Invalid sort order, must be 'asc' or 'desc'.")
    if operator not in API_OPERATOR:
        raise invalid("Invalid operator, must be 'best', 'set', 'incr' or 'decr'.")
    cron.parse(reset_schedule)
    json_object(metadata, "Metadata must be a JSON object.",
                "Metadata must not contain the character U+0000.")
    if lbs.get(board_id_) is not None:
        return False
    created = await domain.pool.fetchval(
        "INSERT INTO leaderboard (id, authoritative, sort_order, operator, reset_schedule, "
        "metadata, enable_ranks) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) "
        "ON CONFLICT (id) DO NOTHING RETURNING true",
        board_id_, authoritative, sort_order, operator, reset_schedule or None, metadata,
        enable_ranks)
    await lbs.changed(board_id_)
    return bool(created)


async def delete(domain: Domain, board_id_: str, *, tournament: bool = False) -> None:
    """Delete a board and its records (Nakama: deleting a missing board is not an error)."""
    board = domain.leaderboards.get(board_id_)
    if board is None or board.is_tournament != tournament:
        return
    await domain.pool.execute("DELETE FROM leaderboard WHERE id = $1", board_id_)
    await domain.leaderboards.changed(board_id_)


async def disable_ranks(domain: Domain, board_id_: str, *, tournament: bool = False) -> None:
    board = domain.leaderboards.get(board_id_)
    if board is None or board.is_tournament != tournament:
        raise not_found("Tournament not found." if tournament else NOT_FOUND)
    await domain.pool.execute("UPDATE leaderboard SET enable_ranks = false WHERE id = $1",
                              board_id_)
    await domain.leaderboards.changed(board_id_)


def get_boards(domain: Domain, ids: list[str]) -> list[Leaderboard]:
    now = datetime.now(UTC)
    out = []
    for i in ids:
        board = domain.leaderboards.get(i)
        if board is not None and not board.is_tournament:
            out.append(board.api(now))
    return out


def list_boards(domain: Domain, limit: int, cursor: str | None) -> LeaderboardList:
    """Leaderboards (not tournaments) by creation time, then id."""
    offset = 0
    if cursor:
        values = decode_cursor(cursor, INVALID_CURSOR)
        if len(values) != 1 or type(values[0]) is not int or values[0] < 0:
            raise invalid(INVALID_CURSOR)
        offset = values[0]
    boards = sorted((b for b in domain.leaderboards.boards.values() if not b.is_tournament),
                    key=lambda b: (b.create_time, b.id))
    now = datetime.now(UTC)
    page = [b.api(now) for b in boards[offset:offset + limit]]
    more = offset + limit < len(boards)
    return LeaderboardList(page, encode_cursor([offset + limit]) if more else None)


# -- records ---------------------------------------------------------------------------------------


def record_from_row(row: asyncpg.Record, board_id_: str, expiry: int,
                    rank: int = 0) -> LeaderboardRecord:
    """A record from a row of _RECORD_COLUMNS (whose order is LeaderboardRecord's, after the
    board id): positional, as pages build up to 1,000 of these."""
    return LeaderboardRecord(board_id_, *row[:9], expiry, rank)  # type: ignore[call-arg]


def operator_sql(operator: int, sort_order: int) -> tuple[str, str]:
    """The SET and WHERE clauses applying an operator to an existing record `r` ($4 score,
    $5 subscore): a row the WHERE rejects is left unchanged (and `num_score` with it)."""
    if operator == INCREMENT:
        return ("score = r.score + $4::bigint, subscore = r.subscore + $5::bigint",
                "$4::bigint <> 0 OR $5::bigint <> 0")
    if operator == DECREMENT:
        return ("score = GREATEST(r.score - $4::bigint, 0), "
                "subscore = GREATEST(r.subscore - $5::bigint, 0)",
                "$4::bigint <> 0 OR $5::bigint <> 0")
    if operator == SET:
        return "score = $4, subscore = $5", "r.score <> $4 OR r.subscore <> $5"
    if sort_order == ASCENDING:
        return ("score = LEAST(r.score, $4), subscore = LEAST(r.subscore, $5)",
                "r.score > $4 OR r.subscore > $5")
    return ("score = GREATEST(r.score, $4), subscore = GREATEST(r.subscore, $5)",
            "r.score < $4 OR r.subscore < $5")


def check_scores(score: int, subscore: int, operator: int) -> None:
    """Scores are non-negative, except an increment's, which may lower a record (never below 0:
    the write is then refused)."""
    if operator != INCREMENT:
        if score < 0:
            raise invalid(NEGATIVE_SCORE)
        if subscore < 0:
            raise invalid(NEGATIVE_SUBSCORE)


_NOTIFY_PUT = ("pg_notify('" + CHANNEL + "', concat_ws('|', 'r', $1::text, $7::bigint, "
               "w.owner_id, w.score, w.subscore))")


async def upsert(conn: asyncpg.Pool | asyncpg.Connection, board: Board, expiry: int,
                 owner_id: str, username: str | None, score: int, subscore: int,
                 metadata: str | None, operator: int, *, max_num_score: int = 1_000_000,
                 every_write: bool = False) -> asyncpg.Record | None:
    """Write a record with an operator, publishing the event. The row has `changed`: false when
    the record existed and the write changed nothing (`every_write`: tournaments count every
    write, even one that changes nothing); None in the rare race where it cannot say.
    Arguments: $1 board, $2 owner, $3 username, $4 score, $5 subscore, $6 metadata, $7 expiry,
    $8 max_num_score."""
    set_sql, where_sql = operator_sql(operator, board.sort_order)
    if every_write:
        where_sql = "true"
    insert_score, insert_subscore = "$4", "$5"
    if operator == DECREMENT:
        insert_score = insert_subscore = "0"
    elif operator == INCREMENT:
        # A first write by increment starts from 0 (a negative increment of nothing is 0).
        insert_score, insert_subscore = "GREATEST($4::bigint, 0)", "GREATEST($5::bigint, 0)"
    sql = (
        "WITH w AS (INSERT INTO leaderboard_record AS r (leaderboard_id, owner_id, username, "
        "score, subscore, metadata, expiry_time, max_num_score) VALUES ($1, $2, $3, "
        f"{insert_score}, {insert_subscore}, COALESCE($6::jsonb, '{{}}'), to_timestamp($7), $8) "
        "ON CONFLICT (owner_id, leaderboard_id, expiry_time) DO UPDATE SET "
        f"{set_sql}, num_score = r.num_score + 1, metadata = COALESCE($6::jsonb, r.metadata), "
        f"username = COALESCE($3, r.username), update_time = now() WHERE {where_sql} "
        "RETURNING owner_id::text AS owner_id, username, score, subscore, num_score, "
        "max_num_score, metadata::text AS metadata, create_time, update_time) "
        # The written record with its event; or, when the write changed nothing, the record as
        # it is (in the same round trip; None only if it was inserted after this statement's
        # snapshot was taken).
        f"SELECT w.*, true AS changed FROM w CROSS JOIN LATERAL (SELECT {_NOTIFY_PUT}) n "
        f"UNION ALL SELECT {_RECORD_COLUMNS}, false FROM leaderboard_record "
        "WHERE leaderboard_id = $1 AND owner_id = $2 AND expiry_time = to_timestamp($7) "
        "AND NOT EXISTS (SELECT 1 FROM w)")
    try:
        return await conn.fetchrow(sql, board.id, owner_id, username or None, score, subscore,
                                   metadata, expiry, max_num_score)
    except asyncpg.NumericValueOutOfRangeError:
        raise invalid(OVERFLOW) from None
    except asyncpg.CheckViolationError:
        raise invalid(NEGATIVE_SCORE) from None
    except asyncpg.UniqueViolationError:
        # Two first writes of one owner raced: the other one inserted; apply ours to it.
        return await upsert(conn, board, expiry, owner_id, username, score, subscore, metadata,
                            operator, max_num_score=max_num_score, every_write=every_write)


async def update_existing(conn: asyncpg.Connection, board: Board, expiry: int, owner_id: str,
                          username: str | None, score: int, subscore: int, metadata: str | None,
                          operator: int, guard: str = "true") -> asyncpg.Record | None:
    """Apply an operator to a record that must exist (a joined tournament player's), counting the
    write whatever it changes, when `guard` (a condition on the record `r`) holds; None when
    there is no record or the guard refused."""
    set_sql, _ = operator_sql(operator, board.sort_order)
    sql = (
        f"WITH w AS (UPDATE leaderboard_record AS r SET {set_sql}, num_score = r.num_score + 1, "
        "metadata = COALESCE($6::jsonb, r.metadata), username = COALESCE($3, r.username), "
        "update_time = now() WHERE r.leaderboard_id = $1 AND r.owner_id = $2 AND "
        f"r.expiry_time = to_timestamp($7) AND ({guard}) "
        "RETURNING owner_id::text AS owner_id, username, score, subscore, num_score, "
        "max_num_score, metadata::text AS metadata, create_time, update_time) "
        f"SELECT w.*, {_NOTIFY_PUT} FROM w")
    try:
        return await conn.fetchrow(sql, board.id, owner_id, username or None, score, subscore,
                                   metadata, expiry)
    except asyncpg.NumericValueOutOfRangeError:
        raise invalid(OVERFLOW) from None
    except asyncpg.CheckViolationError:
        raise invalid(NEGATIVE_SCORE) from None


async def read_record(conn: asyncpg.Pool | asyncpg.Connection, board_id_: str, expiry: int,
                      owner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_RECORD_COLUMNS} FROM leaderboard_record WHERE leaderboard_id = $1 AND "
        "owner_id = $2 AND expiry_time = to_timestamp($3)", board_id_, owner_id, expiry)


async def write_record(domain: Domain, board_id_: str, owner_id: str, username: str | None,
                       score: int, subscore: int, metadata: str | None, override: int = -1, *,
                       server: bool = False) -> LeaderboardRecord:
    """A player's (or, `server=True`, server code's) write of a record for the current period."""
    lbs = domain.leaderboards
    board = lbs.get(board_id_)
    if board is None:
        raise not_found()
    if board.authoritative and not server:
        raise KizunaError(Code.PERMISSION_DENIED, AUTHORITATIVE_WRITE)
    operator = board.operator if override < 0 else override
    check_scores(score, subscore, operator)
    expiry = board.expiry()
    row = await upsert(domain.pool, board, expiry, owner_id, username, score, subscore,
                       metadata, operator)
    if row is None or not row["changed"]:
        if row is None:
            row = await read_record(domain.pool, board.id, expiry, owner_id)
        if row is None:  # deleted in between
            raise KizunaError(Code.ABORTED, "The record changed during the write; try again.")
        rank = lbs.ranks.rank(board.id, expiry, owner_id) if board.enable_ranks else 0
    else:
        rank = (lbs.put(board, expiry, owner_id, row["score"], row["subscore"])
                if board.enable_ranks else 0)
    return record_from_row(row, board.id, expiry, rank)


async def delete_record(domain: Domain, board_id_: str, owner_id: str, *,
                        server: bool = False) -> None:
    board = domain.leaderboards.get(board_id_)
    if board is None or board.is_tournament:
        raise not_found()
    if board.authoritative and not server:
        raise KizunaError(Code.PERMISSION_DENIED, AUTHORITATIVE_DELETE)
    await remove_record(domain, board, owner_id)


async def remove_record(domain: Domain, board: Board, owner_id: str) -> None:
    """Delete an owner's record of the current period, with its event."""
    expiry = board.expiry()
    await domain.pool.execute(
        "WITH d AS (DELETE FROM leaderboard_record WHERE leaderboard_id = $1 AND owner_id = $2 "
        "AND expiry_time = to_timestamp($3) RETURNING owner_id::text AS owner_id) "
        f"SELECT pg_notify('{CHANNEL}', concat_ws('|', 'd', $1::text, $3::bigint, d.owner_id)) "
        "FROM d", board.id, owner_id, expiry)
    domain.leaderboards.ranks.drop(board.id, expiry, owner_id)


async def delete_owner_records(conn: asyncpg.Connection, owner_id: str) -> None:
    """Every record of a user (account deletion), with their events."""
    await conn.execute(
        "WITH d AS (DELETE FROM leaderboard_record WHERE owner_id = $1 RETURNING leaderboard_id, "
        "extract(epoch FROM expiry_time)::bigint AS expiry) "
        f"SELECT pg_notify('{CHANNEL}', concat_ws('|', 'd', d.leaderboard_id, d.expiry, $1::text))"
        " FROM d", owner_id)


def expiry_for_read(board: Board, override: int) -> int | None:
    """The period a read shows: `override` when given, else the current one; None when the
    current period of a tournament has already ended (nothing to show)."""
    if override:
        return override
    expiry = board.expiry()
    if board.is_tournament and expiry and expiry <= time.time():
        return None
    return expiry


def _order(descending: bool) -> str:
    return (" ORDER BY score DESC, subscore DESC, owner_id DESC" if descending
            else " ORDER BY score ASC, subscore ASC, owner_id ASC")


def _cursor(is_next: bool, board_id_: str, expiry: int, rec: LeaderboardRecord) -> str:
    return encode_cursor([is_next, board_id_, expiry, rec.score, rec.subscore, rec.owner_id,
                          rec.rank])


@dataclass(frozen=True, slots=True)
class _Position:
    is_next: bool
    score: int
    subscore: int
    owner_id: str
    rank: int


def _read_cursor(cursor: str, board_id_: str, expiry: int) -> _Position:
    values = decode_cursor(cursor, INVALID_CURSOR)
    if (len(values) != 7 or type(values[0]) is not bool or values[1] != board_id_
            or values[2] != expiry or any(type(v) is not int for v in values[3:5] + values[6:])
            or not 0 <= values[3] <= INT64_MAX or not 0 <= values[4] <= INT64_MAX
            or not isinstance(values[5], str)):
        raise invalid(INVALID_CURSOR)
    try:
        owner = str(uuid.UUID(values[5]))
    except ValueError:
        raise invalid(INVALID_CURSOR) from None
    return _Position(values[0], values[3], values[4], owner, values[6])


_NOTHING = LeaderboardRecordList([], [], None, None, 0)


def _for_read(lbs: Leaderboards, board_id_: str, expiry_override: int,
              missing: Callable[[], KizunaError]) -> tuple[Board, int | None]:
    """The board a read is for (`missing()` when there is none) and the period it shows (None:
    a tournament whose period has ended, nothing to show)."""
    board = lbs.get(board_id_)
    if board is None:
        raise missing()
    return board, expiry_for_read(board, expiry_override)


async def list_records(domain: Domain, board_id_: str, limit: int | None, cursor: str | None,
                       owner_ids: list[str], expiry_override: int = 0,
                       missing: Callable[[], KizunaError] = not_found) -> LeaderboardRecordList:
    """A page of a board's records (when `limit` is given) and the records of `owner_ids`."""
    lbs = domain.leaderboards
    board, expiry = _for_read(lbs, board_id_, expiry_override, missing)
    if expiry is None:
        return _NOTHING
    records: list[LeaderboardRecord] = []
    next_cursor = prev_cursor = None
    if limit is not None:
        pos = _read_cursor(cursor, board.id, expiry) if cursor else None
        forward = pos is None or pos.is_next
        # Descending boards read forward with "<", ascending with ">"; a previous page reverses.
        downward = board.descending == forward
        sql = (f"SELECT {_RECORD_COLUMNS} FROM leaderboard_record WHERE leaderboard_id = $1 "
               "AND expiry_time = to_timestamp($2)")
        args: list[Any] = [board.id, expiry, limit + 1]
        if pos is not None:
            sql += f" AND (score, subscore, owner_id) {'<' if downward else '>'} ($4, $5, $6)"
            args += [pos.score, pos.subscore, pos.owner_id]
        rows = await domain.pool.fetch(sql + _order(downward) + " LIMIT $3", *args)
        more = len(rows) > limit
        rows = rows[:limit]
        rank = pos.rank if pos is not None else 0
        step = 1 if forward else -1
        ranked = []
        for row in rows:
            rank += step
            ranked.append((row, rank))
        if not forward:
            ranked.reverse()
        records = [record_from_row(row, board.id, expiry, r) for row, r in ranked]
        if records:
            first, last = records[0], records[-1]
            # Forward: more rows after this page; any cursor in means rows before it.
            # Backward: more rows before this page; the page came from a later one.
            has_next = more if forward else True
            has_prev = (pos is not None) if forward else more
            if has_next:
                next_cursor = _cursor(True, board.id, expiry, last)
            if has_prev:
                prev_cursor = _cursor(False, board.id, expiry, first)
    owner_records: list[LeaderboardRecord] = []
    if owner_ids:
        rows = await domain.pool.fetch(
            f"SELECT {_RECORD_COLUMNS} FROM leaderboard_record WHERE leaderboard_id = $1 "
            "AND expiry_time = to_timestamp($2) AND owner_id = ANY($3::uuid[])"
            + _order(board.descending), board.id, expiry, owner_ids)
        owner_records = [record_from_row(r, board.id, expiry,
                                         _rank(lbs, board, expiry, r["owner_id"])) for r in rows]
    return LeaderboardRecordList(records, owner_records, next_cursor, prev_cursor,
                                 _rank_count(lbs, board, expiry))


def cursor_from_rank(domain: Domain, board_id_: str, rank: int, expiry_override: int = 0) -> str:
    """A list cursor whose next page starts at `rank` ("" for rank 1): the rank structure knows
    the record just before it without a scan."""
    board = domain.leaderboards.get(board_id_)
    if board is None:
        raise not_found()
    if type(rank) is not int or rank < 1:
        raise invalid("Invalid rank: must be 1 or more.")
    if rank == 1:
        return ""
    expiry = expiry_for_read(board, expiry_override) or 0
    table = domain.leaderboards.ranks.table(board.id, expiry) if board.enable_ranks else None
    if table is None:
        raise KizunaError(Code.FAILED_PRECONDITION, "Leaderboard does not keep ranks.")
    before = table.at(rank - 1)
    if before is None:
        raise invalid("Rank is beyond the end of the leaderboard.")
    return encode_cursor([True, board.id, expiry, before.score, before.subscore,
                          before.owner_id, rank - 1])


def _rank(lbs: Leaderboards, board: Board, expiry: int, owner_id: str) -> int:
    return lbs.ranks.rank(board.id, expiry, owner_id) if board.enable_ranks else 0


def _rank_count(lbs: Leaderboards, board: Board, expiry: int) -> int:
    return lbs.ranks.count(board.id, expiry) if board.enable_ranks else 0


async def around_owner(domain: Domain, board_id_: str, owner_id: str, limit: int,
                       cursor: str | None, expiry_override: int = 0,
                       missing: Callable[[], KizunaError] = not_found) -> LeaderboardRecordList:
    """`limit` records around an owner's (the owner's included), as Nakama's haystack: up to
    `limit` better records are read, then enough worse ones to fill the page, and the page keeps
    the owner roughly in the middle. With a cursor, this is a plain page of `list_records`."""
    lbs = domain.leaderboards
    board, expiry = _for_read(lbs, board_id_, expiry_override, missing)
    if expiry is None:
        return _NOTHING
    if cursor:
        return await list_records(domain, board_id_, limit, cursor, [], expiry, missing)
    pool = domain.pool
    table = lbs.ranks.table(board.id, expiry) if board.enable_ranks else None
    if table is not None and table.rank(owner_id):
        return await _around_by_rank(domain, board, expiry, owner_id, limit, table)
    own = await read_record(pool, board.id, expiry, owner_id)
    if own is None:
        return LeaderboardRecordList([], [], None, None, _rank_count(lbs, board, expiry))
    base = (f"SELECT {_RECORD_COLUMNS} FROM leaderboard_record WHERE leaderboard_id = $1 "
            "AND expiry_time = to_timestamp($2) AND (score, subscore, owner_id) ")
    args = [board.id, expiry, own["score"], own["subscore"], own["owner_id"]]
    # Better records: "above" the owner in the board's order, nearest first.
    above_op = ">" if board.descending else "<"
    below_op = "<" if board.descending else ">"
    better = await pool.fetch(base + f"{above_op} ($3, $4, $5::uuid)"
                              + _order(not board.descending) + " LIMIT $6", *args, limit + 1)
    more_before = len(better) > limit
    better = list(reversed(better[:limit]))
    below_limit = limit // 2
    if len(better) < below_limit:
        below_limit = limit - len(better)
    worse = await pool.fetch(base + f"{below_op} ($3, $4, $5::uuid)"
                             + _order(board.descending) + " LIMIT $6", *args, below_limit + 1)
    more_after = len(worse) > below_limit
    worse = worse[:below_limit]
    rows = [*better, own, *worse]
    start = len(rows) - limit
    if start < 0 or len(better) < below_limit:
        start = 0
    if start > 0:
        more_before = True
    if start + limit < len(rows):
        more_after = True
    rows = rows[start:start + limit]
    records = [record_from_row(r, board.id, expiry, _rank(lbs, board, expiry, r["owner_id"]))
               for r in rows]
    prev_cursor = next_cursor = None
    if records and more_before:
        first = records[0]
        prev_cursor = _cursor(False, board.id, expiry, first)
    if records and more_after:
        last = records[-1]
        next_cursor = _cursor(True, board.id, expiry, last)
    return LeaderboardRecordList(records, [], next_cursor, prev_cursor,
                                 _rank_count(lbs, board, expiry))


async def _around_by_rank(domain: Domain, board: Board, expiry: int, owner_id: str, limit: int,
                          table: RankTable) -> LeaderboardRecordList:
    """The same page as around_owner's queries, placed with the rank structure: the window of
    ranks is computed (Nakama's placement: up to `limit` better records, then at least half a page
    of worse ones when there are), and one query reads exactly its records, from the one at its
    first rank."""
    rank, count = table.rank(owner_id), len(table)
    better = min(limit, rank - 1)
    below = limit // 2
    if better < below:
        below = limit - better
    worse = min(below, count - rank)
    start = better + 1 + worse - limit
    if start < 0 or better < below:
        start = 0
    first = rank - better + start
    size = min(limit, better + 1 + worse - start)
    top = table.at(first)
    if top is None:  # the table changed under us: read it the long way
        return await around_owner(domain, board.id, owner_id, limit, None, expiry)
    rows = await domain.pool.fetch(
        f"SELECT {_RECORD_COLUMNS} FROM leaderboard_record WHERE leaderboard_id = $1 "
        "AND expiry_time = to_timestamp($2) AND (score, subscore, owner_id) "
        f"{'<=' if board.descending else '>='} ($3, $4, $5::uuid)" + _order(board.descending)
        + " LIMIT $6", board.id, expiry, top.score, top.subscore, top.owner_id, size)
    records = [record_from_row(r, board.id, expiry, first + i) for i, r in enumerate(rows)]
    prev_cursor = next_cursor = None
    if records and first > 1:
        prev_cursor = _cursor(False, board.id, expiry, records[0])
    if records and first + len(records) - 1 < count:
        next_cursor = _cursor(True, board.id, expiry, records[-1])
    return LeaderboardRecordList(records, [], next_cursor, prev_cursor, count)
