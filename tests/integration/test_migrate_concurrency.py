"""Many migrators at once, and migrators killed mid-flight: the cluster lock and the journal.

Slow steps sleep for `kizuna_test.*` database settings (`ALTER DATABASE ... SET`), which the
migrator's fresh connection picks up; resetting the setting makes the re-run fast without
touching the files (an applied, or half-applied, file must never change).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from tests.conftest import pg_dsn
from tests.integration.migrate_support import DB, Migrator, one_line, wait_for, write_migration

SLEEP = "pg_sleep(nullif(current_setting('kizuna_test.sleep', true), '')::float)"
# A statement that waits while the test holds the advisory lock GATE_KEY (at most 120 s, so a
# broken test cannot leave it running): a step that takes exactly as long as the test wants, on
# any machine. It polls pg_locks (never waits on the lock, so `lock_timeout` does not apply).
GATE_KEY = 727274
GATE = ("DO $$ BEGIN FOR i IN 1..2400 LOOP EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_locks WHERE "
        f"locktype = 'advisory' AND classid = 0 AND objid = {GATE_KEY} AND objsubid = 1 AND granted); "
        "PERFORM pg_sleep(0.05); END LOOP; END $$")


@contextmanager
def gate_closed(db: DB) -> Iterator[None]:
    """Hold the GATE advisory lock (on a connection of our own) for the duration of the block."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(pg_dsn(db.name)))
    try:
        loop.run_until_complete(conn.execute(f"SELECT pg_advisory_lock({GATE_KEY})"))
        yield
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


def kill_and_wait_for_backend(proc: subprocess.Popen, db: DB) -> None:
    """SIGKILL the migrator, then wait until PostgreSQL has noticed and ended its backend
    (the backend checks its client every second, so it does not run on for minutes)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    wait_for(lambda: not db.migrator_backends(), timeout=60, what="the killed migrator's backend to end")


def assert_applied_once(db: DB, ids: list[str]) -> None:
    journal = db.journal()
    assert list(journal) == ids
    assert all(row["state"] == "applied" for row in journal.values())
    ups = [mid for mid, action in db.log() if action == "up"]
    assert sorted(ups) == sorted(ids), ups  # exactly one 'up' row per migration


def test_eight_migrators_at_once_on_a_missing_database(kz: Migrator, db: DB, mdir: Path,
                                                      tmp_path: Path) -> None:
    write_migration(mdir, "0001_accounts",
                    "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n"
                    "INSERT INTO accounts SELECT g, 'user' || g FROM generate_series(1, 20000) g;",
                    "DROP TABLE accounts;")
    write_migration(mdir, "0002_wallets",
                    "CREATE TABLE wallets (account_id BIGINT PRIMARY KEY REFERENCES accounts (id), "
                    "coins BIGINT NOT NULL DEFAULT 0);",
                    "DROP TABLE wallets;")
    write_migration(mdir, "0003_accounts_name_index",
                    "CREATE INDEX CONCURRENTLY accounts_name ON accounts (name);\n"
                    "CREATE UNIQUE INDEX CONCURRENTLY accounts_name_lower ON accounts (lower(name));",
                    "DROP INDEX CONCURRENTLY accounts_name_lower;\nDROP INDEX CONCURRENTLY accounts_name;",
                    "no-transaction")
    write_migration(mdir, "0004_accounts_email", "ALTER TABLE accounts ADD COLUMN email TEXT;",
                    "ALTER TABLE accounts DROP COLUMN email;")
    write_migration(mdir, "0005_seed_wallets",
                    "INSERT INTO wallets (account_id) SELECT id FROM accounts;",
                    "DELETE FROM wallets;")
    ids = ["0001_accounts", "0002_wallets", "0003_accounts_name_index", "0004_accounts_email",
           "0005_seed_wallets"]
    assert not db.exists()
    procs = [kz.popen("up", log=tmp_path / f"up-{i}.log") for i in range(8)]
    codes = [p.wait(120) for p in procs]
    logs = [(tmp_path / f"up-{i}.log").read_text() for i in range(8)]
    assert codes == [0] * 8, "\n---\n".join(logs)
    assert all("Traceback" not in text for text in logs)
    # one process applied everything; the others waited and found nothing left
    assert sum("applied 5 migration(s)" in text for text in logs) == 1
    assert sum("nothing to apply; schema at 0005_seed_wallets (head)" in text for text in logs) == 7
    assert_applied_once(db, ids)
    assert db.val("SELECT count(*) FROM wallets") == 20000
    assert db.val("SELECT bool_and(x.indisvalid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                  "WHERE c.relname IN ('accounts_name', 'accounts_name_lower')")
    kz.ok("verify")


def test_sigkill_during_a_transactional_migration(kz: Migrator, db: DB, mdir: Path, tmp_path: Path,
                                                  created_db: str) -> None:
    write_migration(mdir, "0001_base", "CREATE TABLE base (id INT);", "DROP TABLE base;")
    write_migration(mdir, "0002_slow",
                    "CREATE TABLE slow_t (id INT PRIMARY KEY);\n"
                    "INSERT INTO slow_t SELECT generate_series(1, 1000);\n"
                    f"SELECT {SLEEP};\n"
                    "CREATE INDEX slow_t_id ON slow_t (id);",
                    "DROP TABLE slow_t;")
    kz.ok("up", "--limit", "1")
    db.set_guc("kizuna_test.sleep", "60")
    proc = kz.popen("up", log=tmp_path / "killed.log")
    try:
        wait_for(lambda: any("pg_sleep" in b["query"] and b["state"] == "active"
                             for b in db.migrator_backends()),
                 what="the migrator to reach pg_sleep")
    finally:
        kill_and_wait_for_backend(proc, db)
    # the transaction rolled back whole: no table, no journal row
    assert list(db.journal()) == ["0001_base"]
    assert not db.table_exists("slow_t")
    db.set_guc("kizuna_test.sleep", None)
    r = kz.ok("up")
    assert "applied 1 migration(s); schema at 0002_slow" in r.stdout
    assert db.val("SELECT count(*) FROM slow_t") == 1000
    assert_applied_once(db, ["0001_base", "0002_slow"])
    kz.ok("verify")


def test_sigkill_inside_a_no_transaction_migration_resumes(kz: Migrator, db: DB, mdir: Path,
                                                          tmp_path: Path, created_db: str) -> None:
    write_migration(mdir, "0001_big",
                    "CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL);\n"
                    "INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 300000) g;\n"
                    "CREATE INDEX CONCURRENTLY big_v ON big (v);\n"
                    f"SELECT {SLEEP};\n"
                    "CREATE TABLE t2 (id INT);",
                    "DROP TABLE t2;\nDROP TABLE big;", "no-transaction")
    db.set_guc("kizuna_test.sleep", "60")
    proc = kz.popen("up", log=tmp_path / "killed.log")
    try:
        wait_for(lambda: db.table_exists("kizuna_migration") and
                 db.val("SELECT statements_done FROM kizuna_migration WHERE id = '0001_big'") == 3 and
                 any("pg_sleep" in b["query"] for b in db.migrator_backends()),
                 timeout=60, what="the migrator to sleep after 3 statements")
    finally:
        kill_and_wait_for_backend(proc, db)
    row = db.journal()["0001_big"]
    assert (row["state"], row["statements_done"]) == ("partial_up", 3)
    r = kz("verify")
    assert r.returncode == 1 and "0001_big: partial up stopped after 3 statements" in one_line(r.stderr)
    st = json.loads(kz("status", "--json").stdout)
    assert st["partial"] == ["0001_big"] and st["migrations"][0]["detail"] == "3/5 statements"

    db.set_guc("kizuna_test.sleep", None)
    r = kz.ok("up")
    assert "resuming at statement 4" in r.stdout
    assert db.val("SELECT count(*) FROM big") == 300000  # the insert did not run again
    assert db.val("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass")
    assert db.table_exists("t2")
    assert_applied_once(db, ["0001_big"])
    kz.ok("verify")


def test_sigkill_during_a_concurrent_index_build_rebuilds_the_invalid_index(
        kz: Migrator, db: DB, mdir: Path, tmp_path: Path, created_db: str) -> None:
    # every key computation sleeps kizuna_test.sleep seconds: 200 rows make a build of ~10 s
    write_migration(mdir, "0001_table",
                    "CREATE FUNCTION slow_key(k INT) RETURNS INT LANGUAGE plpgsql IMMUTABLE AS $$\n"
                    f"BEGIN PERFORM {SLEEP}; RETURN k; END $$;\n"
                    "CREATE TABLE items (id INT PRIMARY KEY);\n"
                    "INSERT INTO items SELECT generate_series(1, 200);",
                    "DROP TABLE items;\nDROP FUNCTION slow_key(INT);")
    write_migration(mdir, "0002_items_index",
                    "CREATE TABLE before_index (id INT);\n"
                    "CREATE INDEX CONCURRENTLY items_slow ON items (slow_key(id));\n"
                    "CREATE TABLE after_index (id INT);",
                    "DROP TABLE after_index;\nDROP INDEX CONCURRENTLY items_slow;\nDROP TABLE before_index;",
                    "no-transaction")
    kz.ok("up", "--limit", "1")
    db.set_guc("kizuna_test.sleep", "0.05")
    proc = kz.popen("up", log=tmp_path / "killed.log")
    try:
        wait_for(lambda: db.val(
            "SELECT count(*) FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid "
            "WHERE c.relname = 'items_slow' AND p.phase LIKE 'building index%'"),
            what="the concurrent build of items_slow")
    finally:
        kill_and_wait_for_backend(proc, db)
    assert db.val("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_slow'::regclass") is False
    row = db.journal()["0002_items_index"]
    assert (row["state"], row["statements_done"]) == ("partial_up", 1)
    r = kz("verify")
    assert r.returncode == 1 and "index items_slow is INVALID" in one_line(r.stderr)

    db.set_guc("kizuna_test.sleep", None)
    r = kz.ok("up")
    out = one_line(r.stdout)
    assert "resuming at statement 2" in out
    assert "dropping INVALID index items_slow left by an interrupted build; rebuilding it" in out
    assert db.val("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_slow'::regclass") is True
    assert db.val("SELECT count(*) FROM pg_class WHERE relname LIKE 'items_slow%'") == 1
    assert db.table_exists("after_index")
    assert_applied_once(db, ["0001_table", "0002_items_index"])
    kz.ok("verify")


def test_second_migrator_waits_for_the_lock_then_has_nothing_to_do(kz: Migrator, db: DB, mdir: Path,
                                                                  tmp_path: Path, created_db: str) -> None:
    # The first migrator's slow step lasts until the test opens the gate: the second and the
    # impatient one start (however long that takes) while it still holds the migration lock.
    write_migration(mdir, "0001_slow", f"CREATE TABLE slow (id INT);\n{GATE};",
                    "DROP TABLE slow;")
    write_migration(mdir, "0002_next", "CREATE TABLE next_one (id INT);", "DROP TABLE next_one;")
    with gate_closed(db):
        first = kz.popen("up", log=tmp_path / "first.log")
        wait_for(lambda: any("pg_locks" in b["query"] for b in db.migrator_backends()),
                 timeout=60, what="the first migrator to hold the lock")
        second = kz.popen("up", log=tmp_path / "second.log")
        wait_for(lambda: "waiting for the migration lock" in (tmp_path / "second.log").read_text(),
                 timeout=60, what="the second migrator to wait for the lock")
        impatient = kz("up", "--lock-wait", "0.3", "--json")  # gives up while the first works
        assert first.poll() is None, (tmp_path / "first.log").read_text()
    assert impatient.returncode == 1
    doc = json.loads(impatient.stdout)
    assert doc["ok"] is False
    assert re.match(r"gave up waiting for the migration lock after \d+s: held by kizuna migrate", doc["error"])
    assert f":{first.pid} " in doc["error"] and "--lock-wait" in doc["hint"]
    assert first.wait(120) == 0, (tmp_path / "first.log").read_text()
    assert second.wait(120) == 0, (tmp_path / "second.log").read_text()
    out1 = one_line((tmp_path / "first.log").read_text())
    out2 = one_line((tmp_path / "second.log").read_text())
    assert "applied 2 migration(s)" in out1
    assert "waiting for the migration lock" in out2
    assert "held by kizuna migrate" in out2 and f":{first.pid} " in out2  # names the holder's host:pid
    assert "nothing to apply; schema at 0002_next (head)" in out2
    assert_applied_once(db, ["0001_slow", "0002_next"])
