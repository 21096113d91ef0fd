"""The console's Runtime page and API explorer: the modules a node loaded and what each registered
(`GET /v2/console/runtime`), the RPC list (`GET /v2/console/api/endpoints`), and calling an RPC
as a user or with the HTTP key (`POST /v2/console/api/endpoints/rpc/{id}`), through the API and in
a browser, against a real node with a real module."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.conftest import free_port, server_on_fresh_database, write_modules
from tests.console.conftest import ConsoleApi, Node, http, screenshot, sign_in, wait_for
from tests.integration.nakama_http import claims

MODULE = '''
from kizuna.runtime import Error


def echo(ctx, logger, nk, payload):
    return nk.json_encode({
        "payload": payload, "user_id": ctx.user_id, "username": ctx.username,
        "vars": dict(ctx.vars) if ctx.vars is not None else None,
        "mode": ctx.execution_mode,
    })


def refuse(ctx, logger, nk, payload):
    raise Error("no such thing: " + payload, 9)


def before_device(ctx, logger, nk, request):
    return request


def on_tournament_end(ctx, logger, nk, tournament, end, reset):
    pass


def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("Console_Echo", echo)
    initializer.register_rpc("console_refuse", refuse)
    initializer.register_before("AuthenticateDevice", before_device)
    initializer.register_tournament_end(on_tournament_end)
'''

HELPER = "GREETING = 'hi'\n"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    """A node whose runtime.path holds the explorer's test module and a helper module."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("console-runtime")
    modules = write_modules(tmp, kz_console_mod=MODULE, kz_console_helper=HELPER)
    with server_on_fresh_database(tmp, "--console.port", str(port),
                                  "--runtime.path", str(modules)) as srv:
        yield Node(srv, port)


def player(node: Node, prefix: str) -> tuple[str, str]:
    """A new user (device auth on the game API): (user id, username)."""
    username = f"{prefix}{uuid.uuid4().hex[:10]}"
    status, body = http("POST", f"{node.url}/v2/account/authenticate/device?create=true"
                                f"&username={username}", {"id": f"dev-{uuid.uuid4()}"},
                        basic=("defaultkey", ""))
    assert status == 200, body
    return claims(body["token"])["uid"], username


def call(api: ConsoleApi, rpc_id: str, body: dict) -> tuple[int, dict]:
    return api.call("POST", f"/v2/console/api/endpoints/rpc/{rpc_id}", body)


def test_runtime_lists_the_modules_and_what_they_registered(api: ConsoleApi) -> None:
    body = api.get("/v2/console/runtime")
    assert body["lua_modules"] == body["go_modules"] == body["js_modules"] == []
    assert body["py_rpc_functions"] == ["console_echo", "console_refuse"]
    assert body["loaded_at"].endswith("Z") and body["dev"] is False
    mods = {m["name"]: m for m in body["py_modules"]}
    assert set(mods) == {"kz_console_mod", "kz_console_helper"}
    mod = mods["kz_console_mod"]
    assert mod["path"].endswith("kz_console_mod.py") and mod["mod_time"].endswith("Z")
    assert mod["loaded_at"] == body["loaded_at"]
    assert mod["registrations"] == [
        {"kind": "rpc", "name": "console_echo", "function": "echo"},
        {"kind": "rpc", "name": "console_refuse", "function": "refuse"},
        {"kind": "before", "name": "AuthenticateDevice", "function": "before_device"},
        {"kind": "tournament_end", "name": "", "function": "on_tournament_end"},
    ]
    assert mods["kz_console_helper"]["registrations"] == []


def test_endpoints_list_the_rpcs(api: ConsoleApi) -> None:
    body = api.get("/v2/console/api/endpoints")
    assert body == {"endpoints": [], "rpc_endpoints": [
        {"method": "console_echo", "body_template": "", "module": "kz_console_mod"},
        {"method": "console_refuse", "body_template": "", "module": "kz_console_mod"}]}


def test_call_as_a_user_sees_that_user(node: Node, api: ConsoleApi) -> None:
    user_id, username = player(node, "explorer")
    status, body = call(api, "Console_Echo", {"user_id": user_id, "body": '{"x": 1}'})
    assert status == 200, body
    assert body["error_message"] == "" and body["error_code"] == 0
    assert (body["user_id"], body["username"], body["rpc"]) == (user_id, username, "console_echo")
    assert json.loads(body["body"]) == {"payload": '{"x": 1}', "user_id": user_id,
                                        "username": username, "vars": {}, "mode": "rpc"}
    entries = api.get("/v2/console/audit?limit=20")["entries"]
    assert any(e["message"] == f"called rpc console_echo as user {user_id} ({username})"
               for e in entries)


def test_call_with_the_http_key_has_no_user(api: ConsoleApi) -> None:
    status, body = call(api, "console_echo", {"body": "plain"})
    assert status == 200, body
    assert json.loads(body["body"]) == {"payload": "plain", "user_id": None, "username": None,
                                        "vars": None, "mode": "rpc"}
    # An empty user id is the HTTP key too (Nakama's console sends "").
    status, body = call(api, "console_echo", {"user_id": "", "body": ""})
    assert status == 200 and json.loads(body["body"])["user_id"] is None
    # The page's form sends the id in the body.
    status, body = api.call("POST", "/v2/console/api/endpoints/rpc",
                            {"method": "console_echo", "body": "form"})
    assert status == 200 and json.loads(body["body"])["payload"] == "form"


def test_an_rpc_error_is_shown_with_its_code(api: ConsoleApi) -> None:
    status, body = call(api, "console_refuse", {"body": "teapot"})
    assert status == 200, body
    assert body["body"] == ""
    assert (body["error_message"], body["error_code"]) == ("no such thing: teapot", 9)


def test_unknown_rpc_or_user_and_bad_input(api: ConsoleApi) -> None:
    status, body = call(api, "no_such_rpc", {"body": ""})
    assert (status, body["code"]) == (404, 5)
    status, body = call(api, "console_echo", {"user_id": str(uuid.uuid4()), "body": ""})
    assert (status, body["code"]) == (404, 5)
    status, body = call(api, "console_echo", {"user_id": "not-a-uuid", "body": ""})
    assert (status, body["code"]) == (400, 3)
    status, body = call(api, "console_echo", {"body": {"not": "a string"}})
    assert (status, body["code"]) == (400, 3)
    status, body = api.call("POST", "/v2/console/api/endpoints/rpc", {"body": "x"})
    assert (status, body["code"]) == (400, 3)
    # The API needs the operator's token.
    status, body = http("POST", api.base + "/v2/console/api/endpoints/rpc/console_echo", {})
    assert (status, body["code"]) == (401, 16)


def test_runtime_and_explorer_pages(node: Node, browser) -> None:
    user_id, username = player(node, "browser")
    sign_in(browser, node.console)
    browser.get(node.console + "/runtime")
    card = browser.find_element(By.CSS_SELECTOR, "section.module[data-module=kz_console_mod]")
    assert "console_echo" in card.text and "AuthenticateDevice" in card.text
    assert "tournament_end" in card.text
    assert browser.find_element(By.CSS_SELECTOR, "section.module[data-module=kz_console_helper]")
    screenshot(browser, "runtime")

    browser.get(node.console + "/explorer")
    Select(browser.find_element(By.ID, "explorer-rpc")).select_by_value("console_echo")
    browser.find_element(By.ID, "explorer-user").send_keys(user_id)
    browser.find_element(By.ID, "explorer-payload").send_keys('{"hello": "console"}')
    browser.find_element(By.CSS_SELECTOR, "#explorer button[type=submit]").click()
    out = wait_for(browser, lambda d: '"body"' in d.find_element(By.ID, "explorer-output").text
                   and d.find_element(By.ID, "explorer-output"))
    shown = json.loads(out.text)
    assert shown["error_message"] == "" and shown["username"] == username
    assert json.loads(shown["body"])["payload"] == '{"hello": "console"}'
    screenshot(browser, "explorer")

    # An RPC's error is shown too, with its code; an unknown user is flashed as an error.
    Select(browser.find_element(By.ID, "explorer-rpc")).select_by_value("console_refuse")
    browser.find_element(By.CSS_SELECTOR, "#explorer button[type=submit]").click()
    wait_for(browser, lambda d: "no such thing" in d.find_element(By.ID, "explorer-output").text)
    assert json.loads(browser.find_element(By.ID, "explorer-output").text)["error_code"] == 9
    user = browser.find_element(By.ID, "explorer-user")
    user.clear()
    user.send_keys(str(uuid.uuid4()))
    browser.find_element(By.CSS_SELECTOR, "#explorer button[type=submit]").click()
    flash = wait_for(browser, lambda d: d.find_element(By.ID, "flash").is_displayed()
                     and "User not found" in d.find_element(By.ID, "flash").text
                     and d.find_element(By.ID, "flash"))
    assert "code 5" in flash.text
    # Phone width: the form is still usable.
    screenshot(browser, "explorer-phone", phone=True)
