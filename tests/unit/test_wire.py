"""The wire package: Nakama's conventions, in the one place every transport uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kizuna.errors import Code, KizunaError
from kizuna.wire import codec, encode, fields, methods, paging
from kizuna.wire.types import ChannelMessage, Notification, StorageAck, User

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_timestamps_like_protojson():
    assert codec.timestamp(T) == "2026-01-02T03:04:05Z"
    assert codec.timestamp(T.replace(microsecond=999999)) == "2026-01-02T03:04:05Z"
    assert codec.timestamp(T.replace(microsecond=120000), "fraction") == "2026-01-02T03:04:05.120Z"
    assert codec.timestamp(T.replace(microsecond=123456), "fraction") == \
        "2026-01-02T03:04:05.123456Z"
    assert codec.timestamp(None) is None
    assert codec.since_epoch(codec.EPOCH) is None


def test_limits_with_nakamas_message():
    assert paging.limit(None, default=1) == 1
    assert paging.limit(100, default=1) == 100
    for bad in (0, 101, True, "5", 2.0):
        with pytest.raises(KizunaError) as err:
            paging.limit(bad, default=1)
        assert err.value.code == Code.INVALID_ARGUMENT
        assert err.value.message == "Invalid limit - limit must be between 1 and 100."


def test_one_cursor_codec_round_trips_and_refuses_foreign_cursors():
    cursor = paging.encode_cursor([1, "key", "00000000-0000-0000-0000-000000000001"])
    assert "=" not in cursor
    assert paging.decode_cursor(cursor) == [1, "key", "00000000-0000-0000-0000-000000000001"]
    for bad in ("not base64!", cursor + "=", "e30", 5):  # e30 is {} (not a list)
        with pytest.raises(KizunaError) as err:
            paging.decode_cursor(bad, "Cursor is invalid or expired.")
        assert err.value.message == "Cursor is invalid or expired."


def test_field_readers_accept_both_spellings_and_name_the_field():
    assert fields.field({"userId": "u"}, "user_id") == "u"
    assert fields.integer({"opCode": "9007199254740993"}, "op_code") == 9007199254740993
    assert fields.boolean({"x": {"value": False}}, "x", True) is False
    assert fields.boolean({}, "x", True) is True
    with pytest.raises(KizunaError, match=r"^n: expected an integer$"):
        fields.integer({"n": "x"}, "n")
    with pytest.raises(KizunaError, match=r"^id: expected a string$"):
        fields.text({"id": 5}, "id")
    with pytest.raises(KizunaError, match=r"^vars: expected an object of string values$"):
        fields.optional_string_map({"vars": {"a": 1}}, "vars")


def test_socket_message_table():
    assert "channel_join" in methods.CLIENT_KINDS and "channel" not in methods.CLIENT_KINDS
    assert "rpc" in methods.CLIENT_KINDS and "rpc" not in methods.HOOKABLE_KINDS
    assert methods.rt_kind("MatchDataSend") == "match_data_send"
    assert methods.api_key("authenticatedevice") == "authenticatedevice"
    assert methods.api_key("NoSuchMethod") is None


def test_encoders_rest_and_full_forms():
    u = User(id="u1", username="ann", metadata='{"a":1}', create_time=T, update_time=T)
    assert encode.user(u) == {"id": "u1", "username": "ann", "metadata": '{"a":1}',
                              "create_time": "2026-01-02T03:04:05Z",
                              "update_time": "2026-01-02T03:04:05Z"}
    full = encode.user(u, full=True)
    assert full["metadata"] == {"a": 1} and full["display_name"] == "" and full["online"] is False

    n = Notification("n1", "u1", "hi", "{}", 0, "", T, False)
    assert encode.notification(n) == {"id": "n1", "subject": "hi", "content": "{}",
                                      "create_time": "2026-01-02T03:04:05Z"}
    assert encode.notification(n, full=True)["content"] == {}

    ack = StorageAck("c", "k", "v1", "u1", T.replace(microsecond=5000), None)
    assert encode.storage_ack(ack) == {"collection": "c", "key": "k", "user_id": "u1",
                                       "version": "v1",
                                       "create_time": "2026-01-02T03:04:05.005Z"}
    assert encode.storage_ack(ack, full=True)["update_time"] == ""

    m = ChannelMessage("2...room", "m1", 0, "u1", "ann", '{"x":1}', T, T, True, room_name="room")
    out = encode.channel_message(m)
    assert out["code"] == 0 and out["persistent"] is True and out["room_name"] == "room"
    assert "group_id" not in out
    assert encode.channel_message_ack(out) == {k: v for k, v in out.items()
                                               if k not in ("sender_id", "content")}
    assert encode.channel_message(m, full=True)["content"] == {"x": 1}
