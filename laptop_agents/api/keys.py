"""Typed keys of what the API application holds (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from laptop_agents.api.hub import FeedHub
from laptop_agents.config import Settings
from laptop_agents.session.controller import Controller

CONTROLLER: web.AppKey[Controller] = web.AppKey("controller", Controller)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
HUB: web.AppKey[FeedHub] = web.AppKey("hub", FeedHub)
