"""The wire layer's input checks (issue 15): NUL in text, integers by their protocol type,
timestamps at the calendar's limits."""

from __future__ import annotations

import pytest

from kizuna.errors import KizunaError
from kizuna.wire import codec, fields


def msg(fn, *args, **kw) -> str:
    with pytest.raises(KizunaError) as info:
        fn(*args, **kw)
    assert info.value.code == 3
    return info.value.message


def test_nul_is_refused_in_every_reader_naming_the_field():
    nul = "must not contain the NUL character (U+0000)"
    assert msg(fields.text, {"userName": "a\x00"}, "user_name") == f"user_name: {nul}"
    assert msg(fields.strings, {"ids": ["x", "\x00"]}, "ids") == f"ids[1]: {nul}"
    assert msg(fields.optional_string_value, {"name": {"value": "\x00"}}, "name") == \
        f"name.value: {nul}"
    assert msg(fields.optional_string_map, {"vars": {"k\x00": "v"}}, "vars") == f"vars: {nul}"
    assert msg(fields.objects, {"objects": [{"a": 1}, {"key": "\x00"}]}, "objects") == \
        f"objects[1].key: {nul}"
    assert msg(fields.path, {"group_id": "g\x00"}, "group_id") == f"group_id: {nul}"


class Query(dict):
    def getall(self, key, default):
        return [self[key]] if key in self else default


def test_query_readers_refuse_nul():
    assert msg(fields.query, Query(cursor="\x00"), "cursor").startswith("cursor: ")
    assert msg(fields.query_all, Query(ids="\x00"), "ids").startswith("ids: ")


def test_find_nul_is_iterative_and_reads_decoded_values():
    deep: object = "\x00"
    for _ in range(5000):
        deep = [deep]
    assert fields.contains_nul(deep)
    assert not fields.contains_nul(codec.loads('{"a":"\\\\u0000"}'))
    assert fields.contains_nul(codec.loads('{"a":"\\u0000"}'))


@pytest.mark.parametrize("value", [" 1 ", "1 ", "+1", "\u0661", "1.5", "0x10", "1e3", "--1",
                                   True, [1], 1.5, float("inf")])
def test_integers_are_parsed_strictly(value):
    assert msg(fields.optional_integer, {"n": value}, "n") == "n: expected an integer"


def test_integers_are_in_their_types_range():
    assert fields.optional_integer({"n": "-2147483648"}, "n", bits=32) == -(2**31)
    assert fields.optional_integer({"n": str(2**63 - 1)}, "n") == 2**63 - 1
    assert fields.optional_integer({"n": 3.0}, "n") == 3
    assert msg(fields.optional_integer, {"n": 2**31}, "n", bits=32) == "n: out of range for int32"
    assert msg(fields.optional_integer, {"n": str(2**63)}, "n") == "n: out of range for int64"
    assert msg(fields.optional_integer, {"n": 1e30}, "n") == "n: out of range for int64"
    assert msg(fields.query_int, Query(limit=str(2**31)), "limit", "bad") == "bad"
    assert msg(fields.query_int, Query(limit=" 1"), "limit", "bad") == "bad"


def test_timestamps_at_the_calendars_limits():
    assert codec.timestamp(codec.parse_timestamp("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00Z"
    assert msg(codec.parse_timestamp, "0001-01-01T00:00:00+01:00") == "timestamp: time out of range"
    assert msg(codec.parse_timestamp, "9999-12-31T23:59:59-01:00") == "timestamp: time out of range"
