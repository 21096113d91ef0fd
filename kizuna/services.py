"""The typed object graph of a node, built in one place.

`build()` makes every long-lived component and connects them; nothing wires itself into another.
The graph, from the bottom:

- `Domain` (kizuna/core/domain.py): config, pool, the session store, the notifier, the chat
  message writer, and `sockets`, the one interface through which the domain reaches players;
- `RealtimeService` (kizuna/realtime/service.py): the /ws sessions, presence tracker and Router;
  it implements `core.delivery.Sockets`, so `domain.sockets` points at it;
- `Runtime` (kizuna/runtime/service.py): server modules and `nk`, built on the Domain; it serves
  the socket dispatcher's hooks, RPCs and session events (`realtime.modules`), and runs the
  authoritative matches (`domain.matches`);
- `Lifecycle`: readiness and draining, read by the health endpoints;
- `NodeMetrics` (kizuna/metrics/node.py), only with `metrics.prometheus_port`: handed to the
  realtime service and the runtime (they time what passes through them), and given the gauges
  it reads from the graph when Prometheus scrapes (`watch`).

`kizuna/server.py` starts and stops them in order; `kizuna/api/app.py` serves REST over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kizuna.config import Config
from kizuna.core import streams
from kizuna.core.domain import Domain
from kizuna.core.sessions import SessionStore
from kizuna.realtime import handlers
from kizuna.realtime.service import RealtimeService
from kizuna.runtime.service import Runtime

if TYPE_CHECKING:
    from kizuna.cluster.bus import Bus
    from kizuna.metrics.node import NodeMetrics


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
    metrics: NodeMetrics | None = None
    bus: Bus | None = None

    @property
    def sessions(self) -> SessionStore:
        return self.domain.sessions


def served_socket_kinds() -> frozenset[str]:
    """The socket messages this release serves: those with a handler of their own (the others a
    client may send are answered "not supported by this server yet"). For the warning about
    realtime hooks on the others, at start and in `kizuna check`."""
    return frozenset(kind for module in handlers.MODULES for kind in module.HANDLERS)


def build(config: Config, pool: Any, *, dev: bool = False,
          served_methods: frozenset[str] | None = None,
          metrics: NodeMetrics | None = None, bus: Bus | None = None) -> Services:
    """The node's components, connected: domain <- realtime (as its sockets) <- runtime (as the
    socket layer's server modules). `served_methods`: the API methods the REST layer serves (for
    the warning about hooks on methods it does not). `metrics`: the node's metrics, when
    metrics.prometheus_port is set."""
    domain = Domain(config, pool)
    realtime = RealtimeService(domain, bus)
    domain.sockets = realtime
    runtime = Runtime(domain, dev=dev, served_methods=served_methods,
                      served_kinds=served_socket_kinds(), metrics=metrics)
    realtime.modules = runtime
    if bus is None:
        domain.matches = runtime.matches
    else:  # matches of every node, each run by its own (kizuna/runtime/cluster_matches.py)
        from kizuna.runtime.cluster_matches import ClusterMatches

        domain.matches = ClusterMatches(runtime.matches, bus)
    domain.leaderboards.hooks = runtime
    services = Services(config=config, pool=pool, domain=domain, realtime=realtime,
                        runtime=runtime, metrics=metrics, bus=bus)
    if metrics is not None:
        realtime.metrics = metrics
        watch(metrics, services)
    return services


# Stream modes as the `mode` label of kizuna_presences (custom streams by their number).
_MODE_NAMES = {streams.NOTIFICATIONS: "notifications", streams.STATUS: "status",
               streams.CHANNEL: "channel", streams.GROUP: "group", streams.DM: "direct",
               streams.MATCH_RELAYED: "match_relayed",
               streams.MATCH_AUTHORITATIVE: "match_authoritative", streams.PARTY: "party"}


def watch(metrics: NodeMetrics, services: Services) -> None:
    """The gauges the node's metrics read from the graph when Prometheus scrapes."""
    from kizuna.metrics.node import pool_waiting

    realtime, runtime, life, pool = (services.realtime, services.runtime, services.lifecycle,
                                     services.pool)
    metrics.gauge("sockets", "Open realtime sockets on this node.", lambda: len(realtime.registry))
    metrics.gauge("socket_outbound_queued_frames", "Frames waiting in sockets' outgoing queues "
                  "(peers reading slower than the node sends; socket.outgoing_queue_size each).",
                  lambda: realtime.outbound_backlog()[0])
    metrics.gauge("socket_outbound_backlogged", "Sockets with frames waiting in their outgoing "
                  "queue.", lambda: realtime.outbound_backlog()[1])
    metrics.gauge("presences", "Presences this node tracks, per stream mode (hidden ones "
                  "included: every socket is on its user's notifications stream).",
                  lambda: {(_MODE_NAMES.get(mode, str(mode)),): n
                           for mode, n in realtime.tracker.count_by_mode().items()},
                  labels=("mode",))

    def event_queue(i: int) -> int | None:
        found = runtime.event_queue()
        return None if found is None else found[i]

    metrics.gauge("runtime_event_queue_depth", "Runtime events waiting for the event functions.",
                  lambda: event_queue(0))
    metrics.gauge("runtime_event_queue_capacity", "Size of the runtime event queue "
                  "(runtime.event_queue_size).", lambda: event_queue(1))
    metrics.gauge("session_revoked_tokens", "Revoked session tokens this node holds until they "
                  "expire (checked on every request, from memory).",
                  lambda: len(services.sessions.revoked.expiry))
    if pool is not None:
        metrics.gauge("db_pool_connections", "Open connections of the node's database pool.",
                      pool.get_size)
        metrics.gauge("db_pool_max_connections", "Most connections the pool opens "
                      "(database.max_open_conns).", pool.get_max_size)
        metrics.gauge("db_pool_in_use", "Pool connections in use.",
                      lambda: pool.get_size() - pool.get_idle_size())
        metrics.gauge("db_pool_waiting", "Tasks waiting for a pool connection (all in use).",
                      lambda: pool_waiting(pool))
    matchmaker = realtime.matchmaker
    metrics.gauge("matchmaker_tickets", "Matchmaker tickets waiting (in a cluster, the whole "
                  "cluster's, as every node holds every ticket: do not sum over nodes).",
                  lambda: len(matchmaker))
    metrics.gauge("matchmaker_groups", "Groups the matchmaker formed since the node started.",
                  lambda: matchmaker.matched_groups)
    metrics.gauge("matchmaker_pass_seconds", "Duration of the matchmaker's recent passes (the "
                  "last 256): the median, the 99th percentile and the longest (quantile 1).",
                  matchmaker.pass_quantiles, labels=("quantile",))
    metrics.gauge("ready", "1 while the node takes traffic (GET /kizuna/ready answers 200).",
                  lambda: int(life.ready and not life.draining))
    metrics.gauge("draining", "1 once the node has started to drain for a shutdown.",
                  lambda: int(life.draining))
