"""Fixtures shared by the migration tests: a synthetic migrations directory, the database and
the `kizuna migrate` CLI bound to both. (A test module may define its own `kz`.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.migrate_support import DB, Migrator


@pytest.fixture
def mdir(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    return d


@pytest.fixture
def db(db_name: str) -> DB:
    return DB(db_name)


@pytest.fixture
def kz(mdir: Path, db_address: str) -> Migrator:
    return Migrator(mdir, db_address)
