"""nk calls refuse bad arguments with `Error(..., 3)` naming the problem, never a raw database or
encoder exception (found while documenting every call's errors, issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.runtime import Code, Error
from kizuna.testing import ModuleHarness
from tests.conftest import write_modules

MODULE = '''
def init_module(ctx, logger, nk, initializer):
    nk.leaderboard_create("board")
'''


def refused(fn, *args, **kwargs) -> Error:
    with pytest.raises(Error) as info:
        fn(*args, **kwargs)
    assert info.value.code == Code.INVALID_ARGUMENT, info.value
    return info.value


def test_bad_ids_metadata_and_content_are_argument_errors(tmp_path: Path) -> None:
    path = write_modules(tmp_path, game=MODULE) / "game.py"
    with ModuleHarness(path) as h:
        nk = h.nk
        uid = h.user("alice").id

        err = refused(nk.storage_write, [{"collection": "c", "key": "k", "user_id": "not-a-uuid",
                                          "value": {"a": 1}}])
        assert "not-a-uuid" in str(err) and "UUID" in str(err)
        refused(nk.storage_read, [{"collection": "c", "key": "k", "user_id": "nope"}])

        err = refused(nk.leaderboard_record_write, "board", uid, score=1, metadata="[1, 2]")
        assert "Metadata value must be JSON" in str(err)
        refused(nk.leaderboard_record_write, "board", uid, score=1, metadata="not json")
        assert nk.leaderboard_record_write("board", uid, score=5, metadata={"ok": True})

        err = refused(nk.notification_send, uid, "hi", {"when": object()}, 100)
        assert "content must be JSON-encodable" in str(err)
        refused(nk.notification_send_all, "hi", {"when": object()}, 100)
        err = refused(nk.notifications_send, [{"user_id": uid, "subject": "hi", "content": {},
                                               "code": 100, "sender_id": "bad-sender",
                                               "persistent": True}])
        assert "bad-sender" in str(err)
        nk.notification_send(uid, "hi", {"n": 1}, 100, persistent=True)
        items, _ = nk.notifications_list(uid)
        refused(nk.notifications_update, [{"id": items[0]["id"], "content": {"x": object()}}])
