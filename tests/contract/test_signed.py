"""Signed endpoints: an adapter declares where its requests are signed, and the server refuses
an unsigned request there before reading its body (a flood of them costs nothing)."""

from __future__ import annotations

import aiohttp
import pytest

from bot.platform import SignedRequests, capabilities_of
from tests.contract.harness import SIGNED, PlatformHarness, PlatformSession


@pytest.mark.needs(SIGNED)
async def test_unsigned_requests_to_the_adapter_s_endpoints_are_refused_before_their_body(
    platform: PlatformSession, harness: PlatformHarness
) -> None:
    adapter = platform.app.adapters[harness.platform]
    assert isinstance(adapter, SignedRequests)
    assert "signed requests" in capabilities_of(adapter)
    assert adapter.signed_endpoints
    async with aiohttp.ClientSession() as session:
        for endpoint in adapter.signed_endpoints:
            async with session.post(
                platform.server_url() + endpoint.path,
                data=b"x" * 100_000,
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 401, endpoint.path
                assert (await response.json())["error"] == "the request is not signed"
    await platform.settle()
    assert platform.recorder.events == []
