"""Parties over the socket: party_create, party_join, party_leave, party_promote, party_accept,
party_remove, party_close, party_join_request_list, party_matchmaker_add,
party_matchmaker_remove, party_data_send and party_update.

The handlers read the messages and call the node's `PartyService` (`rt.parties`,
kizuna/realtime/parties.py), which holds the parties (the rules: kizuna/core/parties.py) and sends
the pushes; in a cluster, a call for a party of another node is answered by that node (the
handlers await it), with the same errors. Errors are Nakama's: BAD_INPUT, with its wording: the
check of the message itself ("Invalid party ID", "Invalid presence", ...), or the operation and
the party's reason
("Error joining party: party full"). Every message but party_create and party_join_request_list
(and party_matchmaker_add, answered with its ticket) has an empty reply, party_data_send
included, as Nakama.
"""

from __future__ import annotations

import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kizuna.core import parties as rules
from kizuna.core.matchmaker.engine import count_error
from kizuna.core.parties import PartyError, PartyId, PartyPresence
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.realtime.handlers.match import base64_data
from kizuna.realtime.handlers.matchmaker import read_add
from kizuna.realtime.parties import party_body
from kizuna.wire import fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

T = TypeVar("T")


def _bad(message: str) -> RealtimeError:
    return RealtimeError(ErrorCode.BAD_INPUT, message)


async def _run(prefix: str, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call the party service (the party's node answers); a party's refusal becomes Nakama's
    "<prefix>: <reason>"."""
    try:
        return await fn(*args, **kwargs)
    except PartyError as exc:
        raise _bad(f"{prefix}: {exc.message}") from None


def _me(rt: RealtimeService, session: Session) -> PartyPresence:
    return PartyPresence(session.user_id, session.id, session.username, rt.node)


def _party_id(body: dict[str, Any]) -> tuple[str, PartyId]:
    """(the id as given, parsed) or "Invalid party ID"."""
    given = fields.field(body, "party_id")
    parsed = rules.parse_id(given)
    if parsed is None:
        raise _bad(rules.INVALID_PARTY_ID)
    return given, parsed


def _presence(body: dict[str, Any]) -> PartyPresence:
    """The `presence` a leader names (a UserPresence: user and session ids required)."""
    p = fields.field(body, "presence")
    if type(p) is not dict:
        raise _bad(rules.INVALID_PRESENCE)
    user_id, session_id = fields.field(p, "user_id"), fields.field(p, "session_id")
    username = fields.field(p, "username")
    if not (isinstance(user_id, str) and user_id and isinstance(session_id, str) and session_id):
        raise _bad(rules.INVALID_PRESENCE)
    return PartyPresence(user_id, session_id, username if isinstance(username, str) else "", "")


def _label(body: dict[str, Any]) -> str:
    return fields.optional_string_value(body, "label") or ""


# -- handlers --------------------------------------------------------------------------------------


def party_create(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    max_size = fields.integer(body, "max_size", bits=32)
    rules.check_max_size(max_size)
    me = _me(rt, session)
    party = rt.parties.create(me, open=fields.boolean(body, "open"), max_size=max_size,
                              label=_label(body), hidden=fields.boolean(body, "hidden"))
    return "party", party_body(party, me)


async def party_join(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    _, party_id = _party_id(body)
    await _run("Error joining party", rt.parties.join_any, _me(rt, session), party_id)
    return None


async def party_leave(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    _, party_id = _party_id(body)
    await rt.parties.leave_any(_me(rt, session), party_id)
    return None


async def party_promote(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    target = _presence(body)
    _, party_id = _party_id(body)
    await _run("Error promoting new party leader", rt.parties.promote_any, _me(rt, session),
               party_id, target)
    return None


async def party_accept(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    target = _presence(body)
    _, party_id = _party_id(body)
    await _run("Error accepting party join request", rt.parties.accept_any, _me(rt, session),
               party_id, target)
    return None


async def party_remove(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    target = _presence(body)
    _, party_id = _party_id(body)
    await _run("Error removing party member or join request", rt.parties.remove_any,
               _me(rt, session), party_id, target)
    return None


async def party_close(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    _, party_id = _party_id(body)
    await _run("Error closing party", rt.parties.close_any, _me(rt, session), party_id)
    return None


async def party_join_request_list(rt: RealtimeService, session: Session,
                                  body: dict[str, Any]) -> Reply:
    given, party_id = _party_id(body)
    requests = await _run("Error listing party join requests", rt.parties.join_requests_any,
                          _me(rt, session), party_id)
    out: dict[str, Any] = {"party_id": given}
    if requests:
        out["presences"] = [r.wire() for r in requests]
    return "party_join_request", out


async def party_matchmaker_add(rt: RealtimeService, session: Session,
                               body: dict[str, Any]) -> Reply:
    request = read_add(body)
    multiple = request["count_multiple"]
    multiple = request["count_multiple"] = 1 if multiple is None else multiple
    # The counts first, with their own words (as Nakama's pipeline), then the party.
    problem = count_error(request["min_count"], request["max_count"], multiple)
    if problem is not None:
        raise _bad(problem)
    given, party_id = _party_id(body)
    ticket = await _run("Error adding party to matchmaker", rt.parties.matchmaker_add_any,
                        _me(rt, session), party_id, **request)
    return "party_matchmaker_ticket", {"party_id": given, "ticket": ticket}


async def party_matchmaker_remove(rt: RealtimeService, session: Session,
                                  body: dict[str, Any]) -> Reply:
    ticket = fields.text(body, "ticket")
    if not ticket:
        raise _bad(rules.INVALID_TICKET)
    _, party_id = _party_id(body)
    # "Error closing party" is the prefix Nakama sends for this message too.
    await _run("Error closing party", rt.parties.matchmaker_remove_any, _me(rt, session),
               party_id, ticket)
    return None


async def party_data_send(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    _, party_id = _party_id(body)
    op_code = fields.integer(body, "op_code")
    try:
        data = base64_data(fields.field(body, "data"))
    except (binascii.Error, ValueError):
        raise _bad("Invalid party data") from None
    await _run("Error sending party data", rt.parties.data_any, _me(rt, session), party_id,
               op_code, data)
    return None


async def party_update(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    _, party_id = _party_id(body)
    label = _label(body)
    open_, hidden = fields.boolean(body, "open"), fields.boolean(body, "hidden")
    await _run("Error updating party", rt.parties.update_any, _me(rt, session), party_id,
               label=label, open=open_, hidden=hidden)
    return None


HANDLERS = {
    "party_create": party_create, "party_join": party_join, "party_leave": party_leave,
    "party_promote": party_promote, "party_accept": party_accept, "party_remove": party_remove,
    "party_close": party_close, "party_join_request_list": party_join_request_list,
    "party_matchmaker_add": party_matchmaker_add,
    "party_matchmaker_remove": party_matchmaker_remove, "party_data_send": party_data_send,
    "party_update": party_update,
}
