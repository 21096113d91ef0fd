"""`NodeMetrics`: the node's Prometheus metrics (prometheus-client) and their HTTP listener.

Built by kizuna/server.py only when `metrics.prometheus_port` is set (Nakama's key; 0, the
default, turns metrics off and nothing listens). It then serves `GET /metrics` (and `GET /`,
the path Nakama's exporter uses) on that port, on every interface as Nakama does.

Every metric carries `node_name` (the node's `name`) and, when `metrics.namespace` is set,
`namespace`, as Nakama's do. Names start with `kizuna_` (see docs: README "Metrics"):

- counted where they happen, with label sets bounded by the code (never by client input): REST
  requests per API method and HTTP status, socket messages per message kind and result code,
  runtime (server module) calls per function, session revocations, runtime events dropped, and
  server modules' custom metrics (custom.py);
- read when Prometheus scrapes (`gauge()`), so they cost nothing in between: open sockets,
  presences per stream mode, the runtime event queue, the database pool, readiness and draining,
  and `kizuna_build_info{version,commit,schema}` = 1, which tells a dashboard which node runs
  which release during a rolling upgrade (the schema is read from the database at each scrape,
  as GET /kizuna/version does).

Cost on the hot paths: what the node measures on its event loop is kept in plain dicts and lists
(`Timings`, `LoopCounter`) and turned into prometheus-client's metric families when scraped; a
REST request, a socket message or a runtime call then costs about half a microsecond (one dict
lookup, a bisect, three increments). bench/metrics.py measures the whole.

Not measured: the latency of each database query. asyncpg's query logger (the one hook it has)
cost about 10 us of CPU per query here, a quarter of a simple query's own: too much for every
query of every request. The pool's gauges (in use, waiting) say when the database is the limit,
and the per-method latencies include the queries.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from kizuna.config import Config
from kizuna.errors import Code, KizunaError
from kizuna.metrics.custom import COUNTER, GAUGE, MAX_SERIES, Series
from kizuna.metrics.custom import PREFIX as CUSTOM_PREFIX

log = logging.getLogger("kizuna.metrics")

PREFIX = "kizuna_"

# Seconds. Fine at the low end: most requests of a healthy node take a few milliseconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
# Server modules' timers may measure longer things (an outbound call, a reward computation).
TIMER_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                 60.0)

# Runtime function labels (kizuna/runtime/registry.py: "rpc echo", "before UpdateAccount", ...)
# -> (kind, function id). Labels without an id ("event", "session start", ...) use the module.
_RUNTIME_KINDS = (("rt before ", "rt_before"), ("rt after ", "rt_after"), ("rpc ", "rpc"),
                  ("before ", "before"), ("after ", "after"), ("http ", "http"),
                  ("match ", "match"))  # "match <handler> <function>"

# A gauge read at scrape time: a number, or {label values: number}.
GaugeValue = float | int | Mapping[tuple[str, ...], float | int]


class Timings:
    """Durations and results of one kind of work (REST requests, socket messages, runtime calls):
    a count per (what, result) and a histogram of durations per `what`.

    Written and read on the event loop only (the work happens there, and so does the scrape:
    the listener runs on the node's loop), so plain dicts and lists are enough: no lock, and a
    scrape sees every record whole. prometheus-client's own metrics take a lock per update,
    which cost several times the update itself on these paths; they are used for server
    modules' custom metrics, which worker threads update too."""

    __slots__ = ("bounds", "counts", "hists")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # (what, result) -> [count, the histogram of `what`]
        self.counts: dict[tuple[Any, Any], list[Any]] = {}
        # what -> [sum, count of bucket 0, ..., count of +Inf] (not cumulative)
        self.hists: dict[Any, list[float]] = {}

    def record(self, what: Any, result: Any, seconds: float) -> None:
        entry = self.counts.get((what, result))
        if entry is None:
            hist = self.hists.get(what)
            if hist is None:
                hist = self.hists[what] = [0.0] * (len(self.bounds) + 2)
            entry = self.counts[(what, result)] = [0, hist]
        entry[0] += 1
        hist = entry[1]
        hist[0] += seconds
        hist[bisect_left(self.bounds, seconds) + 1] += 1

    def histogram(self, name: str, doc: str, const: tuple[str, ...], names: list[str],
                  labels: Callable[[Any], tuple[str, ...]]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=names)
        les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        for what, hist in self.hists.items():
            total = 0.0
            buckets = []
            for le, n in zip(les, hist[1:], strict=True):
                total += n
                buckets.append((le, total))
            family.add_metric([*const, *labels(what)], buckets, hist[0])
        return family

    def counter(self, name: str, doc: str, const: tuple[str, ...], names: list[str],
                labels: Callable[[Any], tuple[str, ...]],
                only: Callable[[Any], bool] | None = None) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=names)
        for (what, result), entry in self.counts.items():
            if only is None or only(result):
                family.add_metric([*const, *labels(what), str(result)], entry[0])
        return family


class LoopCounter:
    """A counter increased on the event loop only (see Timings)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        self.value += amount


def _one(what: Any) -> tuple[str, ...]:
    return (what,)


class _Gauge:
    __slots__ = ("doc", "fn", "labels", "name")

    def __init__(self, name: str, doc: str, labels: tuple[str, ...],
                 fn: Callable[[], GaugeValue | None]) -> None:
        self.name = name
        self.doc = doc
        self.labels = labels
        self.fn = fn


class _NodeCollector:
    """What the node measures itself: the timings and counters recorded on the event loop, and
    the gauges read at scrape time."""

    def __init__(self, owner: NodeMetrics) -> None:
        self.owner = owner

    def describe(self) -> list[Metric]:
        # The families with no samples: reserves their names in the registry, so that a custom
        # metric cannot take one.
        return list(self._families(describe=True))

    def collect(self) -> list[Metric]:
        return list(self._families(describe=False))

    def _families(self, describe: bool) -> Iterable[Metric]:
        o = self.owner
        const, names = o.const_values, list(o.const_names)
        if describe:  # an empty snapshot, the same families
            api = sock = run = Timings(LATENCY_BUCKETS)
        else:
            api, sock, run = o.api_timings, o.socket_timings, o.runtime_timings
        yield api.counter(PREFIX + "api_requests", "REST API requests, per Nakama API method "
                          "and HTTP status (RpcFunc: /v2/rpc).", const,
                          [*names, "method", "status"], _one)
        yield api.histogram(PREFIX + "api_request_duration_seconds", "Time to answer a REST API "
                            "request, per Nakama API method.", const, [*names, "method"], _one)
        yield sock.counter(PREFIX + "socket_messages", "Socket messages received, per message "
                           "kind and result (OK, the gRPC code of a failure, or the socket error "
                           "code; message \"invalid\": an envelope that could not be read).",
                           const, [*names, "message", "code"], _one)
        yield sock.histogram(PREFIX + "socket_message_duration_seconds", "Time to handle a "
                             "socket message (hooks included), per message kind.", const,
                             [*names, "message"], _one)
        yield run.histogram(PREFIX + "runtime_call_duration_seconds", "Time spent in server "
                            "module functions, per kind (rpc, before, after, rt_before, "
                            "rt_after, http, event, ...) and function (RPC id, API method, "
                            "socket message, HTTP path; the module for the others).", const,
                            [*names, "kind", "function"], _runtime_what)
        yield run.counter(PREFIX + "runtime_call_errors", "Server module function calls that "
                          "failed, per function and gRPC code (DEADLINE_EXCEEDED: past "
                          "runtime.call_timeout_ms; INTERNAL: an exception that was not an "
                          "Error).", const, [*names, "kind", "function", "code"], _runtime_what,
                          only=_failed)
        for counter, name, doc in (
                (o.revocations, "session_revocations", "Session tokens this node learned were "
                 "revoked (logout, ban, account deletion, single session; from any node)."),
                (o.events_dropped, "runtime_events_dropped", "Runtime events dropped because "
                 "the event queue was full (runtime.event_queue_size).")):
            total = CounterMetricFamily(PREFIX + name, doc, labels=names)
            total.add_metric(list(const), 0 if describe else counter.value)
            yield total
        for g in o.gauges:
            family = GaugeMetricFamily(g.name, g.doc, labels=[*names, *g.labels])
            if describe:
                yield family
                continue
            try:
                value = g.fn()
            except Exception:  # a source that fails must not break the scrape
                log.exception("metrics: reading a gauge failed", extra={"metric": g.name})
                continue
            if value is None:
                continue
            if isinstance(value, Mapping):
                for labels, v in value.items():
                    family.add_metric([*const, *labels], float(v))
            else:
                family.add_metric(list(const), float(value))
            yield family


def _runtime_what(what: Any) -> tuple[str, ...]:
    return runtime_labels(*what)


def _failed(result: Any) -> bool:
    return result != "OK"


class NodeMetrics:
    def __init__(self, cfg: Config) -> None:
        disable_created_metrics()  # no `_created` twin of every counter and histogram
        self.port = cfg.metrics.prometheus_port
        const = {"node_name": cfg.name}
        if cfg.metrics.namespace:
            const["namespace"] = cfg.metrics.namespace
        self.const_names = tuple(const)
        self.const_values = tuple(const.values())
        self.registry = reg = CollectorRegistry()
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
        self.api_timings = Timings(LATENCY_BUCKETS)
        self.socket_timings = Timings(LATENCY_BUCKETS)
        self.runtime_timings = Timings(LATENCY_BUCKETS)
        self.revocations = LoopCounter()
        self.events_dropped = LoopCounter()
        self.gauges: list[_Gauge] = []
        self._collector = _NodeCollector(self)
        self._custom_dropped = Counter(
            PREFIX + "runtime_custom_metrics_dropped", f"Custom metric updates not exported: a "
            f"new tag combination past {MAX_SERIES} for the metric.",
            [*self.const_names, "name"], registry=reg)
        self._custom: dict[str, Any] = {}  # name -> prometheus-client metric
        self._custom_series: dict[tuple[str, tuple[str, ...]], Series] = {}
        self._custom_count: dict[str, int] = {}
        self._custom_warned: set[str] = set()
        self._custom_lock = threading.Lock()
        self.on_scrape: list[Callable[[], Awaitable[None]]] = []
        self._runner: web.AppRunner | None = None

    # -- the gauges read at scrape time ----------------------------------------------------------

    def gauge(self, name: str, doc: str, fn: Callable[[], GaugeValue | None],
              labels: tuple[str, ...] = ()) -> None:
        """A gauge `kizuna_<name>` read when Prometheus scrapes: `fn()` returns a number, or
        (with `labels`) a mapping of label values to numbers; None leaves it out. Register every
        gauge before `start()`."""
        self.gauges.append(_Gauge(PREFIX + name, doc, labels, fn))

    # -- hot paths -------------------------------------------------------------------------------

    def api_middleware(self) -> Any:
        """An aiohttp middleware timing every request to a route whose handler names its Nakama
        API method (`handler.nakama_method`, set by kizuna/api/endpoint.py and api/rpc.py).
        Outermost, so it sees the status the client gets (errors included)."""
        perf = time.perf_counter
        record = self.api_timings.record

        @web.middleware
        async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            method = getattr(request.match_info.handler, "nakama_method", None)
            if method is None:  # /ws, health, custom routes (timed as runtime calls), 404s
                return await handler(request)
            started = perf()
            status = 500
            try:
                resp = await handler(request)
                status = resp.status
                return resp
            except web.HTTPException as exc:
                status = exc.status
                raise
            except asyncio.CancelledError:
                status = 499  # the client went away (Nakama's CANCELED)
                raise
            finally:
                record(method, status, perf() - started)

        return metrics_middleware

    def api(self, method: str, status: int, seconds: float) -> None:
        self.api_timings.record(method, status, seconds)

    def socket_message(self, kind: str, code: str, seconds: float) -> None:
        self.socket_timings.record(kind, code, seconds)

    def runtime_call(self, label: str, module: str, seconds: float, error: Code | None) -> None:
        """A call of a server module function (`label` as kizuna/runtime/registry.py names it);
        `error`: the gRPC code it failed with, None when it succeeded."""
        self.runtime_timings.record((label, module), "OK" if error is None else error.name,
                                    seconds)

    # -- server modules' custom metrics (custom.Backend) ----------------------------------------

    def custom_series(self, kind: str, name: str, tag_names: tuple[str, ...],
                      tag_values: tuple[str, ...]) -> Series | None:
        series = self._custom_series.get((name, tag_values))
        if series is not None:
            return series
        with self._custom_lock:  # worker threads and the event loop call this at once
            series = self._custom_series.get((name, tag_values))
            if series is not None:
                return series
            metric = self._custom.get(name)
            if metric is None:
                metric = self._custom_metric(kind, name, tag_names)
            count = self._custom_count.get(name, 0)
            if count >= MAX_SERIES:
                self._custom_dropped.labels(*self.const_values, name).inc()
                if name not in self._custom_warned:
                    self._custom_warned.add(name)
                    log.warning(f"Custom metric {name!r} has {MAX_SERIES} tag combinations: new "
                                f"ones are not exported (keep tag values to a small set)",
                                extra={"metric": name})
                return None
            series = metric.labels(*self.const_values, *tag_values)
            self._custom_count[name] = count + 1
            self._custom_series[(name, tag_values)] = series
            return series

    def _custom_metric(self, kind: str, name: str, tag_names: tuple[str, ...]) -> Any:
        full = CUSTOM_PREFIX + name
        labels = [*self.const_names, *tag_names]
        doc = f"Custom {kind} {name!r} of the server modules."
        try:
            if kind == COUNTER:
                metric: Any = Counter(full, doc, labels, registry=self.registry)
            elif kind == GAUGE:
                metric = Gauge(full, doc, labels, registry=self.registry)
            else:
                metric = Histogram(full, doc, labels, buckets=TIMER_BUCKETS,
                                   registry=self.registry)
        except ValueError as exc:  # a name taken by another metric of the registry
            raise KizunaError(Code.INVALID_ARGUMENT,
                              f"metrics: {name!r} cannot be exported: {exc}") from None
        self._custom[name] = metric
        return metric

    # -- the listener ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on `metrics.prometheus_port`; OSError when the port cannot be had."""
        self.registry.register(self._collector)
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        app.router.add_get("/", self._scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host=None, port=self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("Serving Prometheus metrics", extra={"port": self.port, "path": "/metrics"})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _scrape(self, request: web.Request) -> web.Response:
        for refresh in self.on_scrape:
            try:
                async with asyncio.timeout(2.0):
                    await refresh()
            except Exception as exc:  # keep the last value; the scrape goes on
                log.warning("metrics: refreshing a value before a scrape failed",
                            extra={"error": repr(exc)})
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})


def runtime_labels(label: str, module: str) -> tuple[str, str]:
    """(kind, function) of a runtime function label: ("rpc", "echo") for "rpc echo"."""
    for prefix, kind in _RUNTIME_KINDS:
        if label.startswith(prefix):
            return kind, label[len(prefix):]
    return label.replace(" ", "_"), module


def pool_waiting(pool: Any) -> int | None:
    """Tasks waiting for a connection of an asyncpg pool (None if this asyncpg keeps them
    elsewhere: the pool's queue of free connections is not public API)."""
    getters = getattr(getattr(pool, "_queue", None), "_getters", None)
    if getters is None:
        return None
    return sum(1 for f in getters if not f.done())
