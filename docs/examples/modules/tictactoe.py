"""Tic-tac-toe as an authoritative match: the server holds the board, checks every move and says
who won, so no client can cheat. docs/runtime.md walks through it; the test suite plays it
(tests/integration/test_authoritative_matches.py, tests/e2e/js/matches.test.mjs).

- The RPC `tictactoe_create` starts a game and answers {"match_id"}. Players join it with the
  socket's match_join (nakama-js: `socket.joinMatch(matchId)`), or find one with a free seat:
  GET /v2/match?authoritative=true&query=%2Blabel.seats:>=1 (`client.listMatches`).
- With both players in, the server sends START (op code 1) to both: the board, who plays X and
  who O, whose turn it is. X starts.
- On their turn a player sends MOVE (2) {"cell": 0-8}; every move is answered with UPDATE (3) to
  both players, or REJECTED (5) to the mover alone; the game ends with DONE (4), the winner's user
  id in "winner" ("" for a draw). A player who leaves mid-game forfeits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kizuna.runtime import Code, Error
from kizuna.runtime.types import Context, Initializer, Logger, MatchDispatcher, Nk

NAME = "tictactoe"
TICK_RATE = 5  # a turn-based game needs few ticks a second
START, MOVE, UPDATE, DONE, REJECTED = 1, 2, 3, 4, 5
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
IDLE_TICKS = 60 * TICK_RATE  # a game nobody is in ends after a minute

State = dict[str, Any]


def label(state: State) -> str:
    """What listings show and queries search (a JSON object: `+label.seats:>=1`)."""
    return json.dumps({"game": NAME, "seats": 2 - len(state["marks"])})


def view(state: State) -> bytes:
    return json.dumps({k: state[k] for k in ("board", "marks", "turn", "winner")}).encode()


def winner(board: list[str]) -> str:
    for a, b, c in LINES:
        if board[a] and board[a] == board[b] == board[c]:
            return board[a]
    return ""


def match_init(ctx: Context, logger: Logger, nk: Nk, params: dict) -> tuple[State, int, str]:
    state = {"board": [""] * 9, "marks": {}, "players": {}, "turn": "", "winner": None,
             "idle": 0}
    return state, TICK_RATE, label(state)


def match_join_attempt(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher,
                       tick: int, state: State, presence: dict,
                       metadata: dict) -> tuple[State, bool, str | None]:
    """Two seats. A seat is taken here, when the player is accepted, not when they arrive: two
    players asking at once cannot both get the last one."""
    user_id = presence["user_id"]
    if user_id in state["marks"] and state["winner"] is None:
        return state, True, None  # their seat (another socket of theirs, or back in time)
    if len(state["marks"]) == 2 or state["winner"] is not None:
        return state, False, "This game is full."
    state["marks"][user_id] = "O" if "X" in state["marks"].values() else "X"
    dispatcher.match_label_update(label(state))
    return state, True, None


def match_join(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher, tick: int,
               state: State, presences: list[dict]) -> State:
    for p in presences:
        state["players"][p["user_id"]] = p
    if len(state["players"]) == 2 and not state["turn"]:  # both are in: X starts
        state["turn"] = next(u for u, mark in state["marks"].items() if mark == "X")
        dispatcher.broadcast_message(START, view(state))
    return state


def match_leave(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher, tick: int,
                state: State, presences: list[dict]) -> State:
    for p in presences:
        user_id = p["user_id"]
        state["players"].pop(user_id, None)
        if not state["turn"]:  # the game has not started: the seat is free again
            state["marks"].pop(user_id, None)
        elif state["winner"] is None:  # leaving mid-game forfeits
            state["winner"] = next((u for u in state["marks"] if u != user_id), "")
            dispatcher.broadcast_message(DONE, view(state))
    dispatcher.match_label_update(label(state))
    return state


def play(state: State, user_id: str, data: bytes) -> str | None:
    """A move; what is wrong with it, or None."""
    if user_id != state["turn"]:
        return "It is not your turn."
    try:
        cell = json.loads(data)["cell"]
    except (ValueError, KeyError, TypeError):
        return 'Send {"cell": 0-8}.'
    if type(cell) is not int or not 0 <= cell <= 8 or state["board"][cell]:
        return "That cell is not free."
    state["board"][cell] = state["marks"][user_id]
    state["turn"] = next(u for u in state["marks"] if u != user_id)
    return None


def match_loop(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher, tick: int,
               state: State, messages: list[dict]) -> State | None:
    """The moves that arrived since the last tick, in order."""
    if state["winner"] is not None:
        return None  # the game is over (DONE was sent): end the match
    state["idle"] = 0 if state["players"] else state["idle"] + 1
    if state["idle"] > IDLE_TICKS:
        return None
    for m in messages:
        if m["op_code"] != MOVE or state["winner"] is not None:
            continue
        problem = play(state, m["sender"]["user_id"], m["data"])
        if problem:
            dispatcher.broadcast_message(REJECTED, json.dumps({"error": problem}),
                                         presences=[m["sender"]])
            continue
        mark = winner(state["board"])
        if mark or all(state["board"]):
            state["winner"] = next((u for u, x in state["marks"].items() if x == mark), "")
            state["turn"] = ""
            # Sent at the end of this tick, after the UPDATE: the match ends at the next one.
            dispatcher.broadcast_message_deferred(DONE, view(state))
        dispatcher.broadcast_message(UPDATE, view(state), sender=m["sender"])
    return state


def match_terminate(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher,
                    tick: int, state: State, grace_seconds: int) -> State | None:
    """The server is stopping: the game ends now, undecided."""
    state["winner"] = ""
    dispatcher.broadcast_message(DONE, view(state))
    return None


def match_signal(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher, tick: int,
                 state: State, data: str) -> tuple[State, str]:
    """Server code reading the game between ticks (the `tictactoe_view` RPC)."""
    return state, view(state).decode()


def rpc_create(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    match_id = nk.match_create(NAME, {"creator": ctx.user_id})
    return nk.json_encode({"match_id": match_id})


async def rpc_view(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    match_id = nk.json_decode(payload).get("match_id")
    try:
        return await nk.aio.match_signal(match_id, "view")
    except Error as exc:
        if exc.code == Code.NOT_FOUND:
            raise Error("No such game.", Code.NOT_FOUND) from None
        raise


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    # The handler is this module: its match_* functions are the lifecycle.
    initializer.register_match(NAME, sys.modules[__name__])
    initializer.register_rpc("tictactoe_create", rpc_create)
    initializer.register_rpc("tictactoe_view", rpc_view)
