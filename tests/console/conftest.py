"""Fixtures for the console's tests: a node with its console, the console's REST API as the
operator, and a real headless browser (Debian's chromium through its chromedriver, driven by
Selenium; scripts/test installs both with apt-get).

Browser tests are skipped, naming what is missing, only when chromium or chromedriver is not on
the machine; CI installs them, so there they always run.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, free_port, server_on_fresh_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


@dataclass
class Node:
    """A running node: the game API at `url`, its console at `console`."""
    server: ServerProcess
    console_port: int

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def console(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"


def http(method: str, url: str, body: Any = None, *, token: str | None = None,
         basic: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    """One HTTP call; (status, JSON body or text)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if basic:
        req.add_header("Authorization",
                       "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode(errors="replace")


class ConsoleApi:
    """The console's REST API as a signed-in operator."""

    def __init__(self, base: str, username: str = "admin", password: str = "password") -> None:
        self.base = base
        status, body = http("POST", f"{base}/v2/console/authenticate",
                            {"username": username, "password": password})
        assert status == 200, body
        self.token = body["token"]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http(method, self.base + path, body, token=self.token)

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body


def wait_for_console(node: Node, timeout: float = 30) -> None:
    """The server answers /healthcheck before its console listens (it starts last): wait for
    the console's port too."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(node.console + "/login", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Node]:
    """One node (fresh database, default console credentials) shared by a test module."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("console-node")
    with server_on_fresh_database(tmp, "--console.port", str(port)) as srv:
        node = Node(srv, port)
        wait_for_console(node)
        yield node


@pytest.fixture(scope="module")
def api(node: Node) -> ConsoleApi:
    return ConsoleApi(node.console)


@pytest.fixture(scope="module")
def browser():
    """A headless chromium (a laptop-sized window), shared by a test module."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"chromium / chromedriver not installed ({CHROMIUM}, {CHROMEDRIVER}): "
                    "scripts/test installs them with apt-get")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1366,900", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver, console: str, username: str = "admin", password: str = "password") -> None:
    """Sign in through the login page, as an operator would; lands on the status page."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(console + "/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[data-login] button").click()
    wait_for(driver, lambda d: d.current_url.rstrip("/").endswith("/status"))


def wait_for(driver, condition, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def screenshot(driver, name: str, *, phone: bool = False) -> None:
    """With KZ_CONSOLE_SHOTS=1, save docs/console/<name>.png (the screenshots of docs/console.md),
    laptop or phone size: `KZ_CONSOLE_SHOTS=1 ./scripts/test tests/console` refreshes them. A
    normal run leaves the checkout alone."""
    if os.environ.get("KZ_CONSOLE_SHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    if phone:
        driver.set_window_size(390, 844)
    try:
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
    finally:
        if phone:
            driver.set_window_size(1366, 900)
