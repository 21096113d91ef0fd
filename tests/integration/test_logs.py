"""`logger.format: stackdriver` against a real `kizuna server`: every line it writes is one JSON
object with the fields Google Cloud Logging reads from a structured log line (`severity`,
`message`, `time` as an RFC 3339 UTC timestamp), the logger's fields beside them (they land in
`jsonPayload`), and tracebacks with the error, as `kizuna/logs.py` promises and as Nakama's
stackdriver encoder writes them (`time`, `severity`, `message`; not the json format's `ts`,
`level`, `msg`).
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import server_on_fresh_database, write_modules
from tests.integration.nakama_http import Api, poll

pytestmark = pytest.mark.timeout(120)

HTTP_KEY = "logshttpkey"
MODULE = textwrap.dedent('''
    def say(ctx, logger, nk, payload):
        logger.with_field("player", "ada").info("said %s", payload, score=7, tags=["a", "b"])
        return payload

    def crash(ctx, logger, nk, payload):
        raise ValueError("the module broke: " + payload)

    def init_module(ctx, logger, nk, initializer):
        initializer.register_rpc("say", say)
        initializer.register_rpc("crash", crash)
''')

# Cloud Logging's LogSeverity names: a `severity` outside them is read as DEFAULT.
SEVERITIES = {"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT",
              "EMERGENCY"}


def _lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)  # every line is JSON: a plain-text line fails here
        assert isinstance(doc, dict), line
        out.append(doc)
    return out


@pytest.fixture
def stackdriver_server(tmp_path: Path):
    mods = write_modules(tmp_path, logs_module=MODULE)
    with server_on_fresh_database(tmp_path, "--logger.format", "stackdriver",
                                  "--runtime.path", str(mods),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        yield srv


@pytest.fixture
def started_at() -> datetime:
    """Before the server starts (fixtures run in order): `time` has milliseconds, so whole
    seconds give slack below."""
    return datetime.now(UTC).replace(microsecond=0)


async def test_stackdriver_lines_are_cloud_logging_json(started_at: datetime, stackdriver_server):
    srv, before = stackdriver_server, started_at
    async with aiohttp.ClientSession() as http:
        api = Api(srv.url, http)
        r = await api.call("POST", "/v2/rpc/say", data=json.dumps("héllo \"world\""),
                           params={"http_key": HTTP_KEY})
        assert r.status == 200, r
        r = await api.call("POST", "/v2/rpc/crash", data=json.dumps("boom"),
                           params={"http_key": HTTP_KEY})
        assert r.status == 500, r

        def find(message: str):
            async def check():
                return [d for d in _lines(srv.log()) if d.get("message") == message]
            return check

        [said] = await poll(find('said héllo "world"'))
        [failed] = await poll(find("Runtime function failed"))
    assert srv.stop() == 0
    after = datetime.now(UTC)
    lines = _lines(srv.log())

    assert len(lines) >= 4, lines  # start-up lines, the two above, shutdown
    for doc in lines:
        assert isinstance(doc["message"], str) and doc["message"], doc
        assert isinstance(doc["severity"], str) and doc["severity"].isupper(), doc
        assert not {"ts", "level", "msg"} & set(doc), doc
        at = datetime.fromisoformat(doc["time"].replace("Z", "+00:00"))
        assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0, doc
        assert before <= at <= after, (doc, before, after)
    # Cloud Logging's severity names, warnings included (the default keys warn at every start).
    assert {d["severity"] for d in lines} >= {"INFO", "WARNING", "ERROR"}
    assert all(d["severity"] in SEVERITIES for d in lines), lines

    # The module logger's message, with its fields beside it as JSON values.
    assert said["severity"] == "INFO"
    assert (said["player"], said["score"], said["tags"]) == ("ada", 7, ["a", "b"])
    # A failing function: an ERROR line whose error holds the traceback.
    assert failed["severity"] == "ERROR"
    assert "Traceback" in failed["error"] and "ValueError: the module broke: boom" in failed["error"]
