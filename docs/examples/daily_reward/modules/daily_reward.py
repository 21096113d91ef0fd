"""A daily reward with a streak: coins once a day (UTC), more for each day in a row, up to a week.

The claim is recorded in versioned storage (two claims racing cannot both win) and paid into the
player's wallet with a ledger entry. Its tests (../tests/test_daily_reward.py) run it with
kizuna.testing against a real database; docs/runtime.md, "Testing your modules", walks through
both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from kizuna.runtime import Code, Error
from kizuna.runtime.types import Context, Initializer, Logger, Nk

COLLECTION, KEY = "rewards", "daily"
MAX_STREAK = 7  # the reward grows for a week of consecutive days, then stays


def today() -> date:
    """The reward day (UTC). A function of its own, so a test can move the clock."""
    return datetime.now(UTC).date()


def _coins(ctx: Context) -> int:
    return int(ctx.env.get("DAILY_REWARD_COINS", "100"))


def claim_daily_reward(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """RPC `claim_daily_reward` → `{"coins", "streak", "balance"}`, once a day."""
    if ctx.user_id is None:
        raise Error("Sign in to claim a reward.", Code.UNAUTHENTICATED)
    day = today()
    found = nk.storage_read([{"collection": COLLECTION, "key": KEY, "user_id": ctx.user_id}])
    state = found[0]["value"] if found else {"day": "", "streak": 0}
    if state["day"] == day.isoformat():
        raise Error("Today's reward was already claimed.", Code.FAILED_PRECONDITION)
    in_a_row = state["day"] == (day - timedelta(days=1)).isoformat()
    streak = state["streak"] + 1 if in_a_row else 1
    coins = _coins(ctx) * min(streak, MAX_STREAK)
    try:
        # Conditional on the version read ("*": only if there is none yet): of two claims racing,
        # the second write fails, so it pays nothing.
        nk.storage_write([{
            "collection": COLLECTION, "key": KEY, "user_id": ctx.user_id,
            "value": {"day": day.isoformat(), "streak": streak},
            "version": found[0]["version"] if found else "*",
            "permission_read": 1, "permission_write": 0,  # the player reads it, only we write
        }])
    except Error as exc:
        if exc.code == Code.INVALID_ARGUMENT:  # the version check failed: another claim won
            raise Error("Today's reward was already claimed.", Code.FAILED_PRECONDITION) from None
        raise
    paid = nk.wallet_update(ctx.user_id, {"coins": coins},
                            {"reason": "daily_reward", "day": day.isoformat()}, True)
    logger.info("daily reward claimed", user_id=ctx.user_id, coins=coins, streak=streak)
    return nk.json_encode({"coins": coins, "streak": streak,
                           "balance": paid["updated"]["coins"]})


async def daily_reward_status(ctx: Context, logger: Logger, nk: Nk, payload: str) -> dict:
    """RPC `daily_reward_status` → `{"claimed_today", "streak"}` (a coroutine: it only reads)."""
    if ctx.user_id is None:
        raise Error("Sign in to see your reward.", Code.UNAUTHENTICATED)
    found = await nk.aio.storage_read([{"collection": COLLECTION, "key": KEY,
                                        "user_id": ctx.user_id}])
    state = found[0]["value"] if found else {"day": "", "streak": 0}
    claimed = state["day"] == today().isoformat()
    yesterday = (today() - timedelta(days=1)).isoformat()
    return {"claimed_today": claimed,
            "streak": state["streak"] if claimed or state["day"] == yesterday else 0}


def before_write_storage(ctx: Context, logger: Logger, nk: Nk, request: dict) -> dict:
    """Before WriteStorageObjects: clients never write the reward state themselves (its
    `permission_write: 0` says so too; this says it with a clear message)."""
    for obj in request.get("objects") or []:
        if obj.get("collection") == COLLECTION:
            raise Error("Rewards are written by the server only.", Code.PERMISSION_DENIED)
    return request


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    _coins(ctx)  # a bad DAILY_REWARD_COINS fails the load, not the first claim
    initializer.register_rpc("claim_daily_reward", claim_daily_reward)
    initializer.register_rpc("daily_reward_status", daily_reward_status)
    initializer.register_before("WriteStorageObjects", before_write_storage)
