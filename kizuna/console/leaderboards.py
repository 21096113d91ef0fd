"""Leaderboards, tournaments and matches: what server code created and what players are doing.

API (Nakama's console paths; one list serves leaderboards and tournaments, as in Nakama):
- `GET /v2/console/leaderboard?tournament=&limit=&cursor=` -> `{leaderboards, total, cursor}`,
  each board with id, sort_order, operator (as stored: 0 best, 1 set, 2 increment, 3 decrement),
  reset_schedule, authoritative, metadata, create_time, tournament, size and the tournament's
  fields (title, description, category, start_time, end_time, duration, max_size, max_num_score,
  join_required, start_active, end_active, prev_reset, next_reset; unix seconds), and Kizuna's
  additions: operator_name, enable_ranks, rank_count (records of the current period, when ranks
  are kept);
- `GET /v2/console/leaderboard/{id}` -> one board;
- `GET /v2/console/leaderboard/{id}/records?limit=&cursor=&owner_id=&expiry=` -> the game API's
  LeaderboardRecordList (records with ranks, next/prev cursors, rank_count);
- `DELETE /v2/console/leaderboard/{id}/owner/{owner_id}`: delete an owner's record of the
  current period (authoritative boards too: the operator acts as server code);
- `GET /v2/console/match?limit=&cursor=` -> `{matches: [{api_match, node, presences}],
  next_cursor}`: the authoritative matches this node runs and the relayed matches with members
  on this node;
  `GET /v2/console/match/{match_id}` -> one of them.

Boards are the node's in-memory copy (core/leaderboards.py keeps every node's current); records
are read with core's paginated list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from kizuna.console.app import API_PREFIX, audit_note, console_of, json_ok
from kizuna.console.pages import render
from kizuna.core import leaderboards as lb
from kizuna.core import streams
from kizuna.core import tournaments as tn
from kizuna.core.domain import Domain
from kizuna.core.leaderboards import Board
from kizuna.core.matches import RunningMatch
from kizuna.errors import Code, KizunaError, invalid
from kizuna.realtime.tracker import Presence
from kizuna.wire import encode, fields, paging
from kizuna.wire.codec import timestamp
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor
from kizuna.wire.types import LeaderboardRecordList, Tournament

OPERATOR_NAMES = {lb.BEST: "best", lb.SET: "set", lb.INCREMENT: "increment",
                  lb.DECREMENT: "decrement"}
SORT_NAMES = {lb.ASCENDING: "ascending", lb.DESCENDING: "descending"}
RECORD_NOT_FOUND = "Leaderboard record not found."
MATCH_NOT_FOUND = "Match not found."


def _limit(request: web.Request, default: int, maximum: int) -> int:
    raw = fields.query_int(request.query, "limit", paging.invalid_limit_message(maximum))
    return paging.limit(raw, default=default, maximum=maximum)


def _query(request: web.Request, name: str) -> str | None:
    return fields.query(request.query, name) or None


def _domain(request: web.Request) -> Domain:
    return console_of(request).services.domain


# -- boards --------------------------------------------------------------------------------------


def _board(domain: Domain, board_id: str) -> Board:
    board = domain.leaderboards.get(board_id)
    if board is None:
        raise KizunaError(Code.NOT_FOUND, lb.NOT_FOUND)
    return board


def _rank_count(domain: Domain, board: Board) -> int | None:
    """Records of the current period (from the rank table), None when ranks are not kept."""
    if not board.enable_ranks:
        return None
    expiry = lb.expiry_for_read(board, 0)
    return 0 if expiry is None else domain.leaderboards.ranks.count(board.id, expiry)


def board_json(domain: Domain, board: Board, t: Tournament | None,
               now: datetime) -> dict[str, Any]:
    """The console's Leaderboard: a leaderboard's or a tournament's fields (`t` for a
    tournament: its current period and size)."""
    out: dict[str, Any] = {
        "id": board.id, "sort_order": board.sort_order, "operator": board.operator,
        "operator_name": OPERATOR_NAMES.get(board.operator, str(board.operator)),
        "reset_schedule": board.reset_schedule or "", "authoritative": board.authoritative,
        "metadata": board.metadata, "create_time": timestamp(board.create_time),
        "tournament": board.is_tournament, "enable_ranks": board.enable_ranks,
        "rank_count": _rank_count(domain, board),
        "title": board.title, "description": board.description, "category": board.category,
        "duration": board.duration, "max_num_score": board.max_num_score,
        "join_required": board.join_required,
    }
    if t is not None:
        out.update({
            "size": t.size, "max_size": t.max_size if tn.has_max_size(board) else 0,
            "start_time": board.start_time, "end_time": board.end_time,
            "start_active": t.start_active, "end_active": t.end_active,
            "prev_reset": t.prev_reset, "next_reset": t.next_reset, "can_enter": t.can_enter})
    else:
        api = board.api(now)
        out.update({"size": 0, "max_size": 0, "start_time": 0, "end_time": 0,
                    "start_active": 0, "end_active": 0, "prev_reset": api.prev_reset,
                    "next_reset": api.next_reset, "can_enter": False})
    return out


async def _boards_json(domain: Domain, boards: list[Board]) -> list[dict[str, Any]]:
    views = {t.id: t for t in await tn.get_tournaments(
        domain, [b.id for b in boards if b.is_tournament])}
    now = datetime.now(UTC)
    return [board_json(domain, b, views.get(b.id), now) for b in boards]


def _after(cursor: str | None) -> str:
    """The id a one-id keyset cursor holds ("" for the first page)."""
    if not cursor:
        return ""
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], str):
        raise invalid(MALFORMED_CURSOR)
    return str(values[0])


def _tournament_filter(request: web.Request) -> bool | None:
    return fields.query_bool(request.query, "tournament")


def _page_of_boards(domain: Domain, tournament: bool | None, limit: int,
                    cursor: str | None) -> tuple[list[Board], int, str | None]:
    """Boards by id (keyset on the id), those of one kind when `tournament` is given; the total
    of that kind; the next page's cursor."""
    after = _after(cursor)
    boards = sorted((b for b in domain.leaderboards.boards.values()
                     if tournament is None or b.is_tournament == tournament),
                    key=lambda b: b.id)
    rest = [b for b in boards if b.id > after]
    page = rest[:limit]
    more = len(rest) > limit
    return page, len(boards), encode_cursor([page[-1].id]) if more and page else None


async def api_boards(request: web.Request) -> web.StreamResponse:
    domain = _domain(request)
    page, total, nxt = _page_of_boards(domain, _tournament_filter(request),
                                       _limit(request, 100, 1000), _query(request, "cursor"))
    return json_ok({"leaderboards": await _boards_json(domain, page), "total": total,
                    "cursor": nxt or ""})


async def api_board(request: web.Request) -> web.StreamResponse:
    domain = _domain(request)
    board = _board(domain, fields.path(request.match_info, "id"))
    [doc] = await _boards_json(domain, [board])
    return json_ok(doc)


async def _records(request: web.Request, board: Board, limit: int) -> LeaderboardRecordList:
    owners = [lb.owner_uuid(o, lb.INVALID_OWNERS)
              for o in fields.query_all(request.query, "owner_ids")
              + fields.query_all(request.query, "owner_id") if o]
    expiry = fields.query_int(request.query, "expiry", "Invalid expiry.", bits=64) or 0
    if expiry < 0:
        raise invalid("Invalid expiry.")
    return await lb.list_records(_domain(request), board.id, limit, _query(request, "cursor"),
                                 owners, expiry)


async def api_records(request: web.Request) -> web.StreamResponse:
    board = _board(_domain(request), fields.path(request.match_info, "id"))
    page = await _records(request, board, _limit(request, 100, lb.LIST_RECORDS_MAX))
    return json_ok(encode.leaderboard_record_list(page))


async def api_delete_record(request: web.Request) -> web.StreamResponse:
    domain = _domain(request)
    board = _board(domain, fields.path(request.match_info, "id"))
    owner = lb.owner_uuid(fields.path(request.match_info, "owner_id"), lb.INVALID_OWNER)
    if await lb.read_record(domain.pool, board.id, board.expiry(), owner) is None:
        raise KizunaError(Code.NOT_FOUND, RECORD_NOT_FOUND)
    if board.is_tournament:
        await tn.delete_record(domain, board.id, owner, server=True)
    else:
        await lb.delete_record(domain, board.id, owner, server=True)
    kind = "tournament" if board.is_tournament else "leaderboard"
    audit_note(request, f"deleted the {kind} record of {owner} on {board.id}",
               leaderboard_id=board.id, owner_id=owner)
    return json_ok({})


# -- board pages ---------------------------------------------------------------------------------


def _qs(**params: str | None) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v})


def _href(board: Board) -> str:
    return ("/tournaments/" if board.is_tournament else "/leaderboards/") + quote(board.id, safe="")


async def _list_page(request: web.Request, tournament: bool) -> web.StreamResponse:
    domain = _domain(request)
    page, total, nxt = _page_of_boards(domain, tournament, _limit(request, 100, 1000),
                                       _query(request, "cursor"))
    docs = await _boards_json(domain, page)
    rows = [{"b": d, "href": _href(b)} for b, d in zip(page, docs, strict=True)]
    template = "tournaments.html" if tournament else "leaderboards.html"
    return render(request, template, rows=rows, total=total,
                  next_href=_qs(cursor=nxt) if nxt else "",
                  first=bool(request.query.get("cursor")), sort_names=SORT_NAMES)


async def leaderboards_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request, False)


async def tournaments_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request, True)


async def _board_page(request: web.Request, tournament: bool) -> web.StreamResponse:
    domain = _domain(request)
    board = _board(domain, fields.path(request.match_info, "id"))
    if board.is_tournament != tournament:
        raise web.HTTPFound(_href(board))
    [doc] = await _boards_json(domain, [board])
    page = await _records(request, board, _limit(request, 50, 500))
    owner = _query(request, "owner_id") or ""
    base = _href(board)
    template = "tournament.html" if tournament else "leaderboard.html"
    return render(request, template, b=doc, page=page, owner_id=owner,
                  sort_name=SORT_NAMES.get(board.sort_order, "?"),
                  api_path=f"{API_PREFIX}/leaderboard/{quote(board.id, safe='')}",
                  page_href=base, next_href=base + _qs(cursor=page.next_cursor, owner_id=owner)
                  if page.next_cursor else "",
                  prev_href=base + _qs(cursor=page.prev_cursor, owner_id=owner)
                  if page.prev_cursor else "",
                  unlimited=tn.UNLIMITED)


async def leaderboard_page(request: web.Request) -> web.StreamResponse:
    return await _board_page(request, False)


async def tournament_page(request: web.Request) -> web.StreamResponse:
    return await _board_page(request, True)


# -- matches -------------------------------------------------------------------------------------


def _match_json(stream: streams.Stream, members: list[Presence], node: str,
                running: RunningMatch | None = None) -> dict[str, Any]:
    return {"api_match": {"match_id": f"{stream.subject}.{stream.label}",
                          "authoritative": running is not None,
                          "label": running.label if running is not None else "",
                          "size": len(members),
                          "tick_rate": running.tick_rate if running is not None else 0,
                          "handler_name": running.handler_name if running is not None else ""},
            "node": node,
            "presences": [encode.user_presence(p) for p in members]}


def _matches(request: web.Request, limit: int,
             cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The matches this node knows, by id (keyset on the id): the running authoritative matches
    (in a cluster, every node's) and the relayed matches with members (on any node)."""
    services = console_of(request).services
    tracker = services.realtime.tracker
    after = _after(cursor)
    running = {m.stream.subject: m for m in services.domain.matches.running()}
    found = sorted([s for s in tracker.streams(streams.MATCH_RELAYED) if s.subject > after]
                   + [m.stream for m in running.values() if m.stream.subject > after],
                   key=lambda s: s.subject)
    page = found[:limit]
    more = len(found) > limit
    out = [_match_json(s, tracker.list(s), s.label or "",
                       running.get(s.subject) if s.mode == streams.MATCH_AUTHORITATIVE else None)
           for s in page]
    return out, encode_cursor([page[-1].subject]) if more and page else None


async def api_matches(request: web.Request) -> web.StreamResponse:
    matches, nxt = _matches(request, _limit(request, 100, 1000), _query(request, "cursor"))
    return json_ok({"matches": matches, "next_cursor": nxt or ""})


async def api_match(request: web.Request) -> web.StreamResponse:
    match_id = fields.path(request.match_info, "match_id")
    head, dot, node = match_id.partition(".")
    tracker = console_of(request).services.realtime.tracker
    if dot and node:
        running = console_of(request).services.domain.matches.get(match_id)
        if running is None:
            raise KizunaError(Code.NOT_FOUND, MATCH_NOT_FOUND)
        return json_ok(_match_json(running.stream, tracker.list(running.stream), node, running))
    stream = streams.Stream(streams.MATCH_RELAYED, head)
    if not dot or not tracker.exists(stream):
        raise KizunaError(Code.NOT_FOUND, MATCH_NOT_FOUND)
    return json_ok(_match_json(stream, tracker.list(stream), ""))


async def matches_page(request: web.Request) -> web.StreamResponse:
    matches, nxt = _matches(request, _limit(request, 100, 1000), _query(request, "cursor"))
    return render(request, "matches.html", matches=matches,
                  next_href=_qs(cursor=nxt) if nxt else "",
                  first=bool(request.query.get("cursor")),
                  this_node=console_of(request).services.realtime.tracker.node)


def register(app: web.Application) -> None:
    base = f"{API_PREFIX}/leaderboard"
    app.router.add_get(base, api_boards)
    app.router.add_get(f"{base}/{{id}}", api_board)
    app.router.add_get(f"{base}/{{id}}/records", api_records)
    app.router.add_delete(f"{base}/{{id}}/owner/{{owner_id}}", api_delete_record)
    app.router.add_get(f"{API_PREFIX}/match", api_matches)
    app.router.add_get(f"{API_PREFIX}/match/{{match_id}}", api_match)
    app.router.add_get("/leaderboards", leaderboards_page)
    app.router.add_get("/leaderboards/{id}", leaderboard_page)
    app.router.add_get("/tournaments", tournaments_page)
    app.router.add_get("/tournaments/{id}", tournament_page)
    app.router.add_get("/matches", matches_page)
