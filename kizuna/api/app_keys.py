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
    extra: dict[str, Any] = field(default_factory=dict)


SERVICES = web.AppKey("services", Services)
