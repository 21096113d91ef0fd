"""The realtime building blocks without a server: envelope codec, channel ids, tracker events,
session queueing. Everything a socket does end to end is in tests/integration/test_realtime.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from kizuna.core import chat
from kizuna.core.streams import CHANNEL, DM, MATCH_RELAYED, STATUS, Stream
from kizuna.errors import KizunaError
from kizuna.realtime import envelope
from kizuna.realtime.envelope import EnvelopeError, ErrorCode
from kizuna.realtime.session import Session, SessionRegistry
from kizuna.realtime.tracker import LocalTracker
from kizuna.wire import codec, fields

U1 = "11111111-1111-1111-1111-111111111111"
U2 = "22222222-2222-2222-2222-222222222222"


def test_decode_envelopes():
    assert envelope.decode('{"cid":"1","ping":{}}') == ("1", "ping", {})
    assert envelope.decode(b'{"ping":{},"cid":5}') == ("5", "ping", {})
    assert envelope.decode('{"status_update":{"status":"x"},"trace":1}') == \
        (None, "status_update", {"status": "x"})
    for raw, code in (("{", ErrorCode.BAD_INPUT), ("[]", ErrorCode.BAD_INPUT),
                      ("{}", ErrorCode.MISSING_PAYLOAD), ('{"cid":"1"}', ErrorCode.MISSING_PAYLOAD),
                      ('{"ping":null}', ErrorCode.MISSING_PAYLOAD),
                      ('{"nope":{}}', ErrorCode.UNRECOGNIZED_PAYLOAD),
                      ('{"ping":{},"pong":{}}', ErrorCode.BAD_INPUT),
                      ('{"ping":[]}', ErrorCode.BAD_INPUT),
                      ('{"cid":{},"ping":{}}', ErrorCode.BAD_INPUT)):
        with pytest.raises(EnvelopeError) as exc:
            envelope.decode(raw)
        assert exc.value.code == code, raw


def test_encode_envelopes():
    assert envelope.reply("3", "pong", {}) == b'{"cid":"3","pong":{}}'
    assert envelope.push("pong", {}) == b'{"pong":{}}'
    assert envelope.empty("4") == b'{"cid":"4"}'
    assert orjson.loads(envelope.error("5", ErrorCode.BAD_INPUT, "no", {"k": "v"})) == \
        {"cid": "5", "error": {"code": 3, "message": "no", "context": {"k": "v"}}}
    assert envelope.error(None, 1, "x") == b'{"error":{"code":1,"message":"x"}}'


def test_timestamps_like_protojson():
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert codec.timestamp(t, "fraction") == "2026-01-02T03:04:05Z"
    assert codec.timestamp(t.replace(microsecond=120000), "fraction") == "2026-01-02T03:04:05.120Z"
    assert codec.timestamp(t.replace(microsecond=123456), "fraction") == \
        "2026-01-02T03:04:05.123456Z"
    assert codec.timestamp(t.replace(microsecond=999999)) == "2026-01-02T03:04:05Z"


def test_field_readers():
    assert fields.boolean({"x": {"value": False}}, "x", True) is False
    assert fields.boolean({}, "x", True) is True
    assert fields.integer({"op_code": "9007199254740993"}, "op_code") == 9007199254740993
    assert fields.integer({"opCode": 4}, "op_code") == 4
    with pytest.raises(KizunaError):
        fields.integer({"n": "x"}, "n")
    with pytest.raises(KizunaError):
        fields.boolean({"b": 1}, "b", False)


def test_channel_ids():
    assert chat.parse_channel_id("2...lobby") == Stream(CHANNEL, "", "", "lobby")
    assert chat.parse_channel_id("2...a.b") == Stream(CHANNEL, "", "", "a.b")
    assert chat.parse_channel_id(f"4.{U1}.{U2}.") == Stream(DM, U1, U2, "")
    for bad in ("", "2..", "2...", "2.x..y", f"4.{U1}..", f"4.{U1}.{U2}.x", "5...x", None, 7,
                "2..." + "x" * 65):
        assert chat.parse_channel_id(bad) is None, bad
    assert chat.channel_id(chat.dm_stream(U2, U1)) == f"4.{U1}.{U2}."
    assert chat.channel_names(Stream(DM, U1, U2)) == {"user_id_one": U1, "user_id_two": U2}
    with pytest.raises(KizunaError):
        chat.room_stream("x" * 65)
    with pytest.raises(KizunaError):
        chat.check_content('{"a":"\\u0000"}')
    assert chat.check_content('{"a":1}') == '{"a":1}'


async def test_tracker_batches_events_per_stream():
    t = LocalTracker("n1")
    seen = []
    t.listen(CHANNEL, lambda s, joins, leaves: seen.append(
        (s.label, [p.session_id for p in joins], [p.session_id for p in leaves])))
    room = Stream(CHANNEL, "", "", "r")
    assert t.track("s1", room, U1, "a") is True
    assert t.track("s1", room, U1, "a") is False
    t.track("s2", room, U2, "b", hidden=True)
    assert seen == []  # delivered on the next loop turn, after the caller's reply
    await asyncio.sleep(0)
    assert seen == [("r", ["s1"], [])]
    assert [p.session_id for p in t.list(room)] == ["s1"]
    assert len(t.list(room, include_hidden=True)) == 2
    t.track("s1", Stream(MATCH_RELAYED, U2), U1, "a")
    t.untrack_all("s1")
    t.untrack_all("s2")
    await asyncio.sleep(0)
    assert seen[-1] == ("r", [], ["s1"])  # the hidden member leaves silently
    assert not t.exists(room) and t.size == 0


async def test_tracker_update_is_leave_then_join():
    t = LocalTracker("n1")
    events = []
    t.listen(STATUS, lambda s, joins, leaves: events.append(
        ([p.status for p in joins], [p.status for p in leaves])))
    st = Stream(STATUS, U1)
    t.update("s1", st, U1, "a", status="one")
    await asyncio.sleep(0)
    t.update("s1", st, U1, "a", status="two")
    await asyncio.sleep(0)
    assert events == [(["one"], []), (["two"], ["one"])]


class FakeConn:
    def __init__(self) -> None:
        self.room = True
        self.written: list[bytes] = []
        self.aborted = None
        self.gate = asyncio.Event()

    def try_write(self, data: bytes) -> bool:
        if self.room:
            self.written.append(data)
        return self.room

    async def write(self, data: bytes) -> None:
        await self.gate.wait()
        self.written.append(data)

    def ping(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self, code=None, reason="") -> None:
        self.aborted = (code, reason)


async def test_session_queue_is_bounded_and_ordered():
    conn = FakeConn()
    s = Session(conn, session_id="s", node="n", user_id=U1, username="a", queue_size=3)
    assert s.send(b"1")
    conn.room = False  # the transport is full: frames wait, in order
    assert s.send(b"2") and s.send(b"3")
    conn.room = True
    assert s.send(b"4")  # still queued behind 2 and 3: order is kept
    conn.gate.set()
    for _ in range(100):  # the writer task drains on the next loop turns (no I/O, no clock)
        if s.queued == 0:
            break
        await asyncio.sleep(0)
    assert conn.written == [b"1", b"2", b"3", b"4"] and s.queued == 0

    conn2 = FakeConn()
    conn2.room = False
    s2 = Session(conn2, session_id="t", node="n", user_id=U1, username="a", queue_size=2)
    assert s2.send(b"a") and s2.send(b"b")
    assert not s2.send(b"c")  # full: the session is closed, not grown
    assert s2.closed and conn2.aborted == (1008, "outgoing queue full")
    assert not s2.send(b"d")


def test_registry_ids_carry_the_node():
    r = SessionRegistry("node-a")
    a, b = r.new_id(), r.new_id()
    assert a != b and a.split("-")[-1] == b.split("-")[-1]
    assert SessionRegistry("node-b").new_id().split("-")[-1] != a.split("-")[-1]
