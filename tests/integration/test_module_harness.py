"""kizuna.testing (issue 22): server modules tested without a server, on a real database.

The harness itself (sync and async tests, errors, hooks, events, one file of a directory, the
database's life), and the worked example's own tests (docs/examples/daily_reward), run as a
module author runs them: pytest in a subprocess, with the `kizuna_module` fixture of the plugin.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from kizuna.runtime import Code, Error
from kizuna.testing import HarnessError, LoadFailed, ModuleHarness
from tests.conftest import ROOT, pg_dsn, write_modules

GAME = '''
import helpers
from kizuna.runtime import Code, Error

SHUTDOWN = []


def whoami(ctx, logger, nk, payload):
    return {"user_id": ctx.user_id, "username": ctx.username, "vars": dict(ctx.vars or {}),
            "session_id": ctx.session_id, "mode": ctx.execution_mode, "env": dict(ctx.env)}


def save(ctx, logger, nk, payload):
    acks = nk.storage_write([{"collection": "c", "key": "k", "user_id": ctx.user_id,
                              "value": nk.json_decode(payload)}])
    return acks[0]["version"]


async def load(ctx, logger, nk, payload):
    found = await nk.aio.storage_read([{"collection": "c", "key": "k", "user_id": ctx.user_id}])
    return nk.json_encode(found[0]["value"] if found else None)


def refuse(ctx, logger, nk, payload):
    raise Error("not today", Code.FAILED_PRECONDITION)


def buggy(ctx, logger, nk, payload):
    return {}["missing"]


async def abuggy(ctx, logger, nk, payload):
    raise ZeroDivisionError("async bug")


def before_account(ctx, logger, nk, request):
    if request.get("display_name") == "admin":
        return None
    request["display_name"] = helpers.tidy(request.get("display_name") or "")
    return request


def after_account(ctx, logger, nk, response, request):
    raise Error("after failed", Code.INTERNAL)


def rt_before_join(ctx, logger, nk, message):
    message["persistence"] = False
    return message


def rt_after_join(ctx, logger, nk, out, message):
    nk.storage_write([{"collection": "joins", "key": out["id"], "user_id": ctx.user_id,
                       "value": {"room": message["target"]}}])


def on_event(ctx, logger, nk, event):
    nk.storage_write([{"collection": "events", "key": event["name"], "user_id": ctx.user_id,
                       "value": event["properties"]}])


def on_shutdown(ctx, logger, nk):
    SHUTDOWN.append(ctx.execution_mode)


def init_module(ctx, logger, nk, initializer):
    for name, fn in (("whoami", whoami), ("save", save), ("load", load), ("refuse", refuse),
                     ("buggy", buggy), ("abuggy", abuggy)):
        initializer.register_rpc(name, fn)
    initializer.register_before("UpdateAccount", before_account)
    initializer.register_after("UpdateAccount", after_account)
    initializer.register_rt_before("ChannelJoin", rt_before_join)
    initializer.register_rt_after("ChannelJoin", rt_after_join)
    initializer.register_rt_before("PartyJoin", rt_before_join)
    initializer.register_event(on_event)
    initializer.register_shutdown(on_shutdown)
'''

HELPERS = "def tidy(name):\n    return ' '.join(name.split())\n"


@pytest.fixture
def game(tmp_path: Path) -> Path:
    return write_modules(tmp_path, game=GAME, helpers=HELPERS) / "game.py"


async def _databases() -> set[str]:
    conn = await asyncpg.connect(pg_dsn())
    try:
        return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


def test_a_sync_test_calls_rpcs_hooks_and_nk(game: Path):
    with ModuleHarness(game, env={"MODE": "test"}) as h:
        database = h.database
        assert database in asyncio.run(_databases())
        assert h.registry.modules == ["game"]  # the file asked for; its helper is imported
        alice = h.user("alice")
        assert h.rpc_json("whoami", user_id=alice, vars={"v": "1"}, session_id="s1") == {
            "user_id": alice.id, "username": "alice", "vars": {"v": "1"}, "session_id": "s1",
            "mode": "rpc", "env": {"MODE": "test"}}
        assert h.rpc_json("whoami") == {"user_id": None, "username": None, "vars": {},
                                        "session_id": None, "mode": "rpc",
                                        "env": {"MODE": "test"}}

        version = h.rpc("save", {"hp": 3}, user_id=alice)  # a dict payload is sent as JSON
        assert h.rpc_json("load", user_id=alice) == {"hp": 3}  # an async RPC
        [obj] = h.nk.storage_read([{"collection": "c", "key": "k", "user_id": alice.id}])
        assert (obj["value"], obj["version"]) == ({"hp": 3}, version)

        with pytest.raises(Error) as refused:
            h.rpc("refuse", user_id=alice)
        assert (refused.value.code, refused.value.message) == (Code.FAILED_PRECONDITION,
                                                                "not today")
        with pytest.raises(KeyError, match="missing"):  # a bug reaches the test as it was raised
            h.rpc("buggy")
        with pytest.raises(ZeroDivisionError, match="async bug"):
            h.rpc("abuggy")
        with pytest.raises(HarnessError, match="no RPC 'nope' is registered; registered: abuggy"):
            h.rpc("nope")
        with pytest.raises(TypeError, match="unknown ctx field"):
            h.rpc("whoami", user="alice")

        assert h.before("UpdateAccount", {"display_name": "  Al   Ice "}, user_id=alice) == {
            "display_name": "Al Ice"}
        assert h.before("UpdateAccount", {"display_name": "admin"}, user_id=alice) is None
        with pytest.raises(Error, match="after failed"):  # a server would only log it
            h.after("UpdateAccount", {}, {}, user_id=alice)
        with pytest.raises(HarnessError, match="no before hook is registered for 'GetAccount'"):
            h.before("GetAccount", {})

        assert h.rt_before("ChannelJoin", {"target": "lobby"}, user_id=alice) == {
            "target": "lobby", "persistence": False}
        h.rt_after("channel_join", {"id": "2...lobby"}, {"target": "lobby"}, user_id=alice)
        h.event("level_complete", {"level": "3"}, user_id=alice)
        found = h.nk.storage_read([
            {"collection": "joins", "key": "2...lobby", "user_id": alice.id},
            {"collection": "events", "key": "level_complete", "user_id": alice.id}])
        assert sorted((o["collection"], o["value"]) for o in found) == [
            ("events", {"level": "3"}), ("joins", {"room": "lobby"})]

        def direct(ctx, logger, nk, x):
            return (ctx.execution_mode, ctx.user_id, nk.account_get_id(alice.id)["user"]["id"], x)
        assert h.call(direct, 7, mode="event", user_id=alice) == ("event", alice.id, alice.id, 7)
        assert h.ctx(user_id=alice).username == "alice"
        assert h.warnings == []  # what a server logs at start: every socket message is served
        module = h.module()
    assert module.SHUTDOWN == ["shutdown"]  # shutdown functions ran at close
    assert database not in asyncio.run(_databases())  # and the database is gone


async def test_an_async_test_awaits_the_same_calls(game: Path):
    async with ModuleHarness(game) as h:
        bob = await h.aio.user()
        assert bob.username  # a generated one
        await h.aio.rpc("save", '{"hp": 9}', user_id=bob)
        assert await h.aio.rpc_json("load", user_id=bob) == {"hp": 9}
        [obj] = await h.nk.aio.storage_read([{"collection": "c", "key": "k", "user_id": bob.id}])
        assert obj["value"] == {"hp": 9}
        # The blocking form works too: the runtime's loop is not the test's.
        assert h.nk.storage_read([{"collection": "c", "key": "k", "user_id": bob.id}])
        assert h.nk.json_decode(h.nk.json_encode({"a": 1})) == {"a": 1}
        with pytest.raises(Error) as refused:
            await h.aio.rpc("refuse")
        assert refused.value.code == Code.FAILED_PRECONDITION
        results = await asyncio.gather(*(h.aio.rpc("whoami", user_id=bob) for _ in range(10)))
        assert len(set(results)) == 1


def test_the_fixture_loads_a_directory_or_a_package(kizuna_module, tmp_path: Path):
    mods = write_modules(tmp_path, game=GAME, helpers=HELPERS)
    h = kizuna_module(mods)  # every module of the directory, as runtime.path
    assert h.registry.modules == ["game", "helpers"]
    with pytest.raises(HarnessError, match="name one"):
        h.module()
    assert h.module("helpers").tidy(" a  b ") == "a b"

    pkg = tmp_path / "pkgs" / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from shop.prices import PRICE\n\n"
        "def init_module(ctx, logger, nk, initializer):\n"
        "    initializer.register_rpc('price', lambda ctx, logger, nk, payload: str(PRICE))\n")
    (pkg / "prices.py").write_text("PRICE = 42\n")
    assert kizuna_module(pkg).rpc("price") == "42"


def test_a_module_that_does_not_load_fails_the_harness_and_leaves_no_database(tmp_path: Path):
    bad = write_modules(tmp_path, broken=GAME.replace("import helpers", "import helpers2"))
    harness = ModuleHarness(bad / "broken.py")
    with pytest.raises(LoadFailed, match=r"broken\.py:2: ModuleNotFoundError"):
        harness.start()
    assert harness.database not in asyncio.run(_databases())
    with pytest.raises(HarnessError, match="no such module"):
        ModuleHarness(tmp_path / "missing.py")


def test_the_daily_reward_example_passes_its_own_tests():
    """docs/examples/daily_reward/tests, run as its author runs them."""
    example = ROOT / "docs" / "examples" / "daily_reward"
    plugins = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    # Installed Kizuna registers the plugin; a checkout not reinstalled since names it itself.
    extra = [] if "kizuna" in plugins else ["-p", "kizuna.testing.plugin"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra,
                        str(example / "tests")], capture_output=True, text=True, timeout=240,
                       cwd=example, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout
