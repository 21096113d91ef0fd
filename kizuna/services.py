"""The typed object graph of a node, built in one place.

`build()` makes every long-lived component and connects them; nothing wires itself into another.
The graph, from the bottom:

- `Domain` (kizuna/core/domain.py): config, pool, the session store, the notifier, the chat
  message writer, and `sockets`, the one interface through which the domain reaches players;
- `RealtimeService` (kizuna/realtime/service.py): the /ws sessions, presence tracker and Router;
  it implements `core.delivery.Sockets`, so `domain.sockets` points at it;
- `Runtime` (kizuna/runtime/service.py): server modules and `nk`, built on the Domain; it serves
  the socket dispatcher's hooks, RPCs and session events (`realtime.modules`);
- `Lifecycle`: readiness and draining, read by the health endpoints.

`kizuna/server.py` starts and stops them in order; `kizuna/api/app.py` serves REST over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kizuna.config import Config
from kizuna.core.domain import Domain
from kizuna.core.sessions import SessionStore
from kizuna.realtime import handlers
from kizuna.realtime.service import RealtimeService
from kizuna.runtime.service import Runtime


@dataclass
class Lifecycle:
    """Where the node is in its life: readiness turns false as soon as draining starts."""
    ready: bool = False
    draining: bool = False


@dataclass
class Services:
    config: Config
    pool: Any  # asyncpg.Pool
    domain: Domain
    realtime: RealtimeService
    runtime: Runtime
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def sessions(self) -> SessionStore:
        return self.domain.sessions


def served_socket_kinds() -> frozenset[str]:
    """The socket messages this release serves: those with a handler of their own (the others a
    client may send are answered "not supported by this server yet"). For the warning about
    realtime hooks on the others, at start and in `kizuna check`."""
    return frozenset(kind for module in handlers.MODULES for kind in module.HANDLERS)


def build(config: Config, pool: Any, *, dev: bool = False,
          served_methods: frozenset[str] | None = None) -> Services:
    """The node's components, connected: domain <- realtime (as its sockets) <- runtime (as the
    socket layer's server modules). `served_methods`: the API methods the REST layer serves (for
    the warning about hooks on methods it does not)."""
    domain = Domain(config, pool)
    realtime = RealtimeService(domain)
    domain.sockets = realtime
    runtime = Runtime(domain, dev=dev, served_methods=served_methods,
                      served_kinds=served_socket_kinds())
    realtime.modules = runtime
    domain.leaderboards.hooks = runtime
    return Services(config=config, pool=pool, domain=domain, realtime=realtime, runtime=runtime)
