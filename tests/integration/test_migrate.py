"""`kizuna migrate` end to end: the real CLI against a real PostgreSQL, with synthetic migration
directories (`--migrations-dir`, hidden) so each test controls exactly what is applied."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import asyncpg
import pytest

from kizuna.migrate.loader import load
from kizuna.version import __version__
from tests.conftest import KIZUNA, _env, pg_dsn, run_kizuna
from tests.integration.migrate_support import (
    DB,
    Migrator,
    line_of,
    one_line,
    wait_for,
    write_migration,
)


def standard(d: Path) -> list[str]:
    """Four migrations: two tables, a column, and a concurrent index (no-transaction)."""
    write_migration(d, "0001_players",
                    "CREATE TABLE players (id BIGINT PRIMARY KEY, name TEXT NOT NULL);",
                    "DROP TABLE players;", description="Players.")
    write_migration(d, "0002_scores",
                    "CREATE TABLE scores (player_id BIGINT NOT NULL REFERENCES players (id),\n"
                    "                     score INT NOT NULL DEFAULT 0);\n"
                    "CREATE INDEX scores_player ON scores (player_id);",
                    "DROP TABLE scores;")
    write_migration(d, "0003_players_email", "ALTER TABLE players ADD COLUMN email TEXT;",
                    "ALTER TABLE players DROP COLUMN email;", "lossy-down: forgets the e-mail addresses")
    write_migration(d, "0004_players_email_index",
                    "CREATE INDEX CONCURRENTLY players_email ON players (email);",
                    "DROP INDEX CONCURRENTLY players_email;", "no-transaction")
    return ["0001_players", "0002_scores", "0003_players_email", "0004_players_email_index"]


def status_json(kz: Migrator) -> dict:
    r = kz.ok("status", "--json")
    return json.loads(r.stdout)


# -- up / status ---------------------------------------------------------------------------------


def test_up_creates_the_database_and_journals_every_migration(kz: Migrator, db: DB, mdir: Path) -> None:
    ids = standard(mdir)
    assert not db.exists()
    t0 = time.monotonic()
    r = kz.ok("up")
    wall_ms = (time.monotonic() - t0) * 1000
    assert "applied 4 migration(s); schema at 0004_players_email_index" in r.stdout
    assert db.exists()
    journal = db.journal()
    # Each migration's measured duration lies within the run that applied them all (a wrong unit
    # or a start time taken at the wrong moment would not).
    assert 0 <= sum(row["duration_ms"] for row in journal.values()) <= wall_ms
    assert list(journal) == ids
    for mid, row in journal.items():
        text = (mdir / f"{mid}.sql").read_text()
        assert row["checksum"] == hashlib.sha256(text.encode()).hexdigest()
        assert row["state"] == "applied"
        assert row["kizuna_version"] == __version__
        assert row["applied_by"] and ":" in row["applied_by"]  # host:pid
        assert row["schema_snapshot"] is not None
    assert db.log() == [(mid, "up") for mid in ids]
    assert db.val("SELECT indisvalid FROM pg_index WHERE indexrelid = 'players_email'::regclass")
    # a second run has nothing to do
    r = kz.ok("up")
    assert "nothing to apply; schema at 0004_players_email_index (head)" in r.stdout
    assert len(db.log()) == 4


def test_status_before_and_after(kz: Migrator, db: DB, mdir: Path) -> None:
    ids = standard(mdir)
    # the database does not exist yet: status says so and does not create it
    r = kz.ok("status")
    assert "does not exist yet" in one_line(r.stdout)
    st = status_json(kz)
    assert st["database_exists"] is False
    assert st["pending"] == ids and st["current"] is None and st["head"] == ids[-1]
    assert not db.exists()

    kz.ok("up", "--limit", "2")
    st = status_json(kz)
    assert st["database_exists"] is True
    assert st["current"] == "0002_scores" and st["pending"] == ids[2:]
    assert st["up_to_date"] is False
    states = {m["id"]: m["state"] for m in st["migrations"]}
    assert states == dict(zip(ids, ["applied", "applied", "pending", "pending"], strict=True))
    applied = st["migrations"][0]
    assert applied["kizuna_version"] == __version__ and applied["applied_at"]
    r = kz.ok("status")
    out = one_line(r.stdout)
    assert "schema at 0002_scores, head 0004_players_email_index, 2 pending" in out
    assert "0003_players_email" in out


def test_up_limit_and_to(kz: Migrator, db: DB, mdir: Path) -> None:
    ids = standard(mdir)
    kz.ok("up", "--limit", "1")
    assert list(db.journal()) == ids[:1]
    kz.ok("up", "--to", "0003_players_email")
    assert list(db.journal()) == ids[:3]
    r = kz.fails("up", "--to", "0099_nope")
    assert "unknown migration '0099_nope'" in r.stderr
    r = kz.fails("up", "--to", "0099_nope", "--json")
    assert json.loads(r.stdout)["ok"] is False and r.stderr == ""
    r = kz.ok("up", "--limit", "5", "--json")
    assert json.loads(r.stdout) == {"ok": True, "applied": ids[3:], "current": ids[-1], "head": ids[-1]}
    assert list(db.journal()) == ids


# -- plan ----------------------------------------------------------------------------------------


def test_plan_prints_sql_and_changes_nothing(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    # on a database that does not exist yet: the whole plan, exit 0 (every step is online or brief)
    r = kz("plan")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CREATE TABLE players (id BIGINT PRIMARY KEY, name TEXT NOT NULL);" in r.stdout
    assert "CREATE INDEX CONCURRENTLY players_email ON players (email);" in r.stdout
    assert "no transaction, statement by statement" in r.stdout
    assert not db.exists()

    kz.ok("up", "--limit", "4")
    db.execute("INSERT INTO players (id, name) SELECT g, 'p' || g FROM generate_series(1, 50) g")
    write_migration(mdir, "0005_players_name_index", "CREATE INDEX players_name ON players (name);",
                    "DROP INDEX players_name;")
    before = db.journal()
    r = kz("plan")
    assert r.returncode == 3, r.stdout + r.stderr
    out = one_line(r.stdout)
    assert "CREATE INDEX players_name ON players (name);" in out
    assert "blocks writes index-not-concurrent" in out
    assert "players: 50 rows" in out
    assert db.journal() == before and len(db.log()) == 4
    assert not db.val("SELECT to_regclass('players_name') IS NOT NULL")

    r = kz("plan", "--json")
    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert doc["blocking"] is True and [s["id"] for s in doc["steps"]] == ["0005_players_name_index"]
    finding = doc["steps"][0]["findings"][0]
    assert finding["rule"] == "index-not-concurrent" and finding["table_rows"] == 50

    # plan --down shows what a revert would destroy
    r = kz("plan", "--down")
    assert r.returncode == 0
    assert "DROP INDEX CONCURRENTLY players_email;" in r.stdout
    assert db.journal() == before


# -- down / redo ---------------------------------------------------------------------------------


def test_down_defaults_to_one_step_and_never_everything_implicitly(kz: Migrator, db: DB, mdir: Path) -> None:
    ids = standard(mdir)
    kz.ok("up")
    r = kz.ok("down")
    assert "reverted 1 migration(s); schema at 0003_players_email" in r.stdout
    assert list(db.journal()) == ids[:3]
    assert not db.table_exists("players_email")
    for bad in ("0", "-1"):
        r = kz.fails("down", "--limit", bad)
        assert f"--limit {bad}: down never reverts everything by default" in r.stderr
        assert "--to zero" in r.stderr
        assert list(db.journal()) == ids[:3]
    assert db.log()[-1] == ("0004_players_email_index", "down")


def test_down_to_and_to_zero(kz: Migrator, db: DB, mdir: Path) -> None:
    ids = standard(mdir)
    kz.ok("up")
    db.execute("INSERT INTO players (id, name) VALUES (1, 'a')")  # players survive down --to 0001
    r = kz.ok("down", "--to", "0001_players", "--force")
    assert "reverted 3 migration(s); schema at 0001_players" in r.stdout
    assert list(db.journal()) == ids[:1]
    assert db.table_exists("players") and not db.table_exists("scores")
    assert db.val("SELECT count(*) FROM information_schema.columns WHERE table_name = 'players' "
                  "AND column_name = 'email'") == 0
    r = kz.fails("down", "--to", "0003_players_email")
    assert "not applied" in r.stderr
    db.execute("DELETE FROM players")
    r = kz.ok("down", "--to", "zero")
    assert "reverted 1 migration(s)" in r.stdout
    assert db.journal() == {} and not db.table_exists("players")
    r = kz.ok("down")
    assert "nothing to revert" in r.stdout
    actions = db.log()
    assert actions.count(("0001_players", "down")) == 1
    assert [a for a in actions if a[1] == "down"] == [(m, "down") for m in reversed(ids)]


def test_redo(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up", "--to", "0002_scores")
    applied_before = db.journal()["0002_scores"]["applied_at"]
    r = kz.ok("redo")
    assert "redid 0002_scores" in r.stdout
    row = db.journal()["0002_scores"]
    assert row["state"] == "applied" and row["applied_at"] > applied_before
    assert db.table_exists("scores_player")
    assert db.log()[-2:] == [("0002_scores", "down"), ("0002_scores", "up")]
    kz.ok("verify")


# -- verify --------------------------------------------------------------------------------------


def test_verify_passes_then_catches_manual_drift(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    r = kz.fails("verify")
    assert "the database does not exist" in r.stderr
    kz.ok("up")
    r = kz.ok("verify")
    assert "schema verified at 0004_players_email_index" in r.stdout
    db.execute("ALTER TABLE players ADD COLUMN hotfix INT")
    r = kz("verify")
    assert r.returncode == 1
    assert "schema drift: column players.hotfix exists but no migration created it" in one_line(r.stderr)
    db.execute("ALTER TABLE players DROP COLUMN hotfix")
    kz.ok("verify")
    db.execute("DROP INDEX scores_player")
    r = kz("verify", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    assert any("index scores.scores_player is missing" in p for p in doc["problems"])


def test_verify_catches_what_a_down_section_forgot(kz: Migrator, db: DB, mdir: Path) -> None:
    write_migration(mdir, "0001_players", "CREATE TABLE players (id INT PRIMARY KEY);",
                    "DROP TABLE players;")
    write_migration(mdir, "0002_audit",
                    "CREATE TABLE audit (id INT);\nCREATE INDEX players_id_desc ON players (id DESC);",
                    "DROP TABLE audit;")  # forgets the index
    kz.ok("up")
    kz.ok("down")
    r = kz.fails("verify")
    assert ("schema drift: index players.players_id_desc exists but no migration created it"
            in one_line(r.stderr))
    db.execute("DROP INDEX players_id_desc")
    kz.ok("verify")
    # with everything reverted, whatever is left is drift too
    db.execute("CREATE TABLE leftover (id INT)")
    kz.ok("down", "--to", "zero")
    r = kz.fails("verify")
    assert "schema drift: table leftover exists but no migration created it" in one_line(r.stderr)


def test_verify_catches_an_invalid_index(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up")
    db.execute("INSERT INTO players (id, name) VALUES (1, 'same'), (2, 'same')")
    with pytest.raises(Exception, match="could not create unique index"):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY players_name_unique ON players (name)")
    r = kz("verify")
    assert r.returncode == 1
    assert "index players_name_unique is INVALID" in one_line(r.stderr)


# -- integrity: changed files and a database ahead of the release ---------------------------------


def test_tampered_applied_file_is_refused(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up", "--limit", "2")
    path = mdir / "0002_scores.sql"
    recorded = db.journal()["0002_scores"]["checksum"]
    path.write_text(path.read_text().replace("DEFAULT 0", "DEFAULT 1"))
    edited = hashlib.sha256(path.read_text().encode()).hexdigest()
    for args in (("up",), ("down",), ("redo",)):
        r = kz.fails(*args)
        err = one_line(r.stderr)
        assert "migration 0002_scores changed after it was applied" in err
        assert recorded in err and edited in err
    assert list(db.journal()) == ["0001_players", "0002_scores"]
    r = kz.fails("verify")
    assert "0002_scores: file changed since it was applied" in one_line(r.stderr)
    st = json.loads(kz("status", "--json").stdout)
    assert st["changed"] == ["0002_scores"]


def test_database_ahead_of_the_release_is_refused(kz: Migrator, db: DB, mdir: Path, tmp_path: Path,
                                                 db_address: str) -> None:
    standard(mdir)
    kz.ok("up")
    older = tmp_path / "older"
    older.mkdir()
    for mid in ("0001_players", "0002_scores"):
        (older / f"{mid}.sql").write_text((mdir / f"{mid}.sql").read_text())
    old = Migrator(older, db_address)
    for args in (("up",), ("down",)):
        r = old.fails(*args)
        err = one_line(r.stderr)
        assert "the database is ahead of this release" in err
        assert "0003_players_email" in err and "0004_players_email_index" in err
        assert f"applied by Kizuna {__version__}" in err
    assert len(db.journal()) == 4


# -- the server's schema guard -------------------------------------------------------------------


def packaged_ids() -> list[str]:
    return [m.id for m in load()]


def test_server_refuses_a_database_ahead_of_it(db_address: str, db: DB, tmp_path: Path) -> None:
    r = run_kizuna("migrate", "up", "--database.address", db_address)
    assert r.returncode == 0, r.stderr
    # A newer release's contract migration: the schema has moved past this release.
    db.execute("INSERT INTO kizuna_migration (id, checksum, kizuna_version, phase) "
               "VALUES ('9999_from_the_future', 'x', '9.9.9', 'contract')")
    r = run_kizuna("server", "--database.address", db_address, "--socket.port", "1",
                   "--logger.format", "text", timeout=60)
    assert r.returncode == 1
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "the database schema is newer than this release" in err[0]
    assert "9999_from_the_future" in err[0]
    # `migrate up` of this release refuses too
    r = run_kizuna("migrate", "up", "--database.address", db_address)
    assert r.returncode == 1
    assert "the database is ahead of this release" in r.stderr and "9.9.9" in r.stderr


def test_server_tolerates_newer_expand_migrations(server_factory, db_address: str, db: DB) -> None:
    """A node of the previous release keeps serving after the next release's expand migrations:
    the guard admits unknown migrations the journal records as expand, with a warning."""
    r = run_kizuna("migrate", "up", "--database.address", db_address)
    assert r.returncode == 0, r.stderr
    db.execute("INSERT INTO kizuna_migration (id, checksum, kizuna_version, phase) "
               "VALUES ('9999_from_the_future', 'x', '9.9.9', 'expand')")
    s = server_factory("--database.address", db_address, "--logger.format", "text")
    assert "newer expand migrations" in s.log() and "9999_from_the_future" in s.log()


def test_server_serves_on_the_oldest_schema_of_its_window(server_factory, db_address: str,
                                                          db: DB) -> None:
    from kizuna.release import manifest

    oldest = manifest().oldest_schema
    r = run_kizuna("migrate", "up", "--to", oldest, "--database.address", db_address)
    assert r.returncode == 0, r.stderr
    s = server_factory("--database.address", db_address, "--logger.format", "text")
    if oldest != packaged_ids()[-1]:
        assert "pending migration" in s.log()


def test_server_refuses_pending_migrations_and_prints_the_command(db_address: str, db: DB,
                                                                  created_db: str) -> None:
    from kizuna.release import manifest

    ids = packaged_ids()
    below = ids.index(manifest().oldest_schema) - 1  # a schema older than this release serves on
    if below >= 0:
        r = run_kizuna("migrate", "up", "--to", ids[below], "--database.address", db_address)
        assert r.returncode == 0, r.stderr
    r = run_kizuna("server", "--database.address", db_address, "--socket.port", "1", timeout=60)
    assert r.returncode == 1
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"`kizuna migrate up --database.address {db_address}`" in err[0]
    assert "pending" in err[0] or "no Kizuna schema" in err[0]
    assert ids[-1] not in db.journal()


def test_server_migrate_flag_migrates_first(server_factory, db_address: str, db: DB) -> None:
    s = server_factory("--migrate", "--database.address", db_address, "--logger.format", "json")
    assert list(db.journal()) == packaged_ids()
    assert "Applied database migrations" in s.log()
    assert s.stop() == 0
    # and a plain start on the migrated database passes the guard
    s = server_factory("--database.address", db_address)
    assert "Startup done" in s.log()


# -- lossy and irreversible downs ----------------------------------------------------------------


def test_lossy_down_needs_force_and_names_what_it_destroys(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up", "--to", "0002_scores")
    db.execute("INSERT INTO players (id, name) VALUES (1, 'a'), (2, 'b')")
    db.execute("INSERT INTO scores (player_id, score) VALUES (1, 10), (1, 20), (2, 30)")
    r = kz("plan", "--down")
    assert "destroys table scores: 3 rows" in one_line(r.stdout)
    assert "DROP TABLE scores;" in r.stdout
    r = kz.fails("down")
    err = one_line(r.stderr)
    assert "refusing to revert" in err
    assert "0002_scores would destroy table scores: 3 rows" in err
    assert "--force" in err
    assert db.val("SELECT count(*) FROM scores") == 3
    assert list(db.journal()) == ["0001_players", "0002_scores"]
    r = kz.ok("down", "--force")
    assert "forced: 0002_scores would destroy table scores: 3 rows" in one_line(r.stdout)
    assert not db.table_exists("scores")
    assert list(db.journal()) == ["0001_players"]


def test_lossy_down_directive_and_dropped_column_values(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up", "--to", "0003_players_email")
    db.execute("INSERT INTO players (id, name, email) VALUES (1, 'a', 'a@x'), (2, 'b', NULL)")
    r = kz.fails("down")
    err = one_line(r.stderr)
    assert "0003_players_email loses data on the way down: forgets the e-mail addresses" in err
    assert "would destroy column players.email: 1 values" in err
    kz.ok("down", "--force")
    assert "0003_players_email" not in db.journal()


def test_irreversible_without_down_is_refused_even_with_force(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    write_migration(mdir, "0005_merge", "UPDATE players SET name = lower(name);", None,
                    "irreversible: lower-cases every name")
    kz.ok("up")
    for args in (("down",), ("down", "--force"), ("redo", "--force"), ("down", "--to", "zero")):
        r = kz.fails(*args)
        assert ("migration 0005_merge is irreversible and has no down section: lower-cases every name"
                in one_line(r.stderr))
    assert list(db.journal())[-1] == "0005_merge" and len(db.journal()) == 5


# -- failures ------------------------------------------------------------------------------------


def test_failing_transactional_migration_leaves_nothing(kz: Migrator, db: DB, mdir: Path) -> None:
    standard(mdir)
    kz.ok("up", "--to", "0001_players")
    path = write_migration(mdir, "0002_broken",
                           "CREATE TABLE inventory (id INT);\n"
                           "INSERT INTO inventory VALUES (1);\n"
                           "INSERT INTO no_such_table VALUES (1);\n"
                           "CREATE TABLE never (id INT);",
                           "DROP TABLE never; DROP TABLE inventory;")
    for f in ("0002_scores", "0003_players_email", "0004_players_email_index"):
        (mdir / f"{f}.sql").unlink()
    r = kz.fails("up")
    err = one_line(r.stderr)
    line = line_of(path, "no_such_table")
    assert f"0002_broken (up): statement 3 of 4 (line {line}) failed" in err
    assert 'relation "no_such_table" does not exist' in err
    assert "Nothing of 0002_broken was applied" in err
    assert not db.table_exists("inventory")
    assert list(db.journal()) == ["0001_players"]
    assert db.log() == [("0001_players", "up")]


def test_failing_no_transaction_migration_resumes_at_the_failed_statement(kz: Migrator, db: DB,
                                                                         mdir: Path) -> None:
    write_migration(mdir, "0001_settings", "CREATE TABLE settings (k TEXT PRIMARY KEY, v INT);",
                    "DROP TABLE settings;")
    path = write_migration(
        mdir, "0002_items",
        "CREATE TABLE items (id INT PRIMARY KEY);\n"
        "INSERT INTO items SELECT 100 / (SELECT count(*) FROM settings);\n"
        "CREATE INDEX CONCURRENTLY items_id ON items (id);\n"
        "CREATE TABLE items_done (id INT);",
        "DROP TABLE items_done;\nDROP TABLE items;", "no-transaction")
    r = kz.fails("up")
    err = one_line(r.stderr)
    assert f"0002_items (up): statement 2 of 4 (line {line_of(path, 'INSERT INTO items')}) failed" in err
    assert "division by zero" in err
    assert "statements 1-1 are done and journaled" in err and "resumes at statement 2" in err
    row = db.journal()["0002_items"]
    assert (row["state"], row["statements_done"]) == ("partial_up", 1)
    assert db.table_exists("items")
    st = json.loads(kz("status", "--json").stdout)
    assert st["partial"] == ["0002_items"]
    assert st["migrations"][1]["statements_done"] == 1
    r = kz.fails("down")  # a half-applied migration is finished, not reverted
    assert "was being applied when it stopped" in r.stderr

    db.execute("INSERT INTO settings VALUES ('x', 1)")  # fix the data, not the file
    r = kz.ok("up")
    assert "resuming at statement 2" in r.stdout
    assert db.val("SELECT array_agg(id) FROM items") == [100]  # statement 1 did not run twice
    assert db.journal()["0002_items"]["state"] == "applied"
    assert db.log() == [("0001_settings", "up"), ("0002_items", "up")]
    kz.ok("verify")


def test_concurrent_index_built_before_a_crash_is_not_rebuilt(kz: Migrator, db: DB, mdir: Path) -> None:
    """A crash between the end of CREATE INDEX CONCURRENTLY and its journal update leaves a
    valid index the journal does not count: the re-run keeps it instead of failing on it."""
    write_migration(mdir, "0001_settings", "CREATE TABLE settings (k TEXT PRIMARY KEY, v INT);",
                    "DROP TABLE settings;")
    write_migration(mdir, "0002_items",
                    "CREATE TABLE items (id INT PRIMARY KEY, v INT);\n"
                    "CREATE INDEX CONCURRENTLY items_v ON items (v);\n"
                    "INSERT INTO items SELECT 1, 100 / (SELECT count(*) FROM settings);",
                    "DROP TABLE items;", "no-transaction")
    kz.fails("up")
    assert db.journal()["0002_items"]["statements_done"] == 2
    oid = db.val("SELECT 'items_v'::regclass::oid")
    db.execute("UPDATE kizuna_migration SET statements_done = 1 WHERE id = '0002_items'")  # the crash
    db.execute("INSERT INTO settings VALUES ('x', 1)")
    r = kz.ok("up")
    out = one_line(r.stdout)
    assert "resuming at statement 2" in out
    assert "index items_v was built before the interruption; not rebuilding it" in out
    assert db.val("SELECT 'items_v'::regclass::oid") == oid
    kz.ok("verify")


def test_concurrent_drop_done_before_a_crash_is_not_repeated(kz: Migrator, db: DB, mdir: Path) -> None:
    write_migration(mdir, "0001_settings", "CREATE TABLE settings (k TEXT PRIMARY KEY, v INT);",
                    "DROP TABLE settings;")
    write_migration(mdir, "0002_items",
                    "CREATE TABLE items (id INT PRIMARY KEY, v INT);\n"
                    "CREATE INDEX CONCURRENTLY \"Items_V\" ON items (v);",
                    "DROP INDEX CONCURRENTLY \"Items_V\";\n"
                    "DELETE FROM items WHERE id = 1 / (SELECT count(*) FROM settings);\n"
                    "DROP TABLE items;", "no-transaction")
    kz.ok("up")
    kz.fails("down")
    assert db.journal()["0002_items"]["statements_done"] == 1
    db.execute("UPDATE kizuna_migration SET statements_done = 0 WHERE id = '0002_items'")  # the crash
    db.execute("INSERT INTO settings VALUES ('x', 1)")
    r = kz.ok("down")
    assert "index Items_V was dropped before the interruption; not dropping it again" in one_line(r.stdout)
    assert list(db.journal()) == ["0001_settings"] and not db.table_exists("items")


def test_no_transaction_down_failing_midway_resumes(kz: Migrator, db: DB, mdir: Path) -> None:
    write_migration(mdir, "0001_settings", "CREATE TABLE settings (k TEXT PRIMARY KEY, v INT);",
                    "DROP TABLE settings;")
    write_migration(mdir, "0002_items",
                    "CREATE TABLE items (id INT PRIMARY KEY);\n"
                    "CREATE INDEX CONCURRENTLY items_id_desc ON items (id DESC);",
                    "DROP INDEX CONCURRENTLY items_id_desc;\n"
                    "DELETE FROM items WHERE id = 1 / (SELECT count(*) FROM settings);\n"
                    "DROP TABLE items;", "no-transaction")
    kz.ok("up")
    r = kz.fails("down")
    assert "0002_items (down): statement 2 of 3" in one_line(r.stderr)
    assert "division by zero" in r.stderr
    row = db.journal()["0002_items"]
    assert (row["state"], row["statements_done"]) == ("partial_down", 1)
    r = kz.fails("up")  # half-reverted: finish the revert first
    assert "was being reverted when it stopped" in r.stderr
    db.execute("INSERT INTO settings VALUES ('x', 1)")
    r = kz.ok("down")
    assert "resuming at statement 2" in r.stdout
    assert list(db.journal()) == ["0001_settings"] and not db.table_exists("items")
    assert db.log()[-1] == ("0002_items", "down")
    kz.ok("verify")


@pytest.mark.parametrize("transactional", [True, False])
def test_terminated_backend_is_reported_without_a_traceback(kz: Migrator, db: DB, mdir: Path,
                                                           tmp_path: Path, created_db: str,
                                                           transactional: bool) -> None:
    write_migration(mdir, "0001_slow",
                    "CREATE TABLE slow (id INT);\n"
                    "SELECT pg_sleep(nullif(current_setting('kizuna_test.sleep', true), '')::float);\n"
                    "CREATE TABLE slow_done (id INT);",
                    "DROP TABLE slow_done;\nDROP TABLE slow;",
                    *([] if transactional else ["no-transaction"]))
    db.set_guc("kizuna_test.sleep", "60")
    log = tmp_path / "up.log"
    proc = kz.popen("up", log=log)
    wait_for(lambda: any("pg_sleep" in b["query"] for b in db.migrator_backends()),
             what="the migrator to sleep")
    db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               "WHERE application_name LIKE 'kizuna migrate%' AND datname = $1", db.name)
    assert proc.wait(30) == 1
    text = log.read_text()
    assert "Traceback" not in text
    out = one_line(text)
    assert "0001_slow (up): statement 2 of 3" in out and "terminating connection" in out
    if transactional:
        assert "Nothing of 0001_slow was applied" in out
        assert db.journal() == {} and not db.table_exists("slow")
    else:
        assert "statements 1-1 are done and journaled" in out
        assert db.journal()["0001_slow"]["statements_done"] == 1
    db.set_guc("kizuna_test.sleep", None)
    r = kz.ok("up")
    assert ("resuming at statement 2" in r.stdout) is (not transactional)
    assert db.table_exists("slow_done")
    kz.ok("verify")


async def test_lock_timeout_retries_then_gives_up_naming_the_blocker(kz: Migrator, db: DB, mdir: Path,
                                                                    db_name: str) -> None:
    standard(mdir)
    kz.ok("up", "--to", "0002_scores")
    game = await asyncpg.connect(pg_dsn(db_name), server_settings={"application_name": "game-node-7"})
    try:
        tx = game.transaction()
        await tx.start()
        await game.fetch("SELECT * FROM players")  # a long read transaction holds ACCESS SHARE

        async def run(*args: str) -> tuple[int, str, str]:
            proc = await asyncio.create_subprocess_exec(
                KIZUNA, *kz.args(*args), env=_env(),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode, out.decode(), err.decode()

        code, out, err = await run("up", "--to", "0003_players_email", "--lock-timeout", "100",
                                   "--lock-retries", "2")
        assert code == 1, out + err
        assert "retry 1" in out and "retry 2" in out and "game-node-7" in one_line(out)
        msg = one_line(err)
        assert "0003_players_email: could not get a table lock within 100 ms, 3 times" in msg
        assert "game-node-7" in msg
        assert "0003_players_email" not in await asyncio.to_thread(db.journal)

        # with enough retries, the migration goes through once the game's transaction ends
        proc = await asyncio.create_subprocess_exec(
            KIZUNA, *kz.args("up", "--to", "0003_players_email", "--lock-timeout", "100",
                             "--lock-retries", "20"),
            env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        watcher = await asyncpg.connect(pg_dsn(db_name))  # outside the game's transaction, whose
        try:                                                # view of pg_stat_activity is frozen
            deadline = time.monotonic() + 60  # the migrator's start, however long it takes
            while time.monotonic() < deadline:
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kizuna migrate%' "
                    "AND datname = current_database() AND wait_event_type = 'Lock'")
                if waiting:
                    break
                await asyncio.sleep(0.02)
        finally:
            await watcher.close()
        assert waiting, "the migrator never queued for the table lock"
        await tx.rollback()
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode() + err.decode()
        assert "applied 1 migration(s); schema at 0003_players_email" in out.decode()
    finally:
        await game.close()
    assert list(await asyncio.to_thread(db.journal))[-1] == "0003_players_email"


def test_server_refuses_a_missing_database(db_address: str, db: DB, tmp_path: Path) -> None:
    r = run_kizuna("server", "--database.address", db_address, "--socket.port", "1", timeout=60)
    assert r.returncode == 1
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"database '{db.name}' not found" in err[0]
    assert f"`kizuna migrate up --database.address {db_address}`" in err[0]
    assert not db.exists()


@pytest.mark.parametrize("damage, words", [
    ("UPDATE kizuna_migration SET checksum = 'f00d' WHERE id = $1", "migration files changed since they were applied"),
    ("UPDATE kizuna_migration SET state = 'partial_up', statements_done = 1 WHERE id = $1",
     "a migration run was interrupted"),
])
def test_server_guard_refuses_changed_and_interrupted_migrations(db_address: str, db: DB,
                                                                damage: str, words: str) -> None:
    r = run_kizuna("migrate", "up", "--database.address", db_address)
    assert r.returncode == 0, r.stderr
    last = packaged_ids()[-1]
    db.execute(damage, last)
    r = run_kizuna("server", "--database.address", db_address, "--socket.port", "1", timeout=60)
    assert r.returncode == 1
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert words in err[0] and last in err[0]
    assert "kizuna migrate " in err[0] and f"--database.address {db_address}" in err[0]
