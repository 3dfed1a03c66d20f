"""Slack payloads to core events (pure functions, tested with recorded payloads).

Identities: in single-workspace mode every Slack user is known under workspace "" (so that
``advocacy members add slack U123`` and Slack's events name the same person); with OAuth
(several workspaces) the workspace is the team id.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from adapters.slack.blocks import LINK_ACTION, core_action_id, form_values
from bot.events import (
    ActionInvoked,
    Actor,
    AppInstalled,
    CommandInvoked,
    Event,
    FormSubmitted,
    HomeOpened,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
)

PLATFORM = "slack"
COMMANDS = {"/suggest": "suggest", "/advocacy": "advocacy", "/voice": "voice"}


def message_ref(channel: str, ts: str) -> str:
    """How a posted message is known to the core: the delivery's platform reference."""
    return f"{channel}:{ts}"


def split_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, dict):
        return str(team.get("id") or "")
    return str(body.get("team_id") or team or body.get("user", {}).get("team_id") or "")


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id") or "")
    return str(body.get("user_id") or user or "")


_MARKUP = re.compile(r"<([^<>]*)>")


def plain_message_text(text: str) -> str:
    """A message as people read it, from Slack's wire format: mentions and links as their
    words (``<@U1>`` -> ``@U1``, ``<!here>`` -> ``@here``, ``<https://x|x.com>`` -> ``x.com``),
    entities decoded. What it becomes is plain text, escaped again wherever it is shown."""

    def word(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith(("@", "#", "!")):
            sigil = "#" if target.startswith("#") else "@"
            name = label or target[1:].split("^")[0]
            return name if name.startswith(sigil) else sigil + name
        return label or target

    text = _MARKUP.sub(word, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_event(body: dict[str, Any], actor: Actor) -> CommandInvoked:
    # The words as typed, not Slack's wire format: Slack sends "&" as "&amp;" and a typed
    # @channel as "<!channel>", which an idea, an answer or a customer's words would keep.
    return CommandInvoked(
        actor,
        command=COMMANDS.get(str(body.get("command", "")), str(body.get("command", ""))),
        text=plain_message_text(str(body.get("text") or "")),
        conversation_id=body.get("channel_id"),
        # Slack does not retry slash commands, but the trigger is unique per invocation.
        event_id=f"command:{body['trigger_id']}" if body.get("trigger_id") else None,
    )


def without_card(body: dict[str, Any]) -> dict[str, Any]:
    """A click as the inbox keeps it: Slack sends the whole clicked message with every click
    (its blocks are most of the request), and handling one needs only which message it was.
    Less to seal and write while Slack waits for the ack, and less kept about the card."""
    message = body.get("message")
    if not isinstance(message, dict):
        return body
    kept = {key: message[key] for key in ("ts", "thread_ts") if key in message}
    return {**body, "message": kept}


def action_event(body: dict[str, Any], actor: Actor) -> ActionInvoked | None:
    """A button press; None for link buttons, which Slack reports but the core need not see."""
    action = body["actions"][0]
    name = core_action_id(str(action.get("action_id", "")))
    if name == LINK_ACTION:
        return None
    try:
        value = json.loads(action.get("value") or "{}")
    except json.JSONDecodeError:
        value = {}
    container = body.get("container") or {}
    ref = None
    if container.get("type") == "message" and not container.get("is_ephemeral"):
        channel = container.get("channel_id") or body.get("channel", {}).get("id")
        ref = message_ref(channel, container.get("message_ts") or body["message"]["ts"])
    return ActionInvoked(
        actor,
        action_id=name,
        value=value if isinstance(value, dict) else {},
        message_ref=ref,
        conversation_id=container.get("channel_id"),
        # A retried delivery of the same click carries the same action_ts.
        event_id=f"action:{action.get('action_ts')}:{actor.user_id}"
        if action.get("action_ts")
        else None,
    )


def view_submission_event(body: dict[str, Any], actor: Actor) -> FormSubmitted:
    view = body["view"]
    try:
        context = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        context = {}
    return FormSubmitted(
        actor,
        form_id=str(view.get("callback_id", "")),
        values=form_values(view),
        context=context if isinstance(context, dict) else {},
        event_id=view_event_id(body),
    )


def view_event_id(body: dict[str, Any]) -> str | None:
    """A modal's submission: the same view with the same answers is the same submission (a
    double press); corrected answers after an error are a new one."""
    view = body.get("view") or {}
    if not view.get("id"):
        return None
    state = json.dumps((view.get("state") or {}).get("values") or {}, sort_keys=True)
    answers = hashlib.sha256(state.encode()).hexdigest()[:16]
    return f"view:{view['id']}:{view.get('hash', '')}:{answers}"


def event_to_core(body: dict[str, Any], actor: Actor) -> Event | None:
    """Events API callbacks the core cares about; None for anything else."""
    event = body.get("event", {})
    kind = event.get("type")
    event_id = body.get("event_id")
    if kind in ("reaction_added", "reaction_removed"):
        item = event.get("item", {})
        if item.get("type") != "message":
            return None
        cls = ReactionAdded if kind == "reaction_added" else ReactionRemoved
        return cls(
            actor,
            emoji=str(event.get("reaction", "")),
            message_ref=message_ref(item["channel"], item["ts"]),
            event_id=event_id,
        )
    if kind == "app_home_opened" and event.get("tab") == "home":
        return HomeOpened(actor, event_id=event_id)
    if kind == "app_home_opened" and event.get("tab") == "messages":
        # Slack's "installed" for one person: their visit to the app's Messages tab (the
        # adapter hands the core only the first, before the bot has met them).
        return AppInstalled(actor, event_id=event_id)
    if kind == "message" and event.get("channel_type") == "im":
        if event.get("bot_id") or event.get("subtype"):
            return None  # our own messages, edits, joins...
        return MessageReceived(
            actor,
            text=plain_message_text(str(event.get("text") or "")),
            conversation_id=event.get("channel"),
            event_id=event_id,
        )
    return None
