"""What modules register, and the `initializer` they register it with.

A Registry is built by one load of the modules (loader.py) and never changed afterwards: a reload
(`--dev`) builds a new one and the runtime swaps it in one assignment, so a call in flight keeps
the functions it started with. Lookups are plain dict reads on the hot path.

Every registration is checked where the module makes it (the `RegistrationError` points at that
line): ids and names must be known, a function must accept the arguments it will be called with,
an id may be registered once, a custom HTTP path must start with "/", a match handler must have
all seven lifecycle functions.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kizuna.runtime.errors import RegistrationError
from kizuna.runtime.logger import Logger
from kizuna.wire import methods


@dataclass(frozen=True, slots=True)
class Function:
    """A registered function and how to call it."""
    fn: Callable[..., Any]
    module: str
    label: str  # for logs: "rpc echo", "before UpdateAccount", ...
    is_async: bool
    logger: Logger


@dataclass(frozen=True, slots=True)
class HttpRoute:
    path: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method
    function: Function

    def match(self, path: str) -> dict[str, str] | None:
        m = self.pattern.fullmatch(path)
        return None if m is None else m.groupdict()


@dataclass(frozen=True, slots=True)
class MatchHandler:
    """A registered match handler: the seven functions of Nakama's match lifecycle."""
    name: str
    module: str
    init: Function
    join_attempt: Function
    join: Function
    leave: Function
    loop: Function
    terminate: Function
    signal: Function


# The lifecycle functions of a match handler: (name, argument count, arguments).
MATCH_FUNCTIONS = (
    ("match_init", 4, "(ctx, logger, nk, params)"),
    ("match_join_attempt", 8, "(ctx, logger, nk, dispatcher, tick, state, presence, metadata)"),
    ("match_join", 7, "(ctx, logger, nk, dispatcher, tick, state, presences)"),
    ("match_leave", 7, "(ctx, logger, nk, dispatcher, tick, state, presences)"),
    ("match_loop", 7, "(ctx, logger, nk, dispatcher, tick, state, messages)"),
    ("match_terminate", 7, "(ctx, logger, nk, dispatcher, tick, state, grace_seconds)"),
    ("match_signal", 7, "(ctx, logger, nk, dispatcher, tick, state, data)"),
)


@dataclass
class Registry:
    rpcs: dict[str, Function] = field(default_factory=dict)
    before: dict[str, Function] = field(default_factory=dict)  # API method key -> hook
    after: dict[str, Function] = field(default_factory=dict)
    rt_before: dict[str, Function] = field(default_factory=dict)  # envelope kind -> hook
    rt_after: dict[str, Function] = field(default_factory=dict)
    events: list[Function] = field(default_factory=list)
    session_start: list[Function] = field(default_factory=list)
    session_end: list[Function] = field(default_factory=list)
    shutdown: list[Function] = field(default_factory=list)
    leaderboard_reset: list[Function] = field(default_factory=list)
    tournament_end: list[Function] = field(default_factory=list)
    tournament_reset: list[Function] = field(default_factory=list)
    http: list[HttpRoute] = field(default_factory=list)
    matches: dict[str, MatchHandler] = field(default_factory=dict)  # name -> handler
    matchmaker_matched: Function | None = None  # at most one, as Nakama's
    modules: list[str] = field(default_factory=list)

    def merge(self, other: Registry) -> None:
        self.rpcs.update(other.rpcs)
        self.before.update(other.before)
        self.after.update(other.after)
        self.rt_before.update(other.rt_before)
        self.rt_after.update(other.rt_after)
        self.events += other.events
        self.session_start += other.session_start
        self.session_end += other.session_end
        self.shutdown += other.shutdown
        self.leaderboard_reset += other.leaderboard_reset
        self.tournament_end += other.tournament_end
        self.tournament_reset += other.tournament_reset
        self.http += other.http
        self.matches.update(other.matches)
        if other.matchmaker_matched is not None:
            self.matchmaker_matched = other.matchmaker_matched
        self.modules += other.modules

    def http_route(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.http:
            params = route.match(path)
            if params is not None and (route.methods is None or method in route.methods):
                return route, params
        return None

    def http_methods(self, path: str) -> set[str]:
        """The methods custom routes accept at a path (to answer a wrong method with 501)."""
        out: set[str] = set()
        for route in self.http:
            if route.match(path) is not None:
                out |= route.methods or _HTTP_METHODS
        return out

    def summary(self) -> str:
        parts = []
        if self.rpcs:
            parts.append("rpc: " + ", ".join(sorted(self.rpcs)))
        if self.before:
            parts.append("before: " + ", ".join(sorted(methods.api_name(k) for k in self.before)))
        if self.after:
            parts.append("after: " + ", ".join(sorted(methods.api_name(k) for k in self.after)))
        if self.rt_before:
            parts.append("rt before: " + ", ".join(sorted(methods.rt_name(k) for k in self.rt_before)))
        if self.rt_after:
            parts.append("rt after: " + ", ".join(sorted(methods.rt_name(k) for k in self.rt_after)))
        for name, items in (("event", self.events), ("session start", self.session_start),
                            ("session end", self.session_end), ("shutdown", self.shutdown)):
            if items:
                parts.append(f"{name}: {len(items)}")
        if self.http:
            parts.append("http: " + ", ".join(r.path for r in self.http))
        if self.matches:
            parts.append("match: " + ", ".join(sorted(self.matches)))
        if self.matchmaker_matched is not None:
            parts.append("matchmaker matched")
        return "; ".join(parts) or "nothing registered"

    def __len__(self) -> int:
        return (len(self.rpcs) + len(self.before) + len(self.after) + len(self.rt_before)
                + len(self.rt_after) + len(self.events) + len(self.session_start)
                + len(self.session_end) + len(self.shutdown) + len(self.http)
                + len(self.matches) + (self.matchmaker_matched is not None))


def _suggest(given: object, names: Iterable[str], otherwise: str) -> str:
    if isinstance(given, str):
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(given.lower(), list(lowered), n=1, cutoff=0.75)
        if close:
            return f" (did you mean {lowered[close[0]]}?)"
    return f" ({otherwise})"


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _path_pattern(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(path):
        out.append(re.escape(path[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


class Initializer:
    """Passed to `init_module(ctx, logger, nk, initializer)`: registers the module's functions."""

    def __init__(self, module: str, target: Registry, existing: Registry | None = None,
                 logger_name: str | None = None) -> None:
        self._module = module
        self._target = target
        self._existing = existing or Registry()
        self._logger = Logger(logger_name or f"kizuna.runtime.{module}")
        self.warnings: list[str] = []

    # -- RPC -------------------------------------------------------------------------------------

    def register_rpc(self, id: str, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, payload: str) -> str | None`, served at /v2/rpc/{id} and over the
        socket. The id is case-insensitive (lowercased, as Nakama)."""
        if not isinstance(id, str) or not id.strip():
            raise RegistrationError("register_rpc: the id must be a non-empty string")
        key = id.lower()
        self._unique(key, self._target.rpcs, self._existing.rpcs, f"RPC {id!r}")
        self._target.rpcs[key] = self._function(fn, 4, f"rpc {key}", "register_rpc")

    # -- API hooks -------------------------------------------------------------------------------

    def register_before(self, method: str, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, request: dict) -> dict | None` before an API method runs: return
        the request (possibly changed), or None to disable the method (404), or raise Error."""
        key = self._api(method, "register_before")
        self._unique(key, self._target.before, self._existing.before, f"a before hook for {method}")
        self._target.before[key] = self._function(fn, 4, f"before {methods.api_name(key)}",
                                                  "register_before")

    def register_after(self, method: str, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, response: dict, request: dict)` after an API method succeeded.
        Its result is ignored; its errors are logged."""
        key = self._api(method, "register_after")
        self._unique(key, self._target.after, self._existing.after, f"an after hook for {method}")
        self._target.after[key] = self._function(fn, 5, f"after {methods.api_name(key)}",
                                                 "register_after")

    def _api(self, method: str, where: str) -> str:
        key = methods.api_key(method)
        if key is None:
            raise RegistrationError(f"{where}: {method!r} is not a Nakama API method name"
                                    + _suggest(method, methods.API_METHODS,
                                               "e.g. AuthenticateDevice, WriteStorageObjects"))
        return key

    # -- realtime hooks --------------------------------------------------------------------------

    def register_rt_before(self, message: str, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, message: dict) -> dict | None` before a socket message is handled:
        return it (possibly changed), or None to refuse it (the client gets an error)."""
        kind = self._rt(message, "register_rt_before")
        self._unique(kind, self._target.rt_before, self._existing.rt_before,
                     f"a realtime before hook for {message}")
        self._target.rt_before[kind] = self._function(
            fn, 4, f"rt before {methods.rt_name(kind)}", "register_rt_before")

    def register_rt_after(self, message: str, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, out: dict | None, message: dict)` after a socket message succeeded;
        `out` is the reply's message (None when the message has no reply)."""
        kind = self._rt(message, "register_rt_after")
        self._unique(kind, self._target.rt_after, self._existing.rt_after,
                     f"a realtime after hook for {message}")
        self._target.rt_after[kind] = self._function(
            fn, 5, f"rt after {methods.rt_name(kind)}", "register_rt_after")

    def _rt(self, message: str, where: str) -> str:
        kind = methods.rt_kind(message)
        if kind is None:
            hint = " (RPC has no hooks)" if isinstance(message, str) and message.lower() == "rpc" else ""
            names = {methods.rt_name(k) for k in methods.HOOKABLE_KINDS}
            raise RegistrationError(f"{where}: {message!r} is not a realtime message name"
                                    + _suggest(message, names, "e.g. ChannelJoin, MatchDataSend")
                                    + hint)
        return kind

    # -- events, shutdown, HTTP ------------------------------------------------------------------

    def register_event(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, event: dict)` for events from POST /v2/event and `nk.event()`;
        `event` is {"name", "properties", "timestamp", "external"}. Run off the request path."""
        self._target.events.append(self._function(fn, 4, "event", "register_event"))

    def register_event_session_start(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, event: dict)` when a socket session starts."""
        self._target.session_start.append(
            self._function(fn, 4, "session start", "register_event_session_start"))

    def register_event_session_end(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, event: dict)` when a socket session ends."""
        self._target.session_end.append(
            self._function(fn, 4, "session end", "register_event_session_end"))

    def register_shutdown(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk)` when the server shuts down, bounded by `shutdown_grace_sec`."""
        self._target.shutdown.append(self._function(fn, 3, "shutdown", "register_shutdown"))

    # -- leaderboards and tournaments --------------------------------------------------------------

    def register_leaderboard_reset(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, leaderboard: dict, reset: int)` when a leaderboard's period ends
        (its reset schedule fires); `reset` is the time of the reset (unix seconds). Runs once per
        cluster, on one node."""
        self._target.leaderboard_reset.append(
            self._function(fn, 5, "leaderboard reset", "register_leaderboard_reset"))

    def register_tournament_end(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, tournament: dict, end: int, reset: int)` when a tournament ends
        (its end_time passes). Runs once per cluster: pay the rewards here."""
        self._target.tournament_end.append(
            self._function(fn, 6, "tournament end", "register_tournament_end"))

    def register_tournament_reset(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, tournament: dict, end: int, reset: int)` when a period of a
        tournament with a reset schedule ends. Runs once per cluster."""
        self._target.tournament_reset.append(
            self._function(fn, 6, "tournament reset", "register_tournament_reset"))

    def register_http(self, path: str, fn: Callable[..., Any],
                      methods: Iterable[str] | str | None = None) -> None:
        """`fn(ctx, logger, nk, request: HttpRequest) -> HttpResponse | dict | list | str | bytes
        | None` at `path` ("/..."; `{name}` segments become `request.path_params`). `methods`
        limits the HTTP methods (default: any)."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise RegistrationError(f"register_http: the path must start with '/', got {path!r}")
        allowed: frozenset[str] | None = None
        if methods is not None:
            items = [methods] if isinstance(methods, str) else list(methods)
            allowed = frozenset(m.upper() for m in items)
            unknown = sorted(allowed - _HTTP_METHODS)
            if unknown or not allowed:
                raise RegistrationError(f"register_http: unknown HTTP method(s) {unknown or items}")
        for route in [*self._existing.http, *self._target.http]:
            if route.path == path and (route.methods is None or allowed is None
                                       or route.methods & allowed):
                raise RegistrationError(f"register_http: {path} is already registered "
                                        f"(by module {route.function.module})")
        function = self._function(fn, 4, f"http {path}", "register_http")
        self._target.http.append(HttpRoute(path, _path_pattern(path), allowed, function))

    # -- authoritative matches ---------------------------------------------------------------------

    def register_match(self, name: str, handler: Any) -> None:
        """A match handler for `nk.match_create(name, params)`: an object (a module, a class
        instance, ...) or a dict with the seven lifecycle functions, each plain or `async def`:
        `match_init(ctx, logger, nk, params)` -> (state, tick_rate, label);
        `match_join_attempt(ctx, logger, nk, dispatcher, tick, state, presence, metadata)` ->
        (state, accept, reason); `match_join` / `match_leave(..., state, presences)` -> state;
        `match_loop(..., state, messages)` -> state (None ends the match);
        `match_terminate(..., state, grace_seconds)` -> state;
        `match_signal(..., state, data)` -> (state, result). See docs/runtime.md."""
        where = "register_match"
        if not isinstance(name, str) or not name.strip():
            raise RegistrationError(f"{where}: the name must be a non-empty string")
        self._unique(name, self._target.matches, self._existing.matches,
                     f"A match handler named {name!r}")
        if isinstance(handler, type):
            raise RegistrationError(f"{where} {name!r}: got the class {handler.__name__}: pass an "
                                    f"instance ({handler.__name__}()), whose methods are the "
                                    "lifecycle functions")

        def lookup(attr: str) -> Any:
            if isinstance(handler, Mapping):
                return handler.get(attr)
            return getattr(handler, attr, None)

        missing = [attr for attr, _, _ in MATCH_FUNCTIONS if lookup(attr) is None]
        if missing:
            raise RegistrationError(
                f"{where} {name!r}: the handler has no {', '.join(missing)} (a match handler has "
                f"all seven: {', '.join(attr for attr, _, _ in MATCH_FUNCTIONS)})")
        functions = [self._function(lookup(attr), nargs, f"match {name} {attr}",
                                    f"{where} {name!r}: {attr}", shape)
                     for attr, nargs, shape in MATCH_FUNCTIONS]
        self._target.matches[name] = MatchHandler(name, self._module, *functions)

    # -- the matchmaker ----------------------------------------------------------------------------

    def register_matchmaker_matched(self, fn: Callable[..., Any]) -> None:
        """`fn(ctx, logger, nk, entries: list[dict]) -> str | None` when the matchmaker forms a
        group: return the id of the match the group plays in (usually one it creates with
        `nk.match_create`), sent to every member as `match_id`; `None` (or "") and the members
        get a token for a new relayed match instead. Each entry is `{"presence": {"user_id",
        "session_id", "username", "node"}, "properties": {...}, "party_id", "ticket"}`. One per
        server (a second registration is an error). See docs/runtime.md."""
        where = "register_matchmaker_matched"
        held = self._target.matchmaker_matched or self._existing.matchmaker_matched
        if held is not None:
            raise RegistrationError(f"{where}: a matchmaker matched function is already "
                                    f"registered (by module {held.module})")
        self._target.matchmaker_matched = self._function(fn, 4, "matchmaker matched", where,
                                                         "(ctx, logger, nk, entries)")

    # -- helpers ---------------------------------------------------------------------------------

    def _unique(self, key: str, mine: Mapping[str, Function | MatchHandler],
                others: Mapping[str, Function | MatchHandler], what: str) -> None:
        if key in mine or key in others:
            holder = (mine[key] if key in mine else others[key]).module
            raise RegistrationError(f"{what} is already registered (by module {holder})")

    def _function(self, fn: Callable[..., Any], nargs: int, label: str, where: str,
                  shape: str | None = None) -> Function:
        if not callable(fn):
            raise RegistrationError(f"{where}: expected a function, got {type(fn).__name__}")
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            try:
                sig.bind(*([None] * nargs))
            except TypeError:
                names = shape or {3: "(ctx, logger, nk)", 4: "(ctx, logger, nk, <arg>)",
                                  5: "(ctx, logger, nk, <out>, <in>)"}[nargs]
                raise RegistrationError(
                    f"{where}: {getattr(fn, '__name__', 'the function')}{sig} must accept "
                    f"{nargs} arguments {names}") from None
        # Not a callability test (fn is callable, checked above): an object whose __call__ is a
        # coroutine function is async too. B004's fix, callable(), would lose that.
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))  # noqa: B004
        return Function(fn, self._module, label, is_async, self._logger)
