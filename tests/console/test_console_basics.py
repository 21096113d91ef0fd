"""The console's frame: sign-in (page and API), the lock-out, forged and expired tokens, the
default-password banner, the status page and its API, the configuration with secrets masked, and
the audit log."""

from __future__ import annotations

import time

import jwt
from selenium.webdriver.common.by import By

from tests.console.conftest import ConsoleApi, http, screenshot, sign_in, wait_for


def test_authenticate_gives_a_token_the_api_accepts(node) -> None:
    status, body = http("POST", node.console + "/v2/console/authenticate",
                        {"username": "admin", "password": "password"})
    assert status == 200 and isinstance(body["token"], str)
    status, listing = http("GET", node.console + "/v2/console/status", token=body["token"])
    assert status == 200
    [me] = [n for n in listing["nodes"] if n["this_node"]]
    assert me["health"] == 0 and me["state"] == "serving" and me["version"]
    assert me["schema_newest"] and me["create_time"].endswith("Z")
    # Basic auth works too (scripts), as Nakama's console.
    status, _ = http("GET", node.console + "/v2/console/status", basic=("admin", "password"))
    assert status == 200


def test_wrong_password_forged_and_missing_tokens_are_refused(node) -> None:
    status, body = http("POST", node.console + "/v2/console/authenticate",
                        {"username": "admin", "password": "wrong"})
    assert (status, body["code"]) == (401, 16)
    status, body = http("GET", node.console + "/v2/console/status")
    assert (status, body["code"]) == (401, 16)
    forged = jwt.encode({"iss": "kizuna-console", "usn": "admin", "exp": int(time.time()) + 600},
                        "not-the-signing-key", algorithm="HS256")
    status, body = http("GET", node.console + "/v2/console/status", token=forged)
    assert (status, body["code"]) == (401, 16)
    expired = jwt.encode({"iss": "kizuna-console", "usn": "admin", "exp": int(time.time()) - 5},
                         "defaultsigningkey", algorithm="HS256")
    status, body = http("GET", node.console + "/v2/console/status", token=expired)
    assert (status, body["code"]) == (401, 16) and "expired" in body["message"]
    # A game session token is not a console token.
    status, body = http("GET", node.console + "/v2/console/status", basic=("admin", "nope"))
    assert (status, body["code"]) == (401, 16)
    status, body = http("POST", node.console + "/v2/console/authenticate", {"username": "admin"})
    assert (status, body["code"]) == (400, 3)


def test_repeated_failures_lock_out_even_the_right_password(node) -> None:
    for _ in range(5):
        status, _ = http("POST", node.console + "/v2/console/authenticate",
                         {"username": "locked-user", "password": "guess"})
        assert status == 401
    status, body = http("POST", node.console + "/v2/console/authenticate",
                        {"username": "locked-user", "password": "guess"})
    assert (status, body["code"]) == (429, 8) and "try again" in body["message"]


def test_config_masks_secrets(api: ConsoleApi) -> None:
    import json
    body = api.get("/v2/console/config")
    values = json.loads(body["config"])
    assert values["console.password"] == "********"
    assert values["console.signing_key"] == "********"
    assert values["session.encryption_key"] == "********"
    assert values["socket.server_key"] == "defaultkey"  # not a secret: every client holds it
    assert body["server_version"]


def test_sign_in_in_a_browser_shows_status_and_the_default_password_banner(node, browser) -> None:
    browser.delete_all_cookies()
    browser.get(node.console + "/status")
    wait_for(browser, lambda d: "/login" in d.current_url)  # signed out: sent to sign in
    # A wrong password says so and stays on the page.
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "form[data-login] button").click()
    flash = wait_for(browser, lambda d: d.find_element(By.ID, "flash").is_displayed()
                     and d.find_element(By.ID, "flash"))
    assert "Invalid credentials" in flash.text
    screenshot(browser, "login")
    sign_in(browser, node.console)
    assert browser.find_element(By.ID, "default-password-banner").is_displayed()
    rows = browser.find_elements(By.CSS_SELECTOR, "#nodes tbody tr[data-node]")
    assert len(rows) == 1 and "this node" in rows[0].text and "serving" in rows[0].text
    screenshot(browser, "status")
    screenshot(browser, "status-phone", phone=True)
    browser.get(node.console + "/config")
    assert "********" in browser.find_element(By.ID, "config").text
    screenshot(browser, "config")
    browser.get(node.console + "/audit")
    assert "authenticate" in browser.find_element(By.ID, "audit").text
    screenshot(browser, "audit")
    # A forged cookie is no way in.
    browser.delete_all_cookies()
    forged = jwt.encode({"iss": "kizuna-console", "usn": "admin", "exp": int(time.time()) + 600},
                        "forged", algorithm="HS256")
    browser.add_cookie({"name": "kizuna_console", "value": forged, "path": "/"})
    browser.get(node.console + "/status")
    wait_for(browser, lambda d: "/login" in d.current_url)


def test_sign_ins_are_in_the_audit_log(api: ConsoleApi) -> None:
    entries = api.get("/v2/console/audit?limit=100")["entries"]
    assert any(e["action"] == "authenticate" and e["username"] == "admin" for e in entries)
