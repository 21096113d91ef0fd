"""Server modules in Python: the runtime.

Module code imports from here:

    from kizuna.runtime import Code, Error, HttpResponse

and annotates with kizuna.runtime.types (Context, Logger, Nk, Initializer, ...). The pieces:

- loader.py    finds and imports the modules of `runtime.path`, runs their init_module
- registry.py  what they register (RPCs, hooks, events, HTTP routes) and the `initializer`
- invoke.py    calls a function: plain ones in worker threads, coroutines on the loop, deadlines
- nk.py        the `nk` API (blocking `nk.x()` and coroutine `nk.aio.x()`), over kizuna/core
- hooks.py     before/after hooks around REST methods and socket messages
- service.py   the node's Runtime: load, reload (--dev), events, shutdown hooks
- context.py, logger.py, http.py, errors.py, shapes.py, types.py, methods.py
"""

from kizuna.runtime.context import Context
from kizuna.runtime.errors import Code, Error
from kizuna.runtime.http import HttpRequest, HttpResponse

__all__ = ["Code", "Context", "Error", "HttpRequest", "HttpResponse"]
