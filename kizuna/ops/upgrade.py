"""`kizuna upgrade plan`: what upgrading a database to this release involves. Changes nothing.

It reads the database's migration journal and this release's manifest and answers the questions
of Nakama's upgrade checklist: which releases lie on the path (and which of them are required
stops), which migrations will run and what each locks or rewrites (with table sizes), whether
nodes of the running release can keep serving during the upgrade, whether a rolling upgrade is
possible (the release manifest's `rolling_upgrade`, which CHANGELOG.md's Upgrade part repeats,
narrowed by what this database's pending migrations allow), whether going back down is
lossless, and the backup that `migrate up` will take first.
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


async def plan(engine: Engine | None, manifest: Manifest, *, database: str,
               backup_dir: str) -> dict[str, Any]:
    migrations = engine.migrations if engine else []
    applied = await journal.read(engine.conn) if engine else {}
    status = compute_status(migrations, applied) if engine else None
    doc: dict[str, Any] = {
        "database": database, "release": manifest.release, "target_schema": manifest.schema_head,
        "clients_tested": manifest.clients_tested,
    }
    if engine is None or not applied:
        doc.update({
            "state": "fresh install", "current_schema": None, "running_releases": [],
            "path": [manifest.release], "required_stops": [], "blocked_by": None,
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
                         f"migrations finish) before this release") if between else None

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
