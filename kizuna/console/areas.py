"""The console's areas (each registers its API routes and pages) and the navigation bar."""

from __future__ import annotations

from kizuna.console import (
    accounts,
    audit_log,
    leaderboards,
    runtime_view,
    status,
    storage,
    upgrade_health,
)

AREAS = (status, upgrade_health, accounts, storage, leaderboards, runtime_view, audit_log)

# (label, path) of the navigation, in order; a page marks itself active by its path's prefix.
NAV: list[tuple[str, str]] = [
    ("Status", "/status"),
    ("Upgrade health", "/upgrade"),
    ("Accounts", "/accounts"),
    ("Storage", "/storage"),
    ("Leaderboards", "/leaderboards"),
    ("Tournaments", "/tournaments"),
    ("Matches", "/matches"),
    ("Runtime", "/runtime"),
    ("API explorer", "/explorer"),
    ("Configuration", "/config"),
    ("Audit log", "/audit"),
]
