"""Runs every contract test once per adapter, against that adapter's own fake platform."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import make_settings
from tests.contract.harness import ALL_KINDS, PlatformHarness, PlatformSession

# Each platform's harness lives in ``harness_<platform>.py`` here, as ``HARNESS``.
PLATFORMS: list[str] = ["google_chat", "shell", "slack", "teams"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*kinds): the contract test needs these harness capabilities"
    )


@pytest.fixture(params=PLATFORMS)
def harness(request: pytest.FixtureRequest) -> PlatformHarness:
    module = importlib.import_module(f"tests.contract.harness_{request.param}")
    found: PlatformHarness = module.HARNESS
    marker = request.node.get_closest_marker("needs")
    if marker is not None:
        unknown = set(marker.args) - ALL_KINDS
        assert not unknown, f"unknown capabilities {unknown}"
        missing = set(marker.args) - found.supports
        if missing:
            pytest.skip(f"{found.platform} has no {', '.join(sorted(missing))}")
    return found


@pytest.fixture
def contract_settings(tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings("sqlite", tmp_path)


@pytest.fixture
async def platform(
    harness: PlatformHarness, contract_settings: Settings
) -> AsyncIterator[PlatformSession]:
    async with harness.running(contract_settings) as session:
        yield session
