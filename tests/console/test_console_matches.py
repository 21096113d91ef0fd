"""The console's matches page and API list the authoritative matches a node runs (the
tic-tac-toe example of docs/runtime.md), beside relayed ones."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import free_port, server_on_fresh_database
from tests.console.conftest import (
    ConsoleApi,
    Node,
    http,
    screenshot,
    sign_in,
    wait_for_console,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "modules" / "tictactoe.py"
HTTP_KEY = "console-matches-http-key"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("console-matches")
    modules = tmp / "modules"
    modules.mkdir()
    shutil.copy(EXAMPLE, modules / "tictactoe.py")
    with server_on_fresh_database(tmp, "--console.port", str(port), "--runtime.path",
                                  str(modules), "--runtime.http_key", HTTP_KEY) as srv:
        node = Node(srv, port)
        wait_for_console(node)
        yield node


def test_an_authoritative_match_is_listed_with_its_handler_and_label(node, browser) -> None:
    status, body = http("POST", f"{node.url}/v2/rpc/tictactoe_create?http_key={HTTP_KEY}&unwrap",
                        raw=b"{}")
    assert status == 200, body
    match_id = (json.loads(body["payload"]) if isinstance(body, dict) and "payload" in body
                else body)["match_id"]
    api = ConsoleApi(node.console)
    listed = {m["api_match"]["match_id"]: m for m in api.get("/v2/console/match")["matches"]}
    assert match_id in listed
    m = listed[match_id]["api_match"]
    assert m["authoritative"] is True and m["handler_name"] and m["tick_rate"] >= 1
    one = api.get(f"/v2/console/match/{match_id}")
    assert one["api_match"]["match_id"] == match_id
    status, err = api.call("GET", "/v2/console/match/00000000-0000-0000-0000-000000000000.nope")
    assert (status, err["code"]) == (404, 5)
    sign_in(browser, node.console)
    browser.get(node.console + "/matches")
    row = browser.find_element(By.CSS_SELECTOR, f'#matches tr[data-match="{match_id}"]')
    assert "authoritative" in row.text and m["handler_name"] in row.text
    screenshot(browser, "matches")
