"""Retention of automatic backups (`ops.backup.prune`): the newest backup of each schema version
is never rotated away, and `backup.retention` counts the others (issue 18, item 4)."""

from __future__ import annotations

from pathlib import Path

from kizuna.ops.backup import prune


def _touch(d: Path, stamp: str, head: str, reason: str = "up") -> Path:
    f = d / f"kizuna-auto-20250101T{stamp}000000Z-{head}-before-{reason}.kzb"
    f.write_bytes(b"x")
    return f


def test_the_pre_upgrade_backup_survives_a_run_of_backups_at_the_new_schema(tmp_path: Path) -> None:
    before_upgrade = _touch(tmp_path, "100000", "0004_chat_notifications")
    later = [_touch(tmp_path, f"1100{i:02d}", "0005_cluster_node", "redo") for i in range(8)]
    manual = tmp_path / "kizuna-20250101T120000Z-0005_cluster_node.kzb"
    manual.write_bytes(b"x")
    removed = prune(tmp_path, 5)
    assert sorted(removed) == later[:2]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([before_upgrade.name, manual.name, *(f.name for f in later[2:])])


def test_retention_counts_the_backups_that_are_not_the_newest_of_their_schema(tmp_path: Path) -> None:
    files = []
    for i in range(4):  # down/up cycles: two schemas, alternating
        files.append(_touch(tmp_path, f"1{i}0000", "0009_wallet_ledger", "down"))
        files.append(_touch(tmp_path, f"1{i}3000", "0008_leaderboards", "up"))
    removed = prune(tmp_path, 2)
    assert sorted(removed) == files[:4]
    assert sorted(tmp_path.iterdir()) == files[4:]
    assert prune(tmp_path, 0) == []  # 0 keeps everything
    assert prune(tmp_path, 2) == []


def test_odd_names_are_their_own_group(tmp_path: Path) -> None:
    odd = tmp_path / "kizuna-auto-hand-made.kzb"
    odd.write_bytes(b"x")
    a = _touch(tmp_path, "100000", "empty")
    assert prune(tmp_path, 1) == []
    assert odd.exists() and a.exists()
