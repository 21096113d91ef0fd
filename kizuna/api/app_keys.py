"""The node's services, stored on the aiohttp application for the REST handlers."""

from __future__ import annotations

from aiohttp import web

from kizuna.services import Services

SERVICES = web.AppKey("services", Services)
