"""The console's Accounts area, against a real node: the search by every key (and the smart box),
its pages, one account and its sections, the edit (the game API's validation, in one
transaction), ban and unban (the game API refuses a banned player at once, and its socket is
closed), log out everywhere, delete (with and without the tombstone), the export, the errors;
and the pages in a real browser.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

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
from tests.integration.nakama_http import sql

NIL = "00000000-0000-0000-0000-000000000000"
SERVER_KEY = "defaultkey"
BANNED = {"code": 7, "message": "User account banned."}

MODULE = textwrap.dedent('''
    def init_module(ctx, logger, nk, initializer):
        nk.leaderboard_create("accounts_board", False, "desc", "best", "", None, True)
''')


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    """A node whose runtime module creates a leaderboard (for the export's records)."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("console-accounts")
    modules = write_modules(tmp, kz_console_accounts=MODULE)
    with server_on_fresh_database(tmp, "--console.port", str(port), "--runtime.path",
                                  str(modules)) as srv:
        node = Node(srv, port)
        wait_for_console(node)
        yield node


# -- helpers -------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def authenticate(node: Node, kind: str, body: dict[str, Any],
                 username: str | None = None) -> tuple[int, Any]:
    query = "?create=true" + (f"&username={quote(username)}" if username else "")
    return http("POST", f"{node.url}/v2/account/authenticate/{kind}{query}", body,
                basic=(SERVER_KEY, ""))


def player(node: Node, username: str | None = None, device: str | None = None
           ) -> tuple[str, str, str, str]:
    """A new game user signed in by a device: (session token, user id, username, device id)."""
    device = device or f"acc-dev-{uuid.uuid4()}"
    status, body = authenticate(node, "device", {"id": device}, username)
    assert status == 200, body
    status, account = http("GET", node.url + "/v2/account", token=body["token"])
    assert status == 200, account
    return body["token"], account["user"]["id"], account["user"]["username"], device


def search(api: ConsoleApi, filter_: str = "", field: str = "", **extra: Any) -> dict[str, Any]:
    params = {"filter": filter_, "field": field, **extra}
    qs = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items() if v != "")
    return api.get("/v2/console/account" + (f"?{qs}" if qs else ""))


def names(body: dict[str, Any]) -> list[str]:
    return [u["username"] for u in body.get("users", [])]


def audit_messages(api: ConsoleApi) -> list[str]:
    return [e["message"] for e in api.get("/v2/console/audit?limit=100")["entries"]]


def text_of(driver, element_id: str) -> str:
    """An element's text, "" while the page (re)loads."""
    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


# -- search --------------------------------------------------------------------------------------


def test_search_by_each_key_and_by_the_smart_box(node: Node, api: ConsoleApi) -> None:
    prefix = unique("srch")
    _, uid, username, device = player(node, f"{prefix}_dev")
    custom = f"custom-{prefix}"
    status, body = authenticate(node, "custom", {"id": custom}, f"{prefix}_custom")
    assert status == 200, body
    email = f"{prefix}@Example.com"
    status, body = authenticate(node, "email", {"email": email, "password": "password123"},
                                f"{prefix}_mail")
    assert status == 200, body

    assert names(search(api, uid, "user_id")) == [username]
    body = search(api, prefix, "username")
    assert names(body) == sorted([f"{prefix}_custom", f"{prefix}_dev", f"{prefix}_mail"])
    assert body["total_count"] == 3 and body["total_count_exact"] is True
    assert body["field"] == "username" and body["next_cursor"] == ""
    assert names(search(api, f"{prefix}_d", "username")) == [f"{prefix}_dev"]
    assert names(search(api, device, "device_id")) == [username]
    assert names(search(api, custom, "custom_id")) == [f"{prefix}_custom"]
    # Emails: exact or prefix, whatever the case (they are stored in lower case).
    assert names(search(api, email.upper(), "email")) == [f"{prefix}_mail"]
    assert names(search(api, prefix.upper(), "email")) == [f"{prefix}_mail"]
    assert names(search(api, "nobody-" + prefix, "username")) == []
    assert search(api, "nobody-" + prefix, "username")["total_count"] == 0

    # The smart box: a UUID is a user id, "@" an email, a device or custom id exactly, else a
    # username prefix.
    assert names(search(api, uid)) == [username]
    assert search(api, uid)["field"] == "user_id"
    assert names(search(api, f"{prefix}@")) == [f"{prefix}_mail"]
    assert names(search(api, device)) == [username]
    assert names(search(api, custom)) == [f"{prefix}_custom"]
    assert names(search(api, prefix)) == sorted([f"{prefix}_custom", f"{prefix}_dev",
                                                 f"{prefix}_mail"])

    # The whole listing: every account, never the system user, a count.
    body = search(api, limit=500)
    ids = [u["id"] for u in body["users"]]
    assert uid in ids and NIL not in ids and ids == sorted(ids)
    assert body["total_count"] >= 3

    # Bad searches are the caller's mistake.
    for params in ({"filter": "not-a-uuid", "field": "user_id"}, {"filter": "x", "field": "zz"},
                   {"limit": "0"}, {"limit": "501"}, {"cursor": "bad"}):
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        status, err = api.call("GET", f"/v2/console/account?{qs}")
        assert (status, err["code"]) == (400, 3), (params, err)


def test_search_pages_through_prefixes_and_the_whole_listing(node: Node,
                                                              api: ConsoleApi) -> None:
    prefix = unique("page")
    made = sorted(player(node, f"{prefix}_{i}")[2] for i in range(5))
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        body = search(api, prefix, "username", limit=2, cursor=cursor)
        assert len(body["users"]) <= 2 and body["total_count"] == 5
        seen += names(body)
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == made
    # A cursor belongs to its search.
    first = search(api, prefix, "username", limit=2)
    status, err = api.call("GET", f"/v2/console/account?filter=other&field=username"
                                  f"&cursor={first['next_cursor']}")
    assert (status, err["code"]) == (400, 3)
    # The whole listing in pages: every account once, in id order.
    ids: list[str] = []
    cursor = ""
    for _ in range(1000):
        body = search(api, limit=3, cursor=cursor)
        ids += [u["id"] for u in body["users"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert ids == sorted(set(ids)) and len(ids) >= 5


# -- one account ---------------------------------------------------------------------------------


def test_view_an_account_and_its_sections(node: Node, api: ConsoleApi) -> None:
    _token, uid, username, device = player(node, unique("view"))
    body = api.get(f"/v2/console/account/{uid}")
    assert set(body) == {"account"}  # not banned: no disable_time
    account = body["account"]
    assert account["user"]["id"] == uid and account["user"]["username"] == username
    assert account["devices"] == [{"id": device}]
    sessions = api.get(f"/v2/console/account/{uid}/session")
    assert len(sessions["sessions"]) == 1 and sessions["sessions"][0]["state"] == "active"
    assert sessions["sessions"][0]["socket_open"] is False and sessions["sockets"] == []
    assert api.get(f"/v2/console/account/{uid}/friend") == {}
    assert api.get(f"/v2/console/account/{uid}/group") == {}
    assert api.get(f"/v2/console/account/{uid}/wallet") == {"items": [], "next_cursor": ""}
    cookie = {"Cookie": f"kizuna_console={api.token}"}
    status, page = http("GET", f"{node.console}/accounts/{uid}", headers=cookie)
    assert status == 200 and username in page and device in page
    assert f"/storage?user_id={uid}" in page


def test_edit_an_account_with_the_game_apis_rules(node: Node, api: ConsoleApi) -> None:
    _, uid, username, _ = player(node, unique("edit"))
    _, _, taken, _ = player(node, unique("taken"))
    path = f"/v2/console/account/{uid}"
    status, body = api.call("PUT", path, {
        "display_name": "Edited Name", "location": "Kyoto", "metadata": {"vip": True},
        "wallet": {"coins": 50, "gems": 2}, "email": f"{username}@Example.org",
        "custom_id": f"custom-{username}"})
    assert (status, body) == (200, {})
    account = api.get(path)["account"]
    assert account["user"]["display_name"] == "Edited Name"
    assert account["user"]["location"] == "Kyoto"
    assert json.loads(account["user"]["metadata"]) == {"vip": True}
    assert json.loads(account["wallet"]) == {"coins": 50, "gems": 2}
    assert account["email"] == f"{username}@example.org"
    assert account["custom_id"] == f"custom-{username}"
    # The wallet change is in the ledger, as the difference.
    [item] = api.get(f"{path}/wallet")["items"]
    assert json.loads(item["changeset"]) == {"coins": 50, "gems": 2}
    api.call("PUT", path, {"wallet": json.dumps({"coins": 30, "gems": 2})})
    newest = api.get(f"{path}/wallet")["items"][0]
    assert json.loads(newest["changeset"]) == {"coins": -20}
    assert any(m.startswith(f"edited user {username}") for m in audit_messages(api))

    # Validation: the game API's messages, code 3; nothing of a refused edit is kept.
    for change, message in (
            ({"display_name": "x" * 256}, "Display name invalid, must be 0-255 characters."),
            ({"username": ""}, "Username invalid, must be 1-128 bytes."),
            ({"username": taken, "location": "Osaka"}, "Username is already in use."),
            ({"metadata": "[1]"}, "Metadata must be a JSON object."),
            ({"wallet": {"coins": -1}}, "Wallet value at path 'coins' must not be negative."),
            ({"email": "not-an-email"}, "Invalid email address format."),
            ({"custom_id": "abc"}, "Custom ID invalid, must be 6-128 bytes."),
            ({}, "No fields to update.")):
        status, body = api.call("PUT", path, change)
        assert (status, body) == (400, {"code": 3, "message": message}), change
    assert api.get(path)["account"]["user"]["location"] == "Kyoto"
    # A taken email is a conflict, as when it is linked.
    _, other, _, _ = player(node)
    status, body = api.call("PUT", f"/v2/console/account/{other}",
                            {"email": f"{username}@example.org"})
    assert (status, body) == (409, {"code": 6, "message": "Email is already in use."})
    # A password set by the operator logs in by email.
    api.call("PUT", path, {"password": "new-password-1"})
    status, body = authenticate(node, "email", {"email": f"{username}@example.org",
                                                "password": "new-password-1"})
    assert status == 200, body
    # A form sends every field: one holding what is stored is left alone, not checked again (an
    # address imported from Nakama may break today's rules).
    asyncio.run(sql(node.server.db_address, "UPDATE users SET email = 'a@b.c' WHERE id = $1",
                    other))
    status, body = api.call("PUT", f"/v2/console/account/{other}",
                            {"email": "a@b.c", "display_name": "Kept"})
    assert (status, body) == (200, {})
    # Nakama's binding (POST) edits too.
    status, _ = api.call("POST", path, {"timezone": "Asia/Tokyo"})
    assert status == 200 and api.get(path)["account"]["user"]["timezone"] == "Asia/Tokyo"


def test_ban_refuses_the_player_and_unban_restores(node: Node, api: ConsoleApi) -> None:
    token, uid, username, device = player(node, unique("ban"))
    status, body = api.call("POST", f"/v2/console/account/{uid}/ban")
    assert (status, body) == (200, {})
    status, body = authenticate(node, "device", {"id": device})
    assert (status, body) == (403, BANNED)
    status, body = http("GET", node.url + "/v2/account", token=token)
    assert (status, body["code"]) == (401, 16)  # the session was revoked with the ban
    viewed = api.get(f"/v2/console/account/{uid}")
    assert viewed["disable_time"].endswith("Z")
    [row] = search(api, uid)["users"]
    assert row["disable_time"] == viewed["disable_time"]
    assert f"banned user {username}" in audit_messages(api)
    status, _ = api.call("POST", f"/v2/console/account/{uid}/unban")
    assert status == 200
    status, body = authenticate(node, "device", {"id": device})
    assert status == 200, body
    assert "disable_time" not in api.get(f"/v2/console/account/{uid}")
    assert f"unbanned user {username}" in audit_messages(api)
    status, body = api.call("POST", f"/v2/console/account/{NIL}/ban")
    assert (status, body["code"]) == (400, 3)


def test_log_out_everywhere_refuses_every_old_token(node: Node, api: ConsoleApi) -> None:
    token, uid, username, device = player(node, unique("out"))
    status, second = authenticate(node, "device", {"id": device})
    assert status == 200
    status, _ = api.call("POST", f"/v2/console/account/{uid}/logout")
    assert status == 200
    for t in (token, second["token"]):
        status, body = http("GET", node.url + "/v2/account", token=t)
        assert (status, body["code"]) == (401, 16)
    status, body = http("POST", node.url + "/v2/account/session/refresh",
                        {"token": second["refresh_token"]}, basic=(SERVER_KEY, ""))
    assert (status, body["code"]) == (401, 16)
    states = {s["state"] for s in api.get(f"/v2/console/account/{uid}/session")["sessions"]}
    assert states == {"revoked"}
    status, body = authenticate(node, "device", {"id": device})  # not a ban: a new login works
    assert status == 200
    assert f"logged out user {username} everywhere" in audit_messages(api)


def test_delete_with_and_without_the_tombstone(node: Node, api: ConsoleApi) -> None:
    async def tombstones(uid: str) -> int:
        rows = await sql(node.server.db_address,
                         "SELECT count(*) AS n FROM user_tombstone WHERE user_id = $1", uid)
        return rows[0]["n"]

    token, uid, username, _device = player(node, unique("del"))
    status, body = api.call("DELETE", f"/v2/console/account/{uid}")
    assert (status, body) == (200, {})
    status, body = api.call("GET", f"/v2/console/account/{uid}")
    assert (status, body) == (404, {"code": 5, "message": "Account not found."})
    status, body = http("GET", node.url + "/v2/account", token=token)
    assert status == 401
    assert asyncio.run(tombstones(uid)) == 1
    assert f"deleted user {username}" in audit_messages(api)
    _, other, _, _ = player(node, unique("del"))
    status, _ = api.call("DELETE", f"/v2/console/account/{other}?record_deletion=false")
    assert status == 200
    assert asyncio.run(tombstones(other)) == 0
    status, body = api.call("DELETE", f"/v2/console/account/{other}")
    assert (status, body["code"]) == (404, 5)


def test_export_holds_everything_about_the_user(node: Node, api: ConsoleApi) -> None:
    token, uid, username, device = player(node, unique("exp"))
    _, friend_id, _friend_name, _ = player(node, unique("expf"))
    status, body = http("PUT", node.url + "/v2/storage", {"objects": [
        {"collection": "saves", "key": "slot1", "value": json.dumps({"hp": 7})}]}, token=token)
    assert status == 200, body
    status, body = http("POST", f"{node.url}/v2/friend?ids={friend_id}", {}, token=token)
    assert status == 200, body
    status, group = http("POST", node.url + "/v2/group", {"name": unique("expg")}, token=token)
    assert status == 200, group
    status, body = http("POST", node.url + "/v2/leaderboard/accounts_board", {"score": "12"},
                        token=token)
    assert status == 200, body
    api.call("PUT", f"/v2/console/account/{uid}", {"wallet": {"coins": 5}})

    async def chat() -> None:
        url = node.url.replace("http://", "ws://") + f"/ws?token={token}&format=json"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_json({"cid": "1", "channel_join": {"target": "lobby", "type": 1}})
            channel = None
            while channel is None:
                msg = await ws.receive_json(timeout=10)
                if msg.get("cid") == "1":
                    channel = msg["channel"]["id"]
            await ws.send_json({"cid": "2", "channel_message_send": {
                "channel_id": channel, "content": json.dumps({"text": "hello"})}})
            while (await ws.receive_json(timeout=10)).get("cid") != "2":
                pass

    asyncio.run(chat())
    export = api.get(f"/v2/console/account/{uid}/export")
    assert set(export) == {"account", "objects", "friends", "groups", "messages",
                           "leaderboard_records", "notifications", "wallet_ledgers"}
    assert export["account"]["user"]["username"] == username
    assert export["account"]["devices"] == [{"id": device}]
    assert [(o["collection"], o["key"], json.loads(o["value"])) for o in export["objects"]] == [
        ("saves", "slot1", {"hp": 7})]
    assert [(f["user"]["id"], f["state"]) for f in export["friends"]] == [(friend_id, 1)]
    assert [g["id"] for g in export["groups"]] == [group["id"]]
    assert [json.loads(m["content"]) for m in export["messages"]] == [{"text": "hello"}]
    assert export["messages"][0]["room_name"] == "lobby"
    assert [(r["leaderboard_id"], r["score"]) for r in export["leaderboard_records"]] == [
        ("accounts_board", "12")]
    assert [json.loads(i["changeset"]) for i in export["wallet_ledgers"]] == [{"coins": 5}]
    # The friend got a friend request notification: it is in the friend's export.
    theirs = api.get(f"/v2/console/account/{friend_id}/export")
    assert [n["code"] for n in theirs["notifications"]] == [-2]
    # The page offers it as a download.
    status, page = http("GET", f"{node.console}/accounts/{uid}/export",
                        headers={"Cookie": f"kizuna_console={api.token}"})
    assert status == 200 and page["account"]["user"]["id"] == uid


def test_unknown_malformed_and_unauthenticated(node: Node, api: ConsoleApi) -> None:
    missing = str(uuid.uuid4())
    for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/ban"),
                           ("POST", "/unban"), ("POST", "/logout"), ("GET", "/export"),
                           ("GET", "/friend"), ("GET", "/group"), ("GET", "/wallet"),
                           ("GET", "/session")):
        body = {"display_name": "x"} if method == "PUT" else None
        status, err = api.call(method, f"/v2/console/account/{missing}{suffix}", body)
        assert (status, err) == (404, {"code": 5, "message": "Account not found."}), suffix
        status, err = api.call(method, f"/v2/console/account/not-a-uuid{suffix}", body)
        assert (status, err) == (400, {"code": 3, "message": "Requires a valid user ID."})
    for path in ("/v2/console/account", f"/v2/console/account/{missing}"):
        status, err = http("GET", node.console + path)
        assert (status, err["code"]) == (401, 16)
    status, err = http("POST", f"{node.console}/v2/console/account/{missing}/ban")
    assert (status, err["code"]) == (401, 16)
    cookie = {"Cookie": f"kizuna_console={api.token}"}
    for path, code in ((f"/accounts/{missing}", 404), ("/accounts/nope", 400),
                       ("/accounts?field=bad&filter=x", 400)):
        status, page = http("GET", node.console + path, headers=cookie)
        assert status == code and "Code " in page, path


# -- in a browser --------------------------------------------------------------------------------


def test_find_edit_and_ban_in_a_browser(node: Node, api: ConsoleApi, browser) -> None:
    token, uid, username, _ = player(node, unique("web"))
    sign_in(browser, node.console)
    browser.find_element(By.LINK_TEXT, "Accounts").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "account-search"))
    field = browser.find_element(By.NAME, "filter")
    field.send_keys(username)
    browser.find_element(By.CSS_SELECTOR, "#account-search button[type=submit]").click()
    wait_for(browser, lambda d: "filter=" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#accounts tbody tr[data-user]")
    assert [r.get_attribute("data-username") for r in rows] == [username]
    screenshot(browser, "accounts")
    browser.find_element(By.LINK_TEXT, username).click()
    wait_for(browser, lambda d: text_of(d, "account-id") == uid)

    box = browser.find_element(By.CSS_SELECTOR, "#edit-form input[name=display_name]")
    box.clear()
    box.send_keys("Shown In Browser")
    browser.find_element(By.CSS_SELECTOR, "#edit-form button[type=submit]").click()
    wait_for(browser, lambda d: text_of(d, "account-display-name") == "Shown In Browser")
    assert api.get(f"/v2/console/account/{uid}")["account"]["user"]["display_name"] == \
        "Shown In Browser"

    async def ban_while_connected() -> None:
        url = node.url.replace("http://", "ws://") + f"/ws?token={token}&format=json&status=true"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await asyncio.to_thread(browser.refresh)
            await asyncio.to_thread(
                wait_for, browser, lambda d: "1 socket open" in text_of(d, "sockets-summary"))
            await asyncio.to_thread(browser.execute_script, "window.scrollTo(0, 0)")
            await asyncio.to_thread(screenshot, browser, "account")
            await asyncio.to_thread(lambda: screenshot(browser, "account-phone", phone=True))
            await asyncio.to_thread(
                lambda: browser.find_element(By.CSS_SELECTOR, "#ban-form button").click())
            alert = await asyncio.to_thread(wait_for, browser, expected_conditions.alert_is_present())
            await asyncio.to_thread(alert.accept)
            # The server closes the socket (anything it sends before is skipped).
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.CLOSED):
                    break
                assert msg.type == aiohttp.WSMsgType.TEXT, msg

    asyncio.run(ban_while_connected())
    wait_for(browser, lambda d: d.find_elements(By.ID, "banned-tag"))
    status, _body = http("GET", node.url + "/v2/account", token=token)
    assert status == 401
