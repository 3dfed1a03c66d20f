"""Waiting for the durable inbox in tests: a platform's request is answered once the event is
written; its work (and the reply) follows on the inbox's worker. And running an inbox's worker
for the length of a test block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.app import Application
from bot.inbox import Inbox


async def inbox_settled(app: Application, timeout: float = 30.0) -> None:
    """Wait until every acknowledged event has been handled (and its reply sent)."""
    await until_settled(app.inbox, timeout)


async def until_settled(inbox: Inbox, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await inbox.settled():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the inbox still holds work after {timeout:.0f} s")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def working(inbox: Inbox) -> AsyncIterator[None]:
    """The worker runs (polling often) inside the block, and stops as a server would after."""
    stop = asyncio.Event()
    task = asyncio.create_task(inbox.run(stop, poll_interval=0.05))
    try:
        yield
    finally:
        stop.set()
        inbox.wake()
        await task
