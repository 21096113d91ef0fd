"""The runtime's building blocks without a server: registration checks, the loader, contexts,
calling functions (threads, coroutines, deadlines, error mapping) and the nk bridge between worker
threads and the event loop. Everything end to end is in tests/integration/test_runtime.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from kizuna.errors import Code, KizunaError
from kizuna.runtime import Error
from kizuna.runtime.context import Context
from kizuna.runtime.errors import RegistrationError
from kizuna.runtime.invoke import Invoker, WorkerPool
from kizuna.runtime.loader import load, snapshot
from kizuna.runtime.logger import Logger
from kizuna.runtime.nk import Nk, stubgen
from kizuna.runtime.registry import Initializer, Registry
from kizuna.wire.methods import api_key, rt_kind, rt_name


def rpc(ctx, logger, nk, payload):
    return payload


def test_method_and_message_names():
    assert api_key("AuthenticateDevice") == api_key("authenticatedevice") == "authenticatedevice"
    assert api_key("NoSuchMethod") is None and api_key(None) is None  # type: ignore[arg-type]
    assert rt_kind("ChannelJoin") == rt_kind("channel_join") == "channel_join"
    assert rt_kind("Rpc") is None and rt_name("match_data_send") == "MatchDataSend"


def test_registrations_are_checked_where_they_are_made():
    reg = Registry()
    init = Initializer("mod", reg)
    init.register_rpc("Echo", rpc)
    assert list(reg.rpcs) == ["echo"]
    cases = [
        (lambda: init.register_rpc("ECHO", rpc), "RPC 'ECHO' is already registered (by module mod)"),
        (lambda: init.register_rpc("", rpc), "the id must be a non-empty string"),
        (lambda: init.register_rpc("x", "not callable"), "expected a function, got str"),
        (lambda: init.register_rpc("x", lambda ctx: None), "must accept 4 arguments"),
        (lambda: init.register_before("GetAcount", rpc), "'GetAcount' is not a Nakama API method"),
        (lambda: init.register_after("GetAccount", rpc), "must accept 5 arguments"),
        (lambda: init.register_rt_before("Rpc", rpc), "(RPC has no hooks)"),
        (lambda: init.register_http("hello", rpc), "the path must start with '/', got 'hello'"),
        (lambda: init.register_http("/h", rpc, methods=["FETCH"]), "unknown HTTP method"),
        (lambda: init.register_shutdown(rpc), "must accept 3 arguments"),
    ]
    for call, message in cases:
        with pytest.raises(RegistrationError) as info:
            call()
        assert message in str(info.value)
    # Another module's registrations count as taken too.
    other = Initializer("other", Registry(), existing=reg)
    with pytest.raises(RegistrationError, match="already registered"):
        other.register_rpc("echo", rpc)
    # Defaults and optional arguments are fine; coroutines are recognised.

    async def later(ctx, logger, nk, payload, extra=None):
        return payload
    init.register_rpc("later", later)
    assert reg.rpcs["later"].is_async and not reg.rpcs["echo"].is_async


def test_http_routes_match_paths_and_methods():
    reg = Registry()
    init = Initializer("m", reg)
    init.register_http("/items/{item_id}/tags/{tag}", rpc, methods=["get", "POST"])
    init.register_http("/any", rpc)
    route, params = reg.http_route("GET", "/items/42/tags/red")
    assert params == {"item_id": "42", "tag": "red"} and route.methods == {"GET", "POST"}
    assert reg.http_route("DELETE", "/items/42/tags/red") is None
    assert reg.http_methods("/items/42/tags/red") == {"GET", "POST"}
    assert reg.http_route("GET", "/items/42/tags") is None
    assert reg.http_route("PATCH", "/any") is not None
    with pytest.raises(RegistrationError, match="already registered"):
        init.register_http("/any", rpc, methods="GET")


def test_context_is_read_only_and_speaks_nakama_keys():
    ctx = Context(env={"A": "1"}, execution_mode="rpc", node="n", version="v", user_id="u")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.user_id = "other"  # type: ignore[misc]
    assert ctx["user_id"] == ctx.get("user_id") == "u"
    assert ctx.get("username", "nobody") == "nobody" and ctx.session_id is None
    with pytest.raises(KeyError):
        ctx["__class__"]


def test_logger_fields(caplog):
    log = Logger("kizuna.runtime.test").with_field("match", "m1")
    with caplog.at_level(logging.INFO, logger="kizuna.runtime.test"):
        log.info("tick %d", 3, name="reserved", players=2)
    record = caplog.records[-1]
    assert record.getMessage() == "tick 3"
    assert record.kizuna_fields == {"match": "m1", "name": "reserved", "players": 2}
    assert record.name == "kizuna.runtime.test"  # the record's own name is untouched
    assert record.filename == "test_runtime_units.py"  # the caller, not the logger


@pytest.mark.parametrize("fmt", ["json", "stackdriver", "text"])
def test_logger_fields_keep_their_names_in_every_format(fmt):
    """Fields named like LogRecord attributes (name, module, args) are logged under their own
    names; one named like a key of the line itself (msg) does not replace it."""
    from kizuna.logs import JsonFormatter, TextFormatter
    formatter = TextFormatter() if fmt == "text" else JsonFormatter(stackdriver=fmt == "stackdriver")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    target = logging.getLogger(f"kizuna.runtime.fmt_{fmt}")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        Logger(target).info("hi %s", "there", name="bob", module="shop", args=[1], msg="mine")
    finally:
        target.removeHandler(handler)
    line = formatter.format(records[-1])
    if fmt == "text":
        assert line.endswith("hi there  name=bob module=shop args=[1] msg=mine"), line
        return
    doc = json.loads(line)
    assert (doc["name"], doc["module"], doc["args"]) == ("bob", "shop", [1])
    if fmt == "json":
        assert (doc["msg"], doc["field.msg"]) == ("hi there", "mine")
    else:
        assert (doc["message"], doc["msg"]) == ("hi there", "mine")


# -- calling functions -----------------------------------------------------------------------------


def _fn(fn):
    init = Initializer("m", reg := Registry())
    init.register_rpc("f", fn)
    return reg.rpcs["f"]


async def test_invoker_threads_coroutines_deadlines_and_errors():
    pool = WorkerPool(4)
    inv = Invoker(pool, timeout=0.3)
    loop_thread = threading.current_thread()

    def where(ctx, logger, nk, p):
        return threading.current_thread() is not loop_thread

    async def on_loop(ctx, logger, nk, p):
        return threading.current_thread() is loop_thread

    assert await inv.call(_fn(where), None, None, None, "") is True
    assert await inv.call(_fn(on_loop), None, None, None, "") is True

    # The call ends at its deadline (0.3 s), not when the function would return (20 s, 60 s): the
    # ceiling is far above the deadline on any machine, and still well below the functions' ends.
    def slow(ctx, logger, nk, p):
        time.sleep(20)  # a daemon worker thread: nothing waits for it

    async def aslow(ctx, logger, nk, p):
        await asyncio.sleep(60)

    for f in (slow, aslow):
        started = time.monotonic()
        with pytest.raises(KizunaError) as info:
            await inv.call(_fn(f), None, None, None, "")
        assert info.value.code == Code.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 10

    def coded(ctx, logger, nk, p):
        raise Error("nope", int(p))

    for given, expected in (("3", Code.INVALID_ARGUMENT), ("99", Code.INTERNAL), ("0", Code.INTERNAL)):
        with pytest.raises(KizunaError) as info:
            await inv.call(_fn(coded), None, None, None, given)
        assert (info.value.code, info.value.message) == (expected, "nope")

    def bug(ctx, logger, nk, p):
        raise KeyError("secret detail")

    with pytest.raises(KizunaError) as info:
        await inv.call(_fn(bug), None, None, None, "")
    assert (info.value.code, info.value.message) == (Code.INTERNAL, "Internal Server Error")
    pool.close()


async def test_nk_bridges_threads_to_the_loop_and_refuses_to_block_it():
    loop = asyncio.get_running_loop()
    runtime = SimpleNamespace(loop=loop, services=None)
    nk = Nk(runtime)  # type: ignore[arg-type]
    seen = []

    async def fake(self, *args, **kwargs):
        seen.append((threading.current_thread() is threading.main_thread(), args))
        return "done"

    # Swap one call's implementation: the bridge is what is under test here.
    from kizuna.runtime import nk as nk_module
    blocking = nk_module._Blocking(fake)
    blocking.__set_name__(Nk, "storage_read")
    call = blocking.__get__(nk)

    assert await asyncio.to_thread(call, 1, 2) == "done"
    assert seen == [(True, (1, 2))]  # ran on the loop's thread, for the worker thread
    with pytest.raises(RuntimeError, match=r"use `await nk.aio.storage_read\(...\)`"):
        call()
    # Without a server (kizuna check), calls stop init_module instead of failing it.
    from kizuna.runtime.errors import NkUnavailable
    with pytest.raises(NkUnavailable):
        await Nk(None).aio.storage_read([])
    assert Nk.json_decode(Nk.json_encode({"a": [1]})) == {"a": [1]}
    with pytest.raises(Error) as info:
        Nk.json_decode("{")
    assert info.value.code == Code.INVALID_ARGUMENT
    assert Nk.channel_id_build(None, "lobby", 1) == "2...lobby"


async def test_nk_reads_fields_like_rest_and_reports_errors_as_runtime_errors():
    nk = Nk(SimpleNamespace(loop=asyncio.get_running_loop(), services=None))  # type: ignore[arg-type]
    # kizuna.wire.fields reads the dicts' fields; `api` turns its KizunaError into Error.
    for obj, message in (({"collection": 5, "key": "k"}, "collection: expected a string"),
                         ({"collection": "c", "key": "k", "permission_read": "x"},
                          "permission_read: expected an integer")):
        with pytest.raises(Error) as info:
            await nk.aio.storage_write([obj])
        assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, message)


def test_the_blocking_nk_stub_is_up_to_date():
    # blocking.pyi is written from AsyncNk: `python -m kizuna.runtime.nk.stubgen` rewrites it.
    assert stubgen.main(["--check"]) == 0


def test_the_nk_reference_is_current():
    # docs/nk-reference.md is written from AsyncNk: `python -m kizuna.runtime.nk.refgen`.
    from kizuna.runtime.nk import refgen
    assert refgen.main(["--check"]) == 0
    text = refgen.REFERENCE.read_text()
    for name in ("leaderboard_record_write", "wallet_update", "storage_read", "json_encode"):
        assert f"### `{name}`" in text


def _nk_calls():
    """Every documented call: the coroutines of `nk.aio` and the plain functions of `nk`."""
    import inspect

    from kizuna.runtime.nk.aio import AsyncNk
    from kizuna.runtime.nk.bridge import coroutine_methods
    from kizuna.runtime.nk.utility import UtilityNk
    calls = dict(coroutine_methods(AsyncNk))
    for name, value in vars(UtilityNk).items():
        if not name.startswith("_") and callable(value) and not inspect.iscoroutinefunction(value):
            calls[name] = getattr(UtilityNk, name)
    return calls


def test_every_nk_call_documents_its_errors_and_an_example():
    # Each call's docstring has an `Errors:` part (what it raises: "<code> <NAME> `message`";
    # "Also ... `nk.x`" for the errors of the calls it makes; "None ..." when it raises nothing of
    # its own) and an `Example:` part, which must parse, call the call it documents, and pass
    # arguments its signature takes (names and count).
    import ast
    import inspect
    import re

    from kizuna.runtime.nk import refgen
    calls = _nk_calls()
    assert len(calls) > 100
    problems = []
    for name, fn in calls.items():
        _, errors, example = refgen.sections(fn.__doc__ or "")
        if not errors:
            problems.append(f"{name}: no Errors: part")
        for item in errors:
            found = refgen.error_code(item)
            if found is None:
                if item.startswith("Also "):  # another call's errors, named `nk.x`
                    named = re.findall(r"`nk\.([a-z_]+)`", item)
                    if not named or any(n not in calls for n in named):
                        problems.append(f"{name}: an 'Also' item names no existing call: {item}")
                elif not item.startswith("None") or len(errors) > 1:
                    problems.append(f"{name}: an error item is not '<code> <NAME> ...': {item}")
                continue
            code, label = found
            if code not in Code._value2member_map_ or Code(code).name != label:
                problems.append(f"{name}: {code} is not {label}")
            if "`" not in item:
                problems.append(f"{name}: an error item without its message: {item}")
        if not example:
            problems.append(f"{name}: no Example: part")
            continue
        try:
            tree = ast.parse(example)
        except SyntaxError as exc:
            problems.append(f"{name}: the example does not parse: {exc}")
            continue
        called = set()
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "nk"):
                continue
            target = node.func.attr
            if target not in calls:
                problems.append(f"{name}: the example calls nk.{target}, which does not exist")
                continue
            called.add(target)
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                    k.arg is None for k in node.keywords):
                continue
            sig = inspect.signature(calls[target])
            params = list(sig.parameters.values())
            if params and params[0].name == "self":
                sig = sig.replace(parameters=params[1:])
            try:
                sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
            except TypeError as exc:
                problems.append(f"{name}: the example's nk.{target}(...) does not fit "
                                f"nk.{target}{sig}: {exc}")
        if name not in called:
            problems.append(f"{name}: the example does not call nk.{name}")
    assert not problems, "\n".join(problems)


# -- the loader ------------------------------------------------------------------------------------


def _context():
    return Context(env={}, execution_mode="run_once", node="n", version="v")


def test_loader_keeps_the_previous_modules_when_a_reload_fails(tmp_path):
    mods = tmp_path / "modules"
    (mods / "pkg").mkdir(parents=True)
    (mods / "pkg" / "__init__.py").write_text("from pkg.inner import VALUE\n")
    (mods / "pkg" / "inner.py").write_text("VALUE = 'v1'\n")
    (mods / "uses_pkg.py").write_text(
        "import pkg\n\ndef f(ctx, logger, nk, payload):\n    return pkg.VALUE\n\n"
        "def init_module(ctx, logger, nk, initializer):\n    initializer.register_rpc('v', f)\n")
    first = load(mods, _context, Nk(None), None)
    assert not first.errors and sorted(first.registry.modules) == ["pkg", "uses_pkg"]
    f1 = first.registry.rpcs["v"].fn
    assert f1(None, None, None, "") == "v1"
    assert not list(mods.rglob("__pycache__"))  # nothing written beside the modules

    before = snapshot(mods)
    (mods / "pkg" / "inner.py").write_text("VALUE = 'v2'\n")
    assert snapshot(mods) != before
    second = load(mods, _context, Nk(None), None)
    assert second.registry.rpcs["v"].fn(None, None, None, "") == "v2"  # fresh, no stale cache

    (mods / "uses_pkg.py").write_text("def init_module(:\n")
    third = load(mods, _context, Nk(None), None)
    assert [str(e).split(": ")[1] for e in third.errors] == ["SyntaxError"]
    assert third.errors[0].line == 1
    # The modules of the last good load are still the importable ones.
    assert sys.modules["pkg"].VALUE == "v2"


def test_the_worked_example_in_the_docs_is_the_file_the_tests_load():
    from tests.conftest import ROOT

    example = (ROOT / "docs" / "examples" / "modules" / "example.py").read_text()
    assert "```python\n" + example + "```" in (ROOT / "docs" / "runtime.md").read_text()
