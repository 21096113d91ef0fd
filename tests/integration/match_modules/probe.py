"""Server module for tests/integration/test_authoritative_matches.py: a match handler the tests
steer (through match_create's params, join metadata and signals) and watch (through what it
broadcasts to its players and what its signal answers).

Two registrations of the same behaviour: "probe" with plain functions (worker threads) and
"probe_async" with coroutines (the event loop).

Op codes it sends: 100 TICK {tick} (deferred, when params["announce"]), 101 JOINED {users,
metadata}, 102 LEFT {users}, 103 BATCH {tick, inputs: [[op_code, data, user_id, reliable]]},
104 TERMINATING {grace}.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

TICK, JOINED, LEFT, BATCH, TERMINATING = 100, 101, 102, 103, 104


def match_init(ctx, logger, nk, params):
    if params.get("fail_init"):
        raise RuntimeError("init refused")
    state = {"params": params, "ticks": 0, "joined": [], "left": [], "metadata": {},
             "ctx": {"match_id": ctx.match_id, "node": ctx.match_node, "mode": ctx.execution_mode}}
    return state, params.get("tick_rate", 10), params.get("label", "")


def match_join_attempt(ctx, logger, nk, dispatcher, tick, state, presence, metadata):
    if metadata.get("deny"):
        return state, False, metadata["deny"]
    if metadata.get("crash"):
        raise RuntimeError("join attempt exploded")
    state["metadata"][presence["session_id"]] = dict(metadata)
    return state, True, None


def match_join(ctx, logger, nk, dispatcher, tick, state, presences):
    users = [p["user_id"] for p in presences]
    state["joined"] += users
    dispatcher.broadcast_message(JOINED, json.dumps({
        "users": users, "metadata": [state["metadata"].get(p["session_id"]) for p in presences],
        "nodes": [p["node"] for p in presences]}))
    return state


def match_leave(ctx, logger, nk, dispatcher, tick, state, presences):
    users = [p["user_id"] for p in presences]
    state["left"] += users
    dispatcher.broadcast_message(LEFT, json.dumps({"users": users}))
    return state


def match_loop(ctx, logger, nk, dispatcher, tick, state, messages):
    params = state["params"]
    state["ticks"] = tick + 1
    state["label_seen"] = ctx.match_label
    if messages:
        dispatcher.broadcast_message(BATCH, json.dumps({"tick": tick, "inputs": [
            [m["op_code"], m["data"].decode(), m["sender"]["user_id"], m["reliable"],
             m["receive_time_ms"] > 0] for m in messages]}))
    if params.get("announce"):
        dispatcher.broadcast_message_deferred(TICK, json.dumps({"tick": tick}))
    if params.get("crash_at") == tick:
        raise RuntimeError(f"boom at tick {tick}")
    if params.get("end_at") == tick:
        return None
    if params.get("sleep_ms"):
        time.sleep(params["sleep_ms"] / 1000)
    if params.get("busy_ms"):  # CPU work, holding the interpreter lock as Python code does
        until = time.perf_counter() + params["busy_ms"] / 1000
        while time.perf_counter() < until:
            sum(range(1000))
    return state


def match_terminate(ctx, logger, nk, dispatcher, tick, state, grace_seconds):
    marker = ctx.env.get("TERMINATE_MARKER")
    if marker:
        with open(marker, "a") as fh:
            fh.write(json.dumps({"match_id": ctx.match_id, "grace": grace_seconds}) + "\n")
    dispatcher.broadcast_message(TERMINATING, json.dumps({"grace": grace_seconds}))
    if state["params"].get("linger"):
        state["terminating"] = True
        return state  # runs on until the grace period is over
    return None


def match_signal(ctx, logger, nk, dispatcher, tick, state, data):
    command = json.loads(data)
    kind = command["do"]
    if kind == "stats":
        return state, json.dumps({"ticks": state["ticks"], "joined": state["joined"],
                                  "left": state["left"], "ctx": state["ctx"],
                                  "label_seen": state.get("label_seen"), "tick": tick})
    if kind == "label":
        dispatcher.match_label_update(command["label"])
        return state, "labelled"
    if kind == "kick":
        dispatcher.match_kick(command["presences"])
        return state, "kicked"
    if kind == "send":
        dispatcher.broadcast_message(command["op_code"], command.get("data"),
                                     command.get("presences"), command.get("sender"))
        return state, "sent"
    if kind == "bad_op_code":
        errors = []
        for op in (2**63, -(2**63) - 1, "7", True):
            try:
                dispatcher.broadcast_message(op, "x")
            except Exception as exc:
                errors.append([type(exc).__name__, getattr(exc, "code", None), str(exc)])
        try:
            dispatcher.match_label_update("x" * 2049)
        except Exception as exc:
            errors.append([type(exc).__name__, getattr(exc, "code", None), str(exc)])
        return state, json.dumps(errors)
    if kind == "end":
        return None, "ending"
    if kind == "crash":
        raise ValueError("signal exploded")
    return state, ""


# -- the same, as coroutines -------------------------------------------------------------------


def _wrap(fn):
    async def run(*args: Any) -> Any:
        return fn(*args)
    run.__name__ = fn.__name__
    return run


ASYNC = {name: _wrap(fn) for name, fn in (
    ("match_init", match_init), ("match_join_attempt", match_join_attempt),
    ("match_join", match_join), ("match_leave", match_leave), ("match_loop", match_loop),
    ("match_terminate", match_terminate), ("match_signal", match_signal))}


# -- RPCs the tests call ---------------------------------------------------------------------------


def probe_create(ctx, logger, nk, payload):
    p = json.loads(payload or "{}")
    return json.dumps({"match_id": nk.match_create(p.pop("handler", "probe"), p)})


async def probe_signal(ctx, logger, nk, payload):
    p = json.loads(payload)
    return await nk.aio.match_signal(p["match_id"], json.dumps(p["command"]))


def probe_get(ctx, logger, nk, payload):
    return json.dumps(nk.match_get(json.loads(payload)["match_id"]))


async def probe_list(ctx, logger, nk, payload):
    return json.dumps(await nk.aio.match_list(**json.loads(payload)))


def probe_pid(ctx, logger, nk, payload):
    return str(os.getpid())


def init_module(ctx, logger, nk, initializer):
    import sys
    initializer.register_match("probe", sys.modules[__name__])
    initializer.register_match("probe_async", ASYNC)
    for fn in (probe_create, probe_signal, probe_get, probe_list, probe_pid):
        initializer.register_rpc(fn.__name__, fn)
