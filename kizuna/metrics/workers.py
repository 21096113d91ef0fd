"""The metrics of a node that runs several workers, on one port (kizuna/workers.py).

Each worker is a node of its own with its own exporter (kizuna/metrics/node.py), on
`metrics.prometheus_port + 1 + i` (kizuna/workers.py `worker_port`), and its series carry its
name (`node_name="<name>-<i>"`).
The supervisor serves `metrics.prometheus_port` itself: at each scrape it reads every worker's
exposition over the loopback and answers with all of them in one (each family once, its samples
from every worker). A dashboard that scraped the node's port when it was one process keeps
seeing the whole node; summing by `node_name` prefix gives the node's totals. Series without
`node_name` (prometheus-client's process, platform and GC metrics) get the worker's name added,
so the workers' samples stay apart. A worker that does not answer (restarting) is left out of
that scrape; the others are still served.

prometheus-client's multiprocess mode does not fit: most of Kizuna's metrics are collected at
scrape time from the worker's own state (sockets, presences, the pool), which only that process
can read.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

log = logging.getLogger("kizuna.metrics")

SCRAPE_TIMEOUT = 3.0  # seconds to read one worker's exposition


class WorkersCollector:
    """Every live worker's metrics, read at collection time. `targets()` gives the (node name,
    metrics port) of each worker that serves."""

    def __init__(self, targets: Callable[[], list[tuple[str, int]]]) -> None:
        self.targets = targets

    def _read(self, target: tuple[str, int]) -> tuple[str, str | None]:
        name, port = target
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                        timeout=SCRAPE_TIMEOUT) as r:
                return name, r.read().decode("utf-8")
        except OSError as exc:  # restarting, or too slow: left out of this scrape
            log.debug("a worker's metrics could not be read",
                      extra={"worker": name, "port": port, "error": str(exc)})
            return name, None

    def collect(self) -> Iterable[Metric]:
        targets = self.targets()
        if not targets:
            return []
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            texts = list(pool.map(self._read, targets))
        families: dict[str, Metric] = {}
        for name, text in texts:
            if text is None:
                continue
            for family in text_string_to_metric_families(text):
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit)
                for s in family.samples:
                    labels: dict[str, Any] = s.labels
                    if "node_name" not in labels:
                        labels = {**labels, "node_name": name}
                    merged.samples.append(Sample(s.name, labels, s.value, s.timestamp,
                                                 s.exemplar))
        return list(families.values())


def serve(port: int, targets: Callable[[], list[tuple[str, int]]]) -> Any:
    """Serve the workers' metrics on `port` (every interface, any path, as a single node's
    exporter): the HTTP server, whose `shutdown()` stops it. OSError when the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkersCollector(targets))  # type: ignore[arg-type]
    server, _thread = start_http_server(port, addr="0.0.0.0", registry=registry)
    return server


__all__ = ["WorkersCollector", "serve"]
