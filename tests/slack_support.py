"""Helpers for Slack tests: requests signed like Slack signs them, and payload builders.

Payload shapes follow Slack's documented interaction and event payloads (trimmed to the fields
the adapter reads, plus a few it does not, as Slack sends many).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from adapters.shell import ShellAdapterFactory
from adapters.slack import SlackAdapterFactory
from bot.app import Application, open_application
from bot.config import Settings, parse_channel_list
from bot.domain import DeliveryStatus
from bot.platform import AdapterRegistry
from bot.storage.models import Delivery
from bot.storage.types import utcnow
from bot.web import build_web_app
from tests.inbox_support import inbox_settled
from tests.slack_fake import FakeSlack, new_trigger_id

SIGNING_SECRET = "test-signing-secret"
TEAM = "T0001"
IDEAS_CHANNEL = "CIDEAS"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter):06d}"


def slack_settings(
    settings: Settings, fake: FakeSlack, *, ideas_channel: bool = True, **extra: str
) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }
    return Settings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        public_url="https://advocacy.example.com",
        suggestion_channels=parse_channel_list(f"slack:{IDEAS_CHANNEL}" if ideas_channel else ""),
        delivery_max_attempts=3,
        env=env,
    )


@dataclass
class SlackClient:
    """Sends what Slack would send to a bot at ``url``: signed commands, interactions, events."""

    url: str
    fake: FakeSlack
    session: aiohttp.ClientSession

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> tuple[int, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        request_headers = {"Content-Type": content_type, **(headers or {})}
        if signed:
            request_headers["X-Slack-Request-Timestamp"] = stamp
            request_headers["X-Slack-Signature"] = SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=body
            )
        async with self.session.post(self.url, data=body.encode(), headers=request_headers) as r:
            return r.status, await r.text()

    async def command(self, command: str, text: str, user: str, **extra: Any) -> tuple[int, str]:
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": "CGENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": self.fake.response_url(unique("cmd")),
            "trigger_id": new_trigger_id(),
            **extra,
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kwargs)

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, **kwargs: Any
    ) -> tuple[int, str]:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": event_id or unique("Ev"),
                "event_time": int(time.time()),
                "authorizations": [
                    {"team_id": TEAM, "user_id": self.fake.bot_user_id, "is_bot": True}
                ],
                "event": event,
            }
        )
        return await self.post(body, "application/json", **kwargs)

    async def press(
        self, user: str, action_id: str, value: dict[str, Any], **kwargs: Any
    ) -> tuple[int, str]:
        payload = button_press(
            user, action_id, value, response_url=self.fake.response_url(unique("act")), **kwargs
        )
        return await self.interaction(payload)


@dataclass
class SlackStack(SlackClient):
    """The real application and server, with Slack enabled against the fake Web API."""

    app: Application = field(default=None)  # type: ignore[assignment]
    server: TestServer = field(default=None)  # type: ignore[assignment]

    async def open_suggest_form(self, user: str, attempts: int = 3) -> dict[str, Any]:
        """/suggest alone, and the modal it opened. Slack lets a trigger open a modal for 3
        seconds; on a loaded machine the first contact (users.info, a new member) can outlast
        it, and the person is asked to try again: so does this, as a person would."""
        for _ in range(attempts):
            await self.command("/suggest", "", user)
            await self.settle()
            if self.fake.opened_views:
                return self.fake.opened_views[-1]
        raise AssertionError(f"/suggest opened no form in {attempts} attempts")

    async def settle(self) -> None:
        """Let the inbox's worker handle what was acknowledged, and the outbox drain."""
        assert self.app.worker is not None
        while True:
            await inbox_settled(self.app)
            await self.app.worker.drain(wait_for_retries=False)
            # The server's own worker may hold some deliveries: wait for those too.
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
            if not busy and await self.app.inbox.settled():
                return
            await asyncio.sleep(0.02)


def button_press(
    user: str,
    action_id: str,
    value: dict[str, Any],
    *,
    response_url: str,
    channel: str | None = None,
    ts: str | None = None,
    action_ts: str | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A block_actions payload for a button on a message (channel and ts) or in a view."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM, "domain": "fake"},
        "api_app_id": "A0001",
        "trigger_id": new_trigger_id(),
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": json.dumps(value),
                "action_ts": action_ts or f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    if channel and ts:
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel}
        payload["message"] = {"ts": ts, "type": "message", "text": ""}
        payload["response_url"] = response_url
    else:
        payload["container"] = {"type": "view", "view_id": (view or {}).get("id", "V1")}
        payload["view"] = view or {"id": "V1", "type": "home"}
    return payload


def view_submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Submit an opened modal with ``values`` by block id (str, bool for checkboxes, or an
    option value for selects)."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block["element"]
        name = block["block_id"]
        if name not in values:
            continue
        value = values[name]
        kind = element["type"]
        if kind == "static_select":
            option = next(o for o in element["options"] if o["value"] == value)
            state[name] = {"value": {"type": kind, "selected_option": option}}
        elif kind == "checkboxes":
            state[name] = {
                "value": {"type": kind, "selected_options": element["options"] if value else []}
            }
        elif kind == "conversations_select":
            state[name] = {"value": {"type": kind, "selected_conversation": value}}
        else:
            state[name] = {"value": {"type": kind, "value": value}}
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": new_trigger_id(),
        "view": {
            **view,
            "id": view.get("id") or unique("V"),
            "hash": unique("h"),
            "state": {"values": state},
        },
    }


@asynccontextmanager
async def slack_stack(
    settings: Settings,
    *,
    ideas_channel: bool = True,
    fake_class: type[FakeSlack] = FakeSlack,
    **extra_env: str,
) -> AsyncIterator[SlackStack]:
    async with fake_class(team_id=TEAM) as fake:
        registry = AdapterRegistry([ShellAdapterFactory(), SlackAdapterFactory()])
        async with open_application(
            slack_settings(settings, fake, ideas_channel=ideas_channel, **extra_env),
            registry=registry,
        ) as app:
            server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
            await server.start_server()
            try:
                async with aiohttp.ClientSession() as session:
                    url = f"http://127.0.0.1:{server.port}/slack/events"
                    yield SlackStack(url, fake, session, app=app, server=server)
            finally:
                await server.close()


MENTION_MARKUP = ("<!channel", "<!here", "<!everyone", "<@", "<#", "<!subteam")


def unescaped_markup(stack: SlackClient) -> list[str]:
    """Every mrkdwn text (and message ``text``) the bot sent that holds raw mention markup."""
    found: list[str] = []

    def walk(node: Any, mrkdwn: bool) -> None:
        if isinstance(node, dict):
            is_mrkdwn = node.get("type") == "mrkdwn"
            for key, value in node.items():
                if key == "text" and isinstance(value, str) and (is_mrkdwn or mrkdwn):
                    found.extend(value for marker in MENTION_MARKUP if marker in value)
                else:
                    walk(value, False)
        elif isinstance(node, list):
            for item in node:
                walk(item, False)

    for call in stack.fake.calls:
        # A message's top-level text is mrkdwn; so is every mrkdwn object in its blocks.
        walk(
            call.args,
            call.method
            in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"),
        )
    return found
