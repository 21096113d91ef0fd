"""A module whose init_module is a coroutine and uses nk.aio while loading."""

from kizuna.runtime.types import Context, Initializer, Logger, Nk


async def loaded_at(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    objects = await nk.aio.storage_read([{"collection": "boot", "key": "async_init"}])
    return nk.json_encode(objects[0]["value"] if objects else None)


async def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_rpc("async_init", loaded_at)
    # nk works while loading (`kizuna check` stops here instead: it has no database).
    await nk.aio.storage_write([{"collection": "boot", "key": "async_init",
                                 "value": {"mode": ctx.execution_mode}, "permission_read": 2}])
