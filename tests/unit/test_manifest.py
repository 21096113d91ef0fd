"""The release manifest (kizuna/manifest.json) against the packaged migrations, the package
version and CHANGELOG.md's Upgrade part."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

import kizuna
from kizuna.migrate.loader import PHASES, load
from kizuna.release import manifest

ROOT = Path(__file__).resolve().parent.parent.parent
MIGRATION_ID = re.compile(r"`(\d{4}_[A-Za-z0-9_\-]+)`")


@pytest.fixture(scope="module")
def packaged():
    return load()


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads((resources.files("kizuna") / "manifest.json").read_text())


def test_manifest_loads_for_this_release(raw: dict) -> None:
    m = manifest()
    assert raw["format"] == 1
    assert m.release == raw["release"] == kizuna.__version__


def test_manifest_migrations_are_the_packaged_files(packaged) -> None:
    m = manifest()
    assert [x["id"] for x in m.migrations] == [p.id for p in packaged]
    assert [x["phase"] for x in m.migrations] == [p.phase for p in packaged]
    for x in m.migrations:
        assert x["phase"] in PHASES
        assert x["release"] == kizuna.__version__ or x["release"] in {r["version"] for r in m.releases}
    # Every packaged file is shipped with the package (package-data) and named by the manifest.
    on_disk = sorted(p.name[:-4] for p in (resources.files("kizuna") / "migrations").iterdir()
                     if p.name.endswith(".sql"))
    assert on_disk == [x["id"] for x in m.migrations]


def test_schema_head_and_window(packaged) -> None:
    m = manifest()
    ids = [p.id for p in packaged]
    assert m.schema_head == ids[-1]
    assert m.oldest_schema in ids and m.newest_schema in ids
    assert ids.index(m.oldest_schema) <= ids.index(m.newest_schema)
    # A node must serve on the schema its own `migrate up` produces.
    assert ids.index(m.oldest_schema) <= ids.index(m.schema_head) <= ids.index(m.newest_schema)
    this = [r for r in m.releases if r["version"] == m.release]
    assert len(this) == 1
    assert this[0]["schema_head"] == m.schema_head
    assert this[0]["schema_window"] == {"oldest": m.oldest_schema, "newest": m.newest_schema}
    for r in m.releases:
        assert r["schema_head"] in ids
        assert r["schema_window"]["oldest"] in ids and r["schema_window"]["newest"] in ids
    known = {r["version"] for r in m.releases}
    assert set(m.upgrade_from) <= known and set(m.required_stops) <= known


def _section(text: str, heading: str, level: int) -> str:
    """The body of the first heading `heading` at `level`, up to the next heading of that level
    or above."""
    lines = text.splitlines()
    marks = "#" * level + " "
    start = next((i for i, line in enumerate(lines) if line.strip() == marks + heading), None)
    assert start is not None, f"no {marks + heading!r} heading"
    body = []
    for line in lines[start + 1:]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    return "\n".join(body)


def test_changelog_upgrade_part_names_this_release_s_migrations() -> None:
    m = manifest()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    upgrade = _section(_section(changelog, "[Unreleased]", 2), "Upgrade", 3)
    text = " ".join(upgrade.split())  # list items may wrap
    ours = [x for x in m.migrations if x["release"] == m.release]
    assert ours, "this release adds no migration?"
    for x in ours:
        assert f"`{x['id']}` ({x['phase']}" in text, f"CHANGELOG's Upgrade part lacks {x['id']} ({x['phase']}"
    listed = {x["id"]: x["phase"] for x in m.migrations}
    named = MIGRATION_ID.findall(text)
    assert set(named) <= set(listed), f"not in the manifest: {set(named) - set(listed)}"
    for mid, phase in re.findall(r"`(\d{4}_[A-Za-z0-9_\-]+)` \((\w+)", text):
        assert phase == listed[mid], f"{mid}: CHANGELOG says {phase}, the manifest {listed[mid]}"
