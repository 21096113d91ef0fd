"""`/v2/tournament`: list tournaments, join them, write, delete and list their records."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api import leaderboard as board_api
from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import leaderboards as lb
from kizuna.core import tournaments as tn
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging

_RECORDS_LIMIT = paging.invalid_limit_message(tn.LIST_MAX)
INVALID_CATEGORY = "Invalid category."
INVALID_TIME = "Invalid time."


def _id(req: dict[str, Any], message: str = tn.NO_ID) -> str:
    return lb.board_id(fields.text(req, "tournament_id"), message)


def _username(call: Call) -> str | None:
    return call.session.username if call.session is not None else None


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"category_start": fields.query_int(q, "category_start", INVALID_CATEGORY),
            "category_end": fields.query_int(q, "category_end", INVALID_CATEGORY),
            "start_time": fields.query_int(q, "start_time", INVALID_TIME, bits=64),
            "end_time": fields.query_int(q, "end_time", INVALID_TIME, bits=64),
            "limit": fields.query_int(q, "limit", tn.LIST_LIMIT),
            "cursor": fields.query(q, "cursor") or ""}


def _unsigned(req: dict[str, Any], name: str, message: str) -> int | None:
    value = fields.optional_integer(req, name)
    if value is not None and value < 0:
        raise invalid(message)
    return value


async def list_tournaments(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = fields.optional_integer(req, "limit", bits=32)
    if limit is not None and not 1 <= limit <= tn.LIST_MAX:
        raise invalid(tn.LIST_LIMIT)
    page = await tn.list_tournaments(
        call.domain, _unsigned(req, "category_start", INVALID_CATEGORY),
        _unsigned(req, "category_end", tn.CATEGORY_END),
        _unsigned(req, "start_time", INVALID_TIME), _unsigned(req, "end_time", INVALID_TIME),
        limit or tn.LIST_DEFAULT, fields.text(req, "cursor") or None)
    return encode.tournament_list(page)  # none found: {} (protojson omits an empty list)


async def parse_join(request: web.Request) -> dict[str, Any]:
    return {"tournament_id": fields.path(request.match_info, "tournament_id")}


async def join(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await tn.join(call.domain, _id(req), call.user_id, _username(call))
    return {}


async def parse_write(request: web.Request) -> dict[str, Any]:
    return {"tournament_id": fields.path(request.match_info, "tournament_id"),
            "record": await read_json(request)}


async def write(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    tid = _id(req)
    score, subscore, metadata, override = board_api.record_fields(req)
    record = await tn.write_record(call.domain, tid, call.user_id, _username(call), score,
                                   subscore, metadata, override)
    return encode.leaderboard_record(record)


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"tournament_id": fields.path(request.match_info, "tournament_id")}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    await tn.delete_record(call.domain, _id(req, tn.INVALID_ID), call.user_id)
    return {}


async def parse_records(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"tournament_id": fields.path(request.match_info, "tournament_id"),
            "owner_ids": fields.query_all(q, "owner_ids"),
            "limit": fields.query_int(q, "limit", _RECORDS_LIMIT),
            "cursor": fields.query(q, "cursor") or "",
            "expiry": fields.query_int(q, "expiry", board_api.INVALID_EXPIRY, bits=64)}


async def list_records(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    tid = _id(req)
    owners = board_api.owner_ids(req)
    limit = fields.optional_integer(req, "limit", bits=32)
    if limit is not None:
        limit = paging.limit(limit, tn.RECORDS_DEFAULT, tn.LIST_MAX)
    elif not owners or not fields.text(req, "cursor"):
        limit = tn.RECORDS_DEFAULT
    page = await tn.list_records(call.domain, tid, limit, fields.text(req, "cursor") or None,
                                 owners, board_api.expiry(req))
    return encode.leaderboard_record_list(page)


async def parse_around(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"tournament_id": fields.path(request.match_info, "tournament_id"),
            "owner_id": fields.path(request.match_info, "owner_id"),
            "limit": fields.query_int(q, "limit", _RECORDS_LIMIT),
            "cursor": fields.query(q, "cursor") or "",
            "expiry": fields.query_int(q, "expiry", board_api.INVALID_EXPIRY, bits=64)}


async def around(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    tid = _id(req, tn.INVALID_ID)
    owner, limit = board_api.around_args(req, tn.AROUND_DEFAULT)
    page = await tn.around_owner(call.domain, tid, owner, limit,
                                 fields.text(req, "cursor") or None, board_api.expiry(req))
    return encode.leaderboard_record_list(page)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/tournament", "ListTournaments", Auth.SESSION, parse_list,
             list_tournaments),
    Endpoint("GET", "/v2/tournament/{tournament_id}", "ListTournamentRecords", Auth.SESSION,
             parse_records, list_records),
    Endpoint("PUT", "/v2/tournament/{tournament_id}", "WriteTournamentRecord", Auth.SESSION,
             parse_write, write),
    Endpoint("POST", "/v2/tournament/{tournament_id}", "WriteTournamentRecord", Auth.SESSION,
             parse_write, write),
    Endpoint("DELETE", "/v2/tournament/{tournament_id}", "DeleteTournamentRecord", Auth.SESSION,
             parse_delete, delete),
    Endpoint("POST", "/v2/tournament/{tournament_id}/join", "JoinTournament", Auth.SESSION,
             parse_join, join),
    Endpoint("GET", "/v2/tournament/{tournament_id}/owner/{owner_id}",
             "ListTournamentRecordsAroundOwner", Auth.SESSION, parse_around, around),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
