"""The console's upgrade-health page and `GET /v2/console/upgrade`: the schema against this
release's window, every node's window, pending migrations and the contract step, the backups
Kizuna recorded, the upgrade plan and the client SDKs seen."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from kizuna.migrate import loader
from kizuna.version import __version__
from tests.conftest import PG, _admin, free_port, run_kizuna, start_server
from tests.console.conftest import ConsoleApi, Node, http, screenshot, sign_in, wait_for
from tests.integration.nakama_http import SERVER_KEY, sql

IDS = [m.id for m in loader.load()]
HEAD, PREVIOUS = IDS[-1], IDS[-2]
UPGRADE = "/v2/console/upgrade"


def _this_node(doc: dict) -> dict:
    [me] = [n for n in doc["nodes"] if n["this_node"]]
    return me


def _add_old_node(db_address: str, name: str, newest: str) -> None:
    """A node of an older release in the registry, its window ending at `newest`, heartbeating
    (a heartbeat in the future stays fresh for the whole test)."""
    asyncio.run(sql(db_address,
                    "INSERT INTO kizuna_node (name, version, schema_oldest, schema_newest, address, "
                    "state, started_at, heartbeat_at) VALUES ($1, '0.0.9', $2, $3, 'old-host:7350', "
                    "'serving', now(), now() + interval '1 hour')",
                    f"{name}/{uuid.uuid4().hex[:12]}", IDS[0], newest))


def _remove_node(db_address: str, name: str) -> None:
    asyncio.run(sql(db_address, "DELETE FROM kizuna_node WHERE name LIKE $1", f"{name}/%"))


# -- a node at this release's head -----------------------------------------------------------------


def test_a_fresh_node_is_at_the_head_with_nothing_pending(api: ConsoleApi) -> None:
    doc = api.get(UPGRADE)
    schema = doc["schema"]
    assert schema["database_head"] == schema["release_head"] == HEAD
    assert schema["up_to_date"] and schema["at_release_head"] and schema["in_window"]
    assert schema["guard"]["ok"] and schema["guard"]["message"] == ""
    migrations = doc["migrations"]
    assert migrations["pending"] == migrations["unknown"] == migrations["changed"] == []
    assert migrations["interrupted"] == [] and migrations["applied_count"] == len(IDS)
    assert not migrations["contract"]["blocked"]
    me = _this_node(doc)
    assert me["in_window"] is True and me["problem"] == "" and not me["blocks_contract"]
    assert me["source"] == "registry" and me["schema_newest"] == schema["window"]["newest"]
    plan = doc["plan"]
    assert plan["doc"]["state"] == "up to date" and plan["doc"]["pending"] == []
    texts = [line["text"] for line in plan["lines"]]
    assert "migrations to run: none" in texts
    assert any(t.startswith("rolling upgrade: ") for t in texts)
    assert any(t.startswith("engine: PostgreSQL") for t in texts)
    assert doc["backups"]["available"] and doc["clients"]["available"]


def test_bad_paging_is_a_clear_error(api: ConsoleApi) -> None:
    for query in ("?clients_limit=0", "?clients_limit=abc", "?clients_limit=201"):
        status, body = api.call("GET", UPGRADE + query)
        assert (status, body["code"]) == (400, 3), (query, body)
        assert "limit" in body["message"]
    status, body = api.call("GET", UPGRADE + "?clients_cursor=not-a-cursor")
    assert (status, body["code"]) == (400, 3) and "cursor" in body["message"].lower()
    status, body = api.call("GET", UPGRADE + "/clients?cursor=WyJ4Il0")  # ["x"]: not a position
    assert (status, body["code"]) == (400, 3)


# -- a node of an older release ------------------------------------------------------------------


def test_a_node_of_an_older_release_is_flagged_and_blocks_the_contract_step(
        node: Node, api: ConsoleApi) -> None:
    _add_old_node(node.server.db_address, "old-node", PREVIOUS)
    try:
        doc = api.get(UPGRADE)
        [old] = [n for n in doc["nodes"] if n["name"] == "old-node"]
        assert old["version"] == "0.0.9" and old["other_release"]
        assert old["in_window"] is False and HEAD in old["problem"]
        assert old["schema_newest"] == PREVIOUS
        assert old["blocks_contract"]
        contract = doc["migrations"]["contract"]
        assert contract["blocked"] and contract["nodes"] == ["old-node"]
        assert "old-node" in contract["message"] and "0.0.9" in contract["message"]
        me = _this_node(doc)
        assert me["in_window"] and not me["blocks_contract"]
    finally:
        _remove_node(node.server.db_address, "old-node")
    assert not api.get(UPGRADE)["migrations"]["contract"]["blocked"]


def test_the_page_flags_the_old_node(node: Node, browser) -> None:
    _add_old_node(node.server.db_address, "old-page-node", PREVIOUS)
    try:
        sign_in(browser, node.console)
        browser.get(node.console + "/upgrade")
        row = browser.find_element(By.CSS_SELECTOR, '#upgrade-nodes tr[data-node="old-page-node"]')
        assert "flagged" in row.get_attribute("class")
        assert "outside its window" in row.text and "blocks it" in row.text
        assert "old-page-node" in browser.find_element(By.ID, "contract").text
    finally:
        _remove_node(node.server.db_address, "old-page-node")


# -- backups -------------------------------------------------------------------------------------


def test_manual_and_automatic_backups_are_recorded(node: Node, api: ConsoleApi) -> None:
    directory = api.get(UPGRADE)["backups"]["directory"]
    r = run_kizuna("backup", "--database.address", node.server.db_address,
                   "--backup.dir", directory, "--json", cwd=node.server.log_path.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = api.get(UPGRADE)["backups"]
    manual = doc["last_manual"]
    assert manual is not None and manual["reason"] == "kizuna backup"
    assert Path(manual["path"]).parent == Path(directory) and Path(manual["path"]).exists()
    assert manual["size_bytes"] == Path(manual["path"]).stat().st_size > 0
    assert manual["schema_head"] == HEAD and manual["host"]
    # The automatic backup `kizuna import` and `kizuna db upgrade` take (as `migrate` does).
    path = asyncio.run(_auto_backup(node.server.db_address, directory))
    doc = api.get(UPGRADE)["backups"]
    auto = doc["last_automatic"]
    assert auto is not None and auto["path"] == path and auto["reason"] == "before the import"
    assert auto["size_bytes"] == Path(path).stat().st_size > 0 and auto["schema_head"] == HEAD
    names = {f["name"]: f for f in doc["files"]}
    assert names[Path(path).name]["kind"] == "automatic"
    assert names[Path(manual["path"]).name]["kind"] == "manual"
    assert names[Path(manual["path"]).name]["schema_head"] == HEAD


async def _auto_backup(db_address: str, directory: str) -> str:
    import asyncpg

    from kizuna.ops.backup import auto_backup

    conn = await asyncpg.connect(f"postgresql://{db_address}")
    try:
        return await auto_backup(conn, directory=directory, retention=5, known=IDS,
                                 version=__version__, reason="import", what="the import",
                                 say=lambda text: None)
    finally:
        await conn.close()


# -- clients -------------------------------------------------------------------------------------


def test_clients_seen_are_listed_against_the_tested_ones(node: Node, api: ConsoleApi) -> None:
    for agent in ("nakama-js/2.8.0", "nakama-js/2.8.0", "nakama-unity/3.1.0"):
        status, body = http("POST", node.url + "/v2/account/authenticate/device?create=true",
                             {"id": f"upgrade-health-{uuid.uuid4().hex}"},
                             basic=(SERVER_KEY, ""), headers={"User-Agent": agent})
        assert status == 200, body
    deadline = time.monotonic() + 20
    while True:
        clients = {(c["sdk"], c["version"]): c for c in api.get(UPGRADE)["clients"]["clients"]}
        if ("nakama-js", "2.8.0") in clients and ("nakama-unity", "3.1.0") in clients:
            break
        assert time.monotonic() < deadline, clients
        time.sleep(0.5)
    js = clients[("nakama-js", "2.8.0")]
    assert js["tested"] and js["requests"] >= 2 and js["user_agent"] == "nakama-js/2.8.0"
    unity = clients[("nakama-unity", "3.1.0")]
    assert not unity["tested"] and "not tested" in unity["note"]
    # Paged, newest first.
    first = api.get(UPGRADE + "/clients?limit=1")
    assert len(first["clients"]) == 1 and first["next_cursor"]
    cursor = urllib.parse.quote(first["next_cursor"])
    second = api.get(UPGRADE + f"/clients?limit=1&cursor={cursor}")
    assert second["clients"][0]["last_seen"] <= first["clients"][0]["last_seen"]
    assert (second["clients"][0]["sdk"], second["clients"][0]["version"]) != (
        first["clients"][0]["sdk"], first["clients"][0]["version"])


# -- a database one migration behind -------------------------------------------------------------


@pytest.fixture(scope="module")
def behind(tmp_path_factory) -> Iterator[Node]:
    """A node of this release serving a database one migration behind (started without
    --migrate: the schema guard lets it serve inside its release's window)."""
    tmp = tmp_path_factory.mktemp("upgrade-behind")
    name = f"kzt_{uuid.uuid4().hex[:16]}"
    address = f"{PG}/{name}"
    r = run_kizuna("migrate", "up", "--to", PREVIOUS, "--database.address", address, cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    port = free_port()
    srv = start_server(["--database.address", address, "--logger.format", "text",
                        "--console.port", str(port)], tmp)
    srv.db, srv.db_address = name, address
    try:
        node = Node(srv, port)
        deadline = time.monotonic() + 30  # the console listens just after the game API
        while True:
            try:
                if http("GET", node.console + "/login")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.1)
        yield node
    finally:
        srv.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_pending_migration_is_listed_and_sections_say_what_they_need(behind: Node) -> None:
    api = ConsoleApi(behind.console)
    doc = api.get(UPGRADE)
    schema = doc["schema"]
    assert schema["database_head"] == PREVIOUS and schema["release_head"] == HEAD
    assert not schema["up_to_date"] and schema["in_window"]
    assert schema["guard"]["ok"] and HEAD in schema["guard"]["warnings"][0]
    [pending] = doc["migrations"]["pending"]
    assert pending["id"] == HEAD and pending["phase"] in ("expand", "backfill", "contract")
    assert _this_node(doc)["in_window"]
    plan = doc["plan"]
    assert plan["doc"]["state"] == "upgrade pending" and plan["doc"]["pending"] == [HEAD]
    texts = [line["text"] for line in plan["lines"]]
    assert f"migrations to run: 1 ({HEAD})" in texts
    assert any(t.startswith(f"{HEAD} [") for t in texts)
    if HEAD == "0011_console":  # the backup record and the clients seen come with it
        for section in ("backups", "clients"):
            assert not doc[section]["available"]
            assert "needs kizuna migrate up" in doc[section]["message"].lower()


def test_the_page_shows_the_pending_migration_and_the_old_node(behind: Node, browser) -> None:
    _add_old_node(behind.server.db_address, "old-release-node", IDS[-3])
    sign_in(browser, behind.console)
    browser.get(behind.console + "/upgrade")
    row = browser.find_element(By.CSS_SELECTOR, f'#migrations tr[data-migration="{HEAD}"]')
    assert "pending" in row.text
    old = browser.find_element(By.CSS_SELECTOR, '#upgrade-nodes tr[data-node="old-release-node"]')
    assert "flagged" in old.get_attribute("class") and "outside its window" in old.text
    if HEAD == "0011_console":
        assert "needs kizuna migrate up" in browser.find_element(
            By.ID, "backups-unavailable").text.lower()
        assert "needs kizuna migrate up" in browser.find_element(
            By.ID, "clients-unavailable").text.lower()
    assert f"migrations to run: 1 ({HEAD})" in browser.find_element(By.ID, "plan").text
    screenshot(browser, "upgrade-health")


def test_migrate_up_takes_an_automatic_backup_the_page_lists(behind: Node) -> None:
    api = ConsoleApi(behind.console)
    directory = api.get(UPGRADE)["backups"]["directory"]
    r = run_kizuna("migrate", "up", "--database.address", behind.server.db_address,
                   "--backup.dir", directory, cwd=behind.server.log_path.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = api.get(UPGRADE)
    assert doc["schema"]["database_head"] == HEAD and doc["migrations"]["pending"] == []
    backups = doc["backups"]
    assert backups["available"]
    [auto] = [f for f in backups["files"] if f["kind"] == "automatic"]
    assert auto["reason"] == "before up" and auto["schema_head"] == PREVIOUS
    assert auto["size_bytes"] > 0


def test_the_page_works_on_a_phone(behind: Node, browser) -> None:
    sign_in(browser, behind.console)
    browser.set_window_size(390, 844)
    try:
        browser.get(behind.console + "/upgrade")
        wait_for(browser, lambda d: d.find_element(By.ID, "plan").is_displayed())
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400, width
    finally:
        browser.set_window_size(1366, 900)
