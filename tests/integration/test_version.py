"""Checking the running version after an upgrade, without breaking Nakama clients."""

import json
import time
import urllib.error
import urllib.request
from datetime import datetime

import kizuna
from kizuna.release import manifest
from kizuna.version import full_version


def get(url: str):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_version_endpoint_and_header(server):
    before = time.time()
    status, headers, body = get(server.url + "/kizuna/version")
    after = time.time()
    assert status == 200
    doc = json.loads(body)
    assert doc["version"] == kizuna.__version__
    assert doc["node"] == "kizuna"
    assert doc["schema"] == manifest().schema_head
    # The uptime agrees with the start time, bracketed by clocks read around the request (whole
    # seconds on both sides, hence the slack): true however long the request took.
    started = datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00")).timestamp()
    assert doc["started_at"].endswith("Z") and started <= before
    assert isinstance(doc["uptime_sec"], int)
    assert before - started - 3 <= doc["uptime_sec"] <= after - started + 1, (doc, before, after)
    assert headers["Kizuna-Version"] == full_version()

    # The Nakama liveness contract is untouched: {} and an empty 200.
    status, headers, body = get(server.url + "/healthcheck")
    assert (status, body) == (200, b"{}")
    assert headers["Kizuna-Version"] == full_version()
    status, headers, body = get(server.url + "/v2/nope")
    assert status == 404 and json.loads(body) == {"code": 5, "message": "Not Found"}
    assert headers["Kizuna-Version"] == full_version()


def test_migrate_status_lists_live_nodes(server, db_address):
    from tests.conftest import run_kizuna

    r = run_kizuna("migrate", "status", "--json", "--database.address", db_address)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(n["name"], n["version"], n["state"], n["seen_by"]) for n in doc["nodes"]] == [
        ("kizuna", kizuna.__version__, "serving", "registry")]
    r = run_kizuna("migrate", "status", "--database.address", db_address)
    assert "live nodes: kizuna (Kizuna 0.1.0, serving" in r.stdout
