"""Fuzz the realtime socket with hypothesis: random and mutated envelopes of every client message
kind (kizuna.wire.methods.CLIENT_KINDS) sent to a real server's /ws.

Every reply must be an envelope (a JSON object with one message key besides `cid`, or an error
envelope), the socket must still answer a ping afterwards, the server must stay up, its log hold
no traceback, and its memory (RSS, from /proc) stay bounded. Bounded: KZ_FUZZ_SOCKET_EXAMPLES
envelopes (default 3,000, about 25 s; raise it for a deep run).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kizuna.wire.methods import CLIENT_KINDS

pytestmark = pytest.mark.timeout(600)

EXAMPLES = int(os.environ.get("KZ_FUZZ_SOCKET_EXAMPLES", "3000"))
KINDS = sorted(CLIENT_KINDS)
# Field names clients send, so mutations hit the fields handlers read.
NAMES = ["id", "name", "target", "type", "channel_id", "message_id", "content", "match_id",
         "op_code", "data", "presences", "session_id", "user_ids", "usernames", "status",
         "payload", "token", "persistence", "hidden", "reliable", "metadata", "party_id",
         "query", "min_count", "max_count", "ticket", "group_id", "limit", "cursor", "open"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=40),
    st.sampled_from(["", "\x00", "2...room", f"{uuid.uuid4()}.", str(uuid.uuid4()), "{}",
                     '{"a":"\\u0000"}', "1", " 1 ", "\u0661", "-0", str(2**63), "0001-01-01T00:00:00Z"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8),
                                                 inner, max_size=4)), max_leaves=12)
bodies = st.dictionaries(st.sampled_from(NAMES), values, max_size=6)
envelopes = st.one_of(
    st.builds(lambda k, b, cid: {k: b, "cid": cid}, st.sampled_from(KINDS), bodies,
              st.one_of(st.text(max_size=6), st.integers(), st.none())),
    st.builds(lambda k, v: {k: v}, st.sampled_from(KINDS), values),  # a non-object body
    st.dictionaries(st.sampled_from([*KINDS, "cid"]), values, max_size=3),  # several keys
    values)  # not an envelope at all


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def is_envelope(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    keys = set(doc) - {"cid"}
    if not keys:  # an empty reply: `{"cid": ...}`, or `{}` when the request's cid was ""
        return True
    return len(keys) == 1 and isinstance(doc[next(iter(keys))], dict)


async def test_socket_envelopes(server):
    stats = {"sent": 0, "replies": 0, "reconnects": 0}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v2/account/authenticate/device",
                             json={"id": f"fuzz-{uuid.uuid4().hex}"},
                             headers={"Authorization": "Basic ZGVmYXVsdGtleTo="}) as r:
            token = (await r.json())["token"]
        url = f"ws://127.0.0.1:{server.port}/ws?token={token}"
        ws = await http.ws_connect(url)
        before = rss_kb(server.proc.pid)
        loop = asyncio.get_running_loop()
        sent: list[Any] = []

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(env=envelopes)
        def collect(env: Any) -> None:
            sent.append(env)

        await loop.run_in_executor(None, collect)
        for env in sent:
            if ws.closed:  # a socket the server closed (e.g. a message over the size limit)
                ws = await http.ws_connect(url)
                stats["reconnects"] += 1
            try:
                await ws.send_str(json.dumps(env))
            except aiohttp.ClientConnectionResetError:
                # The server closed it and the close has not reached `ws.closed` yet.
                ws = await http.ws_connect(url)
                stats["reconnects"] += 1
                await ws.send_str(json.dumps(env))
            stats["sent"] += 1
            # Drain whatever came back so far; every frame must be an envelope.
            while True:
                try:
                    msg = await ws.receive(timeout=0.002)
                except TimeoutError:
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                stats["replies"] += 1
                assert is_envelope(json.loads(msg.data)), (env, msg.data)
        if ws.closed:
            ws = await http.ws_connect(url)
        await ws.send_str(json.dumps({"ping": {}, "cid": "last"}))
        while True:
            doc = json.loads((await ws.receive(timeout=30)).data)
            assert is_envelope(doc), doc
            if doc.get("cid") == "last":
                assert "pong" in doc
                break
        await ws.close()
        after = rss_kb(server.proc.pid)
    print(f"\nsocket fuzz: {stats['sent']} envelopes sent, {stats['replies']} frames back, "
          f"{stats['reconnects']} reconnects, server RSS {before} kB -> {after} kB")
    assert server.proc.poll() is None
    assert after < before + 64 * 1024, (before, after)  # bounded: under 64 MiB of growth
    with urllib_open(server.url + "/healthcheck") as r:
        assert r.status == 200
    assert "Traceback" not in server.log(), server.log()[-4000:]


def urllib_open(url: str):
    import urllib.request
    return urllib.request.urlopen(url, timeout=5)
