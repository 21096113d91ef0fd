"""Authoritative matches: the matches this node runs, and the schedule each one runs on.

A match starts when server code calls `nk.match_create(name, params)`: the handler registered
under `name` (`initializer.register_match`) gets `match_init`, which returns the first state, the
tick rate (1-60 per second) and the label. From then on each match is one asyncio task with its
own schedule:

- between ticks it serves, in the order they arrive, what is asked of it: join attempts (a
  player's `match_join`: `match_join_attempt`), players that joined or left its stream
  (`match_join` / `match_leave` with the presences), signals (`nk.match_signal`:
  `match_signal`) and, when the node stops, `match_terminate`;
- at each tick it calls `match_loop` with the inputs (`match_data_send`) that arrived since the
  previous tick, at most `match.input_queue_size` of them (more are dropped, with a warning),
  then sends what the handler deferred (`broadcast_message_deferred`).

**One call at a time.** A match's functions never overlap: the task awaits each call before the
next, so the state needs no lock, whichever thread a call runs on. Calls run as every module
function does (invoke.py): a plain `def` in a worker thread, so a CPU-heavy loop does not stall
the event loop (the sockets and the other matches go on; Python's interpreter lock still shares
the CPU), and its blocking `nk.x()` calls are fine; an `async def` on the event loop, cheaper
per call, but it must never block and uses `await nk.aio.x()`. Every call has
`runtime.call_timeout_ms`.

**Ticks.** A `match_loop` that takes longer than its tick is logged (at most every 10 s per
match, with the count) and the match goes on: the next tick follows at once, and when the match
has fallen more than a tick behind the schedule starts again from there (missed ticks are not
made up). `tick` counts the loops run: 0 in the first.

**Ends.** A function that returns None as the state ends its match (Nakama's way to end one).
An exception in any of them, a result of the wrong shape or a timeout ends that match only,
logged with its traceback: the node and the other matches go on. Either way the players are taken
off the match's stream and told (a `match_presence_event` with their leave), pending join
attempts answer "Match not found", and the match is gone from listings.

The dispatcher's calls may come from a worker thread: they check their arguments in the caller
(raising `Error`, code 3, to the handler) and hand the delivery to the event loop in order
(`call_soon_threadsafe`), where the sockets are.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kizuna.core import matches as core
from kizuna.core.matches import (
    MAX_TICK_RATE,
    MIN_TICK_RATE,
    NO_INDEX,
    JoinResult,
    LabelIndex,
    MatchId,
    MatchPresence,
    not_found,
)
from kizuna.core.streams import PresenceId
from kizuna.errors import Code, KizunaError
from kizuna.runtime import context as modes
from kizuna.runtime.errors import Error, from_kizuna
from kizuna.runtime.invoke import from_module
from kizuna.runtime.logger import Logger
from kizuna.runtime.registry import Function, MatchHandler
from kizuna.wire.fields import in_range

if TYPE_CHECKING:
    from kizuna.runtime.service import Runtime

log = logging.getLogger("kizuna.runtime")

WARN_EVERY_SEC = 10.0  # a match's overrun and dropped-input warnings, at most this often
MATCH_BUSY = "Match is busy, try again."


class _BadResult(TypeError):
    """A handler function returned something of the wrong shape (a bug: the match ends)."""


@dataclass(slots=True)
class _Call:
    kind: str  # "join_attempt", "presences", "signal", "terminate"
    args: tuple
    future: asyncio.Future | None = None


# -- the dispatcher ------------------------------------------------------------------------------


def _op_code(value: Any) -> int:
    if type(value) is not int or not in_range(value, 64):
        raise Error(f"op_code: expected an integer in the int64 range, got {value!r}.",
                    Code.INVALID_ARGUMENT)
    return value


def _payload(value: Any) -> str:
    """Message data as the socket carries it (base64): str (sent as UTF-8) or bytes."""
    if value is None:
        return ""
    if isinstance(value, str):
        raw = value.encode()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise Error(f"data: expected str or bytes, got {type(value).__name__}.",
                    Code.INVALID_ARGUMENT)
    return base64.b64encode(raw).decode() if raw else ""


def _presence_items(value: Any, what: str) -> list[Mapping[str, Any]]:
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, Mapping) for p in items):
        raise Error(f"{what}: expected a list of presences (dicts with a session_id).",
                    Code.INVALID_ARGUMENT)
    return list(items)


def _text(p: Mapping[str, Any], key: str, what: str) -> str:
    value = p.get(key)
    if not isinstance(value, str) or not value:
        raise Error(f"{what}: each presence needs its {key}.", Code.INVALID_ARGUMENT)
    return value


def _targets(value: Any, node: str) -> list[PresenceId] | None:
    """Recipients: None or [] for every player of the match, else those sessions."""
    if value is None:
        return None
    out = []
    for p in _presence_items(value, "presences"):
        where = p.get("node") or node
        if not isinstance(where, str):
            raise Error("presences: node must be a string.", Code.INVALID_ARGUMENT)
        out.append(PresenceId(where, _text(p, "session_id", "presences")))
    return out or None


def _sender(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Error("sender: expected a presence (a dict with user_id, session_id, username).",
                    Code.INVALID_ARGUMENT)
    out = {"user_id": _text(value, "user_id", "sender"),
           "session_id": _text(value, "session_id", "sender")}
    username = value.get("username")
    if username:
        out["username"] = str(username)
    return out


def _reliable(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Error("reliable: expected True or False.", Code.INVALID_ARGUMENT)
    return value


class Dispatcher:
    """The `dispatcher` a match's functions get (all but match_init): how the handler reaches its
    players. Its calls may be made from a worker thread (plain functions) or the event loop
    (coroutines); they return at once."""

    __slots__ = ("_match",)

    def __init__(self, match: Match) -> None:
        self._match = match

    def broadcast_message(self, op_code: int, data: str | bytes | None = None,
                          presences: list[Mapping[str, Any]] | None = None,
                          sender: Mapping[str, Any] | None = None, reliable: bool = True) -> None:
        """Send `match_data` {op_code, data, presence: sender} now: to every player of the match,
        or to `presences` ([{session_id, ...}], as the functions get them). `data` is str (sent
        as UTF-8) or bytes; `op_code` an int64."""
        m = self._match
        body, to = m.message(op_code, data, presences, sender, reliable)
        m.on_loop(m.deliver, body, to)

    def broadcast_message_deferred(self, op_code: int, data: str | bytes | None = None,
                                   presences: list[Mapping[str, Any]] | None = None,
                                   sender: Mapping[str, Any] | None = None,
                                   reliable: bool = True) -> None:
        """As `broadcast_message`, sent at the end of the current tick (after match_loop
        returns), in the order given; at most `match.deferred_queue_size` per tick."""
        m = self._match
        body, to = m.message(op_code, data, presences, sender, reliable)
        m.defer(body, to)

    def match_kick(self, presences: list[Mapping[str, Any]]) -> None:
        """Take players out of the match ([{user_id, session_id}, ...]): they are told (a
        `match_presence_event` with their leave), and `match_leave` follows, as for any leave."""
        m = self._match
        who = [(_text(p, "user_id", "presences"), _text(p, "session_id", "presences"))
               for p in _presence_items(presences, "presences")]
        m.on_loop(m.kick, who)

    def match_label_update(self, label: str) -> None:
        """Replace the match's label (at most 2048 bytes): listings and queries see it at once."""
        try:
            checked = core.check_label(label)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        m = self._match
        m.on_loop(m.set_label, checked)


# -- one match -----------------------------------------------------------------------------------


def _pair(result: Any, fn: str, shape: str) -> tuple[Any, ...]:
    if not isinstance(result, (tuple, list)):
        raise _BadResult(f"{fn} must return {shape}, got {type(result).__name__}")
    return tuple(result)


class Match:
    """A running authoritative match (core.matches.RunningMatch)."""

    def __init__(self, registry: MatchRegistry, handler: MatchHandler, mid: MatchId,
                 created: int) -> None:
        rt = registry.rt
        self._registry = registry
        self._rt = rt
        self.handler = handler
        self.handler_name = handler.name
        self.match_id = str(mid)
        self.stream = mid.stream
        self.node = mid.node
        self.created = created
        self.tick_rate = 0
        self.label = ""
        self.label_index: LabelIndex = NO_INDEX
        self.state: Any = None
        self.tick = 0
        self.ended = False
        self.task: asyncio.Task | None = None
        self.logger = Logger(f"kizuna.runtime.{handler.module}", {"mid": self.match_id})
        self.dispatcher = Dispatcher(self)
        self._ctx = rt.context(modes.MATCH, match_id=self.match_id, match_node=self.node)
        cfg = rt.config.match
        self._cfg = cfg
        self._calls: deque[_Call] = deque()
        self._wake = asyncio.Event()
        self._inputs: list[dict[str, Any]] = []
        self._deferred: list[tuple[dict[str, Any], list[PresenceId] | None]] = []
        self._join_attempts = 0
        self._signals = 0
        self._terminate_at: float | None = None  # loop time: the end of the shutdown grace
        self._empty_since: float | None = None
        self._function = ""  # the function being called (for the log when it fails)
        self._overruns = 0
        self._overrun_warned = -math.inf
        self._dropped = 0
        self._drop_warned = -math.inf

    # -- calling the handler ---------------------------------------------------------------------

    async def _invoke(self, f: Function, *args: Any) -> Any:
        self._function = f.label.rsplit(" ", 1)[-1]
        rt = self._rt
        return await rt.invoker.run(f, self._ctx, self.logger, rt.nk, *args)

    async def _step(self, f: Function, *args: Any) -> Any:
        """A lifecycle call after match_init: (dispatcher, tick, state, *args)."""
        return await self._invoke(f, self.dispatcher, self.tick, self.state, *args)

    def _keep(self, state: Any) -> bool:
        """Keep a function's new state; None ends the match. Whether it goes on."""
        if state is None:
            self._end(f"{self._function} returned no state")
            return False
        self.state = state
        return True

    async def init(self, params: Any) -> None:
        result = await self._invoke(self.handler.init, params)
        state, tick_rate, label = _triple(result)
        name = self.handler_name
        if state is None:
            raise _BadResult(f"match_init of {name!r} returned None as the state")
        if type(tick_rate) is not int or not MIN_TICK_RATE <= tick_rate <= MAX_TICK_RATE:
            raise _BadResult(f"match_init of {name!r} returned the tick rate {tick_rate!r}: "
                             f"expected an integer from {MIN_TICK_RATE} to {MAX_TICK_RATE}")
        try:
            label = core.check_label(label)
        except KizunaError as exc:
            raise _BadResult(f"match_init of {name!r} returned a bad label: {exc.message}") from None
        self.state, self.tick_rate = state, tick_rate
        self._ctx = dataclasses.replace(self._ctx, match_tick_rate=tick_rate)
        self.set_label(label)

    # -- what reaches the match (on the event loop) ------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(),
                                                           name=f"match {self.match_id}")

    def _enqueue(self, call: _Call) -> None:
        self._calls.append(call)
        self._wake.set()

    async def join_attempt(self, presence: MatchPresence,
                           metadata: dict[str, str]) -> JoinResult:
        if self._join_attempts >= self._cfg.join_attempt_queue_size:
            return JoinResult(False, MATCH_BUSY, self.label)
        fut: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()
        self._join_attempts += 1
        self._enqueue(_Call("join_attempt", (presence, metadata), fut))
        return await fut

    async def signal(self, data: str) -> str:
        if self._signals >= self._cfg.signal_queue_size:
            raise KizunaError(Code.RESOURCE_EXHAUSTED, "Match is busy: too many signals waiting "
                              "(match.signal_queue_size).")
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._signals += 1
        self._enqueue(_Call("signal", (data,), fut))
        return await fut

    def presences(self, joins: list[MatchPresence], leaves: list[MatchPresence]) -> None:
        self._enqueue(_Call("presences", (joins, leaves)))

    def input(self, sender: MatchPresence, op_code: int, data: bytes, reliable: bool) -> None:
        if len(self._inputs) >= self._cfg.input_queue_size:
            self._dropped += 1
            now = time.monotonic()
            if now - self._drop_warned >= WARN_EVERY_SEC:
                log.warning("Match input queue full: data dropped (match.input_queue_size)",
                            extra={"match_id": self.match_id, "dropped": self._dropped,
                                   "input_queue_size": self._cfg.input_queue_size})
                self._drop_warned, self._dropped = now, 0
            return
        self._inputs.append({"sender": sender.as_dict(), "op_code": op_code, "data": data,
                             "reliable": reliable, "receive_time_ms": int(time.time() * 1000)})

    def terminate(self, grace_seconds: int, until: float) -> None:
        """The node stops: match_terminate(grace_seconds) next, then the match may run until
        `until` (loop time)."""
        self._terminate_at = until
        self._enqueue(_Call("terminate", (grace_seconds,)))

    # -- what the dispatcher does --------------------------------------------------------------------

    def message(self, op_code: Any, data: Any, presences: Any, sender: Any,
                reliable: Any) -> tuple[dict[str, Any], list[PresenceId] | None]:
        """A `match_data` checked and built in the caller's thread."""
        body = core.match_data(self.match_id, _op_code(op_code), _payload(data), _sender(sender),
                               _reliable(reliable))
        return body, _targets(presences, self.node)

    def on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the event loop: now when called there, else next, in order."""
        loop = self._rt.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the node has stopped
            pass

    def deliver(self, body: dict[str, Any], to: list[PresenceId] | None) -> None:
        if not self.ended:
            core.send(self._rt.domain.sockets, self.stream, body, to)

    def defer(self, body: dict[str, Any], to: list[PresenceId] | None) -> None:
        if len(self._deferred) >= self._cfg.deferred_queue_size:
            raise Error("Too many deferred messages this tick (match.deferred_queue_size).",
                        Code.RESOURCE_EXHAUSTED)
        self._deferred.append((body, to))

    def _flush(self) -> None:
        items, self._deferred = self._deferred, []
        for body, to in items:
            self.deliver(body, to)

    def kick(self, who: list[tuple[str, str]]) -> None:
        if not self.ended:
            core.kick(self._rt.domain.sockets, self.stream, who)

    def set_label(self, label: str) -> None:
        if self.ended:
            return
        self.label_index = core.index_label(label)
        self.label = label
        self._ctx = dataclasses.replace(self._ctx, match_label=label)
        if self._registry.get(self.match_id) is self:  # running (not in match_init)
            self._registry._changed(self)

    # -- the schedule ------------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.tick_rate
        next_tick = loop.time() + interval
        try:
            while not self.ended:
                for _ in range(len(self._calls)):  # those waiting now: a flood cannot hold ticks back
                    await self._serve(self._calls.popleft())
                    if self.ended:
                        return
                now = loop.time()
                if self._terminate_at is not None and now >= self._terminate_at:
                    self._end("the node stopped (shutdown_grace_sec is over)")
                    return
                if now < next_tick:
                    if not self._calls:
                        until = next_tick
                        if self._terminate_at is not None:
                            until = min(until, self._terminate_at)
                        self._wake.clear()
                        try:
                            async with asyncio.timeout_at(until):
                                await self._wake.wait()
                        except TimeoutError:
                            pass
                    continue
                await self._tick(loop, interval)
                next_tick += interval
                now = loop.time()
                if now - next_tick > interval:  # more than a tick behind: start again from now
                    next_tick = now
        except asyncio.CancelledError:
            self._end("stopped with the node", flush=False)
            raise
        except Exception as exc:
            self._failed(exc)

    async def _tick(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        messages, self._inputs = self._inputs, []
        started = loop.time()
        state = await self._step(self.handler.loop, messages)
        took = loop.time() - started
        self.tick += 1
        self._flush()
        if not self._keep(state):
            return
        if took > interval:
            self._overran(took)
        if self._cfg.max_empty_sec:
            if self._rt.domain.sockets.stream_count(self.stream):
                self._empty_since = None
            elif self._empty_since is None:
                self._empty_since = started
            elif started - self._empty_since >= self._cfg.max_empty_sec:
                self._end("empty for match.max_empty_sec")

    def _overran(self, took: float) -> None:
        self._overruns += 1
        now = time.monotonic()
        if now - self._overrun_warned >= WARN_EVERY_SEC:
            log.warning("Match loop overran its tick", extra={
                "match_id": self.match_id, "handler": self.handler_name,
                "tick_rate": self.tick_rate, "tick_ms": round(1000 / self.tick_rate, 1),
                "took_ms": round(took * 1000, 1), "overruns": self._overruns})
            self._overrun_warned, self._overruns = now, 0

    async def _serve(self, call: _Call) -> None:
        h = self.handler
        if call.kind == "presences":
            joins, leaves = call.args
            if joins and not self._keep(await self._step(h.join, [p.as_dict() for p in joins])):
                return
            if leaves:
                self._keep(await self._step(h.leave, [p.as_dict() for p in leaves]))
        elif call.kind == "join_attempt":
            self._join_attempts -= 1
            fut = call.future
            assert fut is not None
            if fut.done():  # the player is gone (its socket closed while it waited)
                return
            presence, metadata = call.args
            try:
                result = await self._step(h.join_attempt, presence.as_dict(), dict(metadata))
                state, accept, reason = _join_answer(result)
            except BaseException:
                if not fut.done():
                    fut.set_exception(not_found())
                raise
            kept = self._keep(state)
            if not fut.done():
                if kept:
                    fut.set_result(JoinResult(accept, reason, self.label))
                else:
                    fut.set_exception(not_found())
        elif call.kind == "signal":
            self._signals -= 1
            fut = call.future
            assert fut is not None
            try:
                state, result = _signal_answer(await self._step(h.signal, call.args[0]))
            except BaseException:
                if not fut.done():
                    fut.set_exception(KizunaError(
                        Code.INTERNAL, "match_signal failed: the match ended."))
                raise
            self._keep(state)
            if not fut.done():  # answered, even when the match ends with this call
                fut.set_result(result)
        elif call.kind == "terminate":
            self._keep(await self._step(h.terminate, call.args[0]))

    # -- the end -----------------------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        fields = {"match_id": self.match_id, "handler": self.handler_name,
                  "function": self._function, "runtime_module": self.handler.module}
        if isinstance(exc, KizunaError):  # the call ran out of time
            log.error(f"Match handler {self._function} failed: {exc.message} The match ends.",
                      extra=fields)
        else:
            log.error(f"Match handler {self._function} failed: the match ends",
                      exc_info=from_module(exc), extra=fields)
        self._end(f"{self._function} failed", flush=False)

    def _end(self, why: str, flush: bool = True) -> None:
        if self.ended:
            return
        if flush:
            self._flush()
        self.ended = True
        self._registry._remove(self)
        for call in self._calls:
            fut = call.future
            if fut is not None and not fut.done():
                fut.set_exception(not_found())
        self._calls.clear()
        self._inputs.clear()
        self._deferred.clear()
        core.close(self._rt.domain.sockets, self.stream)
        log.info("Match ended", extra={"match_id": self.match_id, "handler": self.handler_name,
                                       "reason": why, "ticks": self.tick})

    def abort(self) -> None:
        """Stop now (the node's stop deadline): cancels a call in progress."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        else:
            self._end("stopped with the node", flush=False)


def _triple(result: Any) -> tuple[Any, Any, Any]:
    items = _pair(result, "match_init", "(state, tick_rate, label)")
    if len(items) != 3:
        raise _BadResult(f"match_init must return (state, tick_rate, label), got {len(items)} "
                         "values")
    return items[0], items[1], items[2]


def _join_answer(result: Any) -> tuple[Any, bool, str]:
    items = _pair(result, "match_join_attempt", "(state, accept, reason)")
    if len(items) == 2:  # (state, accept): no reason
        items = (*items, None)
    if len(items) != 3 or not isinstance(items[1], bool) or not (
            items[2] is None or isinstance(items[2], str)):
        raise _BadResult("match_join_attempt must return (state, accept: bool, reason: str | "
                         f"None), got {result!r:.200}")
    return items[0], items[1], items[2] or ""


def _signal_answer(result: Any) -> tuple[Any, str]:
    items = _pair(result, "match_signal", "(state, result)")
    if len(items) != 2 or not (items[1] is None or isinstance(items[1], str)):
        raise _BadResult(f"match_signal must return (state, result: str | None), got "
                         f"{result!r:.200}")
    return items[0], items[1] or ""


# -- the node's matches --------------------------------------------------------------------------


ChangeListener = Callable[[Match], None]


class MatchRegistry:
    """The authoritative matches of this node: `domain.matches` (core.matches.Matches) on a
    single node; in a cluster, the local part of kizuna/runtime/cluster_matches.py, which hears
    of each match's start, label changes and end through `on_change`."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._matches: dict[str, Match] = {}
        self._last_created = 0
        self._listeners: list[ChangeListener] = []
        self._starting = 0  # creations running match_init (they count toward the cap)
        self._stopping = False

    def __len__(self) -> int:
        return len(self._matches)

    def get(self, match_id: str) -> Match | None:
        return self._matches.get(match_id)

    def running(self) -> Iterable[Match]:
        return self._matches.values()

    def _remove(self, match: Match) -> None:
        if self._matches.get(match.match_id) is match:
            del self._matches[match.match_id]
            self._changed(match)

    def on_change(self, fn: ChangeListener) -> None:
        """Call `fn(match)` on the event loop when a match starts, when its label changes and
        when it ends (`match.ended` is then true)."""
        self._listeners.append(fn)

    def _changed(self, match: Match) -> None:
        for fn in self._listeners:
            try:
                fn(match)
            except Exception:
                log.exception("match change listener failed", extra={"match_id": match.match_id})

    def _created(self) -> int:
        """A match's creation order: its creation time (ns since the epoch), strictly increasing
        on this node, so listings across the nodes of a cluster sort newest first too."""
        self._last_created = max(self._last_created + 1, time.time_ns())
        return self._last_created

    async def create(self, name: str, params: Any) -> str:
        if self._stopping:
            raise KizunaError(Code.UNAVAILABLE, "The node is stopping: it starts no more matches.")
        handler = self.rt.registry.matches.get(name)
        if handler is None:
            if not self.rt.registry.modules:  # init_module: the modules are still loading
                raise KizunaError(Code.NOT_FOUND, f"No match handler is registered as {name!r} "
                                  "yet: matches start once the modules are loaded (create them "
                                  "in an RPC, not in init_module).")
            raise KizunaError(Code.NOT_FOUND, f"No match handler is registered as {name!r}.")
        cap = self.rt.config.match.max_matches
        if len(self._matches) + self._starting >= cap:
            raise KizunaError(Code.RESOURCE_EXHAUSTED, f"Match limit reached - this node runs at "
                              f"most {cap} matches (match.max_matches).")
        match = Match(self, handler, core.new_id(self.rt.node), self._created())
        self._starting += 1
        try:
            await match.init({} if params is None else params)
        except (Error, KizunaError):
            raise
        except _BadResult as exc:
            log.error(f"Match not created: {exc}", extra={"handler": name,
                                                         "runtime_module": handler.module})
            raise KizunaError(Code.INTERNAL, f"Match not created: {exc}.") from None
        except Exception as exc:
            log.error("Match not created: match_init failed", exc_info=from_module(exc),
                      extra={"handler": name, "runtime_module": handler.module})
            raise KizunaError(Code.INTERNAL, f"Match not created: match_init of {name!r} failed "
                              "(see the server log).") from None
        finally:
            self._starting -= 1
        if self._stopping:
            raise KizunaError(Code.UNAVAILABLE, "The node is stopping: it starts no more matches.")
        self._matches[match.match_id] = match
        match.start()
        self._changed(match)
        log.debug("Match created", extra={"match_id": match.match_id, "handler": name,
                                          "tick_rate": match.tick_rate})
        return match.match_id

    def _live(self, match_id: str) -> Match:
        m = self._matches.get(match_id)
        if m is None or m.ended:
            raise not_found()
        return m

    async def join_attempt(self, match_id: str, presence: MatchPresence,
                           metadata: dict[str, str]) -> JoinResult:
        return await self._live(match_id).join_attempt(presence, metadata)

    async def signal(self, match_id: str, data: str) -> str:
        return await self._live(match_id).signal(data)

    def presences(self, match_id: str, joins: list[MatchPresence],
                  leaves: list[MatchPresence]) -> None:
        m = self._matches.get(match_id)
        if m is not None and not m.ended:
            m.presences(joins, leaves)

    def data(self, match_id: str, sender: MatchPresence, op_code: int, data: bytes,
             reliable: bool) -> None:
        m = self._matches.get(match_id)
        if m is not None and not m.ended:
            m.input(sender, op_code, data, reliable)

    async def stop(self, grace_seconds: int, until: float) -> None:
        """The node stops: every match gets match_terminate(grace_seconds) and may go on until
        it ends or `until` (monotonic seconds); those still running then are stopped."""
        self._stopping = True
        matches = list(self._matches.values())
        if not matches:
            return
        loop = asyncio.get_running_loop()
        left = max(0.0, until - time.monotonic())
        # A match still running at its deadline ends itself; one busy in a call past it (and a
        # little after) is cut.
        for m in matches:
            m.terminate(grace_seconds, loop.time() + max(0.0, left - 0.05))
        tasks = [m.task for m in matches if m.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=left)
        cut = [m for m in matches if not m.ended]
        for m in cut:
            m.abort()
        if cut:
            pending = [m.task for m in cut if m.task is not None]
            if pending:
                await asyncio.wait(pending, timeout=0.1)
            log.warning("Matches stopped at the shutdown deadline", extra={"count": len(cut)})
        log.info("Stopped matches", extra={"count": len(matches), "grace_sec": grace_seconds})
