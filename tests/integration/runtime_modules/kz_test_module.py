"""Server module used by tests/integration/test_runtime.py (loaded beside docs/examples/modules).

Each function exists to make one behaviour observable from a client: RPC results, error codes,
timeouts, hooks (REST and realtime), events, custom HTTP routes and the nk API.
"""

from __future__ import annotations

import asyncio
import os
import time

import kz_helper  # another module of the same directory, imported by name

from kizuna.runtime import Code, Error, HttpResponse
from kizuna.runtime.types import Context, HttpRequest, Initializer, Logger, Nk

# -- RPCs ------------------------------------------------------------------------------------------


def whoami(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    return nk.json_encode({
        "mode": ctx.execution_mode, "user_id": ctx.user_id, "username": ctx.username,
        "vars": dict(ctx.vars) if ctx.vars is not None else None,
        "query": dict(ctx.query_params) if ctx.query_params is not None else None,
        "env": dict(ctx.env), "node": ctx.node, "session_id": ctx.session_id,
        "has_headers": ctx.headers is not None, "client_ip": ctx.client_ip,
        "exp": ctx.user_session_exp, "payload": payload, "item": ctx["user_id"],
        "helper": kz_helper.greeting(),
    })


def fail_with(ctx, logger, nk, payload):
    raise Error(f"failed with {payload}", int(payload))


def crash(ctx, logger, nk, payload):
    return 1 / 0


def sleep_sync(ctx, logger, nk, payload):
    time.sleep(float(payload or 3))
    return "woke"


async def sleep_async(ctx, logger, nk, payload):
    await asyncio.sleep(float(payload or 10))
    return "woke"


def burn(ctx, logger, nk, payload):
    """Pure-Python CPU work in a worker thread, steered by files in the directory `payload`: it
    creates `started`, burns until `stop` appears (or a 60 s cap, so a broken test cannot keep it
    running), then creates `stopped` (or `capped`) and answers the number of loop iterations."""
    gate = payload
    open(os.path.join(gate, "started"), "w").close()
    stop = os.path.join(gate, "stop")
    end = time.perf_counter() + 60
    n = 0
    while time.perf_counter() < end:
        n += 1
        if n % 10000 == 0 and os.path.exists(stop):
            break
    open(os.path.join(gate, "stopped" if os.path.exists(stop) else "capped"), "w").close()
    return str(n)


async def wrong_style(ctx, logger, nk, payload):
    return nk.storage_read([])  # blocking call on the event loop: refused, not a deadlock


def own_loop(ctx, logger, nk, payload):
    import asyncio
    return asyncio.run(nk.aio.storage_read([]))  # a loop of its own: refused, with advice


def returns_dict(ctx, logger, nk, payload):
    return {"encoded": True}


def nk_accounts(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """Server-side account calls over the same core functions the REST API uses."""
    uid = ctx.user_id
    nk.account_update_id(uid, display_name="Set By Server", metadata={"level": 7})
    account = nk.account_get_id(uid)
    users = nk.users_get_id([uid])
    by_name = nk.users_get_username([account["user"]["username"]])
    other = nk.authenticate_custom("server-made-" + payload, username="srv" + payload[:8])
    again = nk.authenticate_custom("server-made-" + payload)
    token = nk.authenticate_token_generate(other.user_id, vars={"via": "nk"})
    export = nk.account_export_id(uid)
    return nk.json_encode({
        "display_name": account["user"]["display_name"], "metadata": account["user"]["metadata"],
        "users": [u["id"] for u in users], "by_name": [u["id"] for u in by_name],
        "other": list(other), "again_created": again.created, "token": token.token,
        "token_exp": token.exp, "export_keys": sorted(export),
        "export_user": export["account"]["user"]["id"],
    })


def nk_ban(ctx, logger, nk, payload):
    doc = nk.json_decode(payload)
    if doc["ban"]:
        nk.users_ban_id([doc["user_id"]])
    else:
        nk.users_unban_id([doc["user_id"]])
    return ""


async def nk_storage(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """The coroutine style: nk.aio. Authoritative writes ignore permission_write=0."""
    uid = ctx.user_id
    acks = await nk.aio.storage_write([
        {"collection": "srv", "key": "a", "user_id": uid, "value": {"n": 1},
         "permission_read": 2, "permission_write": 0},
        {"collection": "srv", "key": "b", "user_id": uid, "value": '{"n": 2}'},
        {"collection": "srv", "key": "global", "value": {"system": True}},
    ])
    again = await nk.aio.storage_write([{"collection": "srv", "key": "a", "user_id": uid,
                                         "value": {"n": 3}, "permission_read": 2,
                                         "permission_write": 0}])
    page, cursor = await nk.aio.storage_list(uid, "srv", limit=1)
    rest, end = await nk.aio.storage_list(uid, "srv", limit=10, cursor=cursor)
    objs = await nk.aio.storage_read([{"collection": "srv", "key": "a", "user_id": uid},
                                      {"collection": "srv", "key": "global"}])
    try:
        await nk.aio.storage_write([{"collection": "srv", "key": "a", "user_id": uid,
                                     "value": {"n": 4}, "version": "stale"}])
        conflict = None
    except Error as exc:
        conflict = [exc.code, exc.message]
    await nk.aio.storage_delete([{"collection": "srv", "key": "b", "user_id": uid}])
    left, _ = await nk.aio.storage_list(uid, "srv")
    return nk.json_encode({
        "acks": [a["key"] for a in acks], "owner_of_global": acks[2]["user_id"],
        "again_version": again[0]["version"], "pages": [len(page), len(rest)],
        "end": end, "values": [o["value"] for o in objs], "conflict": conflict,
        "left": sorted(o["key"] for o in left),
    })


def nk_notify(ctx, logger, nk, payload):
    uid = ctx.user_id
    nk.notification_send(uid, "hello", {"from": "server"}, 101, persistent=True)
    nk.notifications_send([{"user_id": uid, "subject": "second", "content": {"n": 2},
                            "code": 102, "persistent": True}])
    items, _cursor = nk.notifications_list(uid, limit=10)
    try:
        nk.notification_send(uid, "bad", {}, -5)
        refused = None
    except Error as exc:
        refused = exc.code
    nk.notifications_delete([{"user_id": uid, "notification_id": items[0]["id"]}])
    nk.notification_send_all("to everyone", {"all": True}, 103, persistent=True)
    after, _ = nk.notifications_list(uid, limit=10)
    return nk.json_encode({"codes": [n["code"] for n in items], "content": items[0]["content"],
                           "refused": refused, "after": [n["code"] for n in after]})


def nk_chat(ctx, logger, nk, payload):
    channel = nk.channel_id_build(None, payload, 1)
    sent = nk.channel_message_send(channel, {"text": "from the server"})
    page = nk.channel_messages_list(channel, limit=10)
    nk.event("server_event", {"channel": channel})
    return nk.json_encode({"channel": channel, "sent": sent["message_id"],
                           "listed": [m["message_id"] for m in page["messages"]],
                           "sender": sent["sender_id"]})


# -- REST hooks ------------------------------------------------------------------------------------


def before_authenticate_custom(ctx, logger, nk, request):
    account = request["account"]
    if (account.get("id") or "").startswith("refused-"):
        raise Error("This id may not sign in.", Code.PERMISSION_DENIED)
    if (account.get("id") or "").startswith("renamed-") and not request.get("username"):
        request["username"] = "hooked" + account["id"][-6:]
    return request


def before_delete_notifications(ctx, logger, nk, request):
    return None  # the endpoint is disabled


def after_write_storage(ctx, logger, nk, response, request):
    nk.storage_write([{"collection": "audit", "key": "last_write", "user_id": ctx.user_id,
                       "value": {"acks": len(response["acks"]),
                                 "keys": [o["key"] for o in request["objects"]],
                                 "mode": ctx.execution_mode},
                       "permission_read": 1}])


def after_get_users(ctx, logger, nk, response, request):
    raise RuntimeError("after hooks failing must not fail the call")


def before_bad_return(ctx, logger, nk, request):
    return "not a dict"


# -- realtime hooks and session events -------------------------------------------------------------


def rt_before_channel_join(ctx, logger, nk, message):
    target = message.get("target")
    if target == "forbidden":
        return None
    if target == "boom":
        raise Error("no booms here", Code.INVALID_ARGUMENT)
    if target == "renamed":
        message["target"] = "renamed-by-hook"
    return message


async def rt_after_channel_join(ctx, logger, nk, out, message):
    await nk.aio.storage_write([{"collection": "rt", "key": "joined", "user_id": ctx.user_id,
                                 "value": {"room": out["room_name"], "asked": message["target"],
                                           "session_id": ctx.session_id},
                                 "permission_read": 1}])


async def on_session_start(ctx, logger, nk, event):
    await nk.aio.storage_write([{"collection": "sessions", "key": "start", "user_id": ctx.user_id,
                                 "value": {"session_id": ctx.session_id, "name": event["name"]},
                                 "permission_read": 1}])


def on_session_end(ctx, logger, nk, event):
    nk.storage_write([{"collection": "sessions", "key": "end", "user_id": ctx.user_id,
                       "value": {"session_id": ctx.session_id}, "permission_read": 1}])


def on_server_event(ctx, logger, nk, event):
    if event["name"] == "server_event":
        nk.storage_write([{"collection": "events", "key": "server_event",
                           "value": {"properties": event["properties"]},
                           "permission_read": 2}])


# -- custom HTTP -----------------------------------------------------------------------------------


def http_hello(ctx: Context, logger: Logger, nk: Nk, request: HttpRequest):
    return {"hello": request.path_params["name"], "q": request.query.get("q"),
            "mode": ctx.execution_mode}


def http_echo(ctx, logger, nk, request: HttpRequest):
    if request.header("X-Fail"):
        raise Error("asked to fail", Code.FAILED_PRECONDITION)
    return HttpResponse(request.body, status=201, headers={"X-Echo": "yes"},
                        content_type="application/x-echo")


def http_positional(ctx, logger, nk, request: HttpRequest):
    # The positional form docs/runtime.md shows, headers given as None.
    return HttpResponse('{"missing":true}', 404, None, "application/json")


def http_invalid(ctx, logger, nk, request: HttpRequest):
    return HttpResponse(b"x", status="teapot")  # type: ignore[arg-type]


def shutdown(ctx, logger, nk):
    marker = ctx.env.get("SHUTDOWN_MARKER")
    if marker:
        with open(marker, "w") as fh:
            fh.write(ctx.execution_mode)


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    for name, fn in (("whoami", whoami), ("fail_with", fail_with), ("crash", crash),
                     ("sleep_sync", sleep_sync), ("sleep_async", sleep_async), ("burn", burn),
                     ("wrong_style", wrong_style), ("own_loop", own_loop),
                     ("returns_dict", returns_dict),
                     ("nk_accounts", nk_accounts), ("nk_ban", nk_ban), ("nk_storage", nk_storage),
                     ("nk_notify", nk_notify), ("nk_chat", nk_chat)):
        initializer.register_rpc(name, fn)
    initializer.register_before("AuthenticateCustom", before_authenticate_custom)
    initializer.register_before("DeleteNotifications", before_delete_notifications)
    initializer.register_before("UnlinkDevice", before_bad_return)
    initializer.register_after("WriteStorageObjects", after_write_storage)
    initializer.register_after("GetUsers", after_get_users)
    initializer.register_rt_before("ChannelJoin", rt_before_channel_join)
    initializer.register_rt_after("ChannelJoin", rt_after_channel_join)
    initializer.register_event_session_start(on_session_start)
    initializer.register_event_session_end(on_session_end)
    initializer.register_event(on_server_event)
    initializer.register_http("/custom/hello/{name}", http_hello, methods=["GET"])
    initializer.register_http("/custom/echo", http_echo, methods="POST")
    initializer.register_http("/custom/positional", http_positional, methods=["GET"])
    initializer.register_http("/custom/invalid", http_invalid, methods=["GET"])
    initializer.register_shutdown(shutdown)
    # The blocking nk works while loading too (init_module runs in a worker thread).
    nk.storage_write([{"collection": "boot", "key": "sync_init",
                       "value": {"mode": ctx.execution_mode}, "permission_read": 2}])
    logger.info("test module loaded", pid=os.getpid())
