"""Waiting for the durable inbox in tests: a platform's request is answered once the event is
written; its work (and the reply) follows on the inbox's worker."""

from __future__ import annotations

import asyncio

from bot.app import Application


async def inbox_settled(app: Application, timeout: float = 30.0) -> None:
    """Wait until every acknowledged event has been handled (and its reply sent)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await app.inbox.settled():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the inbox still holds work after {timeout:.0f} s")
        await asyncio.sleep(0.01)
