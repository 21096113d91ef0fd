"""What handlers need, built once at start-up and stored on the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kizuna.config import Config


@dataclass
class Services:
    config: Config
    pool: Any = None
    sessions: Any = None  # kizuna.core.sessions.SessionStore
    notifier: Any = None  # kizuna.core.notifications.Notifier
    realtime: Any = None  # kizuna.realtime.service.RealtimeService
    runtime: Any = None  # kizuna.runtime.service.Runtime (server modules)
    lifecycle: Any = None  # Lifecycle below
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lifecycle:
    """Where the node is in its life: readiness turns false as soon as draining starts."""
    ready: bool = False
    draining: bool = False


SERVICES = web.AppKey("services", Services)
