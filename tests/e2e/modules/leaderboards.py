"""Server module for tests/e2e/js/leaderboards.test.mjs: the boards and tournaments the suite plays
on, created in init_module as a game would, and RPCs for what only server code may do (write to an
authoritative board, pay coins into a wallet)."""

from __future__ import annotations

import json
import time

from kizuna.runtime import Code, Error
from kizuna.runtime.types import Context, Initializer, Logger, Nk


def submit_authoritative(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """RPC: write the caller's score to the authoritative board (clients may not)."""
    if ctx.user_id is None:
        raise Error("Sign in first.", Code.UNAUTHENTICATED)
    score = int(json.loads(payload or "{}").get("score", 0))
    record = nk.leaderboard_record_write("e2e_authoritative", ctx.user_id, ctx.username, score,
                                         0, {"by": "server"})
    return nk.json_encode({"score": record["score"], "rank": record["rank"]})


def grant_coins(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """RPC: add `coins` (default 50) to the caller's wallet, with a ledger item."""
    if ctx.user_id is None:
        raise Error("Sign in first.", Code.UNAUTHENTICATED)
    coins = int(json.loads(payload or "{}").get("coins", 50))
    change = nk.wallet_update(ctx.user_id, {"coins": coins}, {"reason": "e2e"}, True)
    return nk.json_encode({"updated": change["updated"], "previous": change["previous"]})


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    # Open boards (players write their own scores), with ranks kept for owner lookups.
    nk.leaderboard_create("e2e_desc", False, "desc", "best", None, {"season": 1}, True)
    nk.leaderboard_create("e2e_asc", False, "asc", "best", None, None, True)
    nk.leaderboard_create("e2e_incr", False, "desc", "incr", None, None, True)
    nk.leaderboard_create("e2e_authoritative", True, "desc", "best", None, None, True)
    # A daily board: records expire at the next midnight (UTC).
    nk.leaderboard_create("e2e_daily", False, "desc", "set", "0 0 * * *", None, True)
    now = int(time.time())
    # An open tournament running for an hour that players must join, three writes each.
    nk.tournament_create("e2e_cup", False, "desc", "best", 3600, None, {"prize": "cup"},
                         "E2E Cup", "Join, then score.", 3, 0, 0, 100, 3, True, True)
    # An authoritative one in the same category, and an upcoming one (tomorrow) in another.
    nk.tournament_create("e2e_cup_auth", True, "desc", "best", 3600, None, None,
                         "Server Cup", "", 3, 0, 0, 0, 0, False, True)
    nk.tournament_create("e2e_later", False, "asc", "best", 600, None, None,
                         "Later", "", 9, now + 86400, now + 2 * 86400, 0, 0, False, True)
    initializer.register_rpc("submit_authoritative", submit_authoritative)
    initializer.register_rpc("grant_coins", grant_coins)
