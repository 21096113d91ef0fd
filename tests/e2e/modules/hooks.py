"""Server module for tests/e2e/js/hooks.test.mjs: an after hook on a REST method, realtime
before/after hooks on ChannelJoin and custom HTTP routes, as a game would write them."""

from __future__ import annotations

from kizuna.runtime import Code, Error, HttpResponse
from kizuna.runtime.types import Context, HttpRequest, Initializer, Logger, Nk

ROUTE_KEY = "e2e-route-key"


def after_write_storage(ctx: Context, logger: Logger, nk: Nk, response: dict,
                        request: dict) -> None:
    """After WriteStorageObjects: keep an audit record of the player's last save (which keys,
    which versions), readable by the player, written by the server only."""
    acks = (response or {}).get("acks") or []
    if any(a.get("collection") == "audit" for a in acks):
        return
    nk.storage_write([{
        "collection": "audit", "key": "last_write", "user_id": ctx.user_id,
        "value": {"keys": [a["key"] for a in acks], "versions": [a["version"] for a in acks],
                  # the request is in Nakama's JSON shape: values are JSON text
                  "values": [nk.json_decode(o["value"]) for o in request.get("objects") or []]},
        "permission_read": 1, "permission_write": 0,
    }])


def after_get_account(ctx: Context, logger: Logger, nk: Nk, response: dict,
                      request: dict) -> None:
    """After GetAccount: a failing after hook; the client must get its account anyway."""
    raise Error("the after hook failed", Code.INTERNAL)


def before_channel_join(ctx: Context, logger: Logger, nk: Nk, message: dict) -> dict | None:
    """Before ChannelJoin: room names are lower case; "closed-*" rooms are refused with a
    message, "gone-*" rooms are disabled (None)."""
    target = message.get("target") or ""
    if target.startswith("closed-"):
        raise Error(f"The room {target} is closed.", Code.PERMISSION_DENIED)
    if target.startswith("gone-"):
        return None
    if message.get("type") == 1:
        message["target"] = target.lower()
    return message


def after_channel_join(ctx: Context, logger: Logger, nk: Nk, out: dict | None,
                       message: dict) -> None:
    """After ChannelJoin: welcome the player with a live notification naming the room."""
    if out is None or ctx.user_id is None:
        return
    nk.notification_send(ctx.user_id, "welcome", {"room": out["room_name"], "channel": out["id"],
                                                  "session_id": ctx.session_id}, code=101)


def profile(ctx: Context, logger: Logger, nk: Nk, request: HttpRequest) -> HttpResponse:
    """GET /e2e/profile/{user_id}: a public profile card, for a web page (needs the key)."""
    if request.header("X-Api-Key") != ROUTE_KEY:
        return HttpResponse({"error": "missing or wrong key"}, 401)
    try:
        account = nk.account_get_id(request.path_params["user_id"])
    except Error:
        return HttpResponse({"error": "no such player"}, 404)
    user = account["user"]
    return HttpResponse({"id": user["id"], "username": user["username"],
                         "display_name": user["display_name"],
                         "fields": request.query.get("fields", [])},
                        200, {"Cache-Control": "no-store"})


def webhook(ctx: Context, logger: Logger, nk: Nk, request: HttpRequest) -> HttpResponse:
    """POST /e2e/webhook: a payment provider's callback; credits the player with a
    notification and answers 201 with what it understood."""
    body = request.json()
    if not isinstance(body, dict) or "user_id" not in body:
        raise Error("user_id is required", Code.INVALID_ARGUMENT)
    nk.notification_send(body["user_id"], "purchase", {"sku": body.get("sku")}, code=102,
                         persistent=True)
    return HttpResponse({"credited": body["user_id"], "sku": body.get("sku")}, 201,
                        {"X-Handled-By": "e2e-module"})


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_after("WriteStorageObjects", after_write_storage)
    initializer.register_after("GetAccount", after_get_account)
    initializer.register_rt_before("ChannelJoin", before_channel_join)
    initializer.register_rt_after("ChannelJoin", after_channel_join)
    initializer.register_http("/e2e/profile/{user_id}", profile, methods=["GET"])
    initializer.register_http("/e2e/webhook", webhook, methods="POST")
