"""For tests/e2e/test_shutdown_js.py: players ask to be told when the server restarts; the
shutdown function leaves each of them a persistent notification, which they read through the
official client once a server is back."""

WAITING: list[str] = []


def notify_on_restart(ctx, logger, nk, payload):
    WAITING.append(ctx.user_id)
    return {"waiting": len(WAITING)}


def on_shutdown(ctx, logger, nk):
    for user_id in WAITING:
        nk.notification_send(user_id, "server restarting", {"back_in_sec": 30}, 100,
                             persistent=True)
    logger.info("told %d players about the restart", len(WAITING))


def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("notify_on_restart", notify_on_restart)
    initializer.register_shutdown(on_shutdown)
