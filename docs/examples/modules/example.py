"""A Kizuna server module: a daily reward RPC, an echo RPC, a before hook and an event handler.

Put this file in the server's modules directory (`runtime.path`, default `<data_dir>/modules`)
and start the server; docs/runtime.md walks through it. The test suite loads this very file
(tests/integration/test_runtime.py, tests/e2e/js/runtime.test.mjs).
"""

from __future__ import annotations

import time

from kizuna.runtime import Code, Error
from kizuna.runtime.types import Context, Initializer, Logger, Nk

DAILY_COINS = 100


def claim_daily_reward(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """RPC `claim_daily_reward`: 100 coins once a day (UTC).

    A plain function: it runs in a worker thread, so it may take its time without holding up
    anyone else, and its `nk` calls simply return their results.
    """
    if ctx.user_id is None:
        raise Error("Sign in to claim a reward.", Code.UNAUTHENTICATED)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    found = nk.storage_read([{"collection": "rewards", "key": "daily", "user_id": ctx.user_id}])
    state = found[0]["value"] if found else {"coins": 0, "day": ""}
    if state["day"] == today:
        raise Error("Today's reward was already claimed.", Code.FAILED_PRECONDITION)
    state = {"coins": state["coins"] + DAILY_COINS, "day": today}
    # The version makes the write conditional: two claims racing cannot both succeed.
    nk.storage_write([{
        "collection": "rewards", "key": "daily", "user_id": ctx.user_id, "value": state,
        "version": found[0]["version"] if found else "*",
        "permission_read": 1, "permission_write": 0,  # players may read it, only the server writes
    }])
    nk.notification_send(ctx.user_id, "Daily reward", {"coins": DAILY_COINS}, code=1,
                         persistent=True)
    logger.info("daily reward claimed", user_id=ctx.user_id, total=state["coins"])
    return nk.json_encode(state)


async def echo(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """RPC `echo`: the payload back, unchanged.

    A coroutine: it runs on the event loop, the cheapest way to answer; it must not block
    (use `await nk.aio.<call>(...)` for anything that waits).
    """
    return payload


def before_update_account(ctx: Context, logger: Logger, nk: Nk, request: dict) -> dict:
    """Before UpdateAccount (PUT /v2/account): trim display names and refuse reserved ones.

    The request is the dict a client sent, in Nakama's JSON shape. Return it (changed or not) to
    go on, return None to refuse the call with 404, or raise Error for any other answer.
    """
    name = request.get("display_name")
    if isinstance(name, str):
        name = " ".join(name.split())
        if "admin" in name.lower():
            raise Error("That display name is reserved.", Code.INVALID_ARGUMENT)
        request["display_name"] = name
    return request


def on_event(ctx: Context, logger: Logger, nk: Nk, event: dict) -> None:
    """Events (POST /v2/event, nk.event): count each player's `level_complete` events.

    Event functions run after the client got its answer, from a queue.
    """
    if event["name"] != "level_complete" or ctx.user_id is None:
        return
    for _attempt in range(5):  # another event of the same player may be counted concurrently
        found = nk.storage_read([{"collection": "stats", "key": "levels", "user_id": ctx.user_id}])
        count = found[0]["value"]["completed"] if found else 0
        try:
            nk.storage_write([{"collection": "stats", "key": "levels", "user_id": ctx.user_id,
                               "value": {"completed": count + 1,
                                         "last": event["properties"].get("level", "")},
                               "version": found[0]["version"] if found else "*"}])
            return
        except Error as exc:
            if exc.code != Code.INVALID_ARGUMENT:  # a version conflict: read again and retry
                raise
    logger.warn("could not count an event", user_id=ctx.user_id)


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_rpc("claim_daily_reward", claim_daily_reward)
    initializer.register_rpc("echo", echo)
    initializer.register_before("UpdateAccount", before_update_account)
    initializer.register_event(on_event)
    logger.info("example module loaded", node=ctx.node, env_keys=sorted(ctx.env))
