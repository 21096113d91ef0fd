"""The matchmaker (issue 14): Nakama's query language (`query`), the waiting tickets and their
indexes (`tickets`, `index`) and the engine that forms groups (`engine`). Pure and synchronous:
the socket layer owns the timing (when to call `Matchmaker.match`) and the deliveries
(`matchmaker_matched`)."""

from kizuna.core.matchmaker.engine import (
    DUPLICATE_SESSION,
    SCORE_WINDOW,
    TICKET_NOT_FOUND,
    TOO_MANY_TICKETS,
    Matchmaker,
)
from kizuna.core.matchmaker.query import NumericRange, Query, compile_query
from kizuna.core.matchmaker.tickets import Matched, MatchmakerPresence, Ticket

__all__ = [
    "DUPLICATE_SESSION", "SCORE_WINDOW", "TICKET_NOT_FOUND", "TOO_MANY_TICKETS", "Matched",
    "Matchmaker", "MatchmakerPresence", "NumericRange", "Query", "Ticket", "compile_query",
]
