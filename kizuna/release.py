"""The release manifest shipped inside the package (kizuna/manifest.json).

It says, for this release: the schema head; the window of schemas a node of this release can
serve on (oldest) and tolerates (newest) while a rolling upgrade mixes releases; the releases
it can upgrade from directly and the required stops (releases that cannot be skipped); the
phase of every migration (expand, backfill, contract) and the release that added it; the
client SDK versions tested; and the PostgreSQL engines: the embedded one's wheel, pinned range and
majors, and the external majors supported. CHANGELOG.md's "Upgrade" parts are checked against it by the tests.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kizuna.version import __version__


@dataclass(frozen=True)
class Manifest:
    release: str
    schema_head: str
    oldest_schema: str
    newest_schema: str
    upgrade_from: tuple[str, ...]
    required_stops: tuple[str, ...]
    rolling_upgrade: dict[str, Any]
    migrations: tuple[dict[str, str], ...]
    releases: tuple[dict[str, Any], ...]
    clients_tested: dict[str, list[str]]
    # The PostgreSQL engines: `embedded` (the wheel, its pinned range, the majors it runs and the
    # one a new data directory gets) and `external` (the majors supported and tested).
    postgresql: dict[str, Any]

    def phase_of(self, mid: str) -> str | None:
        for m in self.migrations:
            if m["id"] == mid:
                return m["phase"]
        return None

    def release_of(self, mid: str) -> str | None:
        for m in self.migrations:
            if m["id"] == mid:
                return m["release"]
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "release": self.release, "schema_head": self.schema_head,
            "schema_window": {"oldest": self.oldest_schema, "newest": self.newest_schema},
            "upgrade_from": list(self.upgrade_from), "required_stops": list(self.required_stops),
            "rolling_upgrade": self.rolling_upgrade, "migrations": list(self.migrations),
            "releases": list(self.releases), "clients_tested": self.clients_tested,
            "postgresql": self.postgresql,
        }


@functools.cache
def manifest() -> Manifest:
    doc = json.loads((resources.files("kizuna") / "manifest.json").read_text())
    if doc.get("format") != 1:
        raise ValueError(f"unsupported manifest format {doc.get('format')!r}")
    if doc["release"] != __version__:
        raise ValueError(f"manifest release {doc['release']} != package version {__version__}")
    return Manifest(
        release=doc["release"], schema_head=doc["schema_head"],
        oldest_schema=doc["schema_window"]["oldest"], newest_schema=doc["schema_window"]["newest"],
        upgrade_from=tuple(doc.get("upgrade_from", [])),
        required_stops=tuple(doc.get("required_stops", [])),
        rolling_upgrade=doc.get("rolling_upgrade", {}),
        migrations=tuple(doc["migrations"]), releases=tuple(doc.get("releases", [])),
        clients_tested=doc.get("clients_tested", {}),
        postgresql=doc["postgresql"],
    )
