"""`kizuna upgrade plan`: what upgrading a database to this release involves. Changes nothing.

It reads the database's migration journal and this release's manifest and answers the questions
of Nakama's upgrade checklist: which releases lie on the path (and which of them are required
stops), which migrations will run and what each locks or rewrites (with table sizes), whether
nodes of the running release can keep serving during the upgrade, whether a rolling upgrade is
possible (the release manifest's `rolling_upgrade`, which CHANGELOG.md's Upgrade part repeats,
narrowed by what this database's pending migrations allow), whether going back down is
lossless, the backup that `migrate up` will take first, and whether the PostgreSQL engine itself
needs (or can have) a major upgrade (`engine`).
"""

from __future__ import annotations

from typing import Any

from kizuna.migrate import journal, lint
from kizuna.migrate.executor import Engine, compute_status
from kizuna.ops.backup import estimate_bytes
from kizuna.release import Manifest

_SEVERITY = {v: i for i, v in enumerate(lint.VERDICTS)}


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in v.replace("-", ".").split("."))


def embedded_engine(embedded_info: dict[str, Any]) -> dict[str, Any]:
    """The engine part of the plan for the embedded database: what `kizuna.db.embedded.inspect`
    read from the data directory (its PG_VERSION against the majors this release runs)."""
    doc = {"kind": "embedded", "major": embedded_info.get("major"),
           "engines": embedded_info.get("engines"),
           "default_major": embedded_info.get("default_major"),
           "upgrade": embedded_info.get("upgrade"), "why": embedded_info.get("why")}
    if embedded_info.get("to"):
        doc["to"] = embedded_info["to"]
        doc["command"] = "kizuna db upgrade"
    marker = embedded_info.get("upgrade_marker")
    if marker:
        # Read before the plan started the database; that start recovered from it.
        doc["interrupted_upgrade"] = marker
        to, phase = marker.get("to"), marker.get("phase")
        if phase == "swap" and doc["major"] == to:
            doc["interrupted_note"] = (
                f"an engine upgrade to PostgreSQL {to} was interrupted after its swap: it is "
                f"complete")
        else:
            doc["interrupted_note"] = (
                f"an engine upgrade to PostgreSQL {to} was interrupted (phase {phase}); the "
                f"PostgreSQL {doc['major']} directory was never changed and serves again (the "
                f"start of the database for this plan cleaned up after it): run "
                f"`kizuna db upgrade` again")
    return doc


async def engine_section(conn: Any, manifest: Manifest,
                         embedded_info: dict[str, Any] | None) -> dict[str, Any]:
    """The PostgreSQL engine part of the plan: whether an engine upgrade is available or required.
    Embedded: `embedded_engine`. External: the server's version against the majors the release
    manifest supports."""
    if embedded_info is not None:
        return embedded_engine(embedded_info)
    external = manifest.postgresql["external"]
    supported = [int(m) for m in external["supported_majors"]]
    doc: dict[str, Any] = {"kind": "external", "supported_majors": supported}
    if conn is None:
        doc.update(major=None, upgrade="unknown", why="the server could not be asked")
        return doc
    major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    doc.update(major=major, version=await conn.fetchval("SHOW server_version"))
    names = ", ".join(map(str, supported))
    if major < int(external["minimum_major"]):
        doc.update(upgrade="required", why=(
            f"PostgreSQL {major} is older than this release supports ({names}): upgrade the "
            f"server first (docs/upgrading.md, \"Upgrading PostgreSQL itself\")"))
    elif major not in supported:
        doc.update(upgrade="none", why=(
            f"PostgreSQL {major} is not among the majors tested with this release ({names})"))
    else:
        newer = [m for m in supported if m > major]
        doc.update(upgrade="available" if newer else "none", why=(
            f"PostgreSQL {major} is supported" + (
                f"; newer supported: {', '.join(map(str, newer))} (optional, and independent of the "
                f"Kizuna upgrade: docs/upgrading.md, \"Upgrading PostgreSQL itself\")"
                if newer else "")))
    return doc


async def plan(engine: Engine | None, manifest: Manifest, *, database: str,
               backup_dir: str, embedded_info: dict[str, Any] | None = None,
               server_conn: Any = None) -> dict[str, Any]:
    """The plan. `server_conn`: a connection to the same server, for its version when the
    database does not exist yet (`engine` None)."""
    migrations = engine.migrations if engine else []
    applied = await journal.read(engine.conn) if engine else {}
    status = compute_status(migrations, applied) if engine else None
    doc: dict[str, Any] = {
        "database": database, "release": manifest.release, "target_schema": manifest.schema_head,
        "clients_tested": manifest.clients_tested,
        "engine": await engine_section(engine.conn if engine else server_conn, manifest,
                                       embedded_info),
    }
    if doc["engine"]["upgrade"] == "required":
        doc["blocked_by"] = f"engine upgrade required: {doc['engine']['why']}"
    if engine is None or not applied:
        doc.update({
            "state": "fresh install", "current_schema": None, "running_releases": [],
            "path": [manifest.release], "required_stops": [],
            "blocked_by": doc.get("blocked_by"),
            "pending": [m.id for m in migrations] if migrations else [
                m["id"] for m in manifest.migrations],
            "steps": [], "old_nodes_can_serve": {"answer": True, "why": "no node serves this database yet"},
            "rolling_upgrade": {"possible": None, "why": "fresh install: no node serves this database yet"},
            "downgrade": {"lossless": True, "details": ["a fresh install has nothing to go back to"]},
            "backup": {"taken": False, "why": "the database holds no Kizuna data yet"},
        })
        return doc
    assert status is not None
    versions = sorted({a.kizuna_version for a in applied.values() if a.kizuna_version},
                      key=_version_key)
    running = versions[-1] if versions else None
    doc["current_schema"] = status.current
    doc["running_releases"] = versions
    if status.unknown:
        doc.update({"state": "database ahead", "blocked_by": (
            f"the database has migrations this release does not know ({', '.join(status.unknown)}): "
            f"it was upgraded by a newer release")})
        return doc
    if status.changed:
        doc.update({"state": "changed files", "blocked_by": (
            f"applied migrations changed since ({', '.join(status.changed)}): run `kizuna migrate verify`")})
        return doc

    # Path of releases, from the running one to this one, and the required stops on it.
    known_releases = [r["version"] for r in manifest.releases]
    if running in known_releases:
        path = known_releases[known_releases.index(running):]
    else:
        path = [v for v in known_releases if running is None or _version_key(v) > _version_key(running)]
        if running:
            path.insert(0, running)
    between = [r["version"] for r in manifest.releases
               if r.get("required_stop") and r["version"] in path[1:-1]]
    doc["path"] = path
    doc["required_stops"] = between
    doc["blocked_by"] = (f"release {between[0]} is a required stop: upgrade to it (and let its "
                         f"migrations finish) before this release") if between else doc.get("blocked_by")

    steps, stats = await engine.plan("up", check=True)
    doc["state"] = "up to date" if not steps else "upgrade pending"
    doc["pending"] = [s.migration.id for s in steps]
    out_steps = []
    for s in steps:
        m = s.migration
        worst = max((f.verdict for f in s.findings), key=lambda v: _SEVERITY.get(v, 0), default="online")
        out_steps.append({**s.to_json(stats), "verdict": worst,
                          "manifest_phase": manifest.phase_of(m.id)})
        out_steps[-1].pop("statements", None)
    doc["steps"] = out_steps
    if "0005_cluster_node" in doc["pending"] and doc.get("current_schema"):
        # Releases before the node registry have no readiness or drain (docs/upgrading.md,
        # "The first hop").
        doc["first_hop"] = (
            "the running release has no readiness (/kizuna/ready) or drain: take each old node "
            "out of the load balancer before stopping it; after migrate up, an old node that "
            "restarts refuses to start (the schema is newer than it knows), so start it on this "
            "release instead")

    # Can nodes of the running release keep serving while this runs?
    contract = [s.migration.id for s in steps if s.migration.phase == "contract"]
    breaking = [s.migration.id for s in steps if s.migration.phase != "contract"
                and any(f.verdict == "breaks old nodes" for f in s.findings)]
    if not steps:
        serve = {"answer": True, "why": "nothing to migrate"}
    elif breaking:
        serve = {"answer": False, "why": (
            f"{', '.join(breaking)} would break nodes of the previous release: stop them for the "
            f"upgrade")}
    elif contract:
        serve = {"answer": True, "contract_steps": contract, "why": (
            f"old nodes keep serving while the expand steps run; `migrate up` stops before "
            f"the contract step(s) {', '.join(contract)} while a node of an older release is alive")}
    else:
        serve = {"answer": True, "why": (
            "every pending migration is expand/backfill (additive): running nodes keep serving "
            "while they run")}
    doc["old_nodes_can_serve"] = serve
    doc["rolling_upgrade"] = _rolling(manifest, serve, contract)

    # Is going back down lossless?
    details: list[str] = []
    lossless = True
    for s in steps:
        m = s.migration
        if not m.has_down:
            lossless = False
            details.append(f"{m.id} has no down step ({m.irreversible}): only a restore goes back")
        elif m.irreversible:
            lossless = False
            details.append(f"{m.id} is irreversible: {m.irreversible}")
        elif m.lossy_down:
            lossless = False
            details.append(f"{m.id} loses data on the way down: {m.lossy_down}")
        else:
            drops = lint.destructive_targets(m)
            if drops:
                what = ", ".join(f"{t}.{c}" if c else t for t, c in drops)
                details.append(f"{m.id}: its down step drops {what}, which this upgrade adds: "
                               f"data written there after the upgrade would be lost")
    doc["downgrade"] = {"lossless": lossless and not any("would be lost" in d for d in details),
                        "details": details or ["every pending migration has an exact down step"]}

    size = await estimate_bytes(engine.conn)
    doc["backup"] = {"taken": bool(steps), "directory": backup_dir, "database_bytes": size,
                     "why": "migrate up backs up first (skip with --no-backup)" if steps
                     else "nothing to migrate"}
    return doc


def _rolling(manifest: Manifest, serve: dict[str, Any], contract: list[str]) -> dict[str, Any]:
    """Whether to upgrade node by node. The release manifest says whether this release supports
    a rolling upgrade at all (CHANGELOG.md's Upgrade part says the same); this database's pending
    migrations can only narrow that to "no", never widen it."""
    declared = manifest.rolling_upgrade or {}
    if not declared.get("possible", False):
        return {"possible": False, "source": "manifest", "why": (
            f"the release manifest of {manifest.release} says no: "
            f"{declared.get('why') or 'not declared possible'}; use the stop-everything procedure")}
    if not serve["answer"]:
        return {"possible": False, "source": "migrations", "why": serve["why"]}
    if contract:
        return {"possible": True, "source": "manifest", "why": (
            f"restart the nodes on this release one at a time, then run `migrate up` again for "
            f"the contract step(s) {', '.join(contract)}")}
    return {"possible": True, "source": "manifest",
            "why": "restart the nodes on this release one at a time"}
