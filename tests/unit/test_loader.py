"""Migration files: statement splitting, directives, checksums, loading rules, and the linter."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.migrate import lint
from kizuna.migrate.errors import MigrateError
from kizuna.migrate.loader import Migration, checksum_of, load, parse, split_statements


def sqls(text: str) -> list[str]:
    return [s.sql for s in split_statements(text)]


def migration(up: str, down: str | None = "SELECT 1;", *directives: str,
              name: str = "0002_test.sql") -> Migration:
    lines = [f"-- +kizuna {d}" for d in directives] + ["-- +migrate Up", up]
    if down is not None:
        lines += ["-- +migrate Down", down]
    return parse(name, "\n".join(lines) + "\n")


# -- statement splitting -------------------------------------------------------------------------


def test_split_at_top_level_semicolons() -> None:
    assert sqls("SELECT 1; SELECT 2;\nSELECT 3") == ["SELECT 1", "SELECT 2", "SELECT 3"]
    assert sqls(";;  ;\n") == []


def test_dollar_quotes_keep_their_semicolons() -> None:
    fn = ("CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1;\n  RETURN NEW;\nEND;\n"
          "$$ LANGUAGE plpgsql")
    tagged = "DO $body$ BEGIN PERFORM ';'; PERFORM $$nested;$$; END $body$"
    assert sqls(f"{fn};\n{tagged};\nSELECT 3;") == [fn, tagged, "SELECT 3"]


def test_dollar_sign_inside_identifiers_and_parameters() -> None:
    assert sqls("SELECT a$b$c FROM t; SELECT $1::int; SELECT 2") == [
        "SELECT a$b$c FROM t", "SELECT $1::int", "SELECT 2"]


def test_strings_with_semicolons_and_quotes() -> None:
    assert sqls("INSERT INTO t VALUES ('a;b'), ('it''s; fine'); SELECT \"odd;name\" FROM t;") == [
        "INSERT INTO t VALUES ('a;b'), ('it''s; fine')", 'SELECT "odd;name" FROM t']


def test_escape_strings() -> None:
    # E'' strings take backslash escapes: \' does not end the string...
    assert sqls("SELECT E'it\\'s; here'; SELECT 2") == ["SELECT E'it\\'s; here'", "SELECT 2"]
    # ...standard strings do not: the backslash is a plain character
    assert sqls("SELECT 'C:\\'; SELECT 2") == ["SELECT 'C:\\'", "SELECT 2"]
    assert sqls("SELECT e'\\\\'; SELECT 3") == ["SELECT e'\\\\'", "SELECT 3"]


def test_comments_are_not_split() -> None:
    text = ("-- a comment; with a semicolon\nSELECT 1;\n"
            "/* block; /* nested; */ still comment; */ SELECT 2;\n"
            "-- only a comment;\n")
    assert sqls(text) == ["-- a comment; with a semicolon\nSELECT 1",
                          "/* block; /* nested; */ still comment; */ SELECT 2"]


def test_statement_lines_point_at_the_sql() -> None:
    text = "SELECT 1;\n\n-- why the next one\nSELECT 2;\n\n  SELECT\n  3;"
    assert [s.line for s in split_statements(text, first_line=10)] == [10, 13, 15]


def test_needs_autocommit() -> None:
    m = migration("CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX j ON t (b);\nVACUUM t;",
                  "DROP INDEX CONCURRENTLY i;", "no-transaction")
    assert [s.needs_autocommit for s in m.up] == [True, False, True]
    assert m.down[0].needs_autocommit


# -- directives ----------------------------------------------------------------------------------


def test_defaults_and_description() -> None:
    text = "-- Player inventory.\n-- +migrate Up\nCREATE TABLE t (a int);\n-- +migrate Down\nDROP TABLE t;\n"
    m = parse("0007_inventory.sql", text)
    assert (m.id, m.number, m.phase, m.transactional) == ("0007_inventory", 7, "expand", True)
    assert m.irreversible is None and m.lossy_down is None and m.has_down
    assert m.description == "Player inventory."
    assert [s.line for s in m.up] == [3] and [s.line for s in m.down] == [5]


def test_phase_and_no_transaction() -> None:
    m = migration("SELECT 1;", "SELECT 2;", "phase: contract", "no-transaction")
    assert m.phase == "contract" and not m.transactional
    assert migration("SELECT 1;", "SELECT 2;", "phase: backfill").phase == "backfill"
    with pytest.raises(MigrateError, match="phase must be one of expand, backfill, contract"):
        migration("SELECT 1;", "SELECT 2;", "phase: sometime")


def test_irreversible_and_lossy_down_need_reasons() -> None:
    for key in ("irreversible", "lossy-down"):
        with pytest.raises(MigrateError, match=f"'\\+kizuna {key}' needs a reason"):
            migration("SELECT 1;", "SELECT 2;", key)
    m = migration("SELECT 1;", "SELECT 2;", "lossy-down: drops the scores column")
    assert m.lossy_down == "drops the scores column"


def test_disposable_names_tables_and_columns() -> None:
    m = migration("SELECT 1;", "SELECT 2;", "disposable: kizuna_client_seen, kizuna_node.stats")
    assert m.is_disposable("kizuna_client_seen", None)
    assert m.is_disposable("kizuna_client_seen", "sdk")  # a table covers its columns
    assert m.is_disposable("kizuna_node", "stats") and not m.is_disposable("kizuna_node", None)
    assert not m.is_disposable("users", None)
    for bad in ("disposable", "disposable: Users; DROP", "disposable: a.b.c"):
        with pytest.raises(MigrateError, match="disposable"):
            migration("SELECT 1;", "SELECT 2;", bad)


def test_missing_down_refused_unless_irreversible() -> None:
    with pytest.raises(MigrateError, match=r"no down statements.*irreversible"):
        migration("SELECT 1;", None)
    with pytest.raises(MigrateError, match="no down statements"):
        migration("SELECT 1;", "-- nothing to undo\n")
    m = migration("SELECT 1;", None, "irreversible: merges duplicate accounts")
    assert not m.has_down and m.irreversible == "merges duplicate accounts"


def test_unknown_directive_and_misplaced_lines_refused() -> None:
    with pytest.raises(MigrateError, match="0002_test: line 1: unknown directive '\\+kizuna transactional'"):
        migration("SELECT 1;", "SELECT 2;", "transactional")
    with pytest.raises(MigrateError, match="directives must come before"):
        parse("0002_x.sql", "-- +migrate Up\n-- +kizuna no-transaction\nSELECT 1;\n-- +migrate Down\nSELECT 2;\n")
    with pytest.raises(MigrateError, match="line 1: SQL before"):
        parse("0002_x.sql", "SELECT 0;\n-- +migrate Up\nSELECT 1;\n-- +migrate Down\nSELECT 2;\n")
    with pytest.raises(MigrateError, match="no '-- \\+migrate Up' section"):
        parse("0002_x.sql", "-- just a comment\n")
    with pytest.raises(MigrateError, match="second '\\+migrate Up' section"):
        parse("0002_x.sql", "-- +migrate Up\nSELECT 1;\n-- +migrate Up\nSELECT 2;\n")
    with pytest.raises(MigrateError, match="unknown section marker"):
        parse("0002_x.sql", "-- +migrate Sideways\n")
    with pytest.raises(MigrateError, match=r"name must look like NNNN_slug\.sql"):
        parse("users.sql", "-- +migrate Up\nSELECT 1;\n-- +migrate Down\nSELECT 2;\n")


def test_sql_migrate_statement_markers_are_accepted() -> None:
    text = ("-- +migrate Up\n-- +migrate StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ "
            "BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n-- +migrate StatementEnd\n"
            "-- +migrate Down\nDROP FUNCTION f();\n")
    m = parse("0003_f.sql", text)
    assert len(m.up) == 1 and "RETURN 1;" in m.up[0].sql


# -- checksums and loading -----------------------------------------------------------------------


BODY = "-- +migrate Up\nCREATE TABLE t (a int);\n-- +migrate Down\nDROP TABLE t;\n"


def test_checksum_is_stable_across_line_endings(tmp_path: Path) -> None:
    assert checksum_of(BODY) == checksum_of(BODY.replace("\n", "\r\n"))
    assert checksum_of(BODY) != checksum_of(BODY.replace("a int", "a bigint"))
    lf, crlf = tmp_path / "lf", tmp_path / "crlf"
    lf.mkdir(), crlf.mkdir()
    (lf / "0001_t.sql").write_bytes(BODY.encode())
    (crlf / "0001_t.sql").write_bytes(BODY.replace("\n", "\r\n").encode())
    a, b = load(lf)[0], load(crlf)[0]
    assert a.checksum == b.checksum
    assert [s.line for s in a.up] == [s.line for s in b.up] == [2]


def test_load_orders_by_number_and_refuses_duplicates(tmp_path: Path) -> None:
    for name in ("0010_c.sql", "0002_b.sql", "0001_a.sql"):
        (tmp_path / name).write_text(BODY)
    (tmp_path / "README.md").write_text("not a migration")
    assert [m.id for m in load(tmp_path)] == ["0001_a", "0002_b", "0010_c"]
    (tmp_path / "0002_other.sql").write_text(BODY)
    with pytest.raises(MigrateError, match="0002_b and 0002_other share the number 2"):
        load(tmp_path)


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MigrateError, match="does not exist"):
        load(tmp_path / "nope")


def test_packaged_migrations_load() -> None:
    migrations = load()
    assert migrations and migrations[0].id.startswith("0001_")
    assert all(m.has_down or m.irreversible for m in migrations)


# -- lint ----------------------------------------------------------------------------------------


def rules(m: Migration, direction: str = "up") -> dict[str, str]:
    return {f.rule: f.verdict for f in lint.lint(m, direction)}


def test_lint_index_without_concurrently_on_an_existing_table() -> None:
    found = lint.lint(migration("CREATE INDEX users_email ON users (email);"))
    assert [(f.rule, f.verdict, f.table, f.statement) for f in found] == [
        ("index-not-concurrent", "blocks writes", "users", 0)]
    assert found[0].blocking
    # a table created in the same migration is empty: no finding
    assert rules(migration("CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);")) == {}
    assert rules(migration("CREATE INDEX CONCURRENTLY users_email ON users (email);",
                           "DROP INDEX CONCURRENTLY users_email;", "no-transaction")) == {
        "index-concurrent": "online"}


def test_lint_concurrently_in_a_transactional_migration() -> None:
    r = rules(migration("CREATE INDEX CONCURRENTLY users_email ON users (email);"))
    assert r["concurrently-in-transaction"] == "will fail"


def test_lint_drop_column_in_expand() -> None:
    up = "ALTER TABLE users DROP COLUMN legacy;"
    assert rules(migration(up))["drop-column-in-expand"] == "breaks old nodes"
    assert "drop-column-in-expand" not in rules(migration(up, "SELECT 1;", "phase: contract"))
    assert rules(migration("DROP TABLE old_stuff;"))["drop-table-in-expand"] == "breaks old nodes"


def test_lint_alter_column_type() -> None:
    for up in ("ALTER TABLE users ALTER COLUMN score TYPE bigint;",
               "ALTER TABLE users ALTER score SET DATA TYPE bigint;"):
        f = lint.lint(migration(up))
        assert [(x.rule, x.verdict, x.table) for x in f] == [
            ("alter-column-type", "maintenance window", "users")]


def test_lint_set_not_null() -> None:
    assert rules(migration("ALTER TABLE users ALTER COLUMN email SET NOT NULL;")) == {
        "set-not-null": "blocks writes"}
    assert rules(migration("CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;")) == {}


def test_lint_safe_statements_are_not_blocking() -> None:
    m = migration("ALTER TABLE users ADD COLUMN nickname TEXT;\n"
                  "ALTER TABLE users ADD CONSTRAINT nick_len CHECK (length(nickname) < 64) NOT VALID;")
    assert not any(f.blocking for f in lint.lint(m))
    assert rules(migration("ALTER TABLE users ADD COLUMN token UUID DEFAULT gen_random_uuid();")) == {
        "add-column-volatile-default": "maintenance window"}


def test_destructive_targets_of_a_down_section() -> None:
    m = migration("SELECT 1;", "ALTER TABLE users DROP COLUMN nickname;\nDROP TABLE IF EXISTS scores, badges CASCADE;")
    assert lint.destructive_targets(m) == [("users", "nickname"), ("scores", None), ("badges", None)]


def test_unreadable_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "0001_latin1.sql").write_bytes("-- café\n-- +migrate Up\nSELECT 1;\n".encode("latin-1"))
    with pytest.raises(MigrateError, match=r"0001_latin1\.sql: not UTF-8 text"):
        load(tmp_path)


def test_lint_unnamed_concurrent_index() -> None:
    m = migration("CREATE INDEX CONCURRENTLY ON users (email);", "SELECT 1;", "no-transaction")
    assert rules(m) == {"index-concurrent": "online", "index-concurrent-unnamed": "online"}
    assert not any(f.blocking for f in lint.lint(m))
