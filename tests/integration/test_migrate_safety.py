"""Issue 18: `migrate down` under live nodes, `migrate resolve`, and the honesty of `migrate plan`
and `upgrade plan` (false alarms, exit codes, syntax errors found before `up`)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import asyncpg

from kizuna.release import manifest
from kizuna.version import __version__
from tests.conftest import pg_dsn, run_kizuna
from tests.integration.migrate_support import DB, Migrator, one_line, write_migration

NODE_TABLE = """CREATE TABLE kizuna_node (
    name VARCHAR(64) PRIMARY KEY, version VARCHAR(64) NOT NULL,
    schema_oldest VARCHAR(128) NOT NULL DEFAULT '', schema_newest VARCHAR(128) NOT NULL DEFAULT '',
    address VARCHAR(255) NOT NULL DEFAULT '', state VARCHAR(16) NOT NULL DEFAULT 'serving',
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(), heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now());"""


def two_tables(d: Path) -> None:
    write_migration(d, "0001_players", "CREATE TABLE players (id BIGINT PRIMARY KEY);",
                    "DROP TABLE players;")
    write_migration(d, "0002_scores", "CREATE TABLE scores (id BIGINT PRIMARY KEY);",
                    "DROP TABLE scores;")


class NodeConnection:
    """A database connection named as a node's pool names it: `kizuna <node> <version>`."""

    def __init__(self, db_name: str, app: str) -> None:
        self.db_name, self.app = db_name, app
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(
            pg_dsn(db_name), server_settings={"application_name": app}))

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


# -- item 3: down refuses while live nodes use what it removes -------------------------------


def test_down_refuses_while_a_node_connection_serves_even_with_force(
        kz: Migrator, db: DB, mdir: Path, db_name: str) -> None:
    two_tables(mdir)
    kz.ok("up")
    db.execute("INSERT INTO scores VALUES (1)")
    node = NodeConnection(db_name, "kizuna gamenode 0.0.1")
    try:
        for args in (("down",), ("down", "--force"), ("redo", "--force"), ("down", "--to", "zero", "--force")):
            r = kz.fails(*args)
            assert r.returncode == 1
            msg = one_line(r.stderr)
            assert "refusing to revert while live nodes use what it removes" in msg, msg
            assert "gamenode (Kizuna 0.0.1" in msg and "--ignore-live-nodes" in msg
        assert db.table_exists("scores") and list(db.journal()) == ["0001_players", "0002_scores"]
        # The plan says so too, without a false "breaks old nodes" (exit 0).
        r = kz("plan", "--down")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "refuses while this node is live" in one_line(r.stdout)
        # The override is explicit and distinct from --force (which is about the rows).
        r = kz.fails("down", "--ignore-live-nodes")
        assert "would destroy table scores: 1 rows" in one_line(r.stderr)
        r = kz.ok("down", "--ignore-live-nodes", "--force")
        assert "reverted 1 migration(s)" in r.stdout
    finally:
        node.close()
    assert not db.table_exists("scores")
    assert ("0002_scores", "ignore-live-nodes") in db.log()
    detail = db.val("SELECT detail FROM kizuna_migration_log WHERE action = 'ignore-live-nodes'")
    assert "gamenode" in detail


def test_down_of_what_live_nodes_do_not_know_is_allowed(kz: Migrator, db: DB, mdir: Path) -> None:
    """A registered node of an older release never used the newer expand migration: reverting
    it while that node serves is the downgrade path. A node that knows it blocks the revert."""
    write_migration(mdir, "0001_nodes", NODE_TABLE, "DROP TABLE kizuna_node;")
    write_migration(mdir, "0002_scores", "CREATE TABLE scores (id BIGINT PRIMARY KEY);",
                    "DROP TABLE scores;")
    kz.ok("up")
    db.execute("INSERT INTO kizuna_node (name, version, schema_newest) VALUES "
               "('oldnode', '0.0.9', '0001_nodes')")
    kz.ok("down")
    assert not db.table_exists("scores")
    kz.ok("up")
    db.execute("INSERT INTO kizuna_node (name, version, schema_newest) VALUES "
               "('newnode', '0.0.10', '0002_scores')")
    r = kz.fails("down")
    msg = one_line(r.stderr)
    assert "newnode (Kizuna 0.0.10" in msg and "oldnode" not in msg
    # A node whose heartbeat stopped is not live.
    db.execute("UPDATE kizuna_node SET heartbeat_at = now() - interval '1 minute' WHERE name = 'newnode'")
    kz.ok("down")


def test_down_refused_under_a_serving_node(server, db_address: str, db: DB) -> None:
    """The incident: tables dropped under a node that stayed ready. Now nothing is dropped."""
    r = run_kizuna("migrate", "down", "--force", "--no-backup", "--database.address", db_address)
    assert r.returncode == 1, r.stdout + r.stderr
    msg = one_line(r.stderr)
    assert f"Kizuna {__version__}, serving" in msg and manifest().schema_head in msg
    assert db.table_exists("wallet_ledger")
    with urllib.request.urlopen(server.url + "/kizuna/ready", timeout=5) as resp:
        assert resp.status == 200


# -- item 8: resolve an interrupted no-transaction migration ---------------------------------


def _interrupted(kz: Migrator, db: DB, mdir: Path) -> Path:
    write_migration(mdir, "0001_items", "CREATE TABLE items (id INT PRIMARY KEY, x INT, y INT);",
                    "DROP TABLE items;")
    path = write_migration(
        mdir, "0002_item_indexes",
        "CREATE INDEX CONCURRENTLY items_x ON items (x);\n"
        "CREATE INDEX CONCURRENTLY items_y ON items (no_such_column);",
        "DROP INDEX CONCURRENTLY items_y;\nDROP INDEX CONCURRENTLY items_x;", "no-transaction")
    kz.fails("up")
    assert db.journal()["0002_item_indexes"]["state"] == "partial_up"
    # The fix: the file must change, so the checksum refuses it and down says to finish it.
    path.write_text(path.read_text().replace("(no_such_column)", "(y)"))
    r = kz.fails("up")
    assert "changed after it was applied" in r.stderr and "migrate resolve 0002_item_indexes" in one_line(r.stderr)
    return path


def test_resolve_applied_after_finishing_by_hand(kz: Migrator, db: DB, mdir: Path) -> None:
    _interrupted(kz, db, mdir)
    db.execute("CREATE INDEX items_y ON items (y)")  # the operator finishes it by hand
    r = kz.ok("resolve", "0002_item_indexes", "--applied", "--reason", "fixed column name")
    assert "recorded as applied (was partial_up; now applied)" in one_line(r.stdout)
    row = db.journal()["0002_item_indexes"]
    assert row["state"] == "applied"
    log = db.fetch("SELECT action, actor, detail, at FROM kizuna_migration_log "
                   "WHERE migration_id = '0002_item_indexes' ORDER BY seq DESC LIMIT 1")[0]
    assert log["action"] == "resolve-applied" and log["at"] and log["actor"]
    assert "was partial_up; after 1 statement(s)" in log["detail"] and "fixed column name" in log["detail"]
    assert "journal checksum" in log["detail"] and "by " in log["detail"]
    st = json.loads(kz.ok("status", "--json").stdout)
    resolved = {m["id"]: m["resolved"] for m in st["migrations"]}["0002_item_indexes"]
    assert resolved["as"] == "applied" and resolved["by"] == log["actor"]
    assert "resolved by hand as applied" in one_line(kz.ok("status").stdout)
    assert "nothing to apply" in kz.ok("up").stdout
    kz.ok("verify")
    # Now it is not interrupted: resolving it again is refused unless forced.
    r = kz.fails("resolve", "0002_item_indexes", "--rolled-back")
    assert r.returncode == 1 and "not interrupted" in r.stderr
    kz.ok("down")  # a normal down clears the resolution from status
    assert "resolved by hand" not in kz.ok("status").stdout


def test_resolve_rolled_back_then_up_runs_the_fixed_file(kz: Migrator, db: DB, mdir: Path) -> None:
    _interrupted(kz, db, mdir)
    db.execute("DROP INDEX items_x")  # the operator undoes statement 1 by hand
    kz.ok("resolve", "0002_item_indexes", "--rolled-back")
    assert "0002_item_indexes" not in db.journal()
    st = json.loads(kz.ok("status", "--json").stdout)
    assert st["pending"] == ["0002_item_indexes"]
    assert {m["id"]: m["resolved"] for m in st["migrations"]}["0002_item_indexes"]["as"] == "rolled back"
    kz.ok("up")
    assert db.journal()["0002_item_indexes"]["state"] == "applied"
    assert db.table_exists("items_x") and db.table_exists("items_y")
    assert [a for _, a in db.log()][-2:] == ["resolve-rolled-back", "up"]


def test_resolve_refusals_and_usage(kz: Migrator, db: DB, mdir: Path) -> None:
    write_migration(mdir, "0001_items", "CREATE TABLE items (id INT PRIMARY KEY);", "DROP TABLE items;")
    kz.ok("up")
    r = kz("resolve", "0099_nope", "--applied")
    assert r.returncode == 2 and "unknown migration '0099_nope'" in r.stderr
    r = kz("resolve", "0001_items")
    assert r.returncode == 2 and "--applied or --rolled-back" in r.stderr
    r = kz("resolve", "0001_items", "--applied", "--rolled-back")
    assert r.returncode == 2
    r = kz("resolve", "0001_items", "--rolled-back")
    assert r.returncode == 1 and "0001_items is applied, not interrupted" in one_line(r.stderr)
    assert "0001_items" in db.journal()
    # Forced: the operator dropped it by hand and says so.
    db.execute("DROP TABLE items")
    kz.ok("resolve", "0001_items", "--rolled-back", "--force")
    assert db.journal() == {}
    assert "forced" in db.val("SELECT detail FROM kizuna_migration_log ORDER BY seq DESC LIMIT 1")


# -- item 11: plan and usage -----------------------------------------------------------------


def test_plan_down_to_the_previous_head_is_not_a_false_alarm(kz: Migrator, db: DB, mdir: Path) -> None:
    two_tables(mdir)
    write_migration(mdir, "0003_players_nick", "ALTER TABLE players ADD COLUMN nick TEXT;",
                    "ALTER TABLE players DROP COLUMN nick;")
    kz.ok("up")
    r = kz("plan", "--down", "--to", "0001_players")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "breaks old nodes" not in r.stdout
    assert "drop-table-on-down" in r.stdout and "drop-column-on-down" in r.stdout
    doc = json.loads(kz("plan", "--down", "--to", "0001_players", "--json").stdout)
    assert doc["blocking"] is False


def test_plan_finds_a_syntax_error_before_up(kz: Migrator, db: DB, mdir: Path) -> None:
    write_migration(mdir, "0001_players", "CREATE TABLE players (id BIGINT PRIMARY KEY);",
                    "DROP TABLE players;")
    kz.ok("up")
    path = write_migration(mdir, "0002_scores",
                           "CREATE TABLE scores (id BIGINT PRIMARY KEY);\n"
                           "ALTER TABLE scores ADD COLUMN points INT NOT NULL DEFAULT 0;\n"
                           "CREAT INDEX scores_points ON scores (points);",
                           "DROP TABLE scores;")
    write_migration(mdir, "0003_players_idx",
                    "CREATE INDEX CONCURRENTLY players_idx ON players (id;", "DROP INDEX players_idx;",
                    "no-transaction")
    write_migration(mdir, "0004_nick", "ALTER TABLE players ADD COLUMN nick TEXT;",
                    "ALTER TABLE players DROP COLUMN nick;")
    before = (db.journal(), db.log())
    r = kz("plan")
    assert r.returncode == 3, r.stdout + r.stderr
    out = one_line(r.stdout)
    assert f"{path}, statement 3 (line 4) failed in a rolled-back trial: [42601]" in out, out
    assert "0003_players_idx.sql, statement 1 (line 3) does not parse: [42601]" in out
    assert "parsed only: a no-transaction migration" in out
    assert "every statement ran" in out  # 0004
    doc = json.loads(kz("plan", "--json").stdout)
    checks = {s["id"]: s["check"] for s in doc["steps"]}
    assert checks["0004_nick"].startswith("tried in a transaction that was rolled back")
    assert "dry-run" in [f["rule"] for f in doc["steps"][0]["findings"]]
    # Nothing changed, and the lock was released.
    assert (db.journal(), db.log()) == before
    assert not db.table_exists("scores") and db.val(
        "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nick'") == 0
    assert db.val("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                  "(SELECT oid FROM pg_database WHERE datname = current_database())") == 0
    # A clean migration plans with exit 0.
    path.write_text(path.read_text().replace("CREAT INDEX", "CREATE INDEX"))
    (mdir / "0003_players_idx.sql").unlink()
    r = kz("plan")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dry-run" not in r.stdout


def test_limit_with_to_is_refused(kz: Migrator, db: DB, mdir: Path) -> None:
    two_tables(mdir)
    for verb in ("up", "down", "plan"):
        r = kz(verb, "--limit", "1", "--to", "0001_players")
        assert r.returncode == 2, (verb, r.stdout, r.stderr)
        assert "--limit and --to cannot be combined" in r.stderr
    r = kz("up", "--limit", "1", "--to", "0001_players", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["usage"] is True
    assert not db.exists() or db.journal() == {}


def test_bad_usage_exits_2(kz: Migrator, db: DB, mdir: Path) -> None:
    two_tables(mdir)
    kz.ok("up", "--limit", "1")
    r = kz("up", "--to", "0099_nope")
    assert r.returncode == 2 and "unknown migration '0099_nope'" in r.stderr
    r = kz("up", "--to", "0099_nope", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["ok"] is False
    r = kz("down", "--to", "0002_scores")
    assert r.returncode == 2 and "not applied" in r.stderr
    r = kz("down", "--limit", "0")
    assert r.returncode == 2 and "down never reverts everything by default" in r.stderr
    r = kz("plan", "--to", "0099_nope")
    assert r.returncode == 2
    assert kz("no-such-verb").returncode == 2
    assert run_kizuna("upgrade", "plan", "--no-such-flag").returncode == 2
    assert list(db.journal()) == ["0001_players"]


# -- items 11 and 12: upgrade plan -----------------------------------------------------------


def test_upgrade_plan_exits_3_when_blocked(kz: Migrator, db: DB, mdir: Path, db_address: str) -> None:
    two_tables(mdir)
    kz.ok("up")
    db.execute("INSERT INTO kizuna_migration (id, checksum, kizuna_version) "
               "VALUES ('9999_from_the_future', 'x', '9.9.9')")
    args = ["upgrade", "plan", "--migrations-dir", str(mdir), "--database.address", db_address]
    r = run_kizuna(*args)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "blocked:" in r.stdout
    r = run_kizuna(*args, "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["blocked_by"]


def test_upgrade_plan_rolling_statement_follows_the_manifest(kz: Migrator, db: DB, mdir: Path,
                                                             db_address: str) -> None:
    two_tables(mdir)
    kz.ok("up", "--limit", "1")
    args = ["upgrade", "plan", "--migrations-dir", str(mdir), "--database.address", db_address]
    r = run_kizuna(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    declared = manifest().rolling_upgrade
    doc = json.loads(run_kizuna(*args, "--json").stdout)
    assert doc["rolling_upgrade"]["possible"] is bool(declared.get("possible"))
    out = one_line(r.stdout)
    if not declared.get("possible"):
        assert f"rolling upgrade: no — the release manifest of {manifest().release} says no: " \
               f"{declared['why']}" in out
        assert "one at a time" not in out
    assert "old nodes keep serving: yes" in out
