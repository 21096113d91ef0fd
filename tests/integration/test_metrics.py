"""Prometheus metrics (`metrics.prometheus_port`), against a real `kizuna server` on a fresh
database: driven by real HTTP requests and a real WebSocket, scraped over HTTP and read with
prometheus-client's own parser, as Prometheus would. Also server modules' custom metrics
(`nk.metrics_counter_add` / `metrics_gauge_set` / `metrics_timer_record`) and their rules, and
that with the port unset nothing more listens.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kizuna.errors import Code, KizunaError
from kizuna.metrics.custom import MAX_METRICS, CustomMetrics
from tests.conftest import ROOT, free_port, write_modules
from tests.integration.nakama_http import basic, bearer

pytestmark = pytest.mark.timeout(120)

MODULE = '''
import asyncio
import time
from kizuna.runtime import Error


def score(ctx, logger, nk, payload):
    started = time.perf_counter()
    nk.metrics_counter_add("wins", {"mode": "ranked"}, 2)
    nk.metrics_gauge_set("queue_len", {"region": "eu"}, 7.5)
    nk.metrics_timer_record("reward_time", None, 0.02)
    nk.metrics_timer_record("handler_seconds", {"rpc": "score"}, time.perf_counter() - started)
    return "ok"


async def score_async(ctx, logger, nk, payload):
    # The same calls from a coroutine: they never wait, so there is no nk.aio twin.
    nk.metrics_counter_add("wins_total", {"mode": "casual"}, 1)
    return "ok"


async def misuse(ctx, logger, nk, payload):
    calls = {
        "bad_name": lambda: nk.metrics_counter_add("bad-name", None, 1),
        "digit_name": lambda: nk.metrics_gauge_set("1st", None, 1),
        "bad_tag": lambda: nk.metrics_counter_add("wins", {"game mode": "x"}, 1),
        "reserved_tag": lambda: nk.metrics_counter_add("wins", {"node_name": "x"}, 1),
        "tag_value": lambda: nk.metrics_counter_add("wins", {"mode": 3}, 1),
        "other_tags": lambda: nk.metrics_counter_add("wins", {"region": "eu"}, 1),
        "other_kind": lambda: nk.metrics_gauge_set("wins", {"mode": "ranked"}, 1),
        "negative": lambda: nk.metrics_counter_add("wins", {"mode": "ranked"}, -1),
        "clash": lambda: nk.metrics_gauge_set("reward_time_seconds", None, 1),
    }
    out = {}
    for name, call in calls.items():
        try:
            call()
            out[name] = None
        except Error as exc:
            out[name] = [exc.code, exc.message]
    return nk.json_encode(out)


async def fail(ctx, logger, nk, payload):
    raise Error("no such reward", 3)


def init_module(ctx, logger, nk, initializer):
    nk.metrics_counter_add("module_loads", None, 1)
    initializer.register_rpc("score", score)
    initializer.register_rpc("score_async", score_async)
    initializer.register_rpc("misuse", misuse)
    initializer.register_rpc("fail", fail)
'''


# -- reading the exposition --------------------------------------------------------------------


class Scrape:
    """One scrape of /metrics, parsed by prometheus-client's parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text) for s in family.samples]
        self.families = {f.name: f.type for f in text_string_to_metric_families(text)}

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [(lab, v) for n, lab, v in self.samples
                if n == name and all(lab.get(k) == want for k, want in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` with these labels (0 when there is none yet)."""
        found = self.find(name, **labels)
        assert len(found) <= 1, found
        return found[0][1] if found else 0.0


async def scrape(http: aiohttp.ClientSession, port: int, path: str = "/metrics") -> Scrape:
    async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return Scrape(await resp.text())


def console_port(srv) -> int:
    """The console's port of a test server (start_server gives each its own)."""
    return int(srv.args[srv.args.index("--console.port") + 1])


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on (its socket inodes in /proc/net/tcp{,6})."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


async def login(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/v2/account/authenticate/device",
                         json={"id": f"metrics-{uuid.uuid4().hex}"},
                         headers={"Authorization": basic()}) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["token"]


async def rpc(http: aiohttp.ClientSession, url: str, token: str, rpc_id: str) -> tuple[int, Any]:
    async with http.post(f"{url}/v2/rpc/{rpc_id}", data=json.dumps("{}"),
                         headers={"Authorization": bearer(token)}) as resp:
        return resp.status, await resp.json()


async def envelope(ws: aiohttp.ClientWebSocketResponse, cid: str | None) -> dict:
    """The next envelope with this cid (None: the next error without one); pushes skipped."""
    while True:
        doc = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        if doc.get("cid") == cid and (cid is not None or "error" in doc):
            return doc


async def until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await check():
                return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


# -- a node with metrics -----------------------------------------------------------------------


async def test_a_node_exports_its_metrics_on_the_prometheus_port(server_factory, db_address,
                                                                 tmp_path):
    port = free_port()
    modules = write_modules(tmp_path, rewards=MODULE)
    srv = server_factory("--migrate", "--database.address", db_address, "--logger.format", "text",
                         "--name", "node-a", "--metrics.prometheus_port", str(port),
                         "--metrics.namespace", "mygame", "--runtime.path", str(modules),
                         "--shutdown_grace_sec", "6", "--shutdown_drain_sec", "3")
    assert listening_ports(srv.proc.pid) == {srv.port, console_port(srv), port}
    async with aiohttp.ClientSession() as http:
        before = await scrape(http, port)
        assert before.families["kizuna_api_requests"] == "counter"
        assert before.families["kizuna_api_request_duration_seconds"] == "histogram"
        assert before.families["kizuna_build_info"] == "gauge"
        # Nakama's exporter serves the same text at `/` (its docker-compose scrapes that path).
        root = await scrape(http, port, "/")
        assert root.families == before.families

        # -- build info: which node runs which release, as /kizuna/version says -------------
        async with http.get(srv.url + "/kizuna/version") as resp:
            version = await resp.json()
        [(labels, value)] = before.find("kizuna_build_info")
        assert value == 1
        assert labels == {"node_name": "node-a", "namespace": "mygame",
                          "version": version["version"], "commit": version["commit"],
                          "schema": version["schema"] or ""}
        # Every metric of the node carries node_name and namespace (as Nakama's).
        for name, labs, _ in before.samples:
            if name.startswith("kizuna_"):
                assert labs.get("node_name") == "node-a" and labs["namespace"] == "mygame", name

        # -- REST: per Nakama API method and status -----------------------------------------
        token = await login(http, srv.url)
        for _ in range(3):
            async with http.get(srv.url + "/v2/account",
                                headers={"Authorization": bearer(token)}) as resp:
                assert resp.status == 200
        async with http.get(srv.url + "/v2/account") as resp:
            assert resp.status == 401
        assert await rpc(http, srv.url, token, "score") == (200, {"payload": "ok"})
        assert (await rpc(http, srv.url, token, "fail"))[0] == 400
        m = await scrape(http, port)
        assert m.value("kizuna_api_requests_total", method="AuthenticateDevice", status="200") == 1
        assert m.value("kizuna_api_requests_total", method="GetAccount", status="200") == 3
        assert m.value("kizuna_api_requests_total", method="GetAccount", status="401") == 1
        assert m.value("kizuna_api_requests_total", method="RpcFunc", status="200") == 1
        assert m.value("kizuna_api_requests_total", method="RpcFunc", status="400") == 1
        assert m.value("kizuna_api_request_duration_seconds_count", method="GetAccount") == 4
        assert m.value("kizuna_api_request_duration_seconds_bucket", method="GetAccount",
                       le="+Inf") == 4
        assert 0 < m.value("kizuna_api_request_duration_seconds_sum", method="GetAccount") < 30
        # Routes that are not API methods (health, version, the socket) are not counted.
        methods = {lab["method"] for lab, _ in m.find("kizuna_api_requests_total")}
        assert methods == {"AuthenticateDevice", "GetAccount", "RpcFunc"}

        # -- runtime calls: latency per function, errors per code ----------------------------
        assert m.value("kizuna_runtime_call_duration_seconds_count", kind="rpc",
                       function="score") == 1
        assert m.value("kizuna_runtime_call_errors_total", kind="rpc", function="fail",
                       code="INVALID_ARGUMENT") == 1
        assert m.value("kizuna_runtime_call_errors_total", kind="rpc", function="score",
                       code="INVALID_ARGUMENT") == 0

        # -- custom metrics of the module ----------------------------------------------------
        assert m.families["kizuna_custom_wins"] == "counter"
        assert m.value("kizuna_custom_wins_total", mode="ranked") == 2
        assert m.value("kizuna_custom_module_loads_total") == 1  # from init_module
        assert m.families["kizuna_custom_queue_len"] == "gauge"
        assert m.value("kizuna_custom_queue_len", region="eu") == 7.5
        assert m.families["kizuna_custom_reward_time_seconds"] == "histogram"
        assert m.value("kizuna_custom_reward_time_seconds_count") == 1
        assert m.value("kizuna_custom_reward_time_seconds_sum") == pytest.approx(0.02)
        assert m.value("kizuna_custom_reward_time_seconds_bucket", le="0.025") == 1
        assert m.value("kizuna_custom_reward_time_seconds_bucket", le="0.01") == 0
        assert m.value("kizuna_custom_handler_seconds_count", rpc="score") == 1  # not doubled
        assert await rpc(http, srv.url, token, "score_async") == (200, {"payload": "ok"})
        m = await scrape(http, port)
        assert m.value("kizuna_custom_wins_total", mode="casual") == 1  # wins_total is wins

        # Rules broken: a clear error (code 3) naming the rule, and nothing exported.
        status, body = await rpc(http, srv.url, token, "misuse")
        assert status == 200, body
        errors = json.loads(body["payload"])
        assert all(e is not None and e[0] == 3 for e in errors.values()), errors
        assert "'bad-name' is not a valid metric name" in errors["bad_name"][1]
        assert "letters, digits and '_'" in errors["bad_name"][1]
        assert "'1st' is not a valid metric name" in errors["digit_name"][1]
        assert "tag 'game mode' is not a valid label name" in errors["bad_tag"][1]
        assert "tag 'node_name' is reserved" in errors["reserved_tag"][1]
        assert "the value of tag 'mode' must be a string" in errors["tag_value"][1]
        assert "first used with tags (mode), not (region)" in errors["other_tags"][1]
        assert "'wins' is already a counter" in errors["other_kind"][1]
        assert "delta must be 0 or more" in errors["negative"][1]
        assert "clashes with the timer 'reward_time'" in errors["clash"][1]
        m = await scrape(http, port)
        assert m.value("kizuna_custom_wins_total", mode="ranked") == 2
        assert not m.find("kizuna_custom_bad_name_total")
        assert m.families["kizuna_custom_reward_time_seconds"] == "histogram"

        # -- the socket: open sockets, presences, messages per kind and result ---------------
        ws = await http.ws_connect(f"ws://127.0.0.1:{srv.port}/ws?status=true&token={token}")
        await ws.send_str(json.dumps({"cid": "1", "rpc": {"id": "score", "payload": "{}"}}))
        assert (await envelope(ws, "1"))["rpc"]["payload"] == "ok"
        await ws.send_str(json.dumps({"cid": "2", "channel_join": {"target": "lobby", "type": 1}}))
        assert "channel" in await envelope(ws, "2")
        await ws.send_str(json.dumps({"cid": "3", "rpc": {"id": "nope"}}))
        assert (await envelope(ws, "3"))["error"]["code"] == 6
        await ws.send_str("not json")
        assert (await envelope(ws, None))["error"]["code"] == 3
        m = await scrape(http, port)
        assert m.value("kizuna_sockets") == 1
        assert m.value("kizuna_presences", mode="notifications") == 1
        assert m.value("kizuna_presences", mode="status") == 1
        assert m.value("kizuna_presences", mode="channel") == 1
        assert m.value("kizuna_socket_messages_total", message="rpc", code="OK") == 1
        assert m.value("kizuna_socket_messages_total", message="channel_join", code="OK") == 1
        assert m.value("kizuna_socket_messages_total", message="rpc",
                       code="RUNTIME_FUNCTION_NOT_FOUND") == 1
        assert m.value("kizuna_socket_messages_total", message="invalid", code="BAD_INPUT") == 1
        assert m.value("kizuna_socket_message_duration_seconds_count", message="rpc") == 2
        assert m.value("kizuna_runtime_call_duration_seconds_count", kind="rpc",
                       function="score") == 2
        assert m.value("kizuna_custom_wins_total", mode="ranked") == 4
        await ws.close()

        async def socket_gone() -> bool:
            m = await scrape(http, port)
            return (m.value("kizuna_sockets") == 0
                    and not m.find("kizuna_presences", mode="notifications"))
        await until(socket_gone)

        # -- revocations, the database pool, the event queue ---------------------------------
        m = await scrape(http, port)
        revoked = m.value("kizuna_session_revocations_total")
        async with http.post(srv.url + "/v2/session/logout", json={"token": token},
                             headers={"Authorization": bearer(token)}) as resp:
            assert resp.status == 200
        m = await scrape(http, port)
        assert m.value("kizuna_session_revocations_total") == revoked + 1
        assert m.value("kizuna_session_revoked_tokens") >= 1
        assert m.value("kizuna_db_pool_max_connections") == 100  # database.max_open_conns
        assert 1 <= m.value("kizuna_db_pool_connections") <= 100
        assert 0 <= m.value("kizuna_db_pool_in_use") <= m.value("kizuna_db_pool_connections")
        assert m.value("kizuna_db_pool_waiting") == 0
        assert m.value("kizuna_runtime_event_queue_capacity") == 65536
        assert m.value("kizuna_runtime_event_queue_depth") == 0
        assert m.value("kizuna_ready") == 1 and m.value("kizuna_draining") == 0
        assert m.find("process_resident_memory_bytes")  # prometheus-client's process metrics

        # -- under load: every scrape parses, and the counts add up --------------------------
        tokens = [await login(http, srv.url) for _ in range(4)]
        before = (await scrape(http, port)).value("kizuna_api_requests_total",
                                                  method="GetAccount", status="200")

        async def reads(tok: str) -> None:
            for _ in range(50):
                async with http.get(srv.url + "/v2/account",
                                    headers={"Authorization": bearer(tok)}) as resp:
                    assert resp.status == 200

        async def scrapes() -> int:
            n = 0
            for _ in range(10):
                assert (await scrape(http, port)).find("kizuna_build_info")
                n += 1
            return n
        *_, scraped = await asyncio.gather(*(reads(t) for t in tokens), scrapes())
        assert scraped == 10
        m = await scrape(http, port)
        assert m.value("kizuna_api_requests_total", method="GetAccount",
                       status="200") == before + 200

        # -- the Grafana dashboard asks only for metrics the node exports --------------------
        dashboard = (ROOT / "deploy" / "grafana-kizuna.json").read_text()
        json.loads(dashboard)
        asked = set(re.findall(r"\b(kizuna_[a-z_]+)", dashboard))
        assert len(asked) > 20
        for name in asked:
            family = re.sub(r"_(total|bucket|count|sum)$", "", name)
            assert family in m.families, name

        # -- draining: the listener stays up through the stop and shows it -------------------
        srv.proc.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            m = await scrape(http, port)
            return m.value("kizuna_draining") == 1 and m.value("kizuna_ready") == 0
        await until(draining, timeout=3)
    assert srv.proc.wait(20) == 0


async def test_nothing_more_listens_without_the_prometheus_port(server_factory, db_address):
    srv = server_factory("--migrate", "--database.address", db_address, "--logger.format", "text")
    # metrics.prometheus_port is 0 by default (as Nakama): only the node's own port listens.
    assert listening_ports(srv.proc.pid) == {srv.port, console_port(srv)}  # game API, console
    assert "Prometheus" not in srv.log()


def test_a_taken_metrics_port_stops_the_start(server_factory, db_address):
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as info:
            server_factory("--migrate", "--database.address", db_address,
                           "--metrics.prometheus_port", str(port))
    assert f"cannot listen on metrics.prometheus_port {port}" in str(info.value)


# -- the rules of custom metrics, without a server ---------------------------------------------


def _error(call) -> str:
    with pytest.raises(KizunaError) as info:
        call()
    assert info.value.code == Code.INVALID_ARGUMENT
    return info.value.message


def test_custom_metric_rules_hold_without_an_exporter():
    m = CustomMetrics()  # as under `kizuna check`, or a node without metrics.prometheus_port
    m.counter_add("wins", {"mode": "ranked"}, 1)
    m.counter_add("wins_total", {"mode": "casual"}, 0)  # the same counter
    m.gauge_set("players", None, -3.5)
    m.timer_record("match", {}, 1.5)
    from datetime import timedelta
    m.timer_record("match", None, timedelta(milliseconds=20))
    assert "is not a valid metric name" in _error(lambda: m.counter_add("a.b", None, 1))
    assert "is not a valid metric name" in _error(lambda: m.counter_add("__x", None, 1))
    assert "name must be a string" in _error(lambda: m.counter_add(None, None, 1))
    assert "longer than 128" in _error(lambda: m.gauge_set("x" * 129, None, 1))
    assert "tags must be a dict" in _error(lambda: m.counter_add("c", ["a"], 1))
    assert "at most 10 tags" in _error(
        lambda: m.counter_add("c", {f"t{i}": "v" for i in range(11)}, 1))
    assert "reserved" in _error(lambda: m.counter_add("c", {"le": "1"}, 1))
    assert "longer than 256" in _error(lambda: m.counter_add("c", {"t": "v" * 257}, 1))
    assert "must be a number" in _error(lambda: m.counter_add("c", None, True))
    assert "finite" in _error(lambda: m.gauge_set("g", None, float("nan")))
    assert "0 seconds or more" in _error(lambda: m.timer_record("t", None, -1))
    assert "already a counter" in _error(lambda: m.gauge_set("wins", {"mode": "x"}, 1))
    assert "first used with tags (mode), not (no tags)" in _error(
        lambda: m.counter_add("wins", None, 1))
    assert "both would be exported as kizuna_custom_match_seconds" in _error(
        lambda: m.gauge_set("match_seconds", None, 1))
    assert "both would be exported as kizuna_custom_wins_total" in _error(
        lambda: m.gauge_set("wins_total", None, 1))
    for i in range(MAX_METRICS - 3):
        m.gauge_set(f"g{i}", None, i)
    assert "over the limit of 200" in _error(lambda: m.gauge_set("one_too_many", None, 1))
    m.gauge_set("g0", None, 5)  # known names go on
