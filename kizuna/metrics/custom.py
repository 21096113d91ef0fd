"""Server modules' own metrics: `nk.metrics_counter_add`, `nk.metrics_gauge_set` and
`nk.metrics_timer_record` (Nakama's MetricsCounterAdd, MetricsGaugeSet, MetricsTimerRecord).

Every call is checked here, whether the node exports metrics or not, so a module that works on a
laptop without `metrics.prometheus_port` works the same in production with it:

- a name is a Prometheus metric name: letters, digits and `_`, not starting with a digit, at most
  `MAX_NAME_LENGTH` characters (Nakama rewrote bad characters silently; a clear error is kinder
  than a metric nobody can find). It is exported as `kizuna_custom_<name>`: a counter as
  `kizuna_custom_<name>_total`, a timer as the histogram `kizuna_custom_<name>_seconds`; two
  names that would export the same series (a gauge `x_seconds` and a timer `x`) are refused;
- tags are a dict of strings, at most `MAX_TAGS`, whose keys are label names (as names, and not
  one the server sets on every metric: `node_name`, `namespace`, nor Prometheus' `le` or
  `quantile`);
- a name keeps the kind (counter, gauge, timer) and the tag keys of its first call: Prometheus
  cannot hold one name with two shapes, so a later call that differs is refused, saying what the
  first call was;
- at most `MAX_METRICS` names per node: names are meant to be fixed in the code (put what varies
  in a tag). And at most `MAX_SERIES` tag combinations per name: past that, new combinations are
  not exported (a user id in a tag would otherwise grow the node's memory and every scrape
  without bound); this is counted in `kizuna_runtime_custom_metrics_dropped_total` and logged
  once per name, and the module's call does not fail.

Errors are `KizunaError(INVALID_ARGUMENT)`, which `nk` raises as `kizuna.runtime.Error`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from kizuna.errors import Code, KizunaError

COUNTER = "counter"
GAUGE = "gauge"
TIMER = "timer"

MAX_NAME_LENGTH = 128
MAX_TAGS = 10
MAX_TAG_VALUE_LENGTH = 256
MAX_METRICS = 200
MAX_SERIES = 1000

PREFIX = "kizuna_custom_"

# Labels the exporter puts on every metric, and the ones Prometheus gives a meaning.
RESERVED_TAGS = frozenset({"node_name", "namespace", "le", "quantile"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RULE = "letters, digits and '_', not starting with a digit (Prometheus' naming rules)"


class Series(Protocol):
    """One exported series (a prometheus-client child): the method its kind uses."""

    def inc(self, amount: float = 1) -> None: ...

    def set(self, value: float) -> None: ...

    def observe(self, amount: float) -> None: ...


class Backend(Protocol):
    """The exporter (node.NodeMetrics) as custom metrics see it."""

    def custom_series(self, kind: str, name: str, tag_names: tuple[str, ...],
                      tag_values: tuple[str, ...]) -> Series | None:
        """The series to update, or None when this tag combination is over `MAX_SERIES`.
        KizunaError when the name cannot be exported (it clashes with a server metric)."""
        ...


@dataclass(frozen=True, slots=True)
class Shape:
    """What the first call of a name fixed."""
    kind: str
    tag_names: tuple[str, ...]
    family: str  # the exported name, without the prefix: "wins", "match_time_seconds"


def _invalid(message: str) -> KizunaError:
    return KizunaError(Code.INVALID_ARGUMENT, message)


def check_name(name: Any, call: str) -> str:
    if not isinstance(name, str):
        raise _invalid(f"{call}: name must be a string, got {type(name).__name__}.")
    if not _NAME.fullmatch(name) or name.startswith("__"):
        raise _invalid(f"{call}: {name!r} is not a valid metric name: use {_RULE}, and no "
                       f"leading '__'.")
    if len(name) > MAX_NAME_LENGTH:
        raise _invalid(f"{call}: the metric name {name[:32]!r}... is longer than "
                       f"{MAX_NAME_LENGTH} characters.")
    return name


def check_tags(tags: Any, call: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tag names, tag values), sorted by name."""
    if tags is None:
        return (), ()
    if not isinstance(tags, Mapping):
        raise _invalid(f"{call}: tags must be a dict of strings (or None), got "
                       f"{type(tags).__name__}.")
    if len(tags) > MAX_TAGS:
        raise _invalid(f"{call}: at most {MAX_TAGS} tags, got {len(tags)}.")
    items = sorted(tags.items())
    for key, value in items:
        if not isinstance(key, str) or not _NAME.fullmatch(key) or key.startswith("__"):
            raise _invalid(f"{call}: tag {key!r} is not a valid label name: use {_RULE}, and no "
                           f"leading '__'.")
        if key in RESERVED_TAGS:
            raise _invalid(f"{call}: tag {key!r} is reserved (the server sets node_name and "
                           f"namespace on every metric; le and quantile belong to Prometheus).")
        if not isinstance(value, str):
            raise _invalid(f"{call}: the value of tag {key!r} must be a string, got "
                           f"{type(value).__name__}.")
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise _invalid(f"{call}: the value of tag {key!r} is longer than "
                           f"{MAX_TAG_VALUE_LENGTH} characters.")
    return tuple(k for k, _ in items), tuple(v for _, v in items)


def _number(value: Any, call: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"{call}: {what} must be a number, got {type(value).__name__}.")
    out = float(value)
    if not math.isfinite(out):
        raise _invalid(f"{call}: {what} must be a finite number, got {value!r}.")
    return out


class CustomMetrics:
    """The custom metrics of one node (or of `kizuna check`, with no backend): the shape each
    name was first used with, and the exporter when there is one. Safe to call from worker
    threads and the event loop at once."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend = backend
        self._shapes: dict[str, Shape] = {}
        self._taken: dict[str, str] = {}  # exported series name -> the name that has it
        self._lock = threading.Lock()

    def counter_add(self, name: Any, tags: Any, delta: Any) -> None:
        call = "metrics_counter_add"
        amount = _number(delta, call, "delta")
        if amount < 0:
            raise _invalid(f"{call}: delta must be 0 or more (a counter only goes up; use "
                           f"metrics_gauge_set for a value that goes down), got {delta!r}.")
        series = self._series(call, COUNTER, name, tags)
        if series is not None:
            series.inc(amount)

    def gauge_set(self, name: Any, tags: Any, value: Any) -> None:
        call = "metrics_gauge_set"
        number = _number(value, call, "value")
        series = self._series(call, GAUGE, name, tags)
        if series is not None:
            series.set(number)

    def timer_record(self, name: Any, tags: Any, value: Any) -> None:
        call = "metrics_timer_record"
        seconds = (value.total_seconds() if isinstance(value, timedelta)
                   else _number(value, call, "value (seconds, or a timedelta)"))
        if seconds < 0:
            raise _invalid(f"{call}: value must be a duration of 0 seconds or more, got {value!r}.")
        series = self._series(call, TIMER, name, tags)
        if series is not None:
            series.observe(seconds)

    def _series(self, call: str, kind: str, name: Any, tags: Any) -> Series | None:
        key = check_name(name, call)
        if kind == COUNTER and key.endswith("_total") and key != "_total":
            key = key.removesuffix("_total")  # exported with _total either way
        names, values = check_tags(tags, call)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._first(call, kind, key, name, names)
        if shape.kind != kind:
            raise _invalid(f"{call}: {name!r} is already a {shape.kind} (a name keeps the kind "
                           f"of its first call).")
        if shape.tag_names != names:
            first = ", ".join(shape.tag_names) or "no tags"
            given = ", ".join(names) or "no tags"
            raise _invalid(f"{call}: {name!r} was first used with tags ({first}), not ({given}): "
                           f"every call of a metric gives the same tag keys (restart the server "
                           f"to change them).")
        backend = self.backend
        if backend is None:
            return None
        return backend.custom_series(kind, shape.family, names, values)

    def _first(self, call: str, kind: str, key: str, name: str,
               names: tuple[str, ...]) -> Shape:
        """The first call of a name: its shape, once it is known not to clash with another's
        exported names."""
        with self._lock:
            shape = self._shapes.get(key)
            if shape is not None:
                return shape
            if len(self._shapes) >= MAX_METRICS:
                raise _invalid(
                    f"{call}: {name!r} would be custom metric number {MAX_METRICS + 1} of this "
                    f"node, over the limit of {MAX_METRICS}: metric names are meant to be fixed "
                    f"in the code (put what varies in a tag).")
            family, exported = exported_names(kind, key)
            for item in exported:
                other = self._taken.get(item)
                if other is not None and other != key:
                    theirs = self._shapes[other]
                    raise _invalid(f"{call}: {name!r} clashes with the {theirs.kind} {other!r}: "
                                   f"both would be exported as {PREFIX}{item}.")
            shape = self._shapes[key] = Shape(kind, names, family)
            for item in exported:
                self._taken[item] = key
            return shape


def exported_names(kind: str, key: str) -> tuple[str, tuple[str, ...]]:
    """(family name, every series name it exports), without the `kizuna_custom_` prefix: a
    counter `x` is `x_total`, a timer `x` the histogram `x_seconds` (`_bucket`, `_count`,
    `_sum`), a gauge `x` itself."""
    if kind == COUNTER:
        return key, (key, key + "_total")
    if kind == TIMER:
        family = key if key.endswith("_seconds") else key + "_seconds"
        return family, (family, family + "_bucket", family + "_count", family + "_sum")
    return key, (key,)
