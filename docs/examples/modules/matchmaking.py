"""Matchmaking into tic-tac-toe (docs/examples/modules/tictactoe.py): when the matchmaker pairs two
players who asked for tic-tac-toe, the server starts their game. docs/runtime.md walks through
it; the test suite plays it (tests/e2e/js/matchmaker.test.mjs).

- A player queues with the socket's matchmaker_add (nakama-js: `socket.addMatchmaker(
  "+properties.game:tictactoe", 2, 2, {game: "tictactoe"})`): "pair me with someone who also
  wants tic-tac-toe".
- When the matchmaker forms the pair, `matchmaker_matched` below starts a tic-tac-toe match and
  returns its id: both players get it in their `matchmaker_matched` push (`match_id`) and join
  with `socket.joinMatch(matched.match_id)`; the game starts when both are in.
- Groups of anything else get no match id from here: their players get a `token` instead, for a
  relayed match (`socket.joinMatch(undefined, matched.token)`), as without this module.
"""

from __future__ import annotations

from kizuna.runtime.types import Context, Initializer, Logger, Nk


def matchmaker_matched(ctx: Context, logger: Logger, nk: Nk, entries: list[dict]) -> str | None:
    """`entries`: one per matched user, {"presence": {"user_id", "session_id", "username",
    "node"}, "properties": {...}, "party_id", "ticket"}."""
    if len(entries) != 2 or any(e["properties"].get("game") != "tictactoe" for e in entries):
        return None  # not ours: a relayed match token
    players = [e["presence"]["user_id"] for e in entries]
    match_id = nk.match_create("tictactoe", {"players": players})
    logger.info("Matched a tic-tac-toe game", match_id=match_id, players=players)
    return match_id


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_matchmaker_matched(matchmaker_matched)
