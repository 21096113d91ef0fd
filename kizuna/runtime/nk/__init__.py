"""The `nk` API: what server modules call to act on the server.

Every call goes to the same kizuna/core use cases the REST API and the socket use, so a rule
(validation, permissions, messages, deliveries to sockets) lives in one place; server calls simply
act with authority (storage permissions are not enforced, any channel's history can be read, ...).

Two styles, one implementation:

- `nk.storage_read(...)` blocks until done and returns the result. For plain `def` functions,
  which run in worker threads: the call hops to the event loop and the thread waits.
- `await nk.aio.storage_read(...)` is the coroutine. For `async def` functions, which run on the
  event loop.

Calling a blocking `nk.x()` from the event loop (inside an `async def`) would freeze the server, so
it raises at once with a message that says to use `await nk.aio.x()`. Calls that never wait
(`nk.json_encode`, `nk.uuid_v4`, `nk.event`, `nk.channel_id_build`) exist on `nk` only and work
in both styles.

Shapes: results are plain dicts with Nakama's field names (TypedDicts in kizuna/runtime/shapes.py),
written by `kizuna.wire.encode.<type>(record, full=True)`: every field present, timestamps as RFC
3339 strings and JSON documents (storage values, metadata, wallets, notification and message
content) decoded. Inputs accept those documents as dicts or as JSON text. Failures raise
`kizuna.runtime.Error` with a gRPC code.

The package, one module per area of `nk.aio` and the pieces that put them together:

- base.py           `Area` (what an area holds: the runtime, its domain) and the `api` wrapper
- args.py           reading call arguments (nk's wording of argument errors)
- accounts.py, users.py, auth.py, sessions.py, storage.py, notifications.py, chat.py   the areas
- aio.py            `AsyncNk`: the areas together (`nk.aio`)
- bridge.py         `_Blocking` and `blocking_twins`: a blocking twin for each AsyncNk coroutine
- utility.py        the calls that never wait: json_encode/decode, uuid_v4, event, channel_id_build
- blocking.py       `Nk`: the twins, the utility calls, `nk.aio`; blocking.pyi is its typed view,
                    written by stubgen.py
"""

from kizuna.runtime.nk.aio import AsyncNk
from kizuna.runtime.nk.blocking import Nk
from kizuna.runtime.nk.bridge import _Blocking as _Blocking  # the bridge, for its unit test

__all__ = ["AsyncNk", "Nk"]
