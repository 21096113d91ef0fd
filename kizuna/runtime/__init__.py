"""Server modules in Python: the runtime.

Module code imports from here:

    from kizuna.runtime import Code, Error, HttpResponse

and annotates with kizuna.runtime.types (Context, Logger, Nk, Initializer, ...). The pieces:

- loader.py    finds and imports the modules of `runtime.path`, runs their init_module
- registry.py  what they register (RPCs, hooks, events, HTTP routes, match handlers) and the
               `initializer`
- invoke.py    calls a function: plain ones in worker threads, coroutines on the loop, deadlines
- matches.py   authoritative matches: each one's schedule (ticks, joins, signals), its dispatcher
- nk/          the `nk` API over the kizuna/core use cases, one module per area: the coroutines
               (`nk.aio.x()`, AsyncNk) and their blocking twins (`nk.x()`, Nk), derived from them
- hooks.py     before/after hooks around REST methods and socket messages
- service.py   the node's Runtime, built on the Domain: load, reload (--dev), events, shutdown hooks
- context.py, logger.py, http.py, errors.py, shapes.py (what nk returns), types.py (for annotations)

The names of API methods and socket messages that hooks take are in kizuna/wire/methods.py.
"""

from kizuna.runtime.context import Context
from kizuna.runtime.errors import Code, Error
from kizuna.runtime.http import HttpRequest, HttpResponse

__all__ = ["Code", "Context", "Error", "HttpRequest", "HttpResponse"]
