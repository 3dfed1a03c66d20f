"""What Slack sends a bot over Socket Mode: the same commands, interactions and events as
``SlackClient`` sends over HTTP (tests/slack_support.py), each in an envelope on the fake's
WebSocket, answered once the bot acknowledges it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.slack_fake import new_trigger_id
from tests.slack_socket_fake import FakeSlackSocketMode
from tests.slack_support import TEAM, button_press, unique

# Interactions whose ack can carry an answer (a modal's response_action).
ANSWERABLE = frozenset({"view_submission", "block_suggestion"})


@dataclass
class SocketSlackClient:
    """``SlackClient``'s methods over Socket Mode: each answers (200, the ack's payload as JSON
    or "") once the bot acknowledged the envelope; ``sent`` lists the envelope ids."""

    fake: FakeSlackSocketMode
    sent: list[str] = field(default_factory=list)

    async def envelope(
        self, kind: str, payload: dict[str, Any], *, answerable: bool = False
    ) -> tuple[int, str]:
        envelope_id = await self.fake.send_envelope(
            kind, payload, accepts_response_payload=answerable
        )
        self.sent.append(envelope_id)
        answer = await self.fake.acknowledged(envelope_id)
        return 200, json.dumps(answer) if answer else ""

    async def command(self, command: str, text: str, user: str, **extra: Any) -> tuple[int, str]:
        return await self.envelope(
            "slash_commands",
            command_payload(self.fake, command, text, user, **extra),
            answerable=True,
        )

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.envelope(
            "interactive", payload, answerable=payload.get("type") in ANSWERABLE
        )

    async def event(self, event: dict[str, Any], event_id: str | None = None) -> tuple[int, str]:
        return await self.envelope("events_api", event_callback(self.fake, event, event_id))

    async def press(
        self, user: str, action_id: str, value: dict[str, Any], **kwargs: Any
    ) -> tuple[int, str]:
        payload = button_press(
            user, action_id, value, response_url=self.fake.response_url(unique("act")), **kwargs
        )
        return await self.interaction(payload)


def command_payload(
    fake: FakeSlackSocketMode, command: str, text: str, user: str, **extra: Any
) -> dict[str, Any]:
    """A slash command's fields, as Slack puts them in a ``slash_commands`` envelope."""
    return {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": "CGENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": fake.app_id,
        "is_enterprise_install": "false",
        "response_url": fake.response_url(unique("cmd")),
        "trigger_id": new_trigger_id(),
        **extra,
    }


def event_callback(
    fake: FakeSlackSocketMode, event: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    """An Events API callback, as Slack puts it in an ``events_api`` envelope."""
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": fake.app_id,
        "type": "event_callback",
        "event_id": event_id or unique("Ev"),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": fake.bot_user_id, "is_bot": True}],
        "event": event,
    }
