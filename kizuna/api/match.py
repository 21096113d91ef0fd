"""`GET /v2/match`: Nakama's ListMatches, over kizuna/core/matches.py (as `nk.match_list`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kizuna.api.endpoint import Auth, Call, Endpoint, add
from kizuna.core import matches
from kizuna.errors import invalid
from kizuna.wire import encode, fields, paging


async def parse_list(request: web.Request) -> dict[str, Any]:
    q = request.query
    return {"limit": fields.query_int(q, "limit", paging.INVALID_LIMIT),
            "authoritative": fields.query_bool(q, "authoritative"),
            "label": fields.query(q, "label"),
            "min_size": fields.query_int(q, "min_size", "min_size: expected an integer"),
            "max_size": fields.query_int(q, "max_size", "max_size: expected an integer"),
            "query": fields.query(q, "query")}


async def list_matches(call: Call, req: dict[str, Any]) -> dict[str, Any]:
    limit = paging.limit(fields.optional_integer(req, "limit", 32), default=1,
                         maximum=matches.MAX_LIST_LIMIT)
    authoritative = fields.optional_boolean(req, "authoritative")
    label = fields.optional_string_value(req, "label") or None  # "" is no filter
    query = fields.optional_string_value(req, "query") or None
    if label is not None and authoritative is not True:
        raise invalid(matches.LABEL_FILTER_NOT_AUTHORITATIVE)
    if query is not None and authoritative is not True:
        raise invalid(matches.QUERY_FILTER_NOT_AUTHORITATIVE)
    found = matches.list_matches(call.domain, limit, authoritative, label,
                                 fields.optional_integer(req, "min_size", 32),
                                 fields.optional_integer(req, "max_size", 32), query)
    return encode.match_list(found)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/v2/match", "ListMatches", Auth.SESSION, parse_list, list_matches),
)


def register(app: web.Application) -> None:
    for e in ENDPOINTS:
        add(app, e)
