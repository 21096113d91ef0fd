"""Utilities: the nk calls that never wait (`UtilityNk`, on `nk` only; they work in plain functions
and coroutines alike: JSON, UUIDs, events, channel ids, JWTs, CRON, the node-local cache, custom
metrics) and those that wait without the database (`OutboundNk`, an area of `nk.aio`: outbound
HTTP requests, bcrypt in a worker thread)."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import bcrypt
import jwt
import yarl

from kizuna.core import chat, schedule
from kizuna.core.accounts import BCRYPT_ROUNDS
from kizuna.core.streams import GROUP, Stream
from kizuna.errors import Code, KizunaError
from kizuna.metrics.custom import CustomMetrics
from kizuna.runtime.errors import Error, from_kizuna
from kizuna.runtime.nk import args
from kizuna.runtime.nk.base import Area, Host, api
from kizuna.runtime.shapes import HttpResult
from kizuna.wire import codec

JWT_ALGORITHMS = ("HS256", "RS256")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
BCRYPT_MAX_BYTES = 72  # bcrypt's limit: it ignores (and the bcrypt package refuses) the rest


class LocalCache:
    """The node-local cache of `nk.localcache_*`: any Python value by string key, each with an
    optional expiry; used from worker threads and the event loop alike (one lock). Expired entries
    are dropped when read, and swept when the cache has doubled since the last sweep."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 1024

    def get(self, key: str, default: Any) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return default
            value, expires = found
            if expires is not None and expires <= time.monotonic():
                del self._items[key]
                return default
            return value

    def put(self, key: str, value: Any, ttl: float) -> None:
        expires = time.monotonic() + ttl if ttl > 0 else None
        with self._lock:
            self._items[key] = (value, expires)
            if len(self._items) >= self._sweep_at:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items()
                               if v[1] is None or v[1] > now}
                self._sweep_at = max(1024, 2 * len(self._items))

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _cache_key(key: Any, call: str) -> str:
    if not isinstance(key, str) or not key:
        raise Error(f"{call}: key must be a non-empty string.", Code.INVALID_ARGUMENT)
    return key


def _unix_seconds(value: Any, call: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Error(f"{call}: timestamp must be a number of seconds since the Unix epoch.",
                    Code.INVALID_ARGUMENT)
    return math.floor(value)


def _cron(expression: Any, call: str) -> schedule.Schedule:
    if not isinstance(expression, str) or not expression.strip():
        raise Error(f"{call}: expression must be a CRON expression.", Code.INVALID_ARGUMENT)
    try:
        return schedule.Schedule(expression)
    except KizunaError:
        raise Error(f"{call}: {expression!r} is not a valid CRON expression.",
                    Code.INVALID_ARGUMENT) from None


def _epoch(unix: int) -> datetime:
    try:
        return datetime.fromtimestamp(unix, UTC)
    except (OverflowError, OSError, ValueError):
        raise Error(f"timestamp {unix} is out of range.", Code.INVALID_ARGUMENT) from None


class UtilityNk:
    _rt: Host | None
    _localcache: LocalCache

    def event(self, name: str, properties: Mapping[str, str] | None = None,
              timestamp: datetime | str | None = None, external: bool = False) -> None:
        """Queue an event for the module functions registered with `register_event`.

        Errors:
            - 3 INVALID_ARGUMENT `Event name must be a non-empty string.`
            - 3 INVALID_ARGUMENT `Event properties must be a dict of strings.`

        Example:
            nk.event("level_complete", {"level": "7", "stars": "3"})
        """
        if not isinstance(name, str) or not name:
            raise Error("Event name must be a non-empty string.", Code.INVALID_ARGUMENT)
        props = dict(properties or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise Error("Event properties must be a dict of strings.", Code.INVALID_ARGUMENT)
        when = (codec.timestamp(timestamp, "fraction") if isinstance(timestamp, datetime)
                else timestamp or codec.now())
        event = {"name": name, "properties": props, "timestamp": when, "external": bool(external)}
        rt = self._rt
        if rt is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is rt.loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            rt.emit_event(event, {})
        else:
            rt.loop.call_soon_threadsafe(rt.emit_event, event, {})

    @staticmethod
    def json_encode(value: Any) -> str:
        """A value as JSON text (compact, UTF-8; datetimes as RFC 3339 strings).

        Errors:
            - 3 INVALID_ARGUMENT `json_encode: <reason>` (a value JSON cannot encode)

        Example:
            text = nk.json_encode({"score": 10, "tags": ["a", "b"]})
        """
        try:
            return codec.dumps(value).decode()
        except TypeError as exc:
            raise Error(f"json_encode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def json_decode(text: str | bytes) -> Any:
        """The value JSON text (a str or bytes) holds.

        Errors:
            - 3 INVALID_ARGUMENT `json_decode: <reason>` (not valid JSON)

        Example:
            body = nk.json_decode(payload) if payload else {}
        """
        try:
            return codec.loads(text)
        except ValueError as exc:  # orjson.JSONDecodeError
            raise Error(f"json_decode: {exc}", Code.INVALID_ARGUMENT) from None

    @staticmethod
    def uuid_v4() -> str:
        """A new random UUID (version 4), as text.

        Errors:
            - None: it cannot fail.

        Example:
            match_key = nk.uuid_v4()
        """
        return str(uuid.uuid4())

    @staticmethod
    def channel_id_build(sender_id: str | None, target: str, type: int) -> str:
        """A channel id: type 1 (room, target = name), 2 (direct message with user `target`),
        3 (group `target`).

        Errors:
            - 3 INVALID_ARGUMENT `Channel name is required and must be 1-64 chars` / `Channel name
              must not contain control chars` (type 1)
            - 3 INVALID_ARGUMENT `Invalid user ID <value>: expected a UUID.` (sender_id or target is
              not a UUID) (types 2 and 3)
            - 3 INVALID_ARGUMENT `Channel type must be 1 (room), 2 (direct) or 3 (group).`

        Example:
            room = nk.channel_id_build(None, "lobby", 1)
            dm = nk.channel_id_build(ctx.user_id, friend_id, 2)
        """
        try:
            if type == chat.TYPE_ROOM:
                stream = chat.room_stream(target)
            elif type == chat.TYPE_DIRECT_MESSAGE:
                stream = chat.dm_stream(args.user_id(sender_id), args.user_id(target))
            elif type == chat.TYPE_GROUP:
                stream = Stream(GROUP, args.user_id(target))
            else:
                raise Error("Channel type must be 1 (room), 2 (direct) or 3 (group).",
                            Code.INVALID_ARGUMENT)
        except KizunaError as exc:
            raise from_kizuna(exc) from None
        return chat.channel_id(stream)

    # -- tokens and schedules ----------------------------------------------------------------------

    @staticmethod
    def jwt_generate(algorithm: str, signing_key: str, claims: Mapping[str, Any]) -> str:
        """A signed JWT with these claims: "HS256" with a shared secret, or "RS256" with a PEM RSA
        private key (needs the `cryptography` package).

        Errors:
            - 3 INVALID_ARGUMENT `jwt_generate: algorithm must be one of HS256, RS256, not
              <algorithm>.`
            - 3 INVALID_ARGUMENT `jwt_generate: signing_key must be a non-empty string.`
            - 3 INVALID_ARGUMENT `jwt_generate: claims must be a dict with string keys.`
            - 3 INVALID_ARGUMENT `jwt_generate: signing_key is not <usable | a PEM RSA private key>
              (<reason>).`
            - 12 UNIMPLEMENTED ``jwt_generate: RS256 needs the `cryptography` package on the server
              (pip install cryptography).``

        Example:
            token = nk.jwt_generate("HS256", ctx.env["PARTNER_SECRET"],
                                    {"sub": ctx.user_id, "exp": int(time.time()) + 300})
        """
        if algorithm not in JWT_ALGORITHMS:
            raise Error(f"jwt_generate: algorithm must be one of {', '.join(JWT_ALGORITHMS)}, "
                        f"not {algorithm!r}.", Code.INVALID_ARGUMENT)
        if not isinstance(signing_key, str) or not signing_key:
            raise Error("jwt_generate: signing_key must be a non-empty string.",
                        Code.INVALID_ARGUMENT)
        if not isinstance(claims, Mapping) or not all(isinstance(k, str) for k in claims):
            raise Error("jwt_generate: claims must be a dict with string keys.",
                        Code.INVALID_ARGUMENT)
        try:
            return jwt.encode(dict(claims), signing_key, algorithm=algorithm)
        except NotImplementedError:  # PyJWT without `cryptography`
            raise Error("jwt_generate: RS256 needs the `cryptography` package on the server "
                        "(pip install cryptography).", Code.UNIMPLEMENTED) from None
        except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
            what = "a PEM RSA private key" if algorithm == "RS256" else "usable"
            raise Error(f"jwt_generate: signing_key is not {what} ({exc}).",
                        Code.INVALID_ARGUMENT) from None

    @staticmethod
    def cron_next(expression: str, timestamp: int) -> int:
        """The first time the CRON expression matches strictly after `timestamp` (unix seconds in
        and out, UTC; the expression is read as leaderboard reset schedules are). When it never
        matches again, -62135596800 (Go's zero time, as Nakama).

        Errors:
            - 3 INVALID_ARGUMENT `cron_next: expression must be a CRON expression.` (not a string, or
              blank)
            - 3 INVALID_ARGUMENT `cron_next: '<expression>' is not a valid CRON expression.`
            - 3 INVALID_ARGUMENT `cron_next: timestamp must be a number of seconds since the Unix
              epoch.`
            - 3 INVALID_ARGUMENT `timestamp <n> is out of range.`

        Example:
            next_reset = nk.cron_next("0 0 * * 1", int(time.time()))
        """
        cron = _cron(expression, "cron_next")
        at = _epoch(_unix_seconds(timestamp, "cron_next"))
        return math.floor(cron.next(at).timestamp())

    @staticmethod
    def cron_prev(expression: str, timestamp: int) -> int:
        """The last time the CRON expression matched strictly before `timestamp` (unix seconds in
        and out, UTC). When it never matched, -62135596800 (Go's zero time, as Nakama).

        Errors:
            - 3 INVALID_ARGUMENT `cron_prev: expression must be a CRON expression.` (not a string, or
              blank)
            - 3 INVALID_ARGUMENT `cron_prev: '<expression>' is not a valid CRON expression.`
            - 3 INVALID_ARGUMENT `cron_prev: timestamp must be a number of seconds since the Unix
              epoch.`
            - 3 INVALID_ARGUMENT `timestamp <n> is out of range.`

        Example:
            last_reset = nk.cron_prev("0 0 * * *", int(time.time()))
        """
        cron = _cron(expression, "cron_prev")
        at = _epoch(_unix_seconds(timestamp, "cron_prev"))
        return math.floor(cron.last(at).timestamp())

    # -- the node-local cache ----------------------------------------------------------------------

    @property
    def _cache(self) -> LocalCache:
        cache = vars(self).get("_localcache")
        if cache is None:
            cache = vars(self).setdefault("_localcache", LocalCache())
        return cache

    def localcache_get(self, key: str, default: Any = None) -> Any:
        """The value cached under `key` on this node, or `default` (missing or expired).

        Errors:
            - 3 INVALID_ARGUMENT `localcache_get: key must be a non-empty string.`

        Example:
            config = nk.localcache_get("shop_config")
            if config is None:
                config = {"discount": 0}
        """
        return self._cache.get(_cache_key(key, "localcache_get"), default)

    def localcache_put(self, key: str, value: Any, ttl: float = 0) -> None:
        """Cache a value on this node (not shared with other nodes; gone at restart) for `ttl`
        seconds (0: until deleted). The value is kept as is, not copied.

        Errors:
            - 3 INVALID_ARGUMENT `localcache_put: key must be a non-empty string.`
            - 3 INVALID_ARGUMENT `localcache_put: ttl must be a number of seconds, 0 or more.`

        Example:
            nk.localcache_put("shop_config", {"discount": 10}, ttl=60)
        """
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl >= 0 \
                or not math.isfinite(ttl):
            raise Error("localcache_put: ttl must be a number of seconds, 0 or more.",
                        Code.INVALID_ARGUMENT)
        self._cache.put(_cache_key(key, "localcache_put"), value, ttl)

    def localcache_delete(self, key: str) -> None:
        """Remove a key from this node's cache (nothing happens if it is not there).

        Errors:
            - 3 INVALID_ARGUMENT `localcache_delete: key must be a non-empty string.`

        Example:
            nk.localcache_delete("shop_config")
        """
        self._cache.delete(_cache_key(key, "localcache_delete"))

    def localcache_clear(self) -> None:
        """Empty this node's cache.

        Errors:
            - None: it cannot fail.

        Example:
            nk.localcache_clear()
        """
        self._cache.clear()

    # -- custom metrics ----------------------------------------------------------------------------

    def _custom_metrics(self) -> CustomMetrics:
        found = getattr(self._rt, "custom_metrics", None)  # the node's (exported when enabled)
        if found is None:  # `kizuna check`: checked only
            found = vars(self).get("_own_metrics") or vars(self).setdefault(
                "_own_metrics", CustomMetrics())
        return found

    def _metric(self, update: Callable[[Any, Any, Any], None], name: Any, tags: Any,
                value: Any) -> None:
        try:
            update(name, tags, value)
        except KizunaError as exc:
            raise from_kizuna(exc) from None

    def metrics_counter_add(self, name: str, tags: Mapping[str, str] | None,
                            delta: int | float) -> None:
        """Add `delta` (0 or more) to the counter `name` with these tags (a dict of strings, or
        None). Exported with the server's Prometheus metrics (when `metrics.prometheus_port` is
        set) as `kizuna_custom_<name>_total{<tags>}`.

        A name is letters, digits and `_`, not starting with a digit; tag keys too (and not
        node_name, namespace, le or quantile); at most 10 tags. A name keeps the kind and the tag
        keys of its first call; at most 200 names per node, and 1,000 tag combinations per name
        (past that, new combinations are not exported: keep tag values to a small set, never a
        user id). A call that breaks a rule raises Error (code 3) whether metrics are exported or
        not; a call that follows them never fails and never waits.

        Errors:
            - 3 INVALID_ARGUMENT `metrics_counter_add: name must be a string, got <type>.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: '<name>' is not a valid metric name: ...` /
              `metrics_counter_add: the metric name '<name>'... is longer than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: tags must be a dict of strings (or None), got
              <type>.` / `metrics_counter_add: at most 10 tags, got <n>.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: tag '<key>' is not a valid label name: ...` /
              `metrics_counter_add: tag '<key>' is reserved (...)` / `{call}: the value of tag '<key>'
              must be a string, got <type>.` / `metrics_counter_add: the value of tag '<key>' is
              longer than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: delta must be a number, got <type>.` / `...:
              delta must be a finite number, got <value>.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: delta must be 0 or more (a counter only goes
              up; use metrics_gauge_set for a value that goes down), got <delta>.`
            - 3 INVALID_ARGUMENT `metrics_counter_add: '<name>' is already a <kind> (a name keeps the
              kind of its first call).`
            - 3 INVALID_ARGUMENT `metrics_counter_add: '<name>' was first used with tags (<keys>), not
              (<keys>): ...`
            - 3 INVALID_ARGUMENT `metrics_counter_add: '<name>' would be custom metric number 201 of
              this node, over the limit of 200: ...`
            - 3 INVALID_ARGUMENT `metrics_counter_add: '<name>' clashes with the <kind> '<other>':
              both would be exported as <series>.`

        Example:
            nk.metrics_counter_add("matches_won", {"mode": "ranked"}, 1)
        """
        self._metric(self._custom_metrics().counter_add, name, tags, delta)

    def metrics_gauge_set(self, name: str, tags: Mapping[str, str] | None,
                          value: int | float) -> None:
        """Set the gauge `name` with these tags to `value` (any finite number), exported as
        `kizuna_custom_<name>{<tags>}`. Names and tags as for `metrics_counter_add`.

        Errors:
            - 3 INVALID_ARGUMENT `metrics_gauge_set: name must be a string, got <type>.`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: '<name>' is not a valid metric name: ...` /
              `metrics_gauge_set: the metric name '<name>'... is longer than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: tags must be a dict of strings (or None), got
              <type>.` / `metrics_gauge_set: at most 10 tags, got <n>.`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: tag '<key>' is not a valid label name: ...` /
              `metrics_gauge_set: tag '<key>' is reserved (...)` / `{call}: the value of tag '<key>'
              must be a string, got <type>.` / `metrics_gauge_set: the value of tag '<key>' is longer
              than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: value must be a number, got <type>.` / `...:
              value must be a finite number, got <value>.`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: '<name>' is already a <kind> (a name keeps the
              kind of its first call).`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: '<name>' was first used with tags (<keys>), not
              (<keys>): ...`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: '<name>' would be custom metric number 201 of
              this node, over the limit of 200: ...`
            - 3 INVALID_ARGUMENT `metrics_gauge_set: '<name>' clashes with the <kind> '<other>': both
              would be exported as <series>.`

        Example:
            nk.metrics_gauge_set("lobby_players", None, len(players))
        """
        self._metric(self._custom_metrics().gauge_set, name, tags, value)

    def metrics_timer_record(self, name: str, tags: Mapping[str, str] | None,
                             value: float | timedelta) -> None:
        """Record one duration of the timer `name`: `value` in seconds (`time.perf_counter()`
        differences), or a `timedelta`. Exported as the histogram
        `kizuna_custom_<name>_seconds{<tags>}` (`_seconds` is not doubled when the name ends with
        it). Names and tags as for `metrics_counter_add`.

        Errors:
            - 3 INVALID_ARGUMENT `metrics_timer_record: name must be a string, got <type>.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: '<name>' is not a valid metric name: ...` /
              `metrics_timer_record: the metric name '<name>'... is longer than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: tags must be a dict of strings (or None), got
              <type>.` / `metrics_timer_record: at most 10 tags, got <n>.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: tag '<key>' is not a valid label name: ...` /
              `metrics_timer_record: tag '<key>' is reserved (...)` / `{call}: the value of tag
              '<key>' must be a string, got <type>.` / `metrics_timer_record: the value of tag '<key>'
              is longer than <n> characters.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: value (seconds, or a timedelta) must be a
              number, got <type>.` / `...: must be a finite number, got <value>.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: value must be a duration of 0 seconds or more,
              got <value>.`
            - 3 INVALID_ARGUMENT `metrics_timer_record: '<name>' is already a <kind> (a name keeps the
              kind of its first call).`
            - 3 INVALID_ARGUMENT `metrics_timer_record: '<name>' was first used with tags (<keys>),
              not (<keys>): ...`
            - 3 INVALID_ARGUMENT `metrics_timer_record: '<name>' would be custom metric number 201 of
              this node, over the limit of 200: ...`
            - 3 INVALID_ARGUMENT `metrics_timer_record: '<name>' clashes with the <kind> '<other>':
              both would be exported as <series>.`

        Example:
            started = time.perf_counter()
            result = nk.http_request("https://api.example.com/ping", "GET")
            nk.metrics_timer_record("partner_api", {"call": "ping"}, time.perf_counter() - started)
        """
        self._metric(self._custom_metrics().timer_record, name, tags, value)


# -- nk.aio: outbound calls and hashing -------------------------------------------------------------


def _shown(url: yarl.URL) -> str:
    """A URL for an error message: without credentials or query (they may hold secrets)."""
    return str(url.with_user(None).with_query(None).with_fragment(None))


def _password(value: Any, call: str, what: str = "password") -> bytes:
    if not isinstance(value, str):
        raise Error(f"{call}: {what} must be a string.", Code.INVALID_ARGUMENT)
    return value.encode()


class OutboundNk(Area):

    @api
    async def http_request(self, url: str, method: str, headers: Mapping[str, str] | None = None,
                           body: str | bytes | None = None, timeout_ms: int = 5000,
                           insecure: bool = False) -> HttpResult:
        """Call an HTTP(S) service: {"code", "headers", "body"} (the status, the response headers
        with repeated ones joined by ", ", the body as text). Redirects are followed; the call
        fails with code 4 after `timeout_ms`, and is cancelled when the calling function's time is
        up. `insecure` skips TLS certificate checks.

        Errors:
            - 3 INVALID_ARGUMENT `http_request: url must be a string.` / `http_request: invalid URL
              <url>.`
            - 3 INVALID_ARGUMENT `http_request: the URL must be absolute, http:// or https:// (got
              <url>).`
            - 3 INVALID_ARGUMENT `http_request: method must be one of DELETE, GET, HEAD, OPTIONS,
              PATCH, POST, PUT (got <method>).`
            - 3 INVALID_ARGUMENT `http_request: headers must be a dict of strings.`
            - 3 INVALID_ARGUMENT `http_request: body must be a string or bytes.`
            - 3 INVALID_ARGUMENT `http_request: timeout_ms must be a positive integer.`
            - 4 DEADLINE_EXCEEDED `http_request: <METHOD> <url> timed out after <timeout_ms> ms.`
            - 14 UNAVAILABLE `http_request: <METHOD> <url> failed: cannot connect to <host>:<port>
              (<reason>).` / `http_request: <METHOD> <url> failed: <reason>.` (the service could not
              be reached or broke the connection; an HTTP error status is a result, not an error)

        Example:
            resp = nk.http_request("https://api.example.com/scores", "POST",
                                   {"Content-Type": "application/json"}, nk.json_encode({"score": 10}),
                                   timeout_ms=3000)
            ok = resp["code"] == 200
        """
        if not isinstance(url, str):
            raise Error("http_request: url must be a string.", Code.INVALID_ARGUMENT)
        try:
            target = yarl.URL(url)
        except (ValueError, TypeError):
            raise Error(f"http_request: invalid URL {url!r}.", Code.INVALID_ARGUMENT) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise Error(f"http_request: the URL must be absolute, http:// or https:// "
                        f"(got {url!r}).", Code.INVALID_ARGUMENT)
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in HTTP_METHODS:
            raise Error(f"http_request: method must be one of {', '.join(sorted(HTTP_METHODS))} "
                        f"(got {method!r}).", Code.INVALID_ARGUMENT)
        if headers is not None and (not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise Error("http_request: headers must be a dict of strings.", Code.INVALID_ARGUMENT)
        if body is not None and not isinstance(body, (str, bytes)):
            raise Error("http_request: body must be a string or bytes.", Code.INVALID_ARGUMENT)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise Error("http_request: timeout_ms must be a positive integer.",
                        Code.INVALID_ARGUMENT)
        data = body.encode() if isinstance(body, str) else body
        shown = f"{verb} {_shown(target)}"
        # One session per call: it is closed when the call ends, whatever happens (the runtime
        # has no stop hook here to close a shared one).
        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=timeout_ms / 1000),
                    connector=aiohttp.TCPConnector(ssl=not insecure)) as session, \
                    session.request(verb, target, headers=dict(headers or {}),
                                    data=data) as resp:
                raw = await resp.read()
                joined: dict[str, str] = {}
                for key, value in resp.headers.items():
                    name = str(key)  # an `istr`, which JSON encoders refuse
                    joined[name] = f"{joined[name]}, {value}" if name in joined else str(value)
                return {"code": resp.status, "headers": joined,
                        "body": raw.decode("utf-8", "replace")}
        except TimeoutError:
            raise Error(f"http_request: {shown} timed out after {timeout_ms} ms.",
                        Code.DEADLINE_EXCEEDED) from None
        except aiohttp.InvalidURL:
            raise Error(f"http_request: invalid URL {url!r}.", Code.INVALID_ARGUMENT) from None
        except aiohttp.ClientConnectorError as exc:
            err = exc.os_error
            reason = (os.strerror(err.errno) if err.errno else str(err)) or type(err).__name__
            raise Error(f"http_request: {shown} failed: cannot connect to "
                        f"{exc.host}:{exc.port} ({reason}).", Code.UNAVAILABLE) from None
        except aiohttp.ClientError as exc:
            raise Error(f"http_request: {shown} failed: {exc or type(exc).__name__}.",
                        Code.UNAVAILABLE) from None

    @api
    async def bcrypt_hash(self, password: str) -> str:
        """A bcrypt hash of the password (cost 10, as Nakama), computed in a worker thread.
        Passwords longer than 72 bytes are refused (bcrypt would ignore the rest).

        Errors:
            - 3 INVALID_ARGUMENT `bcrypt_hash: password must be a string.`
            - 3 INVALID_ARGUMENT `bcrypt_hash: the password is longer than 72 bytes.`

        Example:
            hashed = nk.bcrypt_hash("correct horse battery")
        """
        raw = _password(password, "bcrypt_hash")
        if len(raw) > BCRYPT_MAX_BYTES:
            raise Error(f"bcrypt_hash: the password is longer than {BCRYPT_MAX_BYTES} bytes.",
                        Code.INVALID_ARGUMENT)
        hashed = await asyncio.to_thread(bcrypt.hashpw, raw, bcrypt.gensalt(BCRYPT_ROUNDS))
        return hashed.decode()

    @api
    async def bcrypt_compare(self, hash: str, password: str) -> bool:
        """Whether the password matches a bcrypt hash (checked in a worker thread).

        Errors:
            - 3 INVALID_ARGUMENT `bcrypt_compare: hash must be a string.` / `bcrypt_compare: password
              must be a string.`
            - 3 INVALID_ARGUMENT `bcrypt_compare: hash is not a bcrypt hash.`

        Example:
            if not nk.bcrypt_compare(stored_hash, "correct horse battery"):
                raise Error("Wrong PIN.", 16)
        """
        hashed = _password(hash, "bcrypt_compare", "hash")
        raw = _password(password, "bcrypt_compare")
        if len(raw) > BCRYPT_MAX_BYTES:
            return False  # bcrypt_hash never makes a hash of one
        try:
            return await asyncio.to_thread(bcrypt.checkpw, raw, hashed)
        except ValueError:
            raise Error("bcrypt_compare: hash is not a bcrypt hash.",
                        Code.INVALID_ARGUMENT) from None
