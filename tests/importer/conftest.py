"""Fixtures of the importer's tests: a Nakama-shaped source database (nakama_fixture.py), filled
with a small realistic world, on the tests' PostgreSQL, dropped afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from tests.conftest import PG, pg_dsn
from tests.importer import nakama_fixture as nf


@dataclass
class NakamaSource:
    address: str          # what `--from` takes
    dsn: str              # for asyncpg
    expected: nf.Expected

    def sql(self, *statements: str) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                for s in statements:
                    await conn.execute(s)
            finally:
                await conn.close()
        asyncio.run(run())

    def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.dsn)
            try:
                return await conn.fetch(query, *args)
            finally:
                await conn.close()
        return asyncio.run(run())


def _make() -> NakamaSource:
    async def build() -> NakamaSource:
        dsn = await nf.create_nakama_database(admin=pg_dsn())
        conn = await asyncpg.connect(dsn)
        try:
            expected = await nf.fill_realistic(conn)
        finally:
            await conn.close()
        return NakamaSource(f"{PG}/{nf.database_name(dsn)}", dsn, expected)
    return asyncio.run(build())


@pytest.fixture
def nakama() -> Iterator[NakamaSource]:
    """A Nakama 3.40 database with the realistic world, for one test (which may change it)."""
    src = _make()
    yield src
    asyncio.run(nf.drop_nakama_database(src.dsn, admin=pg_dsn()))


def target_fetch(address: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows from Kizuna's database at `address` (a Nakama-style address of the tests' PG)."""
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(f"postgresql://{address}")
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()
    return asyncio.run(run())
