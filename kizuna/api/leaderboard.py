"""`/v2/leaderboard`: write, delete and list leaderboard records, and records around an owner."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.codec import read_json
from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import leaderboards as lb
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging

_LIMIT = paging.invalid_limit_message(lb.LIST_RECORDS_MAX)
_AROUND_LIMIT = paging.invalid_limit_message(lb.AROUND_OWNER_MAX)
INVALID_EXPIRY = "Invalid expiry value."


def _username(call: Call) -> str | None:
    return call.session.username if call.session is not None else None


def record_fields(req: dict[str, Any]) -> tuple[int, int, str | None, int]:
    """score, subscore, metadata and operator override of a write request's `record`."""
    record = fields.field(req, "record")
    if not isinstance(record, dict):
        raise invalid(lb.NO_RECORD)
    override = lb.operator_override(fields.field(record, "operator"))
    return (fields.integer(record, "score"), fields.integer(record, "subscore"),
            lb.check_metadata(fields.text(record, "metadata")), override)


def owner_ids(req: dict[str, Any]) -> list[str]:
    return [lb.owner_uuid(o, lb.INVALID_OWNERS) for o in fields.strings(req, "owner_ids")]


def list_limit(req: dict[str, Any], owners: list[str], maximum: int) -> int | None:
    """Nakama's rule: absent limit lists one record, or none when only owners are asked for."""
    value = fields.optional_integer(req, "limit", bits=32)
    if value is not None:
        return paging.limit(value, 1, maximum)
    return 1 if not owners or fields.text(req, "cursor") else None


async def parse_write(request: web.Request) -> dict[str, Any]:
    return {"leaderboard_id": fields.path(request.match_info, "leaderboard_id"),
            "record": await read_json(request)}


async def write(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    board = lb.board_id(fields.text(req, "leaderboard_id"))
    score, subscore, metadata, override = record_fields(req)
    record = await lb.write_record(call.domain, board, call.user_id, _username(call), score,
                                   subscore, metadata, override)
    return encode.leaderboard_record(record)


async def parse_delete(request: web.Request) -> dict[str, Any]:
    return {"leaderboard_id": fields.path(request.match_info, "leaderboard_id")}


async def delete(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    board = lb.board_id(fields.text(req, "leaderboard_id"))
    await lb.delete_record(call.domain, board, call.user_id)
    return {}


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"leaderboard_id": fields.path(request.match_info, "leaderboard_id"),
            "owner_ids": fields.query_all(q, "owner_ids"),
            "limit": fields.query_int(q, "limit", _LIMIT),
            "cursor": fields.query(q, "cursor") or "",
            "expiry": fields.query_int(q, "expiry", INVALID_EXPIRY, bits=64)}


async def list_records(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    board = lb.board_id(fields.text(req, "leaderboard_id"))
    owners = owner_ids(req)
    limit = list_limit(req, owners, lb.LIST_RECORDS_MAX)
    page = await lb.list_records(call.domain, board, limit, fields.text(req, "cursor") or None,
                                 owners, expiry(req))
    return encode.leaderboard_record_list(page)


def expiry(req: dict[str, Any]) -> int:
    value = fields.integer(req, "expiry")
    if value < 0:
        raise invalid(INVALID_EXPIRY)
    return value


async def parse_around(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"leaderboard_id": fields.path(request.match_info, "leaderboard_id"),
            "owner_id": fields.path(request.match_info, "owner_id"),
            "limit": fields.query_int(q, "limit", _AROUND_LIMIT),
            "cursor": fields.query(q, "cursor") or "",
            "expiry": fields.query_int(q, "expiry", INVALID_EXPIRY, bits=64)}


def around_args(req: dict[str, Any], default: int = 1) -> tuple[str, int]:
    """The owner and limit (`default` when absent) of an around-owner request."""
    limit = paging.limit(fields.optional_integer(req, "limit", bits=32), default,
                         lb.AROUND_OWNER_MAX)
    owner = fields.text(req, "owner_id")
    if not owner:
        raise invalid(lb.NO_OWNER)
    return lb.owner_uuid(owner, lb.INVALID_OWNER), limit


async def around(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    board = lb.board_id(fields.text(req, "leaderboard_id"))
    owner, limit = around_args(req)
    page = await lb.around_owner(call.domain, board, owner, limit,
                                 fields.text(req, "cursor") or None, expiry(req))
    return encode.leaderboard_record_list(page)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/leaderboard/{leaderboard_id}", "ListLeaderboardRecords", Auth.SESSION,
             parse_list, list_records),
    Endpoint("POST", "/v2/leaderboard/{leaderboard_id}", "WriteLeaderboardRecord", Auth.SESSION,
             parse_write, write),
    Endpoint("DELETE", "/v2/leaderboard/{leaderboard_id}", "DeleteLeaderboardRecord",
             Auth.SESSION, parse_delete, delete),
    Endpoint("GET", "/v2/leaderboard/{leaderboard_id}/owner/{owner_id}",
             "ListLeaderboardRecordsAroundOwner", Auth.SESSION, parse_around, around),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
