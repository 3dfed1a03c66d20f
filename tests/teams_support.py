"""Helpers for Teams tests: Bot Framework activities shaped as Teams sends them, and the real
application with Teams enabled, its serviceUrl pointing at a fake Connector service."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from adapters.shell import ShellAdapterFactory
from adapters.teams import TeamsAdapterFactory
from adapters.teams.deferred import loaded
from bot.app import Application, open_application
from bot.config import Settings
from bot.domain import DeliveryStatus
from bot.platform import AdapterRegistry
from bot.storage.models import Delivery
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.inbox_support import inbox_settled
from tests.teams_fake import FakeConnector

APP_ID = "11111111-2222-3333-4444-555555555555"  # the bot's Microsoft app id, when one is set
APP_TENANT = "99999999-8888-7777-6666-555555555555"  # the tenant a single-tenant bot is in

TENANT = "tenant-1"
BOT = {"id": "28:bot-app-id", "name": "Advocacy"}
_ids = itertools.count(1)


def teams_settings(settings: Settings, **env: str) -> Settings:
    return Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        public_url="https://advocacy.example.com",
        delivery_max_attempts=3,
        env=env,
    )


@dataclass
class TeamsUser:
    name: str
    aad: str
    teams_id: str

    @property
    def conversation(self) -> str:
        return f"a:1on1-{self.aad}"

    def account(self) -> dict[str, Any]:
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad}


def user(name: str) -> TeamsUser:
    key = name.lower()
    return TeamsUser(name, f"aad-{key}", f"29:{key}")


@dataclass
class TeamsClient:
    """Posts activities to the bot as Teams would (optionally with an Authorization header)."""

    url: str
    connector: FakeConnector
    session: aiohttp.ClientSession
    authorization: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)

    def activity(
        self,
        kind: str,
        sender: TeamsUser,
        *,
        conversation: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"act-{next(_ids)}",
            "timestamp": datetime.now(UTC).isoformat(),
            "serviceUrl": self.connector.service_url,
            "channelId": "msteams",
            "from": sender.account(),
            "conversation": conversation
            or {"conversationType": "personal", "tenantId": TENANT, "id": sender.conversation},
            "recipient": BOT,
            "channelData": {"tenant": {"id": TENANT}},
            "locale": "en-US",
            **fields,
        }

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        async with self.session.post(self.url, json=activity, headers=headers) as response:
            body = (
                await response.json()
                if response.content_type == "application/json"
                else (await response.text())
            )
            return response.status, body

    async def say(self, sender: TeamsUser, text: str, **fields: Any) -> tuple[int, Any]:
        return await self.post(self.activity("message", sender, text=text, **fields))

    async def execute(
        self,
        sender: TeamsUser,
        action: dict[str, Any],
        reply_to: str,
        conversation: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Press an Action.Execute button: Teams sends an adaptiveCard/action invoke."""
        value = {
            "action": {
                "type": "Action.Execute",
                "verb": action["verb"],
                "data": {**action.get("data", {}), **(inputs or {})},
            },
            "trigger": "manual",
        }
        convo = {
            "conversationType": "personal",
            "tenantId": TENANT,
            "id": conversation or sender.conversation,
        }
        return await self.post(
            self.activity(
                "invoke",
                sender,
                name="adaptiveCard/action",
                value=value,
                replyToId=reply_to,
                conversation=convo,
            )
        )

    async def submit(
        self,
        sender: TeamsUser,
        action: dict[str, Any],
        reply_to: str,
        inputs: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Press a button on a client without Universal Actions: an Action.Submit message."""
        data = {**(action.get("fallback") or action).get("data", {}), **(inputs or {})}
        return await self.post(self.activity("message", sender, value=data, replyToId=reply_to))

    async def react(
        self,
        sender: TeamsUser,
        reaction: str,
        reply_to: str,
        *,
        added: bool = True,
        activity_id: str | None = None,
    ) -> tuple[int, Any]:
        key = "reactionsAdded" if added else "reactionsRemoved"
        activity = self.activity(
            "messageReaction", sender, replyToId=reply_to, **{key: [{"type": reaction}]}
        )
        if activity_id:
            activity["id"] = activity_id
        return await self.post(activity)


@dataclass
class TeamsStack(TeamsClient):
    app: Application = field(default=None)  # type: ignore[assignment]
    server: TestServer = field(default=None)  # type: ignore[assignment]

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        """Post as Teams does; like a person in Teams, wait for the bot's answer (the inbox's
        worker handles a message after the request is acknowledged)."""
        status, body = await super().post(activity)
        if activity.get("type") != "invoke" and status < 300:
            await inbox_settled(self.app)
        return status, body

    async def settle(self) -> None:
        """Let background work (roster reads) finish and the outbox drain."""
        assert self.app.worker is not None
        adapter = loaded(self.app.adapters["teams"])
        while True:
            pending = [t for t in getattr(adapter, "_background", ()) if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=10)
            await self.app.worker.drain(wait_for_retries=False)
            async with self.app.db.transaction() as session:
                busy = await session.scalar(
                    select(func.count(Delivery.id)).where(
                        (Delivery.status == DeliveryStatus.SENDING)
                        | (
                            (Delivery.status == DeliveryStatus.PENDING)
                            & (Delivery.next_attempt_at <= utcnow())
                        )
                    )
                )
            if not busy and not [t for t in getattr(adapter, "_background", ()) if not t.done()]:
                return
            await asyncio.sleep(0.02)


def cards_in(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def actions_in(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ActionSet":
                found.extend(node["actions"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def action(card: dict[str, Any], title: str) -> dict[str, Any]:
    return next(a for a in actions_in(card) if a.get("title") == title)


@asynccontextmanager
async def teams_stack(
    settings: Settings, connector: FakeConnector | None = None, **env: str
) -> AsyncIterator[TeamsStack]:
    """The bot with Teams enabled. Pass a running ``connector`` to restart the bot while
    Teams' service (and the conversations it knows) stays up, as it does in real life."""
    async with AsyncExitStack() as stack:
        if connector is None:
            connector = await stack.enter_async_context(FakeConnector())
        registry = AdapterRegistry([ShellAdapterFactory(), TeamsAdapterFactory()])
        app = await stack.enter_async_context(
            open_application(teams_settings(settings, **env), registry=registry)
        )
        server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
        await server.start_server()
        stack.push_async_callback(server.close)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        url = f"http://127.0.0.1:{server.port}/api/messages"
        yield TeamsStack(url, connector, session, app=app, server=server)


def registration(app_type: str | None = None) -> dict[str, str]:
    """The bot's registration as its settings give it: by default as Azure registers a new
    bot today (single-tenant: app id, tenant and client secret, MICROSOFT_APP_TYPE left to
    its default); ``"MultiTenant"`` as a bot registered before 31 July 2025 (no tenant);
    ``"UserAssignedMSI"`` as a user-assigned managed identity (its client id, the tenant, no
    password)."""
    if app_type == "UserAssignedMSI":
        return {
            "MICROSOFT_APP_TYPE": "UserAssignedMSI",
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_TENANT_ID": APP_TENANT,
        }
    if app_type == "MultiTenant":
        return {
            "MICROSOFT_APP_TYPE": "MultiTenant",
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_PASSWORD": "pw",
        }
    assert app_type is None, app_type
    return {
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": "pw",
        "MICROSOFT_APP_TENANT_ID": APP_TENANT,
    }


@asynccontextmanager
async def authenticated_teams_stack(
    settings: Settings, monkeypatch: Any, app_type: str | None = None
) -> AsyncIterator[tuple[TeamsStack, Any]]:
    """The bot with MICROSOFT_APP_ID set (see ``registration``), checking every request's JWT
    against a fake Bot Framework identity (its OpenID metadata, signing keys and token
    endpoint, over TLS); the connector only accepts the tokens that identity issued. Yields
    (stack, identity)."""
    from tests.botframework_identity import FakeBotFrameworkIdentity

    async with FakeBotFrameworkIdentity() as identity:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", identity.ca_bundle)  # its token endpoint's TLS
        if app_type == "UserAssignedMSI":  # the process runs where Azure gives it an identity
            for name, value in identity.managed_identity_environment().items():
                monkeypatch.setenv(name, value)
        connector = FakeConnector(require_token=lambda t: t in identity.issued_tokens)
        async with (
            connector,
            teams_stack(
                settings,
                connector,
                **registration(app_type),
                BOT_OPENID_METADATA_URL=identity.openid_metadata_url,
                BOT_LOGIN_URL=identity.login_url,
            ) as teams,
        ):
            yield teams, identity


async def install_in_team(stack: TeamsStack, team_id: str, name: str) -> None:
    """The app is added to a team: the bot reads its roster and opens a chat with each member."""
    await stack.post(
        stack.activity(
            "conversationUpdate",
            user("Boss"),
            conversation={
                "conversationType": "channel",
                "id": team_id,
                "isGroup": True,
                "tenantId": TENANT,
            },
            membersAdded=[{"id": "28:bot-app-id"}],
            channelData={
                "team": {"id": team_id, "name": name},
                "tenant": {"id": TENANT},
                "eventType": "teamMemberAdded",
            },
        )
    )
    await stack.settle()
