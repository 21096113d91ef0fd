"""The console's areas (each registers its API routes and pages) and the navigation bar."""

from __future__ import annotations

from kizuna.console import audit_log, status

AREAS = (status, audit_log)

# (label, path) of the navigation, in order; a page marks itself active by its path's prefix.
NAV: list[tuple[str, str]] = [
    ("Status", "/status"),
    ("Audit log", "/audit"),
]
