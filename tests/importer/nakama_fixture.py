"""A Nakama-shaped source database for the importer's tests and benchmarks.

    dsn = await create_nakama_database()        # fresh database, Nakama 3.40 schema applied
    conn = await asyncpg.connect(dsn)
    expected = await fill_realistic(conn)       # a small world with Nakama's edge cases
    await fill_bulk(conn, users=1_000_000, storage_per_user=5)   # the benchmark's bulk
    await drop_nakama_database(dsn)

The schema (`nakama_schema.sql`) is the final state of a Nakama 3.40 PostgreSQL database. Rows
are written with plain SQL the way Nakama stores them: bcrypt hashes as bytes, storage versions
as the MD5 of the value text the client sent (not of PostgreSQL's JSONB rendering), friendships
as two edges, group edges in both directions, positions as UnixNano, timestamps in the past,
nullable columns left NULL where Nakama may leave them NULL.

`fill_realistic` returns an `Expected`: what a test should later see through Kizuna's client
API after the import (users, devices, passwords, storage objects with their versions, friends,
groups, leaderboard records of the current period, notifications, chat history, wallet
ledgers) and what the import should report as not carried over.

Nothing here depends on pytest: the benchmark imports it too. The server is the tests' one
(`KZ_TEST_PG`, default postgres@127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import bcrypt

SCHEMA = Path(__file__).with_name("nakama_schema.sql")
NIL = "00000000-0000-0000-0000-000000000000"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Nakama's numbers, as stored in the database.
FRIEND, INVITE_SENT, INVITE_RECEIVED, BLOCKED = 0, 1, 2, 3
SUPERADMIN, ADMIN, MEMBER, JOIN_REQUEST, BANNED = 0, 1, 2, 3, 4
OP_BEST, OP_SET, OP_INCR, OP_DECR = 0, 1, 2, 3          # leaderboard.operator (DB mapping)
ASC, DESC = 0, 1                                        # leaderboard.sort_order
ROOM, DIRECT, GROUP = 2, 4, 3                           # message.stream_mode

# Tables whose rows Kizuna does not carry over (the import reports them).
NOT_CARRIED = ("purchase", "subscription", "console_user", "users_notes", "console_audit_log",
               "console_acl_template", "setting")


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


def pg_address() -> str:
    """`user@host:port` of the test PostgreSQL (the one tests/conftest.py settled on)."""
    return os.environ.get("KZ_TEST_PG", "postgres@127.0.0.1:5432")


def admin_dsn() -> str:
    return f"postgresql://{pg_address()}/postgres"


def dsn_for(name: str) -> str:
    return f"postgresql://{pg_address()}/{name}"


def address_for(name: str) -> str:
    """The Nakama-style address (`--database.address`, `--from`) of database `name`."""
    return f"{pg_address()}/{name}"


def database_name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1].split("?", 1)[0]


async def apply_schema(conn: asyncpg.Connection) -> None:
    """Create Nakama 3.40's tables (with the system user, migration_info and settings rows) in
    the database `conn` is connected to, in one transaction."""
    async with conn.transaction():
        await conn.execute(SCHEMA.read_text())


async def create_nakama_database(admin: str | None = None, name: str | None = None) -> str:
    """Create a fresh database (a unique `nkt_...` name unless `name` is given), apply the
    Nakama schema, and return its DSN (`postgresql://user@host:port/name`)."""
    name = name or f"nkt_{uuid.uuid4().hex[:16]}"
    admin = admin or admin_dsn()
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = admin.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(dsn)
    try:
        await apply_schema(conn)
    finally:
        await conn.close()
    return dsn


async def drop_nakama_database(dsn: str, admin: str | None = None) -> None:
    """Drop the database of `dsn` (closing its connections); no error if it is gone."""
    conn = await asyncpg.connect(admin or admin_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------
# What a test should see after the import
# --------------------------------------------------------------------------------------------


@dataclass
class ExpectedUser:
    key: str                      # the fixture's short name: "alice"
    id: str
    username: str
    display_name: str | None
    devices: list[str] = field(default_factory=list)
    email: str | None = None
    password: str | None = None   # the plaintext of the stored bcrypt hash
    custom_id: str | None = None
    steam_id: str | None = None
    apple_id: str | None = None
    facebook_id: str | None = None
    google_id: str | None = None
    gamecenter_id: str | None = None
    lang_tag: str = "en"
    location: str | None = None
    timezone: str | None = None
    avatar_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    wallet: dict[str, Any] = field(default_factory=dict)
    banned: bool = False
    disable_time: datetime = EPOCH
    verify_time: datetime = EPOCH
    edge_count: int = 0
    create_time: datetime = EPOCH
    update_time: datetime = EPOCH


@dataclass
class ExpectedObject:
    collection: str
    key: str
    user_id: str                  # NIL for system-owned objects
    value_text: str               # the text the client wrote (the version is its MD5)
    version: str
    read: int
    write: int

    @property
    def value(self) -> Any:
        return json.loads(self.value_text)


@dataclass
class ExpectedGroup:
    id: str
    name: str
    open: bool                    # state 0, or NULL (read as open)
    state: int | None             # as stored
    creator_id: str
    edge_count: int               # members: superadmins, admins and members
    max_count: int
    description: str | None
    metadata: dict[str, Any] | None
    members: dict[str, int]       # user id -> group_edge state (0..4, join requests and bans too)


@dataclass
class ExpectedRecord:
    leaderboard_id: str
    owner_id: str
    username: str | None
    score: int
    subscore: int
    num_score: int
    metadata: dict[str, Any] | None
    expiry_time: datetime         # EPOCH: never expires
    current: bool                 # belongs to the current period (what a plain list shows)


@dataclass
class ExpectedBoard:
    id: str
    tournament: bool
    sort_order: int               # 0 asc, 1 desc
    operator: int                 # DB mapping: 0 best, 1 set, 2 incr, 3 decr
    reset_schedule: str | None
    metadata: dict[str, Any] | None
    records: list[ExpectedRecord] = field(default_factory=list)
    title: str = ""
    description: str = ""
    category: int = 0
    duration: int = 0
    max_size: int = 100_000_000
    join_required: bool = False
    start_time: datetime = EPOCH
    end_time: datetime = EPOCH
    size: int = 0

    @property
    def current_records(self) -> list[ExpectedRecord]:
        """The records of the current period, best first."""
        recs = [r for r in self.records if r.current]
        return sorted(recs, key=lambda r: (r.score, r.subscore),
                      reverse=self.sort_order == DESC)


@dataclass
class ExpectedNotification:
    id: str
    user_id: str
    subject: str
    content: dict[str, Any]
    code: int
    sender_id: str
    create_time: datetime


@dataclass
class ExpectedMessage:
    id: str
    sender_id: str
    username: str
    code: int
    content: dict[str, Any]
    create_time: datetime


@dataclass
class ExpectedChannel:
    stream_mode: int              # 2 room, 3 group, 4 direct
    subject: str                  # group id, or the smaller user id of a DM, or NIL
    descriptor: str               # the larger user id of a DM, or NIL
    label: str                    # the room name, or ''
    messages: list[ExpectedMessage] = field(default_factory=list)


@dataclass
class Expected:
    users: dict[str, ExpectedUser]                 # by short name ("alice")
    objects: list[ExpectedObject]                  # every storage row
    friends: dict[str, dict[str, int]]             # user id -> {other user id: state}
    groups: dict[str, ExpectedGroup]               # by group name
    boards: dict[str, ExpectedBoard]               # leaderboards and tournaments, by id
    notifications: dict[str, list[ExpectedNotification]]  # user id -> oldest first
    channels: dict[str, ExpectedChannel]           # "room:lobby", "group:<name>", "dm:alice-bob"
    ledger: dict[str, list[dict[str, Any]]]        # user id -> changesets, oldest first
    tombstoned_user_id: str                        # a deleted account (user_tombstone row)
    not_carried: dict[str, int]                    # table -> rows (purchase, console_user, ...)
    row_counts: dict[str, int] = field(default_factory=dict)  # every table -> rows, at the end

    def user(self, key: str) -> ExpectedUser:
        return self.users[key]

    def objects_of(self, user_id: str) -> list[ExpectedObject]:
        return [o for o in self.objects if o.user_id == user_id]


# --------------------------------------------------------------------------------------------
# Realistic data
# --------------------------------------------------------------------------------------------


def _id(n: int) -> str:
    """A fixed, version-4-looking UUID for the fixture's rows (n distinguishes them)."""
    return str(uuid.UUID(f"4a1f{n:04x}-6c2e-4b7d-9e0a-{n:012x}"))


def unix_nano(t: datetime) -> int:
    return (int(t.timestamp()) * 1_000_000_000) + t.microsecond * 1000


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


T0 = datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)  # the world's "first day"


def _t(days: float, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, seconds=seconds)


async def fill_realistic(conn: asyncpg.Connection) -> Expected:
    """Insert a small Nakama world through plain SQL; return what a test should see."""
    now = datetime.now(UTC)
    async with conn.transaction():
        users = await _users(conn)
        u = {k: v.id for k, v in users.items()}
        friends = await _friends(conn, users)
        objects = await _storage(conn, u)
        groups = await _groups(conn, u)
        boards = await _boards(conn, users, now)
        ledger = await _ledger(conn, u)
        notes = await _notifications(conn, u)
        channels = await _messages(conn, users, groups)
        tomb = _id(999)
        await conn.execute("INSERT INTO user_tombstone (user_id, create_time) VALUES ($1, $2)",
                           tomb, _t(200))
        not_carried = await _not_carried(conn, u)
    counts = await table_counts(conn)
    return Expected(users=users, objects=objects, friends=friends, groups=groups, boards=boards,
                    notifications=notes, channels=channels, ledger=ledger,
                    tombstoned_user_id=tomb, not_carried=not_carried, row_counts=counts)


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    names = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    return {r["tablename"]: await conn.fetchval(f'SELECT count(*) FROM "{r["tablename"]}"')
            for r in names}


async def _users(conn: asyncpg.Connection) -> dict[str, ExpectedUser]:
    pw = "correct horse battery staple"
    us = [
        ExpectedUser("alice", _id(1), "alice", "Alice", devices=["5f0c7b8e-alice-ios"],
                     email="alice@example.com", password=pw, lang_tag="en-GB",
                     location="London", timezone="Europe/London",
                     avatar_url="https://cdn.example.com/a/alice.png",
                     metadata={"level": 7, "title": "Captain"},
                     wallet={"coins": 100, "gems": 5}, verify_time=_t(1, 60)),
        ExpectedUser("bob", _id(2), "bob", "Bob the Builder",
                     devices=["A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF", "android-9f8e7d6c5b4a"],
                     custom_id="bob-custom-42", metadata={"level": 3},
                     wallet={"coins": 250}),
        # display_name NULL, signed in with Steam and Apple.
        ExpectedUser("carol", _id(3), "carol", None, devices=["carol-device"],
                     steam_id="76561198000000042", apple_id="001234.abcdef0123456789.0042"),
        ExpectedUser("dave", _id(4), "dave", "Dave", devices=["dave-device"], banned=True,
                     disable_time=_t(150, 3600)),
        # A username Nakama generated (device authentication without a username).
        ExpectedUser("generated", _id(5), "vKpQzRtLmX", None, devices=["0b9a3e1c4d5f6a7b"]),
        ExpectedUser("erin", _id(6), "erin", "Erin", devices=["erin-device"],
                     metadata={"prefs": {"music": False, "lang": "de"}}),
        ExpectedUser("frank", _id(7), "frank", "Frank",
                     devices=["frank-phone", "frank-tablet"], wallet={"coins": 0}),
        ExpectedUser("grace", _id(8), "grace", "Zoë ✨ Grace", devices=["grace-device"],
                     lang_tag="fr"),
        ExpectedUser("heidi", _id(9), "heidi", "Heidi", devices=["heidi-device"],
                     gamecenter_id="G:1234567890"),
        # No device: Facebook and Google only.
        ExpectedUser("ivan", _id(10), "ivan", "Ivan", facebook_id="10150000000000042",
                     google_id="109876543210987654321"),
    ]
    for i, x in enumerate(us):
        x.create_time = _t(i, 1234.5)
        x.update_time = _t(i + 30, 42)
        pw_hash = bcrypt.hashpw(x.password.encode(), bcrypt.gensalt(10)) if x.password else None
        await conn.execute(
            "INSERT INTO users (id, username, display_name, avatar_url, lang_tag, location, "
            "timezone, metadata, wallet, email, password, facebook_id, google_id, gamecenter_id, "
            "steam_id, custom_id, apple_id, create_time, update_time, verify_time, disable_time) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, "
            "$15, $16, $17, $18, $19, $20, $21)",
            x.id, x.username, x.display_name, x.avatar_url, x.lang_tag, x.location, x.timezone,
            json.dumps(x.metadata), json.dumps(x.wallet), x.email, pw_hash, x.facebook_id,
            x.google_id, x.gamecenter_id, x.steam_id, x.custom_id, x.apple_id, x.create_time,
            x.update_time, x.verify_time, x.disable_time)
        for j, dev in enumerate(x.devices):
            ios = "7a3c1b9d0e2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b" \
                if dev == "5f0c7b8e-alice-ios" else ""
            prefs = '{"push": true}' if ios else "{}"
            await conn.execute(
                "INSERT INTO user_device (id, user_id, preferences, push_token_ios) "
                "VALUES ($1, $2, $3::jsonb, $4)", dev, x.id, prefs, ios)
            del j
    return {x.key: x for x in us}


async def _friends(conn: asyncpg.Connection, users: dict[str, ExpectedUser],
                   ) -> dict[str, dict[str, int]]:
    u = {k: v.id for k, v in users.items()}
    edges = [
        # alice and bob are friends: two rows.
        (u["alice"], u["bob"], FRIEND, _t(40)), (u["bob"], u["alice"], FRIEND, _t(40)),
        # erin invited alice: sent on erin's side, received on alice's.
        (u["erin"], u["alice"], INVITE_SENT, _t(45)),
        (u["alice"], u["erin"], INVITE_RECEIVED, _t(45)),
        # carol and frank are friends.
        (u["carol"], u["frank"], FRIEND, _t(50, 7)), (u["frank"], u["carol"], FRIEND, _t(50, 7)),
        # carol blocked dave: one row.
        (u["carol"], u["dave"], BLOCKED, _t(60)),
    ]
    out: dict[str, dict[str, int]] = {}
    for src, dst, state, at in edges:
        await conn.execute(
            "INSERT INTO user_edge (source_id, destination_id, state, position, update_time) "
            "VALUES ($1, $2, $3, $4, $5)", src, dst, state, unix_nano(at), at)
        out.setdefault(src, {})[dst] = state
    # edge_count: the user's edges (friends, invites either way, blocks), as Nakama counts them.
    for x in users.values():
        x.edge_count = len(out.get(x.id, {}))
        await conn.execute("UPDATE users SET edge_count = $2 WHERE id = $1", x.id, x.edge_count)
    return out


async def _storage(conn: asyncpg.Connection, u: dict[str, str]) -> list[ExpectedObject]:
    big = json.dumps({"tiles": [{"x": i % 64, "y": i // 64, "kind": "grass" if i % 7 else "rock",
                                 "h": (i * 37) % 101} for i in range(2500)]},
                     separators=(",", ":"))
    rows = [
        # The text as clients send it: compact, key order theirs; JSONB reorders and adds spaces,
        # so the version (MD5 of this text) is not the MD5 of the stored rendering.
        ("saves", "slot1", u["alice"], '{"hp":90,"pos":[1,2],"name":"Alice"}', 1, 1),
        ("profile", "public", u["alice"], '{"motto": "Onwards", "badges": ["first_win"]}', 2, 1),
        ("saves", "slot1", u["bob"], '{"hp":12,"pos":[7,7]}', 1, 1),
        ("secrets", "anticheat", u["bob"], '{"flags":3,"last":"2025-04-01T00:00:00Z"}', 0, 0),
        ("inventory", "main", u["carol"], '{"items":{"sword":1,"potion":4},"note":"naïve café ☕"}',
         1, 0),
        ("world", "map", u["carol"], big, 1, 1),
        ("config", "motd", NIL, '{"text":"Welcome back!","since":1735689600}', 2, 0),
        ("config", "internal", NIL, '{"rate":0.25}', 0, 0),
        ("saves", "slot1", u["generated"], "{}", 1, 1),
    ]
    out = []
    for i, (coll, key, owner, text, read, write) in enumerate(rows):
        version = md5_hex(text)
        await conn.execute(
            "INSERT INTO storage (collection, key, user_id, value, version, read, write, "
            "create_time, update_time) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)",
            coll, key, owner, text, version, read, write, _t(20 + i), _t(60 + i, 5))
        out.append(ExpectedObject(coll, key, owner, text, version, read, write))
    return out


async def _groups(conn: asyncpg.Connection, u: dict[str, str]) -> dict[str, ExpectedGroup]:
    specs: list[tuple[ExpectedGroup, str | None, str]] = [
        (ExpectedGroup(_id(101), "Open Raiders", True, 0, u["alice"], 4, 100,
                       "Weekly raids, all welcome", {"region": "eu", "min_level": 5},
                       {u["alice"]: SUPERADMIN, u["bob"]: ADMIN, u["frank"]: MEMBER,
                        u["grace"]: MEMBER}), "https://cdn.example.com/g/raiders.png", "en"),
        (ExpectedGroup(_id(102), "Closed Circle", False, 1, u["carol"], 2, 20, None, None,
                       {u["carol"]: SUPERADMIN, u["heidi"]: MEMBER, u["erin"]: JOIN_REQUEST,
                        u["dave"]: BANNED}), None, "de"),
        # An old row with a NULL state (read as open).
        (ExpectedGroup(_id(103), "Legacy Guild", True, None, u["ivan"], 1, 50, "", None,
                       {u["ivan"]: SUPERADMIN}), None, "en"),
    ]
    out = {}
    for n, (g, avatar, lang) in enumerate(specs):
        await conn.execute(
            "INSERT INTO groups (id, creator_id, name, description, avatar_url, lang_tag, "
            "metadata, state, edge_count, max_count, create_time, update_time) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)",
            g.id, g.creator_id, g.name, g.description, avatar, lang,
            None if g.metadata is None else json.dumps(g.metadata), g.state, g.edge_count,
            g.max_count, _t(70 + n), _t(90 + n))
        for m, (user_id, state) in enumerate(g.members.items()):
            at = _t(70 + n, 60 * m)
            pos = unix_nano(at)
            for src, dst in ((g.id, user_id), (user_id, g.id)):
                await conn.execute(
                    "INSERT INTO group_edge (source_id, destination_id, state, position, "
                    "update_time) VALUES ($1, $2, $3, $4, $5)", src, dst, state, pos, at)
        out[g.name] = g
    return out


def _next_midnight(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


async def _boards(conn: asyncpg.Connection, users: dict[str, ExpectedUser], now: datetime,
                  ) -> dict[str, ExpectedBoard]:
    u = {k: v.id for k, v in users.items()}
    name = {v.id: v.username for v in users.values()}
    midnight = _next_midnight(now)
    old_expiry = datetime(2025, 5, 2, tzinfo=UTC)
    t_start = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    t_end = t_start + timedelta(days=30)

    plain = ExpectedBoard("global_highscores", False, DESC, OP_BEST, None,
                          {"season": 1, "display": "High scores"})
    plain.records = [
        ExpectedRecord(plain.id, u["alice"], "alice", 1500, 20, 3, None, EPOCH, True),
        ExpectedRecord(plain.id, u["bob"], "bob", 1500, 35, 1, {"char": "knight"}, EPOCH, True),
        ExpectedRecord(plain.id, u["carol"], "carol", 900, 0, 7, {"char": "mage"}, EPOCH, True),
        # Written before a rename, or by the server: username NULL.
        ExpectedRecord(plain.id, u["frank"], None, 300, 0, 1, None, EPOCH, True),
    ]
    daily = ExpectedBoard("daily_runs", False, ASC, OP_SET, "0 0 * * *", None)
    daily.records = [
        ExpectedRecord(daily.id, u["alice"], "alice", 61_250, 0, 2, {"route": "north"},
                       midnight, True),
        ExpectedRecord(daily.id, u["erin"], "erin", 58_900, 3, 1, None, midnight, True),
        # Last period's: expired, kept until Nakama's cleanup; not listed any more.
        ExpectedRecord(daily.id, u["alice"], "alice", 70_000, 0, 1, None, old_expiry, False),
        ExpectedRecord(daily.id, u["bob"], "bob", 64_000, 0, 1, {}, old_expiry, False),
    ]
    cup = ExpectedBoard("spring_cup", True, DESC, OP_INCR, None, {"prize": "golden trowel"},
                        title="Spring Cup", description="Thirty days of digging", category=3,
                        duration=30 * 86400, max_size=50, join_required=True,
                        start_time=t_start, end_time=t_end)
    cup.records = [
        ExpectedRecord(cup.id, u["grace"], "grace", 420, 2, 4, None, t_end, True),
        ExpectedRecord(cup.id, u["heidi"], "heidi", 380, 9, 2, {"team": "blue"}, t_end, True),
        # Joined (join_required) but not scored yet: score 0, num_score 0.
        ExpectedRecord(cup.id, u["frank"], "frank", 0, 0, 0, None, t_end, True),
    ]
    cup.size = len(cup.records)
    boards = [plain, daily, cup]
    for n, b in enumerate(boards):
        await conn.execute(
            "INSERT INTO leaderboard (id, authoritative, sort_order, operator, reset_schedule, "
            "metadata, create_time, category, description, duration, end_time, join_required, "
            "max_size, title, size, start_time, enable_ranks) VALUES ($1, $2, $3, $4, $5, "
            "$6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            b.id, b.tournament, b.sort_order, b.operator, b.reset_schedule,
            None if b.metadata is None else json.dumps(b.metadata), _t(10 + n), b.category,
            b.description, b.duration, b.end_time, b.join_required, b.max_size, b.title, b.size,
            b.start_time if b.tournament else _t(10 + n), None if n == 1 else True)
        for m, r in enumerate(b.records):
            assert name[r.owner_id] == (r.username or name[r.owner_id])
            await conn.execute(
                "INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score, "
                "subscore, num_score, metadata, create_time, update_time, expiry_time) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)",
                r.leaderboard_id, r.owner_id, r.username, r.score, r.subscore, r.num_score,
                None if r.metadata is None else json.dumps(r.metadata),
                _t(100 + m), _t(100 + m, 3600 * m), r.expiry_time)
    return {b.id: b for b in boards}


async def _ledger(conn: asyncpg.Connection, u: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    entries = [
        (u["alice"], {"coins": 150}, {"reason": "signup_bonus"}),
        (u["alice"], {"coins": -50, "gems": 5}, {"reason": "shop", "sku": "gem_pack_5"}),
        (u["bob"], {"coins": 250}, {"reason": "signup_bonus"}),
        (u["frank"], {"coins": 10}, {}),
        (u["frank"], {"coins": -10}, {"reason": "entry_fee"}),
    ]
    out: dict[str, list[dict[str, Any]]] = {}
    for n, (user_id, change, meta) in enumerate(entries):
        await conn.execute(
            "INSERT INTO wallet_ledger (id, user_id, changeset, metadata, create_time, "
            "update_time) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $5)",
            _id(300 + n), user_id, json.dumps(change), json.dumps(meta), _t(35 + n))
        out.setdefault(user_id, []).append(change)
    return out


async def _notifications(conn: asyncpg.Connection, u: dict[str, str],
                         ) -> dict[str, list[ExpectedNotification]]:
    specs = [
        (u["alice"], "erin wants to add you as a friend", {"username": "erin"}, -2, u["erin"]),
        (u["alice"], "Daily reward", {"coins": 10, "day": 3}, 101, NIL),
        (u["bob"], "alice accepted your friend request", {"username": "alice"}, -3, u["alice"]),
        (u["carol"], "erin wants to join Closed Circle", {"group_id": _id(102)}, -5, u["erin"]),
    ]
    out: dict[str, list[ExpectedNotification]] = {}
    for n, (user_id, subject, content, code, sender) in enumerate(specs):
        x = ExpectedNotification(_id(400 + n), user_id, subject, content, code, sender,
                                 _t(45 + n, 17))
        await conn.execute(
            "INSERT INTO notification (id, user_id, subject, content, code, sender_id, "
            "create_time) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
            x.id, x.user_id, x.subject, json.dumps(x.content), x.code, x.sender_id, x.create_time)
        out.setdefault(user_id, []).append(x)
    return out


async def _messages(conn: asyncpg.Connection, users: dict[str, ExpectedUser],
                    groups: dict[str, ExpectedGroup]) -> dict[str, ExpectedChannel]:
    u = {k: v.id for k, v in users.items()}
    a, b = sorted([u["alice"], u["bob"]])
    raiders = groups["Open Raiders"].id
    channels = {
        "room:lobby": (ExpectedChannel(ROOM, NIL, NIL, "lobby"), [
            ("alice", 0, {"text": "anyone up for a raid?"}),
            ("bob", 0, {"text": "in 5"}),
            ("grace", 0, {"text": "ça marche 👍"}),
        ]),
        "group:Open Raiders": (ExpectedChannel(GROUP, raiders, NIL, ""), [
            ("frank", 3, {}),                          # group_join
            ("alice", 0, {"text": "welcome frank"}),
            ("frank", 0, {"text": "thanks!"}),
        ]),
        "dm:alice-bob": (ExpectedChannel(DIRECT, a, b, ""), [
            ("bob", 0, {"text": "gg"}),
            ("alice", 0, {"text": "gg wp", "emote": "wave"}),
        ]),
    }
    out = {}
    n = 0
    for key, (ch, msgs) in channels.items():
        for who, code, content in msgs:
            at = _t(120, 30 * n + 0.25)
            m = ExpectedMessage(_id(500 + n), u[who], users[who].username, code, content, at)
            await conn.execute(
                "INSERT INTO message (id, code, sender_id, username, stream_mode, stream_subject, "
                "stream_descriptor, stream_label, content, create_time, update_time) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $10)",
                m.id, m.code, m.sender_id, m.username, ch.stream_mode, ch.subject, ch.descriptor,
                ch.label, json.dumps(m.content), m.create_time)
            ch.messages.append(m)
            n += 1
        out[key] = ch
    return out


async def _not_carried(conn: asyncpg.Connection, u: dict[str, str]) -> dict[str, int]:
    await conn.execute(
        "INSERT INTO purchase (transaction_id, user_id, environment, product_id, purchase_time, "
        "raw_response, store, create_time, update_time) "
        "VALUES ('GPA.3312-4521-9087-12345', $1, 2, 'gems_100', $2, $3::jsonb, 1, $2, $2)",
        u["alice"], _t(37), json.dumps({"orderId": "GPA.3312-4521-9087-12345"}))
    await conn.execute(
        "INSERT INTO subscription (original_transaction_id, user_id, environment, product_id, "
        "purchase_time, store, expire_time) "
        "VALUES ('1000000812345678', $1, 2, 'vip_monthly', $2, 0, $3)",
        u["bob"], _t(38), _t(68))
    await conn.execute(
        "INSERT INTO console_user (id, email, username, password, acl) "
        "VALUES ($1, 'ops@example.com', 'ops', $2, '{\"admin\": true}')",
        _id(600), bcrypt.hashpw(b"console-secret", bcrypt.gensalt(4)))
    await conn.execute(
        "INSERT INTO users_notes (id, user_id, note, create_id) VALUES ($1, $2, $3, $4)",
        _id(601), u["dave"], "Banned for botting (ticket 4411)", _id(600))
    await conn.execute(
        "INSERT INTO console_audit_log (id, console_user_id, console_username, email, action, "
        "resource, message) VALUES ($1, $2, 'ops', 'ops@example.com', 'UPDATE', 'ACCOUNT', "
        "'banned dave')", _id(602), _id(600))
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in NOT_CARRIED}


# --------------------------------------------------------------------------------------------
# Bulk data for the benchmark
# --------------------------------------------------------------------------------------------


def bulk_user_id(n: int) -> str:
    """The id of bulk user n (1-based), as fill_bulk computes it in SQL."""
    return str(uuid.UUID(md5_hex(f"kzbulk-user-{n}")))


def bulk_device_id(n: int) -> str:
    return str(uuid.UUID(md5_hex(f"kzbulk-device-{n}"))).upper()


def bulk_username(n: int) -> str:
    return f"player{n:07d}"


BULK_COLLECTIONS = ("saves", "inventory", "settings", "progress", "stats")


def bulk_object(n: int, k: int) -> tuple[str, str, str, str]:
    """(collection, key, value text, version) of bulk user n's k-th object (0-based)."""
    coll = BULK_COLLECTIONS[k % len(BULK_COLLECTIONS)]
    value = json.dumps({"k": k, "level": n % 100, "coins": (n * 7 + k) % 10000,
                        "items": ["sword", "shield"], "tutorial": n % 3 == 0},
                       separators=(", ", ": "))
    return coll, f"{coll}_{k // len(BULK_COLLECTIONS)}", value, md5_hex(value)


@dataclass
class BulkStats:
    users: int
    objects: int
    seconds: float
    phases: dict[str, float]


async def fill_bulk(conn: asyncpg.Connection, users: int, storage_per_user: int,
                    start: int = 1) -> BulkStats:
    """Generate `users` users (numbered from `start`) with one device each and
    `storage_per_user` storage objects each, server-side.

    Ids, usernames, device ids and object values follow `bulk_user_id`, `bulk_username`,
    `bulk_device_id` and `bulk_object`; versions are the MD5 of the value text (JSONB's own
    rendering, which is what a client sending that text writes). Indexes and foreign keys of the
    three tables are dropped for the load and rebuilt after it (the rebuild checks them all), so
    a million users take seconds, not minutes."""
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    last = [t0]

    def mark(phase: str) -> None:
        t = time.monotonic()
        phases[phase] = round(t - last[0], 2)
        last[0] = t

    end = start + users - 1
    await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; "
                       "SET max_parallel_maintenance_workers = 2")
    async with conn.transaction():
        saved = await _drop_keys(conn, ("users", "user_device", "storage"))
        mark("drop indexes")
        await conn.execute(
            """
            INSERT INTO users (id, username, metadata, wallet, create_time, update_time)
            SELECT md5('kzbulk-user-' || n)::uuid, 'player' || lpad(n::text, 7, '0'),
                   '{}'::jsonb, jsonb_build_object('coins', (n * 13) % 5000),
                   t, t + (n % 97) * interval '1 hour'
            FROM generate_series($1::int, $2::int) AS n,
                 LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                                 + (n % 400) * interval '1 day' + (n % 86400) * interval '1 second'
                          AS t) AS c
            """, start, end)
        mark("users")
        await conn.execute(
            """
            INSERT INTO user_device (id, user_id)
            SELECT upper(md5('kzbulk-device-' || n)::uuid::text), md5('kzbulk-user-' || n)::uuid
            FROM generate_series($1::int, $2::int) AS n
            """, start, end)
        mark("user_device")
        if storage_per_user > 0:
            await conn.execute(
                """
                INSERT INTO storage (collection, key, user_id, value, version, read, write,
                                     create_time, update_time)
                SELECT c.coll, c.coll || '_' || (k / 5), u.id, v.value, md5(v.value::text),
                       CASE WHEN k % 5 = 4 THEN 2 ELSE 1 END, 1, u.t, u.t
                FROM generate_series($1::int, $2::int) AS n
                CROSS JOIN LATERAL (SELECT md5('kzbulk-user-' || n)::uuid AS id,
                                           timestamptz '2024-06-01 00:00:00+00'
                                           + (n % 200) * interval '1 day' AS t) AS u
                CROSS JOIN generate_series(0, $3::int - 1) AS k
                CROSS JOIN LATERAL (SELECT (ARRAY['saves', 'inventory', 'settings', 'progress',
                                                  'stats'])[k % 5 + 1] AS coll) AS c
                CROSS JOIN LATERAL (SELECT jsonb_build_object(
                    'k', k, 'level', n % 100, 'coins', (n * 7 + k) % 10000,
                    'items', '["sword", "shield"]'::jsonb, 'tutorial', n % 3 = 0) AS value) AS v
                """, start, end, storage_per_user)
            mark("storage")
        await _restore_keys(conn, saved)
        mark("rebuild indexes")
    await conn.execute("ANALYZE users; ANALYZE user_device; ANALYZE storage")
    mark("analyze")
    return BulkStats(users, users * storage_per_user, round(time.monotonic() - t0, 2), phases)


async def _drop_keys(conn: asyncpg.Connection, tables: tuple[str, ...],
                     ) -> list[tuple[str, str, str]]:
    """Drop the indexes, unique/primary keys and foreign keys of `tables` (and foreign keys of
    other tables that point at them); return what is needed to recreate them, in order."""
    cons = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype,
               pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype IN ('p', 'u', 'f')
          AND (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))
        ORDER BY c.contype = 'f' DESC
        """, list(tables))
    idx = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = ANY($1::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                          AND c.contype IN ('p', 'u'))
        """, list(tables))
    saved: list[tuple[str, str, str]] = []
    for r in cons:  # foreign keys first, then the keys they rely on
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
        saved.append(("constraint", r["tbl"],
                      f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}'))
    for r in idx:
        await conn.execute(f'DROP INDEX {r["name"]}')
        saved.append(("index", r["name"], r["def"]))
    # Recreate keys before the foreign keys that need them; plain indexes any time.
    saved.reverse()
    return saved


async def _restore_keys(conn: asyncpg.Connection, saved: list[tuple[str, str, str]]) -> None:
    for _kind, _name, ddl in saved:
        await conn.execute(ddl)
