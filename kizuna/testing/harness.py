"""`ModuleHarness`: a server module, loaded as the server loads it, on a database of its own.

The harness is a small node without transports: a fresh PostgreSQL database migrated with this
release's migrations (dropped on close), the node's `Domain` and `Runtime` on an event loop of
their own in a background thread (as in a server, plain functions run in the runtime's worker
threads and their blocking `nk` calls hop to that loop), and the module loaded by the runtime's
loader, `init_module` included. A test is a client of it: `harness.rpc(...)` runs an RPC as a
client's call would and blocks until it is done (`await harness.aio.rpc(...)` from a coroutine).

Where the harness differs from a server, it is to help a test: an exception that is not an
`Error` reaches the test as it was raised (a client would get "Internal Server Error"), after
hooks' and event functions' errors are raised (a server logs them), and events run when
`harness.event()` is called (a server queues them).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import os
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, TypeVar, cast

from kizuna import config as config_mod
from kizuna.errors import KizunaError
from kizuna.runtime import context as modes
from kizuna.runtime import loader
from kizuna.runtime.context import Context, frozen
from kizuna.runtime.errors import Error, NkUnavailable, from_kizuna
from kizuna.runtime.invoke import Invoker
from kizuna.runtime.logger import Logger
from kizuna.runtime.nk import Nk
from kizuna.runtime.registry import Function, Registry
from kizuna.runtime.service import LoadFailed, Runtime
from kizuna.wire import codec, methods

__all__ = ["DEFAULT_DATABASE", "HarnessError", "LoadFailed", "ModuleHarness", "User"]

DEFAULT_DATABASE = "postgres@127.0.0.1:5432"
"""The PostgreSQL server used when neither `database=` nor $KZ_TEST_PG says another."""

_T = TypeVar("_T")

# The context fields a test may set on a call (the others are the node's).
_FIELDS = frozenset(f.name for f in dataclasses.fields(Context)) - {
    "env", "execution_mode", "node", "version"}
_MAPPINGS = ("vars", "headers", "query_params")

# Set in the tasks of the harness's own calls: a module's bug is raised to the test as it was.
_raise_bugs: contextvars.ContextVar[bool] = contextvars.ContextVar("kizuna_raise_bugs",
                                                                  default=False)


class HarnessError(Exception):
    """The harness could not do what it was asked (no database, no such RPC, ...)."""


@dataclass(frozen=True)
class User:
    """A user created by `harness.user()`. Pass it (or its `id`) as `user_id=` of a call."""
    id: str
    username: str
    device_id: str


class _Invoker(Invoker):
    """The runtime's invoker, except that in the harness's own calls a module's exception other
    than `Error` is raised as it was (with its traceback), not as "Internal Server Error"."""

    async def call(self, f: Function, *args: Any, timeout: float | None = None) -> Any:
        if not _raise_bugs.get():
            return await super().call(f, *args, timeout=timeout)
        bugs: list[BaseException] = []
        inner = f.fn
        passed = (Error, KizunaError, NkUnavailable, asyncio.CancelledError)

        if f.is_async:
            async def fn(*a: Any) -> Any:
                try:
                    return await inner(*a)
                except passed:
                    raise
                except Exception as exc:
                    bugs.append(exc)
                    raise
        else:
            def fn(*a: Any) -> Any:  # type: ignore[misc]  # the sync variant
                try:
                    return inner(*a)
                except passed:
                    raise
                except Exception as exc:
                    bugs.append(exc)
                    raise
        try:
            return await super().call(dataclasses.replace(f, fn=fn), *args, timeout=timeout)
        except KizunaError:
            if bugs:
                raise bugs[0] from None
            raise


class _Runtime(Runtime):
    """The node's Runtime, loading only the modules asked for (the others of the directory stay
    importable as helpers)."""

    only: list[str] | None = None

    async def _load(self) -> loader.LoadResult:
        return await asyncio.to_thread(loader.load, self.path,
                                       lambda: self.context(modes.RUN_ONCE), self.nk, self.loop,
                                       only=self.only)


class ModuleHarness:
    """A server module (a file, a package directory, or a modules directory) loaded as the server
    loads it, with `nk` on a fresh, migrated PostgreSQL database.

        with ModuleHarness("modules/rewards.py") as h:
            alice = h.user("alice")
            assert h.rpc("claim", "{}", user_id=alice) == '{"coins":100}'

    `database`: the PostgreSQL server (`user:password@host:port`, as `--database.address` takes
    it, without a database name); default $KZ_TEST_PG, else postgres@127.0.0.1:5432. A database
    named `kzt_<random>` is created there, migrated, and dropped on close. `env`: `ctx.env`
    (`runtime.env`). `flags`: more config flags, e.g. `["--runtime.call_timeout_ms", "500"]`.
    """

    def __init__(self, path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                 database: str | None = None, flags: Iterable[str] = ()) -> None:
        target = Path(path).resolve()
        self.root: Path
        self.only: list[str] | None
        if target.is_file():
            if target.suffix != ".py":
                raise HarnessError(f"{path}: a module is a .py file or a directory")
            self.root, self.only = target.parent, [target.stem]
        elif (target / "__init__.py").is_file():  # a package module
            self.root, self.only = target.parent, [target.name]
        elif target.is_dir():  # a modules directory: every module of it, as runtime.path
            self.root, self.only = target, None
        else:
            raise HarnessError(f"{path}: no such module file or directory")
        self.server = database or os.environ.get("KZ_TEST_PG") or DEFAULT_DATABASE
        self.database = f"kzt_{uuid.uuid4().hex[:16]}"
        self._env = dict(env or {})
        self._flags = list(flags)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runtime: _Runtime | None = None
        self._pool: Any = None
        self._created = False
        self.logger = Logger("kizuna.runtime.test")
        """A logger to pass to module functions a test calls itself."""
        self.aio = _Aio(self)
        """The same calls as coroutines, for `async def` tests: `await harness.aio.rpc(...)`."""
        self._nk = _NkProxy(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> ModuleHarness:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> ModuleHarness:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    def start(self) -> ModuleHarness:
        """Create and migrate the database, start the runtime, load the module. A module that
        fails to load raises `LoadFailed` naming its file and line (as `kizuna server` says it)."""
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="kizuna-harness", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            self._run(self._start())
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Run the module's shutdown functions, stop the runtime, drop the database."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(60)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = None

    async def _start(self) -> None:
        from kizuna.core.domain import Domain
        from kizuna.db.address import parse_address
        from kizuna.db.connect import create_pool, ensure_database
        from kizuna.migrate import loader as migrations
        from kizuna.migrate.executor import Engine, Options, SilentReporter, open_connection
        from kizuna.realtime.service import RealtimeService
        from kizuna.services import served_socket_kinds
        from kizuna.version import __version__

        addr = parse_address(self.server).with_database(self.database)
        self._created = await ensure_database(addr)
        conn = await open_connection(addr, version=__version__)
        try:
            await Engine(conn, migrations.load(), Options(version=__version__),
                         SilentReporter()).up()
        finally:
            await conn.close()
        flags = ["--name", "kizuna-test", *self._flags, "--runtime.path", str(self.root)]
        for key, value in self._env.items():
            flags += ["--runtime.env", f"{key}={value}"]
        cfg = config_mod.load(flags, env={})
        self._pool = pool = await create_pool(addr, cfg, min_size=1,
                                              application_name="kizuna module test")
        # The node's graph, as kizuna.services.build() makes it, with the harness's Runtime.
        domain = Domain(cfg, pool)
        realtime = RealtimeService(domain)
        domain.sockets = realtime
        runtime = _Runtime(domain, served_kinds=served_socket_kinds())
        runtime.only = self.only
        runtime.invoker = _Invoker(runtime.pool, runtime.invoker.timeout)
        realtime.modules = runtime
        domain.matches = runtime.matches
        domain.leaderboards.hooks = runtime
        self._runtime = runtime
        await domain.sessions.start()
        await domain.leaderboards.start()
        await runtime.start()

    async def _stop(self) -> None:
        from kizuna.db.address import parse_address
        from kizuna.db.connect import connect

        rt, self._runtime = self._runtime, None
        try:
            if rt is not None:
                await rt.stop()
                await rt.domain.leaderboards.stop()
                await rt.domain.sessions.stop()
            if self._pool is not None:
                await self._pool.close()
        finally:
            self._pool = None
            admin = await connect(parse_address(self.server).with_database("postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await admin.close()

    # -- what the module registered --------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The node's Runtime (its registry, config, domain)."""
        if self._runtime is None:
            raise HarnessError("the harness is not started (use `with ModuleHarness(...)`)")
        return self._runtime

    @property
    def registry(self) -> Registry:
        """What the module registered: `.rpcs`, `.before`, `.rt_before`, `.events`, ..."""
        return self.runtime.registry

    @property
    def warnings(self) -> list[str]:
        """The warnings a server logs at start about this module's hooks (socket messages it
        does not serve yet)."""
        rt = self.runtime
        return loader.unserved_hooks(rt.registry, None, rt.served_kinds)

    @property
    def nk(self) -> Nk:
        """The module's `nk`, on the test's database: `harness.nk.storage_read(...)` blocks until
        done (from a sync or an async test); `await harness.nk.aio.storage_read(...)` too."""
        return cast(Nk, self._nk)

    def module(self, name: str | None = None) -> ModuleType:
        """The loaded Python module `name` (default: the one module loaded), e.g. to monkeypatch
        its clock: `monkeypatch.setattr(harness.module(), "today", lambda: date(2024, 5, 2))`."""
        if name is None:
            loaded = self.registry.modules
            if len(loaded) != 1:
                raise HarnessError(f"{len(loaded)} modules are loaded ({', '.join(loaded)}): "
                                   f"name one")
            name = loaded[0]
        module = sys.modules.get(name)
        if module is None or not str(getattr(module, "__file__", "")).startswith(str(self.root)):
            raise HarnessError(f"no module {name!r} is loaded from {self.root}")
        return module

    def ctx(self, mode: str = modes.RPC, **fields: Any) -> Context:
        """A `ctx` as the runtime makes it, with the given fields (`user_id` (a `User` too),
        `username`, `vars`, `session_id`, `headers`, ...), for calling a function directly."""
        return self.runtime.context(mode, **_fields(fields))

    # -- calls (blocking; harness.aio has the coroutines) ----------------------------------------

    def user(self, username: str | None = None, *, device_id: str | None = None) -> User:
        """Create a user (a device account, as a game client's first login) and return it."""
        return self._run(self.aio.user(username, device_id=device_id))

    def rpc(self, id: str, payload: Any = "", **fields: Any) -> str:
        """Call the RPC `id` as a client would: the payload string a client receives, or the
        `Error(message, code)` it would get. `payload` may be a dict or list (sent as JSON)."""
        return self._run(self.aio.rpc(id, payload, **fields))

    def rpc_json(self, id: str, payload: Any = "", **fields: Any) -> Any:
        """`rpc`, with its result decoded from JSON (None for an empty result)."""
        return self._run(self.aio.rpc_json(id, payload, **fields))

    def before(self, method: str, request: dict[str, Any], **fields: Any) -> dict[str, Any] | None:
        """Run the before hook of an API method (`"UpdateAccount"`): what it returns (the request
        to go on with, or None: the method refused), or its `Error`."""
        return self._run(self.aio.before(method, request, **fields))

    def after(self, method: str, response: Any, request: dict[str, Any], **fields: Any) -> None:
        """Run the after hook of an API method; its `Error` is raised."""
        self._run(self.aio.after(method, response, request, **fields))

    def rt_before(self, message: str, body: dict[str, Any], **fields: Any) -> dict[str, Any] | None:
        """Run the realtime before hook of a socket message (`"ChannelJoin"`)."""
        return self._run(self.aio.rt_before(message, body, **fields))

    def rt_after(self, message: str, out: dict[str, Any] | None, body: dict[str, Any],
                 **fields: Any) -> None:
        """Run the realtime after hook of a socket message, with the reply's message `out`."""
        self._run(self.aio.rt_after(message, out, body, **fields))

    def event(self, name: str, properties: Mapping[str, str] | None = None, *,
              external: bool = False, **fields: Any) -> None:
        """Run the `register_event` functions on an event, now (a server queues it)."""
        self._run(self.aio.event(name, properties, external=external, **fields))

    def call(self, fn: Callable[..., Any], *args: Any, mode: str = modes.RPC,
             **fields: Any) -> Any:
        """Run any module function `fn(ctx, logger, nk, *args)` as the runtime runs registered ones
        (a plain function in a worker thread, a coroutine on the loop, under the deadline)."""
        return self._run(self.aio.call(fn, *args, mode=mode, **fields))

    # -- plumbing --------------------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Future[_T]:
        loop = self._loop
        if loop is None:
            coro.close()
            raise HarnessError("the harness is not started (use `with ModuleHarness(...)`)")
        if threading.current_thread() is self._thread:
            coro.close()
            raise HarnessError("a harness call from the harness's own loop would wait forever")
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_as_test(coro), loop))

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise HarnessError("the harness is not started (use `with ModuleHarness(...)`)")
        if threading.current_thread() is self._thread:
            coro.close()
            raise HarnessError("a harness call from the harness's own loop would wait forever")
        return asyncio.run_coroutine_threadsafe(_as_test(coro), loop).result()


async def _as_test(coro: Coroutine[Any, Any, _T]) -> _T:
    _raise_bugs.set(True)
    try:
        return await coro
    except KizunaError as exc:  # what a client would get, as module code sees errors
        raise from_kizuna(exc) from None


def _fields(given: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(given)
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise TypeError(f"unknown ctx field(s) {', '.join(unknown)}; the fields a call may set: "
                        f"{', '.join(sorted(_FIELDS))}")
    user = fields.get("user_id")
    if isinstance(user, User):
        fields["user_id"] = user.id
        fields.setdefault("username", user.username)
    for name in _MAPPINGS:
        if fields.get(name) is not None:
            fields[name] = frozen(fields[name])
    return fields


class _Aio:
    """`harness.aio`: each call of the harness as a coroutine, for `async def` tests (it runs
    on the harness's loop; the test's loop waits without blocking)."""

    def __init__(self, harness: ModuleHarness) -> None:
        self._h = harness

    def _rt(self) -> Runtime:
        return self._h.runtime

    async def _on_loop(self, coro: Coroutine[Any, Any, _T]) -> _T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._h._loop:
            return await _as_test(coro)
        return await self._h._submit(coro)

    async def user(self, username: str | None = None, *, device_id: str | None = None) -> User:
        device = device_id or f"test-device-{uuid.uuid4().hex}"

        async def go() -> User:
            r = await self._rt().nk.aio.authenticate_device(device, username, True)
            return User(r.user_id, r.username, device)
        return await self._on_loop(go())

    async def rpc(self, id: str, payload: Any = "", **fields: Any) -> str:
        rt = self._rt()
        f = rt.rpc_function(id)
        if f is None:
            raise HarnessError(f"no RPC {id!r} is registered; registered: "
                               f"{', '.join(sorted(rt.registry.rpcs)) or 'none'}")
        text = payload if isinstance(payload, str) else Nk.json_encode(payload)
        return await self._on_loop(rt.call_rpc(f, _fields(fields), text))

    async def rpc_json(self, id: str, payload: Any = "", **fields: Any) -> Any:
        text = await self.rpc(id, payload, **fields)
        return Nk.json_decode(text) if text else None

    def _hook(self, table: dict[str, Function], key: str | None, name: str, what: str) -> Function:
        f = table.get(key) if key is not None else None
        if f is None:
            raise HarnessError(f"no {what} hook is registered for {name!r}")
        return f

    async def before(self, method: str, request: dict[str, Any],
                     **fields: Any) -> dict[str, Any] | None:
        rt = self._rt()
        f = self._hook(rt.registry.before, methods.api_key(method), method, "before")
        ctx = rt.context(modes.BEFORE, **_fields(fields))
        return cast("dict[str, Any] | None",
                    await self._on_loop(rt.invoker.call(f, ctx, f.logger, rt.nk, request)))

    async def after(self, method: str, response: Any, request: dict[str, Any],
                    **fields: Any) -> None:
        rt = self._rt()
        f = self._hook(rt.registry.after, methods.api_key(method), method, "after")
        ctx = rt.context(modes.AFTER, **_fields(fields))
        await self._on_loop(rt.invoker.call(f, ctx, f.logger, rt.nk, response, request))

    async def rt_before(self, message: str, body: dict[str, Any],
                        **fields: Any) -> dict[str, Any] | None:
        rt = self._rt()
        f = self._hook(rt.registry.rt_before, methods.rt_kind(message), message, "realtime before")
        ctx = rt.context(modes.BEFORE, **_fields(fields))
        return cast("dict[str, Any] | None",
                    await self._on_loop(rt.invoker.call(f, ctx, f.logger, rt.nk, body)))

    async def rt_after(self, message: str, out: dict[str, Any] | None, body: dict[str, Any],
                       **fields: Any) -> None:
        rt = self._rt()
        f = self._hook(rt.registry.rt_after, methods.rt_kind(message), message, "realtime after")
        ctx = rt.context(modes.AFTER, **_fields(fields))
        await self._on_loop(rt.invoker.call(f, ctx, f.logger, rt.nk, out, body))

    async def event(self, name: str, properties: Mapping[str, str] | None = None, *,
                    external: bool = False, **fields: Any) -> None:
        rt = self._rt()
        event = {"name": name, "properties": dict(properties or {}), "timestamp": codec.now(),
                 "external": external}
        ctx = rt.context(modes.EVENT, **_fields(fields))

        async def go() -> None:
            for f in rt.registry.events:
                await rt.invoker.call(f, ctx, f.logger, rt.nk, event)
        await self._on_loop(go())

    async def call(self, fn: Callable[..., Any], *args: Any, mode: str = modes.RPC,
                   **fields: Any) -> Any:
        rt = self._rt()
        f = Function(fn, "test", f"call {getattr(fn, '__name__', 'function')}",
                     inspect.iscoroutinefunction(fn), self._h.logger)
        ctx = rt.context(mode, **_fields(fields))
        return await self._on_loop(rt.invoker.call(f, ctx, f.logger, rt.nk, *args))


class _NkProxy:
    """`harness.nk`: the runtime's `nk`, callable from the test's thread whatever it runs (a sync
    test, or an async test's own event loop, which is not the runtime's)."""

    def __init__(self, harness: ModuleHarness) -> None:
        self._h = harness
        self.aio = _NkAioProxy(harness)

    def __getattr__(self, name: str) -> Any:
        nk = self._h.runtime.nk
        coroutine = getattr(type(nk.aio), name, None)
        if not inspect.iscoroutinefunction(coroutine):
            return getattr(nk, name)  # the calls that never wait: json_encode, uuid_v4, event

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._h._run(getattr(nk.aio, name)(*args, **kwargs))
        call.__name__ = name
        return call


class _NkAioProxy:
    def __init__(self, harness: ModuleHarness) -> None:
        self._h = harness

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._h.runtime.nk.aio, name)
        if not inspect.iscoroutinefunction(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._h.aio._on_loop(target(*args, **kwargs))
        call.__name__ = name
        return call
