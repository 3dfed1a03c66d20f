"""The shell adapter as a delivery channel: sends go to the local mailbox."""

from __future__ import annotations

from aiohttp import web

from adapters.shell.mailbox import Mailbox, MailboxEntry
from bot.messages import Message
from bot.platform import AdapterContext, AdapterStatus, DeliveryTarget, SendResult
from bot.platform.support import Settings, utcnow

PLATFORM = "shell"


def mailbox_for(settings: Settings) -> Mailbox:
    return Mailbox(settings.data_dir / "shell")


class ShellAdapter:
    platform = PLATFORM

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    def mount(self, app: web.Application) -> None:
        """The shell has no HTTP side: sessions read the mailbox directly."""

    async def start(self) -> None:
        self.mailbox.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def stop(self) -> None:
        return None

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        ref = f"d{target.delivery_id}"
        entry = MailboxEntry(ref=ref, sent_at=utcnow().isoformat(), message=message.to_dict())
        self.mailbox.append(target.recipient, entry, target.workspace)
        return SendResult(platform_ref=ref)


class ShellAdapterFactory:
    platform = PLATFORM

    def status(self, settings: Settings) -> AdapterStatus:
        return AdapterStatus(
            True,
            f"always on: messages to shell members go to {settings.data_dir / 'shell'}, "
            "read by 'advocacy shell'",
        )

    def create(self, context: AdapterContext) -> ShellAdapter:
        return ShellAdapter(mailbox_for(context.settings))
