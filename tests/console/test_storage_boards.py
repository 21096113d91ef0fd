"""The console's Storage, Leaderboards, Tournaments and Matches areas, against a real node: the
collections and objects of any owner (pagination, filters), an object's edit with its version
(a stale one refused, the value kept), creation and deletion; boards and tournaments created by a
runtime module, their records with ranks, an operator's delete of a record; the relayed matches of
the node; and the pages in a real browser.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from tests.conftest import free_port, server_on_fresh_database, write_modules
from tests.console.conftest import (
    ConsoleApi,
    Node,
    http,
    screenshot,
    sign_in,
    wait_for,
    wait_for_console,
)

NIL = "00000000-0000-0000-0000-000000000000"
HTTP_KEY = "consolehttpkey"
SERVER_KEY = "defaultkey"

MODULE = textwrap.dedent('''
    def init_module(ctx, logger, nk, initializer):
        nk.leaderboard_create("console_weekly", False, "desc", "best", "0 0 * * 1",
                              {"season": 3}, True)
        nk.leaderboard_create("console_auth", True, "asc", "set", "", None, True)
        nk.tournament_create("console_cup", False, "desc", "best", duration=86400,
                             metadata={"prize": "gold"}, title="Console Cup",
                             description="A cup for the console's tests", category=2,
                             max_size=50, max_num_score=5, enable_ranks=True)
        initializer.register_rpc("console_auth_write", auth_write)


    def auth_write(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        nk.leaderboard_record_write("console_auth", p["owner_id"], p.get("username"), p["score"])
        return "{}"
''')


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    """A node whose runtime module creates two leaderboards and a tournament."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("console-storage-boards")
    modules = write_modules(tmp, kz_console_boards=MODULE)
    with server_on_fresh_database(tmp, "--console.port", str(port), "--runtime.path",
                                  str(modules), "--runtime.http_key", HTTP_KEY) as srv:
        node = Node(srv, port)
        wait_for_console(node)
        yield node


# -- helpers -------------------------------------------------------------------------------------


def player(node: Node) -> tuple[str, str, str]:
    """A new game user: (session token, user id, username)."""
    status, body = http("POST", node.url + "/v2/account/authenticate/device?create=true",
                        {"id": f"console-dev-{uuid.uuid4()}"}, basic=(SERVER_KEY, ""))
    assert status == 200, body
    token = body["token"]
    status, account = http("GET", node.url + "/v2/account", token=token)
    assert status == 200, account
    return token, account["user"]["id"], account["user"]["username"]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def obj_path(collection: str, key: str, user_id: str) -> str:
    return "/v2/console/storage/" + "/".join(quote(p, safe="") for p in (collection, key, user_id))


def create(api: ConsoleApi, collection: str, key: str, value: Any, user_id: str = "",
           **extra: Any) -> dict:
    body = {"collection": collection, "key": key, "value": value, **extra}
    if user_id:
        body["user_id"] = user_id
    status, ack = api.call("POST", "/v2/console/storage", body)
    assert status == 200, ack
    return ack


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def text_of(driver, element_id: str) -> str:
    """An element's text, "" while the page (re)loads."""
    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


# -- storage API ---------------------------------------------------------------------------------


def test_collections_are_listed_in_order_with_pages(node: Node, api: ConsoleApi) -> None:
    prefix = unique("coll")
    names = [f"{prefix}_{c}" for c in "cab"]
    for name in names:
        create(api, name, "k", {"n": 1})
    listed = api.get("/v2/console/storage/collections")["collections"]
    mine = [n for n in listed if n.startswith(prefix)]
    assert mine == sorted(names)
    # Pages of one: every name exactly once, in order.
    seen, cursor = [], ""
    for _ in range(50):
        body = api.get("/v2/console/storage/collections?limit=1"
                       + (f"&cursor={cursor}" if cursor else ""))
        seen += body["collections"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(set(seen)) and set(names) <= set(seen)
    status, body = api.call("GET", "/v2/console/storage/collections?cursor=nonsense")
    assert (status, body["code"]) == (400, 3)


def test_objects_list_pages_and_filters_by_owner(node: Node, api: ConsoleApi) -> None:
    _, alice, _ = player(node)
    _, bob, _ = player(node)
    coll = unique("inventory")
    for i in range(3):
        create(api, coll, f"a{i}", {"i": i}, alice, permission_read=i % 3)
    for i in range(2):
        create(api, coll, f"b{i}", {"i": i}, bob)
    create(api, coll, "sys", {"system": True})

    body = api.get(f"/v2/console/storage?collection={coll}")
    assert body["total_count"] == 6 and body["total_count_exact"] is True
    assert [o["key"] for o in body["objects"]] == ["a0", "a1", "a2", "b0", "b1", "sys"]
    assert body["next_cursor"] == ""
    sys_obj = body["objects"][-1]
    assert sys_obj["user_id"] == NIL and json.loads(sys_obj["value"]) == {"system": True}
    assert sys_obj["version"] and sys_obj["permission_read"] == 1

    # Pages of two, keyset: every object once.
    keys, cursor, pages = [], "", 0
    while True:
        page = api.get(f"/v2/console/storage?collection={coll}&limit=2"
                       + (f"&cursor={cursor}" if cursor else ""))
        pages += 1
        assert len(page["objects"]) <= 2 and page["total_count"] == 6
        keys += [o["key"] for o in page["objects"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and keys == ["a0", "a1", "a2", "b0", "b1", "sys"]

    # One owner (ordered by read permission, then key), with pages too.
    body = api.get(f"/v2/console/storage?collection={coll}&user_id={alice}")
    assert body["total_count"] == 3
    assert [(o["permission_read"], o["key"]) for o in body["objects"]] == [
        (0, "a0"), (1, "a1"), (2, "a2")]
    first = api.get(f"/v2/console/storage?collection={coll}&user_id={alice}&limit=2")
    rest = api.get(f"/v2/console/storage?collection={coll}&user_id={alice}&limit=2"
                   f"&cursor={first['next_cursor']}")
    assert [o["key"] for o in first["objects"] + rest["objects"]] == ["a0", "a1", "a2"]
    # An owner across collections; an exact key across owners.
    body = api.get(f"/v2/console/storage?user_id={bob}")
    assert [(o["collection"], o["key"]) for o in body["objects"]] == [(coll, "b0"), (coll, "b1")]
    body = api.get(f"/v2/console/storage?collection={coll}&key=b1")
    assert [(o["key"], o["user_id"]) for o in body["objects"]] == [("b1", bob)]
    # Everything, unfiltered: includes these, in (collection, key, owner) order.
    everything = api.get("/v2/console/storage?limit=1000")["objects"]
    order = [(o["collection"], o["key"], o["user_id"]) for o in everything]
    assert order == sorted(order) and (coll, "sys", NIL) in order

    for query, message in ((f"collection={coll}&user_id=not-a-uuid", "Invalid user ID"),
                           ("key=b1", "collection is required"),
                           (f"collection={coll}&cursor=zzz", "Malformed cursor"),
                           (f"collection={coll}&limit=0", "Invalid limit")):
        status, body = api.call("GET", f"/v2/console/storage?{query}")
        assert (status, body["code"]) == (400, 3) and message in body["message"], (query, body)


def test_view_edit_with_versions_and_delete(node: Node, api: ConsoleApi) -> None:
    _, owner, _ = player(node)
    coll = unique("profiles")
    ack = create(api, coll, "main", '{"level": 1}', owner, permission_read=2,
                 permission_write=0)
    assert ack["version"] == md5('{"level": 1}') and ack["user_id"] == owner
    path = obj_path(coll, "main", owner)
    obj = api.get(path)
    assert obj == {**obj, "collection": coll, "key": "main", "user_id": owner,
                   "version": md5('{"level": 1}'), "permission_read": 2, "permission_write": 0}
    assert json.loads(obj["value"]) == {"level": 1}
    assert obj["create_time"].endswith("Z") and obj["update_time"].endswith("Z")

    # The right version: written (permission_write 0 does not stop the operator).
    new_value = '{"level": 2, "name": "Ada"}'
    status, ack = api.call("PUT", path, {"value": new_value, "version": obj["version"],
                                         "permission_read": 1, "permission_write": 1})
    assert status == 200, ack
    assert ack["version"] == md5(new_value) != obj["version"]
    after = api.get(path)
    assert json.loads(after["value"]) == {"level": 2, "name": "Ada"}
    assert (after["version"], after["permission_read"], after["permission_write"]) == (
        md5(new_value), 1, 1)

    # A stale version: refused with the storage engine's error, the value unchanged.
    status, body = api.call("PUT", path, {"value": '{"level": 99}', "version": obj["version"]})
    assert (status, body["code"]) == (400, 3)
    assert body["message"] == "Storage write rejected - version check failed."
    assert api.get(path) == after

    # A value given as an object is written too; no version: overwritten.
    status, ack = api.call("PUT", path, {"value": {"level": 3}})
    assert status == 200 and json.loads(api.get(path)["value"]) == {"level": 3}

    # Bad values: code 3, nothing written.
    current = api.get(path)
    for bad in ("{not json", "[1, 2]", "", 42, None):
        status, body = api.call("PUT", path, {"value": bad, "version": current["version"]})
        assert (status, body["code"]) == (400, 3), (bad, body)
    status, body = api.call("PUT", path, {"value": "{}", "permission_read": 7})
    assert (status, body["code"]) == (400, 3) and "Read permission" in body["message"]
    assert api.get(path) == current

    # Creating over an existing object is refused (version "*" by default).
    status, body = api.call("POST", "/v2/console/storage",
                            {"collection": coll, "key": "main", "user_id": owner, "value": "{}"})
    assert (status, body["code"]) == (400, 3)

    # Delete: a stale version is refused; the right one deletes; then it is gone.
    status, body = api.call("DELETE", path + "?version=" + obj["version"])
    assert (status, body["code"]) == (400, 3)
    status, _ = api.call("DELETE", path + "/" + current["version"])
    assert status == 200
    status, body = api.call("GET", path)
    assert (status, body["code"]) == (404, 5)
    status, body = api.call("DELETE", path)
    assert (status, body["code"]) == (404, 5)

    # Unknown objects and owners; bad owners.
    status, body = api.call("GET", obj_path(coll, "nothing", NIL))
    assert (status, body["code"]) == (404, 5)
    status, body = api.call("PUT", obj_path(coll, "nothing", owner),
                            {"value": "{}", "version": "abc"})
    assert (status, body["code"]) == (404, 5)
    status, body = api.call("PUT", obj_path(coll, "x", str(uuid.uuid4())), {"value": "{}"})
    assert (status, body["code"]) == (404, 5)
    status, body = api.call("GET", obj_path(coll, "x", "not-a-uuid"))
    assert (status, body["code"]) == (400, 3)
    status, body = http("PUT", node.console + path, token=api.token, raw=b"{broken")
    assert (status, body["code"]) == (400, 3)


def test_system_objects_and_names_with_slashes(api: ConsoleApi) -> None:
    coll = unique("config/with slash")
    create(api, coll, "a/b c", {"motd": "hello"})
    path = obj_path(coll, "a/b c", NIL)
    assert json.loads(api.get(path)["value"]) == {"motd": "hello"}
    status, _ = api.call("PUT", path, {"value": {"motd": "bye"}})
    assert status == 200 and json.loads(api.get(path)["value"]) == {"motd": "bye"}
    assert api.call("DELETE", path)[0] == 200


def test_storage_changes_are_in_the_audit_log(api: ConsoleApi) -> None:
    coll = unique("audited")
    create(api, coll, "k", {"x": 1})
    api.call("PUT", obj_path(coll, "k", NIL), {"value": {"x": 2}})
    api.call("DELETE", obj_path(coll, "k", NIL))
    entries = api.get("/v2/console/audit?limit=100")["entries"]
    messages = [e["message"] for e in entries if e["metadata"].get("collection") == coll]
    assert any(m.startswith("created storage object") for m in messages)
    assert any(m.startswith("wrote storage object") for m in messages)
    assert any(m.startswith("deleted storage object") for m in messages)


# -- leaderboards and tournaments ----------------------------------------------------------------


def write_score(node: Node, token: str, board: str, score: int, subscore: int = 0) -> None:
    status, body = http("POST", f"{node.url}/v2/leaderboard/{board}", {
        "score": str(score), "subscore": str(subscore)}, token=token)
    assert status == 200, body


def test_leaderboards_list_detail_and_records(node: Node, api: ConsoleApi) -> None:
    body = api.get("/v2/console/leaderboard")
    by_id = {b["id"]: b for b in body["leaderboards"]}
    assert {"console_weekly", "console_auth", "console_cup"} <= set(by_id)
    assert body["total"] == len(body["leaderboards"])
    weekly = by_id["console_weekly"]
    assert weekly == {**weekly, "sort_order": 1, "operator": 0, "operator_name": "best",
                      "reset_schedule": "0 0 * * 1", "authoritative": False,
                      "tournament": False, "enable_ranks": True}
    assert json.loads(weekly["metadata"]) == {"season": 3} and weekly["next_reset"] > 0
    assert by_id["console_cup"]["tournament"] is True
    boards = api.get("/v2/console/leaderboard?tournament=false")["leaderboards"]
    assert "console_cup" not in {b["id"] for b in boards}
    first = api.get("/v2/console/leaderboard?limit=1")
    assert len(first["leaderboards"]) == 1 and first["cursor"]
    second = api.get(f"/v2/console/leaderboard?limit=1&cursor={first['cursor']}")
    assert second["leaderboards"][0]["id"] > first["leaderboards"][0]["id"]

    players = [player(node) for _ in range(5)]
    for i, (token, _, _) in enumerate(players):
        write_score(node, token, "console_weekly", 100 + i * 10, i)
    detail = api.get("/v2/console/leaderboard/console_weekly")
    assert detail["rank_count"] == 5
    page = api.get("/v2/console/leaderboard/console_weekly/records?limit=2")
    assert [r["score"] for r in page["records"]] == ["140", "130"]
    assert [r["rank"] for r in page["records"]] == ["1", "2"]
    assert page["rank_count"] == "5" and page["next_cursor"]
    page2 = api.get(f"/v2/console/leaderboard/console_weekly/records?limit=2"
                    f"&cursor={page['next_cursor']}")
    assert [(r["score"], r["rank"]) for r in page2["records"]] == [("120", "3"), ("110", "4")]
    _, some_owner, some_name = players[0]
    owned = api.get(f"/v2/console/leaderboard/console_weekly/records?limit=1"
                    f"&owner_id={some_owner}")
    assert [(r["owner_id"], r["username"], r["rank"]) for r in owned["owner_records"]] == [
        (some_owner, some_name, "5")]

    # An operator deletes a record, on an authoritative board too.
    status, _ = api.call("DELETE", f"/v2/console/leaderboard/console_weekly/owner/{some_owner}")
    assert status == 200
    page = api.get("/v2/console/leaderboard/console_weekly/records?limit=10")
    assert some_owner not in {r["owner_id"] for r in page["records"]}
    assert page["rank_count"] == "4"
    status, body = api.call("DELETE",
                            f"/v2/console/leaderboard/console_weekly/owner/{some_owner}")
    assert (status, body["code"]) == (404, 5)
    status, out = http("POST", f"{node.url}/v2/rpc/console_auth_write?http_key={HTTP_KEY}",
                       raw=json.dumps(json.dumps({"owner_id": some_owner, "score": 7})).encode())
    assert status == 200, out
    assert len(api.get("/v2/console/leaderboard/console_auth/records")["records"]) == 1
    status, _ = api.call("DELETE", f"/v2/console/leaderboard/console_auth/owner/{some_owner}")
    assert status == 200
    assert api.get("/v2/console/leaderboard/console_auth/records").get("records", []) == []
    entries = api.get("/v2/console/audit?limit=50")["entries"]
    assert any(e["message"] == f"deleted the leaderboard record of {some_owner} on console_auth"
               for e in entries)

    for path, code, status_ in (("/v2/console/leaderboard/nope", 5, 404),
                                ("/v2/console/leaderboard/nope/records", 5, 404),
                                ("/v2/console/leaderboard/console_weekly/records?cursor=bad",
                                 3, 400),
                                ("/v2/console/leaderboard/console_weekly/records?owner_id=x",
                                 3, 400),
                                ("/v2/console/leaderboard?cursor=bad", 3, 400)):
        status, body = api.call("GET", path)
        assert (status, body["code"]) == (status_, code), (path, body)
    status, body = api.call("DELETE", "/v2/console/leaderboard/console_weekly/owner/not-a-uuid")
    assert (status, body["code"]) == (400, 3)


def test_tournaments_detail_and_records(node: Node, api: ConsoleApi) -> None:
    # A tournament created with start time 0 starts "now", stored rounded to the nearest second:
    # it may open up to half a second after the node is up.
    deadline = time.monotonic() + 5
    while not (cup := api.get("/v2/console/leaderboard/console_cup"))["can_enter"]:
        assert time.monotonic() < deadline, cup
        time.sleep(0.1)
    assert cup == {**cup, "tournament": True, "title": "Console Cup", "category": 2,
                   "duration": 86400, "max_size": 50, "max_num_score": 5, "can_enter": True}
    assert cup["start_active"] > 0 and cup["end_active"] == cup["start_active"] + 86400
    before = cup["size"]
    token, uid, _ = player(node)
    status, body = http("POST", f"{node.url}/v2/tournament/console_cup", {"score": "42"},
                        token=token)
    assert status == 200, body
    cup = api.get("/v2/console/leaderboard/console_cup")
    assert cup["size"] == before + 1
    records = api.get("/v2/console/leaderboard/console_cup/records")["records"]
    assert [(r["owner_id"], r["score"]) for r in records if r["owner_id"] == uid] == [(uid, "42")]
    tournaments = api.get("/v2/console/leaderboard?tournament=true")["leaderboards"]
    assert [t["id"] for t in tournaments] == ["console_cup"]
    status, _ = api.call("DELETE", f"/v2/console/leaderboard/console_cup/owner/{uid}")
    assert status == 200
    records = api.get("/v2/console/leaderboard/console_cup/records").get("records", [])
    assert uid not in {r["owner_id"] for r in records}


# -- matches -------------------------------------------------------------------------------------


def test_relayed_matches_are_listed_with_their_presences(node: Node, api: ConsoleApi) -> None:
    token, uid, username = player(node)
    ws_url = node.url.replace("http://", "ws://") + f"/ws?token={token}"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
            await ws.send_json({"cid": "1", "match_create": {}})
            while True:
                msg = await ws.receive_json(timeout=10)
                if msg.get("cid") == "1":
                    break
            match_id = msg["match"]["match_id"]
            body = await asyncio.to_thread(api.get, "/v2/console/match")
            [m] = [m for m in body["matches"] if m["api_match"]["match_id"] == match_id]
            assert m["api_match"]["size"] == 1 and m["api_match"]["authoritative"] is False
            assert [(p["user_id"], p["username"]) for p in m["presences"]] == [(uid, username)]
            one = await asyncio.to_thread(api.get, f"/v2/console/match/{match_id}")
            assert one["api_match"]["match_id"] == match_id
            status, page = await asyncio.to_thread(
                http, "GET", node.console + "/matches",
                headers={"Cookie": f"kizuna_console={api.token}"})
            assert status == 200 and match_id in page and username in page
            assert "relayed" in page

    asyncio.run(scenario())
    status, body = api.call("GET", f"/v2/console/match/{uuid.uuid4()}.")
    assert (status, body["code"]) == (404, 5)
    status, body = api.call("GET", "/v2/console/match?cursor=bad")
    assert (status, body["code"]) == (400, 3)


# -- pages ---------------------------------------------------------------------------------------


def test_pages_answer_errors_in_the_error_page(node: Node, api: ConsoleApi) -> None:
    cookie = {"Cookie": f"kizuna_console={api.token}"}
    for path, status_ in ((f"/storage/x/y/{NIL}", 404), ("/storage/x/y/not-a-uuid", 400),
                          ("/storage?user_id=bad", 400), ("/leaderboards/nope", 404),
                          ("/tournaments/nope", 404), ("/storage?cursor=bad", 400)):
        status, page = http("GET", node.console + path, headers=cookie)
        assert status == status_ and "Code " in page, (path, status)
    for path in ("/storage", "/leaderboards", "/tournaments", "/matches",
                 "/leaderboards/console_weekly", "/tournaments/console_cup"):
        status, page = http("GET", node.console + path, headers=cookie)
        assert status == 200, (path, page)


def test_storage_edit_in_a_browser(node: Node, api: ConsoleApi, browser) -> None:
    _, owner, _ = player(node)
    coll = unique("browser_saves")
    create(api, coll, "slot1", {"hp": 10, "items": ["sword"]}, owner)
    create(api, coll, "slot2", {"hp": 5}, owner)
    sign_in(browser, node.console)
    browser.find_element(By.LINK_TEXT, "Storage").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "collections"))
    browser.find_element(By.LINK_TEXT, coll).click()
    wait_for(browser, lambda d: f"collection={coll}" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#objects tbody tr[data-key]")
    assert [r.get_attribute("data-key") for r in rows] == ["slot1", "slot2"]
    screenshot(browser, "storage")
    browser.find_element(By.LINK_TEXT, "slot1").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "object-version"))
    old_version = browser.find_element(By.ID, "object-version").text
    assert '"sword"' in browser.find_element(By.ID, "object-value").text
    screenshot(browser, "storage-object")

    # Edit the value, save: the page reloads with the new value and version.
    area = browser.find_element(By.CSS_SELECTOR, "#edit-object textarea[name=value]")
    area.clear()
    area.send_keys('{"hp": 11, "items": ["sword", "shield"]}')
    browser.find_element(By.CSS_SELECTOR, "#edit-object button[type=submit]").click()
    wait_for(browser, lambda d: text_of(d, "object-version") not in ("", old_version))
    new_version = text_of(browser, "object-version")
    assert new_version == md5('{"hp": 11, "items": ["sword", "shield"]}')
    assert '"shield"' in browser.find_element(By.ID, "object-value").text
    wait_for(browser, lambda d: "Saved." in text_of(d, "flash"))

    # Someone else changes it; this page's edit carries the old version and is refused.
    status, _ = api.call("PUT", obj_path(coll, "slot1", owner), {"value": {"hp": 50}})
    assert status == 200
    area = browser.find_element(By.CSS_SELECTOR, "#edit-object textarea[name=value]")
    area.clear()
    area.send_keys('{"hp": 0}')
    browser.find_element(By.CSS_SELECTOR, "#edit-object button[type=submit]").click()
    wait_for(browser, lambda d: "version check failed" in text_of(d, "flash"))
    assert "code 3" in text_of(browser, "flash")
    assert text_of(browser, "object-version") == new_version  # the page did not reload
    assert json.loads(api.get(obj_path(coll, "slot1", owner))["value"]) == {"hp": 50}
    browser.refresh()
    wait_for(browser, lambda d: '"hp": 50' in text_of(d, "object-value"))


def test_leaderboard_and_tournament_pages_in_a_browser(node: Node, api: ConsoleApi,
                                                       browser) -> None:
    token, uid, username = player(node)
    write_score(node, token, "console_weekly", 999)
    sign_in(browser, node.console)
    browser.find_element(By.LINK_TEXT, "Leaderboards").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "leaderboards"))
    ids = [r.get_attribute("data-id") for r in
           browser.find_elements(By.CSS_SELECTOR, "#leaderboards tbody tr[data-id]")]
    assert "console_weekly" in ids and "console_cup" not in ids
    browser.find_element(By.LINK_TEXT, "console_weekly").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "records"))
    top = browser.find_element(By.CSS_SELECTOR, "#records tbody tr[data-owner]")
    assert top.get_attribute("data-owner") == uid and username in top.text and "999" in top.text
    screenshot(browser, "leaderboard")
    browser.get(node.console + "/tournaments")
    browser.find_element(By.LINK_TEXT, "console_cup").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "tournament-fields"))
    assert "Console Cup" in browser.find_element(By.TAG_NAME, "h1").text
    assert "open" in browser.find_element(By.ID, "current-period").text
    screenshot(browser, "tournament")
    browser.get(node.console + "/matches")
    assert "authoritative matches the server modules run" in browser.find_element(By.TAG_NAME, "main").text
