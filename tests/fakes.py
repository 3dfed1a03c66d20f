"""A stand-in for a remote chat platform (the only thing tests fake): records what it is sent,
and can fail the way real platforms do (rate limits, server errors)."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.config import Settings
from bot.messages import Message
from bot.platform import AdapterContext, AdapterStatus, DeliveryError, DeliveryTarget, SendResult


@dataclass
class Sent:
    target: DeliveryTarget
    message: Message


@dataclass
class RemotePlatform:
    """State of the fake remote side, shared by the adapter the application builds."""

    sent: list[Sent] = field(default_factory=list)
    # Each queued failure is raised by one send, in order, before sends succeed again.
    failures: deque[DeliveryError] = field(default_factory=deque)
    # Runs once a message has reached the remote side, before its send returns: what a reader
    # does while the outbox is still finishing the batch.
    on_shown: Callable[[Sent, str], Awaitable[None]] | None = None

    def fail_next(self, *errors: DeliveryError) -> None:
        self.failures.extend(errors)


class RemoteAdapter:
    platform = "remote"

    def __init__(self, remote: RemotePlatform) -> None:
        self.remote = remote

    def mount(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        if self.remote.failures:
            raise self.remote.failures.popleft()
        self.remote.sent.append(Sent(target, message))
        ref = f"msg-{len(self.remote.sent)}"
        if self.remote.on_shown is not None:
            await self.remote.on_shown(self.remote.sent[-1], ref)
        return SendResult(platform_ref=ref)


class RemoteAdapterFactory:
    platform = "remote"

    def __init__(self, remote: RemotePlatform) -> None:
        self.remote = remote

    def status(self, settings: Settings) -> AdapterStatus:
        return AdapterStatus(True, "test platform")

    def create(self, context: AdapterContext) -> RemoteAdapter:
        return RemoteAdapter(self.remote)
