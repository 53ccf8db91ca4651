"""Fixtures of the API tests: settings with a token, the in-memory controller, a test client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from laptop_agents.api.app import create_app
from laptop_agents.config import Settings

from .memory_controller import MemoryController

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_port": 0, "api_token": TOKEN}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def controller() -> MemoryController:
    return MemoryController()


@pytest.fixture
def make_client(aiohttp_client: Any, controller: MemoryController) -> ClientFactory:
    async def factory(**overrides: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(controller, make_settings(**overrides))
        )
        return client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client()
