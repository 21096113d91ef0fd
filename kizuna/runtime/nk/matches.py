"""nk: matches (kizuna/core/matches.py; authoritative matches run by kizuna/runtime/matches.py).

`match_create` starts an authoritative match of a registered handler on this node; `match_get`
and `match_list` see those and the relayed matches with players on this node, as GET /v2/match
does; `match_signal` calls a running match's `match_signal`.
"""

from __future__ import annotations

from typing import Any, cast

from kizuna.core import matches
from kizuna.errors import Code
from kizuna.runtime.errors import Error
from kizuna.runtime.nk.base import Area, api
from kizuna.runtime.shapes import Match
from kizuna.wire import encode, paging


def _optional_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise Error(f"{what}: expected an integer.", Code.INVALID_ARGUMENT)
    return value


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Error(f"{what}: expected a string.", Code.INVALID_ARGUMENT)
    return value


class MatchesNk(Area):

    @api
    async def match_create(self, module: str, params: Any = None) -> str:
        """Start an authoritative match on this node with the handler registered as `module`
        (`initializer.register_match(module, handler)`): its `match_init(ctx, logger, nk, params)`
        runs now (`params` as given; {} when None) and the match then runs at the tick rate it
        returned. Returns the match id, "<uuid>.<node>", which players join with the socket's
        `match_join`.

        Errors:
            - 3 INVALID_ARGUMENT `module: expected the name a match handler is registered under`
            - 5 NOT_FOUND `No match handler is registered as '<module>'.`
            - 8 RESOURCE_EXHAUSTED `Match limit reached - this node runs at most <n> matches
              (match.max_matches).`
            - 13 INTERNAL `Match not created: match_init of '<module>' returned the tick rate
              <value>: expected an integer from 1 to 60.` (and other results of the wrong shape:
              (state, tick_rate, label), a state that is None, a label that is not text of at most
              2048 bytes)
            - 13 INTERNAL `Match not created: match_init of '<module>' failed (see the server
              log).` (it raised an exception; an `Error` it raises reaches the caller as it is)
            - 14 UNAVAILABLE `The node is stopping: it starts no more matches.`

        Example:
            match_id = nk.match_create("tic-tac-toe", {"private": True})
            return nk.json_encode({"match_id": match_id})
        """
        return await matches.create(self._domain, module, params)

    @api
    async def match_get(self, match_id: str) -> Match | None:
        """A match by id: {match_id, authoritative, label, size, tick_rate, handler_name} (`size`:
        how many players it has), or None when no such match runs here (a relayed match exists
        while it has players).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid match ID` (not "<uuid>.<node>" or "<uuid>.")

        Example:
            match = nk.match_get(match_id)
            if match is None or match["size"] >= 2:
                raise Error("That game is full.", Code.FAILED_PRECONDITION)
        """
        found = matches.get(self._domain, match_id)
        return None if found is None else cast(Match, encode.match(found, full=True))

    @api
    async def match_list(self, limit: int = 1, authoritative: bool | None = None,
                         label: str | None = None, min_size: int | None = None,
                         max_size: int | None = None, query: str | None = None) -> list[Match]:
        """Up to `limit` (1-100) matches, as GET /v2/match lists them: authoritative matches
        (with `query`, the best matches of the query first; then the newest), then relayed ones.
        `authoritative`: True for authoritative matches only, False for relayed ones only, None
        for both. `label`: only authoritative matches with exactly this label. `query`: only
        authoritative matches whose label (a JSON object) matches Nakama's query syntax, e.g.
        `+label.mode:ranked label.level:>=5`. `min_size` / `max_size`: how many players
        (inclusive).

        Errors:
            - 3 INVALID_ARGUMENT `Invalid limit - limit must be between 1 and 100.`
            - 3 INVALID_ARGUMENT `authoritative: expected True, False or None.`
            - 3 INVALID_ARGUMENT `label: expected a string.` (and query)
            - 3 INVALID_ARGUMENT `min_size: expected an integer.` (and max_size)
            - 3 INVALID_ARGUMENT `Invalid minimum size - min size must be >= 0.`
            - 3 INVALID_ARGUMENT `Invalid maximum size - max size must be >= 0.`
            - 3 INVALID_ARGUMENT `Invalid maximum size - max size must be >= min size.`
            - 3 INVALID_ARGUMENT `Invalid match query: <reason>` (a query that does not parse)

        Example:
            games = nk.match_list(10, True, None, 0, 1, "+label.mode:classic")
            open_ids = [g["match_id"] for g in games]
        """
        if authoritative is not None and not isinstance(authoritative, bool):
            raise Error("authoritative: expected True, False or None.", Code.INVALID_ARGUMENT)
        found = matches.list_matches(
            self._domain, paging.limit(limit, default=1, maximum=matches.MAX_LIST_LIMIT),
            authoritative, _optional_text(label, "label"), _optional_int(min_size, "min_size"),
            _optional_int(max_size, "max_size"), _optional_text(query, "query"))
        return [cast(Match, encode.match(m, full=True)) for m in found]

    @api
    async def match_signal(self, match_id: str, data: str) -> str:
        """Call a running authoritative match's `match_signal` with `data` (text) and return its
        result (text; "" for None): a way for server code (an RPC, another match) to reach a match
        between its ticks, e.g. to reserve a seat. Signals are served in order, between ticks.

        Errors:
            - 3 INVALID_ARGUMENT `Invalid match ID`
            - 3 INVALID_ARGUMENT `data: expected a string`
            - 5 NOT_FOUND `Match not found` (no such authoritative match runs on this node, or it
              ended before it was served)
            - 8 RESOURCE_EXHAUSTED `Match is busy: too many signals waiting
              (match.signal_queue_size).`
            - 13 INTERNAL `match_signal failed: the match ended.` (the handler raised: the match
              ends)

        Example:
            reply = nk.match_signal(match_id, nk.json_encode({"reserve": ctx.user_id}))
            seat = nk.json_decode(reply)["seat"]
        """
        return await matches.signal(self._domain, match_id, data)
