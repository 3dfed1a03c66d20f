"""Reactions on Google Chat: Chat apps do not receive them as interaction events; a Google
Workspace Events subscription on a space publishes ``google.workspace.chat.reaction.v1.*``
events to a Pub/Sub topic, whose push subscription posts them here (its OIDC token checked like
Chat's). Pure parsing of one push into core events."""

from __future__ import annotations

import base64
import json
from typing import Any

from adapters.google_chat.parse import PLATFORM
from bot.events import Actor, Event, ReactionAdded, ReactionRemoved

CREATED = "google.workspace.chat.reaction.v1.created"
DELETED = "google.workspace.chat.reaction.v1.deleted"
BATCH_CREATED = "google.workspace.chat.reaction.v1.batchCreated"
BATCH_DELETED = "google.workspace.chat.reaction.v1.batchDeleted"
REACTION_TYPES = frozenset({CREATED, DELETED, BATCH_CREATED, BATCH_DELETED})


def pushed(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(event type, Pub/Sub message id, the event's data) of a push; None when it is not one."""
    message = body.get("message")
    if not isinstance(message, dict) or not message.get("messageId"):
        return None
    attributes = message.get("attributes") or {}
    try:
        data = json.loads(base64.b64decode(message.get("data") or "") or b"{}")
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    return str(attributes.get("ce-type") or ""), str(message["messageId"]), data


def reaction_events(kind: str, message_id: str, data: dict[str, Any]) -> list[Event]:
    """One core event per reaction in the push (a batch holds several), each with its own id."""
    if kind not in REACTION_TYPES:
        return []
    added = kind in (CREATED, BATCH_CREATED)
    items = data.get("reactions") if kind in (BATCH_CREATED, BATCH_DELETED) else [data]
    events: list[Event] = []
    for number, item in enumerate(items or []):
        reaction = (item or {}).get("reaction") or {}
        name = str(reaction.get("name") or "")
        user = str((reaction.get("user") or {}).get("name") or "")
        emoji = reaction.get("emoji") or {}
        written = emoji.get("unicode") or (emoji.get("customEmoji") or {}).get("uid") or ""
        if "/reactions/" not in name or not user or not written:
            continue
        cls = ReactionAdded if added else ReactionRemoved
        events.append(
            cls(
                Actor(PLATFORM, user),
                emoji=str(written),
                message_ref=name.split("/reactions/")[0],
                event_id=f"reaction:{message_id}:{number}",
            )
        )
    return events
