"""nk's group calls, blocking and `nk.aio`, for tests/integration/test_runtime.py."""

from kizuna.runtime.types import Context, Initializer, Logger, Nk


def nk_groups_sync(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """Blocking form: create a group for the caller, add a second user, list and promote."""
    other = nk.json_decode(payload)["other"]
    g = nk.group_create(ctx.user_id, "nk-" + other[:8], lang_tag="nk", open=False, max_count=5,
                        metadata={"tier": 1})
    nk.group_users_add(g["id"], [other], caller_id=ctx.user_id)
    nk.group_users_promote(g["id"], [other])
    users, cursor = nk.group_users_list(g["id"])
    return nk.json_encode({"group": g, "users": [[u["user"]["id"], u["state"]] for u in users],
                           "cursor": cursor})


async def nk_groups_async(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """`nk.aio` form: update, search, a user's groups, demote, kick, ban, delete, and a refusal."""
    args = nk.json_decode(payload)
    gid, other = args["group_id"], args["other"]
    await nk.aio.group_update(gid, None, description="from nk", open=True)
    found, _ = await nk.aio.groups_list(name="nk-%", limit=100)
    by_id = await nk.aio.groups_get_id([gid])
    mine, _ = await nk.aio.user_groups_list(other)
    await nk.aio.group_users_demote(gid, [other])
    try:
        await nk.aio.group_users_kick(gid, [ctx.user_id], caller_id=other)
        refused = None
    except Exception as exc:  # a member (demoted above) manages nobody
        refused = str(exc)
    await nk.aio.group_users_ban(gid, [other])
    banned, _ = await nk.aio.group_users_list(gid, state=4)
    await nk.aio.group_delete(gid)
    return nk.json_encode({
        "found": [g["id"] for g in found], "description": by_id[0]["description"],
        "open": by_id[0]["open"], "metadata": by_id[0]["metadata"],
        "mine": [[ug["group"]["id"], ug["state"]] for ug in mine], "refused": refused,
        "banned": [u["user"]["id"] for u in banned],
        "after_delete": await nk.aio.groups_get_id([gid])})


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_rpc("nk_groups_sync", nk_groups_sync)
    initializer.register_rpc("nk_groups_async", nk_groups_async)
