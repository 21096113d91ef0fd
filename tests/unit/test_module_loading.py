"""Loading server modules (issue 22): failures in helper modules say which module was loading
them and are reported once; hooks on socket messages the server does not serve yet are warned
about by `kizuna check` and at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from kizuna import config, services
from kizuna.runtime.context import Context
from kizuna.runtime.loader import load, unserved_hooks
from kizuna.runtime.nk import Nk
from kizuna.services import build, served_socket_kinds
from kizuna.wire import methods
from tests.conftest import run_kizuna, write_modules

INIT = "def init_module(ctx, logger, nk, initializer):\n"
USES_HELPERS = "import helpers\n\n" + INIT + "    pass\n"
HOOKS = (
    "def before(ctx, logger, nk, message):\n    return message\n\n"
    "def after(ctx, logger, nk, out, message):\n    pass\n\n"
    + INIT
    + "    initializer.register_rt_before('PartyJoin', before)\n"
    "    initializer.register_rt_after('PartyCreate', after)\n"
    "    initializer.register_rt_before('ChannelJoin', before)\n"
    "    initializer.register_rt_after('ChannelJoin', after)\n"
)


def _context() -> Context:
    return Context(env={}, execution_mode="run_once", node="n", version="v")


def _load(mods: Path):
    return load(mods, _context, Nk(None), None, check=True)


def test_an_error_in_a_helper_names_the_module_loading_it_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mods = write_modules(tmp_path, game=USES_HELPERS, helpers="X = 1\ny = undefined_name\n")
    result = _load(mods)
    # game imports helpers first (name order); helpers' own load meets the same failure.
    assert [str(e) for e in result.errors] == [
        "modules/helpers.py:2: NameError: name 'undefined_name' is not defined "
        "(while loading module game: modules/game.py:1)"]
    assert sorted(result.failed) == ["game", "helpers"]


def test_a_syntax_error_in_a_helper_is_reported_once_with_every_importer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mods = write_modules(tmp_path, game=USES_HELPERS, a_shop="\n" + USES_HELPERS,
                         helpers="def f(:\n    pass\n")
    result = _load(mods)
    assert [str(e) for e in result.errors] == [
        "modules/helpers.py:1: SyntaxError: invalid syntax (while loading module a_shop: "
        "modules/a_shop.py:2; module game: modules/game.py:1)"]
    assert sorted(set(result.failed)) == ["a_shop", "game", "helpers"]


def test_a_helper_loaded_first_and_failing_is_reported_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mods = write_modules(tmp_path, zgame=USES_HELPERS, helpers="def f(:\n    pass\n")
    result = _load(mods)
    assert [str(e) for e in result.errors] == [
        "modules/helpers.py:1: SyntaxError: invalid syntax "
        "(while loading module zgame: modules/zgame.py:1)"]


def test_an_error_raised_by_a_helper_called_from_init_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mods = write_modules(
        tmp_path, game="import helpers\n\n" + INIT + "    helpers.setup()\n",
        helpers="def setup():\n    raise ValueError('no config')\n")
    result = _load(mods)
    assert [str(e) for e in result.errors] == [
        "modules/helpers.py:2: ValueError: no config (while loading module game: modules/game.py:4)"]
    assert result.failed == ["game"]  # helpers itself loads
    assert result.notes == {"helpers": "no init_module (a helper module)"}


def test_an_error_in_the_module_itself_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mods = write_modules(tmp_path, game=INIT + "    nk2.x()\n")
    assert [str(e) for e in _load(mods).errors] == [
        "modules/game.py:2: NameError: name 'nk2' is not defined"]


def test_only_loads_the_modules_named(tmp_path):
    mods = write_modules(tmp_path, game=USES_HELPERS.replace("pass", "helpers.X"),
                         helpers="X = 1\n", other=INIT + "    raise RuntimeError\n")
    result = load(mods, _context, Nk(None), None, only=["game"])
    assert not result.errors and result.registry.modules == ["game"]


# Every socket message a client may send is served since parties landed: the warnings below are
# checked as a release without party_join and party_create would give them.
NOT_SERVED = frozenset({"party_join", "party_create"})


def test_hooks_on_socket_messages_not_served_yet_are_warned_about(tmp_path):
    assert served_socket_kinds() == methods.CLIENT_KINDS
    served = served_socket_kinds() - NOT_SERVED
    assert {"channel_join", "match_data_send", "status_follow", "rpc"} <= served
    result = _load(write_modules(tmp_path, game=HOOKS))
    assert unserved_hooks(result.registry, None, served) == [
        "module game: rt before PartyJoin: this server does not serve the socket message "
        "PartyJoin yet: the hook runs, then the message is refused "
        '("party_join is not supported by this server yet")',
        "module game: rt after PartyCreate: this server does not serve the socket message "
        "PartyCreate yet: the message is refused and the hook never runs "
        '("party_create is not supported by this server yet")']
    assert unserved_hooks(result.registry, None, None) == []


def test_the_server_warns_at_start(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(services, "served_socket_kinds",
                        lambda: methods.CLIENT_KINDS - NOT_SERVED)
    cfg = config.load(["--runtime.path", str(write_modules(tmp_path, game=HOOKS))], env={})
    runtime = build(cfg, None).runtime  # the graph a node builds (no database needed to load)

    async def start_and_stop() -> None:
        await runtime.start()
        await runtime.stop()

    with caplog.at_level(logging.WARNING, logger="kizuna.runtime"):
        asyncio.run(start_and_stop())
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert warned[0].startswith("module game: rt before PartyJoin: this server does not "
                                "serve the socket message PartyJoin yet")
    assert warned[1].startswith("module game: rt after PartyCreate:")


def test_kizuna_check_warns_and_reports_a_helper_error_once(tmp_path):
    mods = write_modules(tmp_path, game=HOOKS)
    r = run_kizuna("check", "--runtime.path", str(mods), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning ")]
    assert warnings == []  # every socket message is served: hooks on any of them run

    (mods / "shop.py").write_text(USES_HELPERS)
    (mods / "helpers.py").write_text("def f(:\n    pass\n")
    r = run_kizuna("check", "--runtime.path", str(mods), "--logger.stdout", "false", cwd=tmp_path)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error ")]
    assert errors == ["error modules/helpers.py:1: SyntaxError: invalid syntax (while loading "
                      "module shop: modules/shop.py:1)"]
    assert "2 of 3 module(s) failed to load" in r.stderr
