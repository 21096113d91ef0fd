"""`kizuna backup`, `kizuna restore`, automatic backups before migrating, and `kizuna upgrade plan`:
the real CLI in subprocesses against a real PostgreSQL, no mocks.

Equality of data is checked by content hashes computed in PostgreSQL (md5 of every row's text,
sorted), never by trusting what the archive says about itself.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import resource
import shutil
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from kizuna.migrate.lint import VERDICTS
from kizuna.migrate.loader import load
from kizuna.ops.backup import MAGIC, inspect
from kizuna.release import manifest
from tests.conftest import KIZUNA, PG, _admin, _env, pg_dsn, run_kizuna
from tests.integration.migrate_support import DB, one_line, write_migration
from tests.integration.nakama_http import Api, assert_ok

SYSTEM = "00000000-0000-0000-0000-000000000000"
PACKAGED = [m.id for m in load()]
MIGRATIONS_DIR = Path(load()[0].path).parent
LOG = "kizuna_migration_log"
BACKUP_LOG = "kizuna_backup_log"  # every backup and `restore --force` add a row (0011_console)
# Left out of content comparisons: the backup record, and what a running node rewrites with each
# heartbeat (its registry row and stats, the client versions it saw).
VOLATILE = frozenset({BACKUP_LOG, "kizuna_node", "kizuna_client_seen"})
AUTO = re.compile(r"(\S*kizuna-auto-\S+?\.kzb)")


# -- helpers ---------------------------------------------------------------------------------------


class Kz:
    """`kizuna ...` run from a scratch directory (so nothing lands in the checkout)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str) -> Any:
        r = run_kizuna(*args, cwd=self.cwd)
        r.text = one_line(r.stdout + "\n" + r.stderr)  # type: ignore[attr-defined]
        return r

    def ok(self, *args: str) -> Any:
        r = self(*args)
        assert r.returncode == 0, f"kizuna {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
        return r

    def fails(self, *args: str) -> Any:
        r = self(*args)
        assert r.returncode != 0, f"kizuna {' '.join(args)} should have failed:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stdout + r.stderr, r.stderr
        return r

    def json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def kz(tmp_path: Path) -> Kz:
    return Kz(tmp_path)


@pytest.fixture
def new_db():
    """Names of further databases (not created); all dropped afterwards."""
    names: list[str] = []

    def make() -> str:
        names.append(f"kzt_{uuid.uuid4().hex[:16]}")
        return names[-1]

    yield make
    for name in names:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def addr(name: str) -> str:
    return f"{PG}/{name}"


def at(name: str) -> tuple[str, str]:
    return ("--database.address", addr(name))


def tables(db: DB) -> list[str]:
    return [r["relname"] for r in db.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1")]


def relations(db: DB) -> list[tuple[str, str]]:
    return [(r["relname"], r["relkind"]) for r in db.fetch(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' ORDER BY 1")]


def content(db: DB, only: list[str] | None = None) -> dict[str, tuple[int, str]]:
    """table -> (rows, md5 of all rows as text, sorted). The journal's log leaves out the
    "restore" rows that a restore adds, and the VOLATILE tables all of their rows (the backups
    and restores under test, and the heartbeats of a node serving meanwhile, write them)."""
    out = {}
    for t in only or tables(db):
        where = (" WHERE t.action <> 'restore'" if t == LOG else
                 " WHERE false" if t in VOLATILE else "")
        row = db.fetch(f'SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E\'\\n\' '
                       f'ORDER BY t::text), \'\')) AS h FROM "{t}" t{where}')[0]
        out[t] = (row["n"], row["h"])
    return out


def data_content(db: DB) -> dict[str, tuple[int, str]]:
    return {t: v for t, v in content(db).items() if t != LOG}


def seed(db: DB, tag: str = "seed", n: int = 50) -> None:
    """Rows of every kind the schema has, with the characters COPY has to escape."""
    present = tables(db)
    if "storage" in present:
        db.execute(
            "INSERT INTO storage (collection, key, user_id, value, version, read, write) "
            "SELECT $1, 'k' || g, $2, jsonb_build_object('n', g, 's', E'tab\\tnl\\nbs\\\\ ünï ' || g), "
            "md5(g::text), g % 3, g % 2 FROM generate_series(1, $3) g", tag, SYSTEM, n)
    uid = str(uuid.uuid4())
    db.execute("INSERT INTO users (id, username, display_name, password, metadata, custom_id) "
               "VALUES ($1, $2, E'back\\\\slash \"q\" \\n', '\\x00ff10'::bytea, '{\"a\": [1, null]}', $3)",
               uid, f"{tag}-user", f"{tag}-custom")
    db.execute("INSERT INTO user_device (id, user_id) VALUES ($1, $2)", f"{tag}-device", uid)
    db.execute("INSERT INTO user_session (token_id, user_id, expire_time) VALUES ($1, $2, now() + interval '1 day')",
               str(uuid.uuid4()), uid)
    if "notification" in present:
        db.execute("INSERT INTO notification (id, user_id, subject, content, code, sender_id) "
                   "VALUES ($1, $2, $3, '{\"x\": \"y\"}', 1, $4)", str(uuid.uuid4()), uid, tag, SYSTEM)
        db.execute("INSERT INTO message (id, sender_id, username, stream_mode, stream_subject, "
                   "stream_descriptor, stream_label, content) VALUES ($1, $2, $3, 2, $4, $4, 'lobby', "
                   "'{\"message\": \"hi\\\\u0000-less\"}')", str(uuid.uuid4()), uid, f"{tag}-user", SYSTEM)


def migrated(kz: Kz, name: str, *extra: str) -> DB:
    kz.ok("migrate", "up", "--no-backup", *extra, *at(name))
    return DB(name)


def packaged_copy(directory: Path) -> Path:
    directory.mkdir()
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        shutil.copy(f, directory / f.name)
    return directory


# -- 1. round trip -----------------------------------------------------------------------------------


async def _play(url: str) -> None:
    """Accounts and storage objects written the way a Nakama client writes them."""
    async with aiohttp.ClientSession() as http:
        api = Api(url, http)
        for i in range(3):
            r = await api.authenticate("device", {"id": f"backup-device-{i:04d}-{uuid.uuid4().hex}"},
                                       params={"create": "true", "username": f"player{i}"})
            token = assert_ok(r)["token"]
            objects = [{"collection": "saves", "key": f"slot{j}",
                        "value": json.dumps({"level": i * 10 + j, "name": f"p{i} ☃ \"s\""})}
                       for j in range(3)]
            acks = assert_ok(await api.put("/v2/storage", token, {"objects": objects}))["acks"]
            assert len(acks) == 3


def test_round_trip_into_a_new_database(server, db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    asyncio.run(_play(server.url))
    src = DB(db_name)
    seed(src)
    server.stop()  # nothing writes behind the comparison
    before = content(src)
    assert before["users"][0] >= 5 and before["storage"][0] == 9 + 50 and before["user_session"][0] >= 3

    archive = tmp_path / "round.kzb"
    r = kz.ok("backup", "--out", str(archive), *at(db_name))
    m = re.search(r"backup written: (\S+) (\d+) tables, (\d+) rows, (.+?) in ([\d.]+)s", r.text)
    assert m, r.stdout
    assert m.group(1) == str(archive)
    assert int(m.group(2)) == len(before)
    assert int(m.group(3)) == sum(n for n, _ in before.values())
    assert re.fullmatch(r"\d+ [kMG]?B of data \(\d+ [kMG]?B compressed\)", m.group(4)), m.group(4)
    assert not m.group(4).startswith("0 "), m.group(4)

    t0 = time.monotonic()
    doc = kz.json("backup", "--out", str(tmp_path / "round2.kzb"), *at(db_name))
    wall = time.monotonic() - t0
    assert doc["ok"] is True
    assert doc["tables"] == len(before)
    # The first backup is recorded in kizuna_backup_log: the second archive holds that row.
    per_table = {t: n for t, (n, _) in before.items()} | {BACKUP_LOG: 1}
    assert doc["rows"] == sum(per_table.values())
    assert doc["per_table"] == per_table
    assert doc["bytes_raw"] > 0 and 0 < doc["bytes_file"] == (tmp_path / "round2.kzb").stat().st_size
    # The backup's own timing lies within the command's run (a wrong unit would not).
    assert isinstance(doc["seconds"], (int, float)) and 0 <= doc["seconds"] <= wall
    assert doc["schema_head"] == PACKAGED[-1]

    target = new_db()
    r = kz.ok("restore", str(archive), *at(target))
    assert "checksums verified" in r.text
    assert f"restored {m.group(3)} rows into {len(before)} tables" in r.text
    dst = DB(target)
    assert tables(dst) == tables(src)
    assert content(dst) == before
    assert dst.fetch(f"SELECT migration_id, action FROM {LOG} WHERE action = 'restore'") == [
        {"migration_id": PACKAGED[-1], "action": "restore"}]
    r = kz.ok("migrate", "verify", *at(target))
    assert "schema verified" in r.text
    # The restored sequence continues after the source's (no duplicate keys in the log).
    assert dst.val(f"SELECT max(seq) FROM {LOG}") == dst.val(f"SELECT count(*) FROM {LOG}")


# -- 2. consistency under concurrent writes --------------------------------------------------------------


class PairWriter(threading.Thread):
    """Keeps committing transactions that each insert two storage rows (w-N-a, w-N-b) and one
    notification (subject w-N): a torn snapshot would show a half pair or a lone notification."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.dsn = pg_dsn(name)
        self.committed = 0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the test
            self.error = exc

    async def _main(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            n = 0
            while not self.halt.is_set():
                async with conn.transaction():
                    for half in "ab":
                        await conn.execute(
                            "INSERT INTO storage (collection, key, user_id, value, version) "
                            "VALUES ('pairs', $1, $2, $3, 'v')", f"w-{n}-{half}", SYSTEM,
                            json.dumps({"n": n, "half": half}))
                    await conn.execute(
                        "INSERT INTO notification (id, user_id, subject, code, sender_id) "
                        "VALUES ($1, $2, $3, 1, $2)", uuid.uuid4(), SYSTEM, f"w-{n}")
                n += 1
                self.committed = n
        finally:
            await conn.close()


def _wait(predicate, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_backup_is_consistent_under_concurrent_writes(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    src = migrated(kz, db_name)
    # Enough rows that the snapshot takes a while to stream while the writer commits.
    src.execute("INSERT INTO storage (collection, key, user_id, value, version) "
                "SELECT 'bulk', 'k' || g, $1, jsonb_build_object('n', g, 'pad', repeat(md5(g::text), 6)), "
                "md5(g::text) FROM generate_series(1, 30000) g", SYSTEM)
    writer = PairWriter(db_name)
    writer.start()
    try:
        _wait(lambda: writer.committed >= 20 or writer.error is not None, what="the writer")
        before = writer.committed
        archive = tmp_path / "hot.kzb"
        kz.ok("backup", "--out", str(archive), *at(db_name))
        after = writer.committed
        _wait(lambda: writer.committed > after + 5 or writer.error is not None, what="more writes")
    finally:
        writer.halt.set()
        writer.join(10)
    assert writer.error is None, writer.error
    assert after > before, "the writer made no progress while the backup ran"

    first = inspect(archive)
    target = new_db()
    kz.ok("restore", str(archive), *at(target))
    dst = DB(target)
    halves = dst.fetch("SELECT split_part(key, '-', 2)::int AS n, count(*) AS c FROM storage "
                       "WHERE collection = 'pairs' GROUP BY 1 ORDER BY 1")
    pairs = [r["n"] for r in halves]
    assert [r for r in halves if r["c"] != 2] == [], "a transaction was torn by the backup"
    assert pairs == list(range(len(pairs))), "the snapshot is not a prefix of the commits"
    assert before <= len(pairs) <= after
    notes = sorted(int(r["subject"].split("-")[1]) for r in dst.fetch("SELECT subject FROM notification"))
    assert notes == pairs, "storage and notification come from different moments"
    assert dst.val("SELECT count(*) FROM storage") == first.tables["storage"]["rows"] == 30000 + 2 * len(pairs)
    assert dst.val("SELECT count(*) FROM notification") == first.tables["notification"]["rows"]

    again = tmp_path / "again.kzb"
    kz.ok("backup", "--out", str(again), *at(target))
    second = inspect(again)
    assert set(second.tables) == set(first.tables)
    for t in first.tables:
        if t != LOG:
            assert second.tables[t] == first.tables[t], t


# -- 3. damaged archives --------------------------------------------------------------------------------


def test_corrupt_or_truncated_archive_changes_nothing(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    src = migrated(kz, db_name)
    seed(src, n=3000)
    good = tmp_path / "good.kzb"
    kz.ok("backup", "--out", str(good), *at(db_name))
    raw = good.read_bytes()
    corrupt = tmp_path / "corrupt.kzb"
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(flipped))
    truncated = tmp_path / "truncated.kzb"
    truncated.write_bytes(raw[: len(raw) * 2 // 3])

    empty = new_db()
    asyncio.run(_admin(f'CREATE DATABASE "{empty}"'))
    original = content(src)
    damaged = re.compile(r"is (corrupt|truncated)")
    for bad in (corrupt, truncated):
        missing = new_db()
        r = kz.fails("restore", str(bad), *at(missing))
        assert damaged.search(r.text) and "Nothing was changed" in r.text, r.text
        assert not DB(missing).exists()

        r = kz.fails("restore", str(bad), *at(empty))
        assert damaged.search(r.text), r.text
        assert relations(DB(empty)) == []

        r = kz.fails("restore", str(bad), "--force", *at(db_name))
        assert damaged.search(r.text), r.text
        assert content(src) == original

        r = kz("restore", str(bad), "--json", *at(empty))
        assert r.returncode != 0
        doc = json.loads(r.stdout)
        assert doc["ok"] is False and damaged.search(doc["error"]), doc


def test_a_damaged_frame_length_is_not_allocated(new_db, tmp_path: Path) -> None:
    """A length field damaged to ~4 GiB must read as "truncated", not allocate 4 GiB."""
    bad = tmp_path / "huge.kzb"
    with gzip.open(bad, "wb") as fh:
        fh.write(MAGIC + struct.pack(">cI", b"H", 0xFFFFFFF0) + b'{"format": 1}')
    missing = new_db()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    r = subprocess.run([KIZUNA, "restore", str(bad), *at(missing)], capture_output=True, text=True,
                       timeout=60, env=_env(), cwd=tmp_path, preexec_fn=limit)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert "truncated" in r.stderr
    assert not DB(missing).exists()


# -- 4. refusals -----------------------------------------------------------------------------------------


def test_restore_refuses_a_non_empty_database_without_force(db_name: str, new_db, kz: Kz,
                                                            tmp_path: Path) -> None:
    src = migrated(kz, db_name)
    seed(src, "source")
    archive = tmp_path / "src.kzb"
    kz.ok("backup", "--out", str(archive), *at(db_name))

    target = new_db()
    dst = migrated(kz, target)
    seed(dst, "target", n=7)
    original = content(dst)
    r = kz.fails("restore", str(archive), *at(target))
    assert "not empty" in r.text and "--force" in r.text
    assert content(dst) == original

    # A database that holds something else than Kizuna is not touched either (no journal made).
    foreign = new_db()
    asyncio.run(_admin(f'CREATE DATABASE "{foreign}"'))
    DB(foreign).execute("CREATE TABLE inventory (id int PRIMARY KEY); INSERT INTO inventory VALUES (1)")
    r = kz.fails("restore", str(archive), *at(foreign))
    assert "--force" in r.text
    assert relations(DB(foreign)) == [("inventory", "r"), ("inventory_pkey", "i")]

    kz.ok("restore", str(archive), "--force", *at(target))
    assert content(dst) == content(src)
    assert dst.val("SELECT count(*) FROM storage WHERE collection = 'target'") == 0


def test_restore_refuses_an_archive_from_a_newer_schema(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    src = migrated(kz, db_name)
    src.execute("INSERT INTO kizuna_migration (id, checksum, state, phase, kizuna_version) "
                "VALUES ('9999_future', 'abc', 'applied', 'expand', '9.9.9')")
    archive = tmp_path / "future.kzb"
    kz.ok("backup", "--out", str(archive), *at(db_name))
    assert inspect(archive).header["schema_head"] == "9999_future"

    target = new_db()
    r = kz.fails("restore", str(archive), *at(target))
    assert "9999_future" in r.text and "newer" in r.text, r.text
    assert not DB(target).exists()

    empty = new_db()
    asyncio.run(_admin(f'CREATE DATABASE "{empty}"'))
    r = kz.fails("restore", str(archive), "--json", *at(empty))
    assert "9999_future" in json.loads(r.stdout)["error"]
    assert relations(DB(empty)) == []


def test_restore_of_an_older_schema_migrates_it_to_head(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    src = migrated(kz, db_name, "--to", "0002_user_session")
    seed(src, "old")
    before = data_content(src)
    archive = tmp_path / "old.kzb"
    kz.ok("backup", "--out", str(archive), *at(db_name))
    assert inspect(archive).header["schema_head"] == "0002_user_session"

    target = new_db()
    r = kz.ok("restore", str(archive), *at(target))
    later = PACKAGED[PACKAGED.index("0002_user_session") + 1:]
    assert f"then applied {len(later)} newer migration(s): {', '.join(later)}" in r.text
    dst = DB(target)
    st = kz.json("migrate", "status", *at(target))
    assert st["up_to_date"] is True and st["current"] == PACKAGED[-1]
    after = content(dst, list(before))
    assert {t: v for t, v in after.items() if t != "kizuna_migration"} == \
           {t: v for t, v in before.items() if t != "kizuna_migration"}
    assert dst.val("SELECT count(*) FROM users WHERE username = 'old-user'") == 1
    kz.ok("migrate", "verify", *at(target))


# -- 5. automatic backups before migrating ----------------------------------------------------------


def autos(d: Path) -> list[str]:
    return sorted(str(p) for p in d.glob("kizuna-auto-*.kzb")) if d.exists() else []


def test_migrate_up_backs_up_first(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    src = migrated(kz, db_name, "--to", "0002_user_session")
    seed(src, "auto")
    expected = data_content(src)
    d = tmp_path / "auto"
    r = kz.ok("migrate", "up", "--backup.dir", str(d), *at(db_name))
    files = autos(d)
    assert len(files) == 1
    assert files[0] in r.text and "backup done" in r.text
    assert "0002_user_session-before-up" in files[0]
    a = inspect(files[0])
    assert a.header["schema_head"] == "0002_user_session"
    assert {t: a.tables[t]["rows"] for t in expected} == {t: n for t, (n, _) in expected.items()}
    assert not list(d.glob("*.partial"))

    # --no-backup writes none.
    other = migrated(kz, new_db(), "--to", "0002_user_session")
    d2 = tmp_path / "none"
    kz.ok("migrate", "up", "--no-backup", "--backup.dir", str(d2), *at(other.name))
    assert autos(d2) == []

    # Nothing to back up in an empty database.
    d3 = tmp_path / "fresh"
    r = kz.ok("migrate", "up", "--backup.dir", str(d3), *at(new_db()))
    assert autos(d3) == [] and "backing up" not in r.text


def test_automatic_backup_retention(db_name: str, kz: Kz, tmp_path: Path) -> None:
    seed(migrated(kz, db_name), "keep", n=5)
    d = tmp_path / "retained"
    taken = []
    for _ in range(3):
        for step in (("down", "--force"), ("up",)):
            r = kz.ok("migrate", *step, "--backup.dir", str(d), "--backup.retention", "2", *at(db_name))
            taken += AUTO.findall(r.stdout)[:1]
    assert len(taken) == 6 and len(set(taken)) == 6
    # The newest backup of each schema (before the last down, before the last up) is always
    # kept, and retention counts the others: the two before those.
    assert autos(d) == sorted(taken[-4:])
    for f in autos(d):
        inspect(f)


def test_failed_migration_names_the_backup_that_undoes_it(db_name: str, new_db, kz: Kz,
                                                          tmp_path: Path) -> None:
    src = migrated(kz, db_name)
    seed(src, "precious", n=20)
    before = data_content(src)
    mdir = packaged_copy(tmp_path / "migrations")
    # Statement 1 damages the data (no-transaction: it stays done), statement 2 fails.
    write_migration(mdir, "9005_fails",
                    "UPDATE storage SET value = '{\"lost\": true}';\nSELECT 1 / 0;",
                    "SELECT 1;", "no-transaction")
    d = tmp_path / "auto"
    r = kz.fails("migrate", "up", "--migrations-dir", str(mdir), "--backup.dir", str(d), *at(db_name))
    files = autos(d)
    assert len(files) == 1
    assert "9005_fails" in r.text and "division by zero" in r.text
    assert f"A backup was taken before this run: {files[0]}" in r.text
    assert f"kizuna restore {files[0]} --force --no-migrate" in r.text
    assert src.val("SELECT count(*) FROM storage WHERE value = '{\"lost\": true}'") == 20

    # Follow the hint to the letter, with the same flags as the failed run: the data comes back
    # and the broken migration is not run again.
    kz.ok("restore", files[0], "--force", "--no-migrate", "--migrations-dir", str(mdir), *at(db_name))
    assert data_content(src) == before
    assert "9005_fails" not in src.journal()
    kz.ok("migrate", "verify", *at(db_name))


# -- 6. upgrade plan ------------------------------------------------------------------------------------


def journal_state(db: DB) -> tuple[Any, Any]:
    return db.journal(), db.fetch(f"SELECT * FROM {LOG} ORDER BY seq") if db.table_exists(LOG) else []


def test_upgrade_plan_for_a_fresh_install(new_db, kz: Kz) -> None:
    missing = new_db()
    empty = new_db()
    asyncio.run(_admin(f'CREATE DATABASE "{empty}"'))
    for name in (missing, empty):
        doc = kz.json("upgrade", "plan", *at(name))
        assert doc["state"] == "fresh install"
        assert doc["current_schema"] is None
        assert doc["pending"] == PACKAGED
        assert doc["target_schema"] == manifest().schema_head == PACKAGED[-1]
        assert doc["backup"]["taken"] is False
        assert doc["blocked_by"] is None
        r = kz.ok("upgrade", "plan", *at(name))
        assert "state: fresh install" in r.text
        assert f"{len(PACKAGED)} migration(s) will create the schema" in r.text
        assert "backup: none needed" in r.text
    assert not DB(missing).exists()
    assert relations(DB(empty)) == []


def test_upgrade_plan_one_step_behind(db_name: str, kz: Kz) -> None:
    db = migrated(kz, db_name, "--to", "0002_user_session")
    seed(db, "plan")
    state = journal_state(db)
    doc = kz.json("upgrade", "plan", *at(db_name))
    pending = PACKAGED[PACKAGED.index("0002_user_session") + 1:]
    assert doc["state"] == "upgrade pending"
    assert doc["current_schema"] == "0002_user_session"
    assert doc["running_releases"] == [manifest().release]
    assert doc["pending"] == pending == [s["id"] for s in doc["steps"]]
    for s in doc["steps"]:
        assert s["phase"] == s["manifest_phase"] == manifest().phase_of(s["id"]) == "expand"
        assert s["verdict"] in VERDICTS
    assert doc["backup"]["taken"] is True and doc["backup"]["database_bytes"] > 0
    assert doc["old_nodes_can_serve"]["answer"] is True
    assert doc["blocked_by"] is None
    r = kz.ok("upgrade", "plan", *at(db_name))
    for s in doc["steps"]:
        assert f"{s['id']} [{s['phase']}, transactional] → {s['verdict']}" in r.text
    assert "old nodes keep serving: yes" in r.text
    assert "backup: `migrate up` first writes" in r.text
    assert journal_state(db) == state


def test_upgrade_plan_with_a_lossy_down_pending(db_name: str, kz: Kz, tmp_path: Path) -> None:
    mdir = packaged_copy(tmp_path / "migrations")
    reason = "forgets every storage note"
    write_migration(mdir, "9005_storage_note", "ALTER TABLE storage ADD COLUMN note TEXT;",
                    "ALTER TABLE storage DROP COLUMN note;", f"lossy-down: {reason}")
    db = migrated(kz, db_name, "--migrations-dir", str(mdir), "--to", PACKAGED[-1])
    seed(db, "lossy", n=3)
    state = journal_state(db)
    doc = kz.json("upgrade", "plan", "--migrations-dir", str(mdir), *at(db_name))
    assert doc["pending"] == ["9005_storage_note"]
    assert doc["downgrade"]["lossless"] is False
    assert any(reason in d for d in doc["downgrade"]["details"]), doc["downgrade"]
    # An expand migration is additive: the running nodes keep serving while it runs.
    assert doc["old_nodes_can_serve"]["answer"] is True, doc["old_nodes_can_serve"]
    assert "additive" in doc["old_nodes_can_serve"]["why"]
    r = kz.ok("upgrade", "plan", "--migrations-dir", str(mdir), *at(db_name))
    assert "downgrade lossless: no" in r.text and reason in r.text
    assert journal_state(db) == state


# -- 7. issue 18: restores under live nodes, all-or-nothing restores, backups only when needed -------


def _ready(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/kizuna/ready", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_restore_refuses_while_nodes_use_the_database(server, db_name: str, new_db, kz: Kz,
                                                      tmp_path: Path) -> None:
    """Item 3: `restore --force` dropped the tables under a node that stayed ready and then
    answered 500. Now it refuses while a node is alive (registry heartbeat, or a `kizuna <node>`
    connection of a release without the registry), and `--force` backs up what it replaces."""
    other = migrated(kz, new_db())
    seed(other, "archived")
    archive = tmp_path / "other.kzb"
    kz.ok("backup", "--out", str(archive), *at(other.name))

    asyncio.run(_play(server.url))  # the node serves players on db_name
    live = DB(db_name)
    assert _wait_node(live), "the node did not register"
    original = data_content(live)
    d = tmp_path / "safety"
    r = kz.fails("restore", str(archive), "--force", "--backup.dir", str(d), *at(db_name))
    assert "Kizuna nodes are using this database" in r.text, r.text
    assert "--ignore-live-nodes" in r.text
    assert data_content(live) == original
    assert autos(d) == []  # refused before anything was written
    assert _ready(server.url) == 200
    asyncio.run(_serves(server.url))  # still serving, no 500
    server.stop()

    # A node of an older release, seen only by its connection's name, counts as well.
    async def hold() -> None:
        conn = await asyncpg.connect(pg_dsn(db_name), server_settings={
            "application_name": "kizuna oldnode 0.0.9"})
        try:
            r2 = await asyncio.to_thread(kz.fails, "restore", str(archive), "--force",
                                         "--backup.dir", str(d), "--json", *at(db_name))
            doc = json.loads(r2.stdout)
            assert "oldnode (Kizuna 0.0.9" in doc["error"], doc
        finally:
            await conn.close()
    asyncio.run(hold())
    after_play = data_content(live)

    # Nodes gone: --force restores, after a safety backup of what it replaces (named in the output).
    r = kz.ok("restore", str(archive), "--force", "--backup.dir", str(d), *at(db_name))
    [safety] = autos(d)
    assert "-before-restore.kzb" in safety
    assert f"what the database held before is in {safety}" in r.text
    assert data_content(live) == data_content(other)
    target = new_db()
    kz.ok("restore", safety, *at(target))
    assert data_content(DB(target)) == after_play

    # The explicit override restores even while a node's heartbeat is fresh.
    live.execute("INSERT INTO kizuna_node (name, version, schema_oldest, schema_newest, address, "
                 "state, started_at, heartbeat_at) VALUES ('ghost', '0.1.0', '', '', 'h', 'serving', "
                 "now(), now() + interval '1 minute')")
    kz.fails("restore", str(archive), "--force", "--no-backup", *at(db_name))
    r = kz.ok("restore", str(archive), "--force", "--no-backup", "--ignore-live-nodes", *at(db_name))
    assert "backing up" not in r.text
    assert data_content(live) == data_content(other)


async def _serves(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(url, http)
        r = await api.authenticate("device", {"id": f"after-refusal-{uuid.uuid4().hex}"},
                                   params={"create": "true"})
        assert_ok(r)


def _wait_node(db: DB, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.table_exists("kizuna_node") and db.val("SELECT count(*) FROM kizuna_node"):
            return True
        time.sleep(0.1)
    return False


def _copying_into(name: str) -> bool:
    """Whether a COPY ... FROM STDIN into `name` has loaded rows (the restore is mid-load)."""
    return bool(DB("postgres").val(
        "SELECT count(*) FROM pg_stat_progress_copy p JOIN pg_database d ON d.oid = p.datid "
        "WHERE d.datname = $1 AND p.command = 'COPY FROM' AND p.tuples_processed > 1000", name))


def _interrupted_restore(kz: Kz, archive: Path, name: str, sig: int, *flags: str) -> subprocess.Popen:
    proc = subprocess.Popen([KIZUNA, "restore", str(archive), *flags, *at(name)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=kz.cwd)
    try:
        _wait(lambda: _copying_into(name) or proc.poll() is not None, timeout=120,
              what="the restore to load rows")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc


def test_an_interrupted_restore_leaves_the_database_as_it_was(db_name: str, new_db, kz: Kz,
                                                              tmp_path: Path) -> None:
    """Item 7: Ctrl-C during the load left the full schema with no rows, which `migrate status`
    called up to date. Now the load happens in a staging schema that replaces the live one in one
    transaction: an interrupted restore changes nothing."""
    import signal

    src = migrated(kz, db_name)
    seed(src, "big", n=150_000)
    archive = tmp_path / "big.kzb"
    kz.ok("backup", "--out", str(archive), *at(db_name))

    target = new_db()
    dst = migrated(kz, target)
    seed(dst, "precious", n=40)
    original = content(dst)
    proc = _interrupted_restore(kz, archive, target, signal.SIGINT, "--force", "--no-backup")
    assert proc.returncode != 0
    _, stderr = proc.communicate()
    assert content(dst) == original
    assert "Traceback" not in stderr, stderr
    assert "interrupted: nothing was restored" in stderr, stderr
    st = kz.json("migrate", "status", *at(target))
    assert st["up_to_date"] is True
    kz.ok("migrate", "verify", *at(target))

    # Killed outright (no chance to clean up): the live schema is still untouched; the staging
    # schema it left is dropped by the next restore, which then succeeds.
    proc = _interrupted_restore(kz, archive, target, signal.SIGKILL, "--force", "--no-backup")
    assert content(dst) == original
    kz.ok("migrate", "verify", *at(target))
    kz.ok("restore", str(archive), "--force", "--no-backup", *at(target))
    assert data_content(dst) == data_content(src)
    assert dst.val("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kizuna_restore%'") == 0

    # Into an empty database: interrupted, it stays empty (the schema guard refuses to serve it
    # and `migrate status` shows every migration pending), never a full schema without rows.
    empty = new_db()
    proc = _interrupted_restore(kz, archive, empty, signal.SIGINT)
    assert proc.returncode != 0
    assert tables(DB(empty)) in ([], ["kizuna_migration", "kizuna_migration_log"])
    st = kz.json("migrate", "status", *at(empty))
    assert st["up_to_date"] is False and st["current"] is None


def test_a_failed_load_changes_nothing(db_name: str, new_db, kz: Kz, tmp_path: Path) -> None:
    """Item 7, an injected failure: the archive's rows violate a constraint of the schema this
    release builds, so the load fails half way; the database keeps what it held."""
    mdir = packaged_copy(tmp_path / "migrations")
    src = migrated(kz, db_name, "--migrations-dir", str(mdir))
    seed(src, "src", n=500)
    archive = tmp_path / "src.kzb"
    kz.ok("backup", "--out", str(archive), "--migrations-dir", str(mdir), *at(db_name))
    # The same migration ids, but this release's 0003 now refuses what the archive holds.
    (mdir / "0003_storage.sql").write_text((mdir / "0003_storage.sql").read_text().replace(
        "-- +migrate Down", "ALTER TABLE storage ADD CONSTRAINT no_src CHECK (collection <> 'src');\n"
        "-- +migrate Down", 1))
    target = new_db()
    dst = migrated(kz, target)
    seed(dst, "kept", n=30)
    original = content(dst)
    r = kz.fails("restore", str(archive), "--force", "--no-backup", "--migrations-dir", str(mdir),
                 *at(target))
    assert content(dst) == original
    assert "table storage: the archive's rows do not load" in r.text and "no_src" in r.text, r.text
    assert "Nothing was restored" in r.text
    assert dst.val("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kizuna_restore%'") == 0


def test_a_refused_migrate_up_writes_no_backup(db_name: str, kz: Kz, tmp_path: Path) -> None:
    """Item 4: a `migrate up` whose first step is a contract migration refused while a node of
    another release serves changes nothing, so it takes no backup (every node of a rolling
    upgrade runs `migrate up` at start)."""
    db = migrated(kz, db_name)
    seed(db, "rolling", n=20)
    mdir = packaged_copy(tmp_path / "migrations")
    write_migration(mdir, "9001_contract", "CREATE TABLE contract_demo (id int);",
                    "DROP TABLE contract_demo;", "phase: contract")
    db.execute("INSERT INTO kizuna_node (name, version, schema_oldest, schema_newest, address, "
               "state, started_at, heartbeat_at) VALUES ('oldnode', '0.0.9', '', '', 'h', "
               "'serving', now(), now() + interval '1 minute')")
    d = tmp_path / "auto"
    for _ in range(2):
        r = kz.fails("migrate", "up", "--migrations-dir", str(mdir), "--backup.dir", str(d),
                     *at(db_name))
        assert "9001_contract is a contract migration" in r.text and "oldnode" in r.text
        assert autos(d) == []
        assert "backing up" not in r.text

    # When something runs before the refused contract step, the backup is taken.
    write_migration(mdir, "9000_expand", "CREATE TABLE expand_demo (id int);",
                    "DROP TABLE expand_demo;", "phase: expand")
    r = kz.fails("migrate", "up", "--migrations-dir", str(mdir), "--backup.dir", str(d), *at(db_name))
    assert "9001_contract is a contract migration" in r.text
    assert len(autos(d)) == 1 and "9000_expand" in db.journal()

    # The old node gone, the contract step runs, backed up first.
    db.execute("DELETE FROM kizuna_node")
    kz.ok("migrate", "up", "--migrations-dir", str(mdir), "--backup.dir", str(d), *at(db_name))
    assert len(autos(d)) == 2 and "9001_contract" in db.journal()


def test_the_pre_upgrade_backup_survives_retention(db_name: str, kz: Kz, tmp_path: Path) -> None:
    """Item 4: with retention 2, backups taken after the upgrade (redo, restarts) must not rotate
    away the one taken before it: the newest backup of each schema is kept, retention counts the
    others."""
    db = migrated(kz, db_name, "--to", "0002_user_session")
    seed(db, "pre", n=5)
    d = tmp_path / "auto"
    r = kz.ok("migrate", "up", "--backup.dir", str(d), "--backup.retention", "2", *at(db_name))
    [pre_upgrade] = AUTO.findall(r.stdout)[:1]
    assert "0002_user_session-before-up" in pre_upgrade
    later = []
    for _ in range(4):
        r = kz.ok("migrate", "redo", "--force", "--backup.dir", str(d), "--backup.retention", "2",
                  *at(db_name))
        later += AUTO.findall(r.stdout)[:1]
    assert autos(d) == sorted([pre_upgrade, *later[-3:]])
    assert inspect(pre_upgrade).header["schema_head"] == "0002_user_session"


def test_backup_to_an_unwritable_path_names_the_path(db_name: str, kz: Kz, tmp_path: Path) -> None:
    """Item 11: an --out the command cannot write used to be reported as a lost database
    connection. Now the message names the path and what is wrong with it."""
    migrated(kz, db_name)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = {
        str(a_file / "x.kzb"): f"{a_file} is not a directory",
        str(a_file / "sub" / "x.kzb"): f"{a_file} is not a directory",
        "/proc/kizuna-test.kzb": "",
    }
    for out, why in cases.items():
        r = kz.fails("backup", "--out", out, *at(db_name))
        assert f"cannot write the backup to {out}: {why}" in r.text, r.text
        assert "database" not in r.text.split("cannot write")[1].split("\n")[0].lower(), r.text
        assert "connection" not in r.text.lower(), r.text
        doc = json.loads(kz.fails("backup", "--out", out, "--json", *at(db_name)).stdout)
        assert doc["ok"] is False and doc["error"].startswith(f"cannot write the backup to {out}")
    assert not list(tmp_path.glob("*.partial"))
    # The automatic backup says the same about backup.dir.
    db = DB(db_name)
    seed(db, "x", n=3)
    r = kz.fails("migrate", "down", "--force", "--backup.dir", str(a_file), *at(db_name))
    assert f"cannot write the backup to {a_file}/" in r.text, r.text
    assert f"{a_file} is not a directory (the automatic backup before down)" in r.text, r.text
    assert "--no-backup" in r.text


def test_the_backup_size_estimate_matches_the_archive(db_name: str, new_db, kz: Kz) -> None:
    """Item 11: the estimate was `pg_database_size()`, about 8 MB of system catalogs for a
    database whose archive holds 30 kB (off by ~200x). `estimate_bytes` is within 25% of the
    archive's `bytes_raw`, empty or full."""
    from kizuna.ops.backup import estimate_bytes

    async def estimate(name: str) -> tuple[int, int]:
        conn = await asyncpg.connect(pg_dsn(name))
        try:
            return (await estimate_bytes(conn),
                    await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    small = migrated(kz, db_name)
    big = migrated(kz, new_db(), "--to", "0004_chat_notifications")
    seed(big, "big", n=40_000)
    for db in (small, big):
        est, db_size = asyncio.run(estimate(db.name))
        actual = kz.json("backup", "--out", str(kz.cwd / f"{db.name}.kzb"), *at(db.name))["bytes_raw"]
        assert 0.75 <= est / actual <= 1.25, (db.name, est, actual)
        if db is small:
            assert db_size / actual > 50  # what the old estimate said
