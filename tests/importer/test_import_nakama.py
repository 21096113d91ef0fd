"""`kizuna import nakama`: a Nakama 3.40-shaped database (our own DDL from the documented schema,
filled with a realistic world and its edge cases) is imported into a fresh Kizuna database by the
real command, then a real `kizuna server` serves it to the official nakama-js client as those
players: device, email and custom logins, saves, friends, groups, ranks, notifications, chat,
and a session token Nakama signed before the switch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from tests.conftest import PG, run_kizuna, start_server
from tests.importer import nakama_fixture as nf
from tests.importer.conftest import NakamaSource, target_fetch

E2E = Path(__file__).resolve().parent.parent / "e2e"
SESSION_KEY = "nakama-production-session-key-7f3a9c"
REFRESH_KEY = "nakama-production-refresh-key-2b8e41"
TABLES = ("users", "user_device", "user_tombstone", "user_edge", "groups", "group_edge",
          "leaderboard", "leaderboard_record", "storage", "wallet_ledger", "notification",
          "message")


def imp(src: NakamaSource, target: str, *flags: str, tmp_path: Path | None = None
        ) -> subprocess.CompletedProcess:
    backup = ["--backup.dir", str(tmp_path / "backups")] if tmp_path else []
    return run_kizuna("import", "nakama", "--from", src.address, "--database.address", target,
                      *backup, *flags, timeout=300)


def imp_json(src: NakamaSource, target: str, *flags: str, tmp_path: Path | None = None,
             ok: bool = True) -> dict[str, Any]:
    r = imp(src, target, "--json", *flags, tmp_path=tmp_path)
    assert (r.returncode == 0) is ok, r.stdout + r.stderr
    return json.loads(r.stdout)


def tables(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["tables"]}


def database_exists(name: str) -> bool:
    rows = target_fetch(f"{PG}/postgres", "SELECT 1 FROM pg_database WHERE datname = $1", name)
    return bool(rows)


def test_dry_run_reports_per_table_and_changes_nothing(nakama: NakamaSource, db_name: str,
                                                      db_address: str) -> None:
    doc = imp_json(nakama, db_address, "--dry-run")
    assert doc["dry_run"] is True
    assert doc["source"]["schema"] == "20260319134532-add-display-name-index.sql"
    got = tables(doc)
    for name in TABLES:
        assert got[name]["source_rows"] == nakama.expected.row_counts[name], name
        assert got[name]["source_bytes"] > 0
    assert {k: v["rows"] for k, v in doc["not_carried"].items()} == nakama.expected.not_carried
    assert "no purchase validation" in doc["not_carried"]["purchase"]["why"]
    assert not database_exists(db_name), "a dry run must not create Kizuna's database"

    text = imp(nakama, db_address, "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "dry run: nothing was changed" in text.stdout
    assert "storage" in text.stdout and "console_user" in text.stdout


def nakama_token(key: str, user: nf.ExpectedUser, lifetime: int, tid: str | None = None) -> str:
    """A token as Nakama signs one: HS256 over tid, uid, usn, exp, iat."""
    now = int(time.time())
    return jwt.encode({"tid": tid or str(uuid.uuid4()), "uid": user.id, "usn": user.username,
                       "exp": now + lifetime, "iat": now}, key, algorithm="HS256")


def expectations(src: NakamaSource) -> dict[str, Any]:
    e = src.expected
    users = {k: {"key": k, "id": u.id, "username": u.username, "display_name": u.display_name,
                 "devices": u.devices, "email": u.email, "password": u.password,
                 "custom_id": u.custom_id, "steam_id": u.steam_id, "apple_id": u.apple_id,
                 "banned": u.banned, "wallet": u.wallet, "metadata": u.metadata,
                 "lang_tag": u.lang_tag, "edge_count": u.edge_count}
             for k, u in e.users.items()}
    alice, bob = e.user("alice"), e.user("bob")
    tid, other = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "users": users,
        "objects": [{"collection": o.collection, "key": o.key, "user_id": o.user_id,
                     "value": o.value, "version": o.version, "read": o.read, "write": o.write}
                    for o in e.objects],
        "friends": e.friends,
        "groups": {name: {"id": g.id, "edge_count": g.edge_count, "metadata": g.metadata,
                          "members": g.members} for name, g in e.groups.items()},
        "boards": {bid: {"tournament": b.tournament,
                         "records": [{"owner_id": r.owner_id, "score": r.score,
                                      "subscore": r.subscore, "num_score": r.num_score}
                                     for r in b.current_records]}
                   for bid, b in e.boards.items()},
        "notifications": {uid: [{"id": n.id, "subject": n.subject, "code": n.code}
                                for n in ns] for uid, ns in e.notifications.items()},
        "channels": {k: {"messages": [{"id": m.id, "content": m.content} for m in ch.messages]}
                     for k, ch in e.channels.items()},
        "nakama_session": {
            "token": nakama_token(SESSION_KEY, alice, 600, tid),
            "refresh_token": nakama_token(REFRESH_KEY, alice, 3600, tid),
            "other_token": nakama_token(SESSION_KEY, bob, 600, other),
            "other_refresh_token": nakama_token(REFRESH_KEY, bob, 3600, other),
            "forged_token": nakama_token("some other key, of the same length", alice, 600),
        },
    }


def run_js(port: int, expected_file: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "Node.js is required for the end-to-end tests"
    return subprocess.run(
        [node, "--test", "--test-reporter=spec", str(E2E / "js" / "imported_world.mjs")],
        cwd=E2E, capture_output=True, text=True, timeout=300,
        env={**os.environ, "KZ_E2E_PORT": str(port), "KZ_IMPORT_EXPECTED": str(expected_file)})


def test_players_find_their_world_after_the_import(nakama: NakamaSource, db_address: str,
                                                   tmp_path: Path) -> None:
    doc = imp_json(nakama, db_address, tmp_path=tmp_path)
    assert doc["mode"] == "full" and doc["verified"] is True
    for name, t in tables(doc).items():
        assert t["target_rows"] == t["source_rows"] == nakama.expected.row_counts[name], name
        assert t["target_digest"] == t["source_digest"], name
        assert t["skipped"] == {}
    assert doc["backup"] is None, "an empty target has nothing to back up"

    # The bcrypt hash is carried byte for byte.
    alice = nakama.expected.user("alice")
    src_hash = nakama.fetch("SELECT password FROM users WHERE id = $1", alice.id)[0][0]
    assert target_fetch(db_address, "SELECT password FROM users WHERE id = $1",
                        alice.id)[0][0] == src_hash

    expected_file = tmp_path / "expected.json"
    expected_file.write_text(json.dumps(expectations(nakama)))
    server = start_server(["--database.address", db_address, "--logger.format", "text",
                           "--session.encryption_key", SESSION_KEY,
                           "--session.refresh_encryption_key", REFRESH_KEY], tmp_path)
    try:
        # A node serves the database: an import now would go unseen by it.
        busy = imp(nakama, db_address, tmp_path=tmp_path)
        assert busy.returncode == 1 and "Kizuna nodes are using this database" in busy.stderr
        proc = run_js(server.port, expected_file)
        assert proc.returncode == 0, (f"{proc.stdout}\n{proc.stderr}\n--- server log ---\n"
                                      f"{server.log()[-4000:]}")
    finally:
        server.stop()

    # Players have used Kizuna since: a catch-up would delete what they did.
    again = imp(nakama, db_address, tmp_path=tmp_path)
    assert again.returncode == 1
    assert "served players since the last import" in again.stderr
    assert "--merge" in again.stderr


def test_rerun_is_a_catch_up_that_mirrors_the_source(nakama: NakamaSource, db_address: str,
                                                     tmp_path: Path) -> None:
    first = imp_json(nakama, db_address, tmp_path=tmp_path)
    assert first["verified"]
    same = imp_json(nakama, db_address, tmp_path=tmp_path)
    assert same["mode"] == "catch-up" and same["verified"]
    for name, t in tables(same).items():
        assert (t["inserted"], t["updated"], t["deleted"]) == (0, 0, 0), name
        assert t["unchanged"] == t["source_rows"]
    assert same["backup"] and Path(same["backup"]).is_file(), "catch-up backs Kizuna up first"

    e = nakama.expected
    alice, bob, carol = e.user("alice"), e.user("bob"), e.user("carol")
    newcomer = str(uuid.uuid4())
    # Nakama keeps serving: a rename that frees a name another player takes, a save, a new
    # player, a deleted account (cascading to its devices, saves, friends).
    nakama.sql(
        f"UPDATE users SET username = 'bob_old' WHERE id = '{bob.id}'",
        f"UPDATE users SET username = 'bob', display_name = 'Alice (now bob)' "
        f"WHERE id = '{alice.id}'",
        f"UPDATE users SET username = 'alice' WHERE id = '{bob.id}'",
        f"UPDATE storage SET value = '{{\"hp\": 1}}', version = 'v2' "
        f"WHERE collection = 'saves' AND key = 'slot1' AND user_id = '{alice.id}'",
        f"INSERT INTO users (id, username) VALUES ('{newcomer}', 'newcomer')",
        f"INSERT INTO user_device (id, user_id) VALUES ('newcomer-device', '{newcomer}')",
        f"DELETE FROM users WHERE id = '{carol.id}'",
    )
    # And an earlier run was cut short: rows it had not written yet are missing.
    target_fetch(db_address, "DELETE FROM message WHERE code = 0")

    doc = imp_json(nakama, db_address, tmp_path=tmp_path)
    assert doc["mode"] == "catch-up" and doc["verified"], doc
    got = tables(doc)
    assert got["users"]["inserted"] == 1 and got["users"]["updated"] == 2
    assert got["users"]["deleted"] == 1
    assert got["storage"]["updated"] == 1
    assert got["message"]["inserted"] > 0
    names = {r["id"]: r["username"] for r in target_fetch(db_address, "SELECT id::text, username FROM users")}
    assert names[alice.id] == "bob" and names[bob.id] == "alice" and names[newcomer] == "newcomer"
    assert carol.id not in names
    assert not target_fetch(db_address, "SELECT 1 FROM user_device WHERE user_id = $1", carol.id)
    runs = target_fetch(db_address, "SELECT mode, status FROM kizuna_import ORDER BY start_time")
    assert [(r["mode"], r["status"]) for r in runs] == [("full", "done"), ("catch-up", "done"),
                                                          ("catch-up", "done")]


def test_other_data_is_refused_unless_merge(nakama: NakamaSource, db_address: str,
                                             tmp_path: Path) -> None:
    up = run_kizuna("migrate", "up", "--database.address", db_address)
    assert up.returncode == 0, up.stderr
    own = str(uuid.uuid4())
    # A Kizuna game of its own already has a player called alice.
    target_fetch(db_address, f"INSERT INTO users (id, username) VALUES ('{own}', 'alice')")
    target_fetch(db_address,
                 f"INSERT INTO storage (collection, key, user_id, value, version) "
                 f"VALUES ('saves', 'slot1', '{own}', '{{\"mine\": true}}', 'k1')")
    # ... and holds the device id Nakama's bob uses.
    bob = nakama.expected.user("bob")
    target_fetch(db_address, f"INSERT INTO user_device (id, user_id) "
                             f"VALUES ('{bob.devices[0]}', '{own}')")

    refused = imp(nakama, db_address, tmp_path=tmp_path)
    assert refused.returncode == 1
    assert "already holds data of its own" in refused.stderr and "--merge" in refused.stderr
    assert target_fetch(db_address, "SELECT count(*) FROM users")[0][0] == 2  # nil + own

    dry = imp_json(nakama, db_address, "--dry-run")
    assert "refuses it unless --merge" in dry["target_state"]

    doc = imp_json(nakama, db_address, "--merge", tmp_path=tmp_path)
    assert doc["mode"] == "merge" and doc["verified"]
    assert doc["backup"] and Path(doc["backup"]).is_file()
    got = tables(doc)
    assert list(got["users"]["skipped"].values()) == [1]
    assert "(username)" in next(iter(got["users"]["skipped"]))
    alice = nakama.expected.user("alice")
    assert got["user_device"]["skipped"] == {
        "its users row (user_id) is not in Kizuna": len(alice.devices),
        "already in Kizuna with other contents (Kizuna's kept)": 1}
    rows = target_fetch(db_address, "SELECT id::text FROM users WHERE username = 'alice'")
    assert [r["id"] for r in rows] == [own], "Kizuna's own alice is kept"
    assert target_fetch(db_address, "SELECT value::text FROM storage WHERE user_id = $1",
                        own)[0][0] == '{"mine": true}'
    assert target_fetch(db_address, "SELECT username FROM users WHERE id = $1", bob.id)[0][0] == "bob"
    assert target_fetch(db_address, "SELECT user_id::text FROM user_device WHERE id = $1",
                        bob.devices[0])[0][0] == own


def test_unknown_or_foreign_sources_are_refused(nakama: NakamaSource, db_name: str,
                                                db_address: str) -> None:
    nakama.sql("INSERT INTO migration_info (id) VALUES ('20270101000000-future-feature.sql')")
    r = imp(nakama, db_address)
    assert r.returncode == 1
    assert "20270101000000-future-feature.sql" in r.stderr and "Nothing was changed" in r.stderr
    assert not database_exists(db_name)

    r = run_kizuna("import", "nakama", "--from", f"{PG}/postgres", "--database.address",
                   db_address)
    assert r.returncode == 1 and "not a Nakama database" in r.stderr

    r = run_kizuna("import", "nakama", "--from", "postgres://u@host:notaport/x",
                   "--database.address", db_address)
    assert r.returncode == 2 and "--from" in r.stderr

    r = run_kizuna("import", "nakama", "--from", "postgres@127.0.0.1:1/nakama",
                   "--database.address", db_address)
    assert r.returncode == 1 and "cannot read the Nakama database" in r.stderr
    assert "Traceback" not in r.stderr
    assert not database_exists(db_name)


def test_rows_the_source_broke_are_skipped_and_reported(nakama: NakamaSource, db_address: str,
                                                        tmp_path: Path) -> None:
    # A device whose account is gone (a source whose foreign key was dropped by hand): Kizuna's
    # key refuses it; the table is loaded again checking each row, and the row is reported.
    nakama.sql("ALTER TABLE user_device DROP CONSTRAINT user_device_user_id_fkey",
               f"INSERT INTO user_device (id, user_id) VALUES ('orphan-device', '{uuid.uuid4()}')")
    doc = imp_json(nakama, db_address, tmp_path=tmp_path, ok=False)
    got = tables(doc)
    assert got["user_device"]["skipped"] == {"its users row (user_id) is not in Kizuna": 1}
    assert got["user_device"]["verified"] is False
    assert got["user_device"]["target_rows"] == got["user_device"]["source_rows"] - 1
    assert all(t["verified"] for name, t in got.items() if name != "user_device")
    text = imp(nakama, db_address, tmp_path=tmp_path)
    assert text.returncode == 1
    assert "1 skipped: its users row (user_id) is not in Kizuna" in text.stdout
    assert "verification failed for user_device" in text.stdout
