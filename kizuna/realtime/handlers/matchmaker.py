"""The matchmaker over the socket: matchmaker_add, matchmaker_remove (the service and its pushes
are kizuna/realtime/matchmaker.py; the rules are kizuna/core/matchmaker).

Errors as Nakama's socket answers them: the counts are checked first, each with its own BAD_INPUT
message ("Invalid minimum count, must be >= 2", ...); any other refusal of the matchmaker (a bad
query, a session that already holds `matchmaker.max_tickets` tickets) is RUNTIME_EXCEPTION "Error
adding to matchmaker", with the reason in the error's `context` (`{"reason": ...}`, Kizuna's
addition: Nakama only logs it). A ticket that is not the session's own is BAD_INPUT "Matchmaker
ticket not found".

`read_add` reads the fields matchmaker_add and party_matchmaker_add share.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypedDict

from kizuna.core.matchmaker import MatchmakerPresence
from kizuna.errors import Code, KizunaError, invalid
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.wire import fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

ADD_FAILED = "Error adding to matchmaker"
INVALID_TICKET = "Invalid matchmaker ticket"
# The engine's count checks, in Nakama's words: answered BAD_INPUT with their own message.
_COUNT_ERRORS = ("Invalid minimum count", "Invalid maximum count", "Invalid count multiple")
_NUMBER_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class AddRequest(TypedDict):
    """The arguments of `MatchmakerService.add` a matchmaker_add message gives."""
    query: str
    min_count: int
    max_count: int
    count_multiple: int | None
    string_properties: dict[str, str]
    numeric_properties: dict[str, float]


def _numbers(body: dict[str, Any], name: str) -> dict[str, float]:
    """A map<string, double>: JSON numbers, or the strings protojson accepts for a double."""
    value = fields.field(body, name)
    if value is None:
        return {}
    problem = f"{name}: expected an object of number values"
    if type(value) is not dict:
        raise invalid(problem)
    out: dict[str, float] = {}
    for k, v in value.items():
        fields.checked_text(k, name)
        if type(v) is int or type(v) is float:
            out[k] = float(v)
        elif type(v) is str and v in _NUMBER_WORDS:
            out[k] = _NUMBER_WORDS[v]
        elif type(v) is str:
            try:
                out[k] = float(v)
            except ValueError:
                raise invalid(problem) from None
            if not math.isfinite(out[k]):  # "inf", "nan": not protojson's spelling
                raise invalid(problem)
        else:
            raise invalid(problem)
    return out


def read_add(body: dict[str, Any]) -> AddRequest:
    """The ticket fields of matchmaker_add (and party_matchmaker_add): counts (int32;
    `count_multiple` an Int32Value, None when absent), the query ("" means "*"), the string and
    numeric properties. INVALID_ARGUMENT for a field of the wrong type."""
    return AddRequest(
        query=fields.text(body, "query") or "*",
        min_count=fields.integer(body, "min_count", bits=32),
        max_count=fields.integer(body, "max_count", bits=32),
        count_multiple=fields.optional_integer(body, "count_multiple", bits=32),
        string_properties=fields.optional_string_map(body, "string_properties") or {},
        numeric_properties=_numbers(body, "numeric_properties"))


def add_failed(exc: KizunaError) -> KizunaError | RealtimeError:
    """What the socket answers for a refused add: the count checks as they are (BAD_INPUT), the
    rest as Nakama's RUNTIME_EXCEPTION "Error adding to matchmaker" with the reason."""
    if exc.code == Code.INVALID_ARGUMENT and exc.message.startswith(_COUNT_ERRORS):
        return exc
    return RealtimeError(ErrorCode.RUNTIME_EXCEPTION, ADD_FAILED, {"reason": exc.message})


async def matchmaker_add(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    request = read_add(body)
    me = MatchmakerPresence(session.user_id, session.id, session.username, rt.node)
    try:
        ticket = rt.matchmaker.add([me], session_id=session.id, **request)
    except KizunaError as exc:
        raise add_failed(exc) from None
    await rt.matchmaker.published()
    return "matchmaker_ticket", {"ticket": ticket.id}


def matchmaker_remove(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    ticket = fields.text(body, "ticket")
    if not ticket:
        raise invalid(INVALID_TICKET)
    rt.matchmaker.remove_session(session.id, ticket)  # NOT_FOUND: BAD_INPUT, as Nakama's
    return None


HANDLERS = {"matchmaker_add": matchmaker_add, "matchmaker_remove": matchmaker_remove}
