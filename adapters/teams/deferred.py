"""The Teams adapter of an install without MICROSOFT_APP_ID (a local emulator only), built on the
first request or use instead of at start.

Teams is always on in that mode, so every install that never uses Teams would otherwise carry
botbuilder, msrest, MSAL and their dependencies (about 15 MiB resident, measured by
benchmarks/idle_memory.py) for nothing. Its routes are mounted at start and answer on first
use; its start-up log line is the same, from ``TeamsConfig.status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.teams.config import MESSAGES_PATH, TeamsConfig
from adapters.teams.tab import mount_tab
from bot.events import Actor
from bot.messages import Message
from bot.platform import AdapterContext, DeliveryTarget, SendResult, actions
from bot.platform.inbox import InboxItem, Receipt
from bot.platform.support import CONSOLE_PATH

if TYPE_CHECKING:
    from adapters.teams.adapter import TeamsAdapter
    from bot.platform.contract import SignedEndpoint
    from bot.platform.members import ImportReport

PLATFORM = "teams"
INBOX_KIND = "teams"  # the inbox's kind for Teams activities


class DeferredTeamsAdapter:
    """Declares what ``TeamsAdapter`` declares (directory sync, home, message actions), and
    hands every call to it, building it the first time. ``adapter`` is that adapter."""

    platform = PLATFORM
    message_actions: tuple[str, ...] = (actions.SUGGEST_OPEN, actions.VOICE_OPEN)
    # Without an app id, an emulator sends no token: no endpoint is signed.
    signed_endpoints: tuple[SignedEndpoint, ...] = ()

    def __init__(self, context: AdapterContext, config: TeamsConfig) -> None:
        assert not config.authenticated, "only the emulator mode is deferred"
        assert context.inbox is not None
        self.context = context
        self.config = config
        self._adapter: TeamsAdapter | None = None
        # Items taken before a restart are handled even if no request comes first.
        context.inbox.register(INBOX_KIND, self._handle_inbox_item, order_key=order_key)

    @property
    def adapter(self) -> TeamsAdapter:
        """The real adapter, built (and botbuilder imported) on first use; it registers its own
        inbox handler, replacing this one."""
        if self._adapter is None:
            from adapters.teams.adapter import TeamsAdapter

            self._adapter = TeamsAdapter(self.context, self.config)
        return self._adapter

    @property
    def loaded(self) -> bool:
        return self._adapter is not None

    def mount(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_PATH, self._handle)
        mount_tab(app, self.config.public_url.rstrip("/") + CONSOLE_PATH)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._adapter is not None:
            await self._adapter.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        return await self.adapter._handle(request)

    async def _handle_inbox_item(self, item: InboxItem, receipt: Receipt) -> None:
        await self.adapter.handle_inbox_item(item, receipt)

    async def send(self, target: DeliveryTarget, message: Message) -> SendResult:
        return await self.adapter.send(target, message)

    async def sync_directory(self, scope: str = "") -> ImportReport:
        return await self.adapter.sync_directory(scope)

    async def publish_home(self, actor: Actor) -> None:
        await self.adapter.publish_home(actor)


def order_key(payload: dict[str, Any]) -> str | None:
    """One conversation's activities are handled in the order they arrived."""
    conversation = (payload.get("activity") or {}).get("conversation") or {}
    return str(conversation.get("id") or "") or None


def loaded(adapter: Any) -> Any:
    """The adapter itself, or the real one behind a deferred one (built if need be)."""
    return adapter.adapter if isinstance(adapter, DeferredTeamsAdapter) else adapter
