"""Google Chat interaction events (the JSON an HTTP-endpoint Chat app receives) as core events.

Pure functions. An event's id is derived from what a redelivery repeats: a message's resource
name, or a click's message, person, time and function, so a retried delivery counts once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from adapters.google_chat.cards import FORM_SUBMIT
from bot.events import (
    ActionInvoked,
    Actor,
    AppInstalled,
    CommandInvoked,
    Event,
    FormSubmitted,
    MessageReceived,
)
from bot.messages import CHECKED, Form, form_from_dict

PLATFORM = "google_chat"
# Slash commands as the README asks the admin to declare them, by command id; the event names
# the command too (its SLASH_COMMAND annotation), which wins.
COMMAND_IDS = {"1": "/suggest", "2": "/advocacy", "3": "/voice"}
REQUEST_DIALOG, SUBMIT_DIALOG, CANCEL_DIALOG = "REQUEST_DIALOG", "SUBMIT_DIALOG", "CANCEL_DIALOG"


def user_of(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("user") or {}


def locale_of(body: dict[str, Any]) -> str | None:
    """The language of the person's Chat client: the event's ``common.userLocale`` ("en-US"),
    which Chat sends with interaction events (not with every one, so None may mean unknown)."""
    common = body.get("common")
    locale = common.get("userLocale") if isinstance(common, dict) else None
    return str(locale) if isinstance(locale, str) and locale else None


def actor_of(body: dict[str, Any]) -> Actor:
    user = user_of(body)
    return Actor(
        PLATFORM,
        str(user.get("name") or ""),
        "",
        display_name=user.get("displayName"),
        locale=locale_of(body),
    )


def space_of(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("space") or {}


def is_direct(space: dict[str, Any]) -> bool:
    return space.get("spaceType") == "DIRECT_MESSAGE" or space.get("type") == "DM"


def dialog_type(body: dict[str, Any]) -> str | None:
    return str(body["dialogEventType"]) if body.get("isDialogEvent") else None


def message_name(body: dict[str, Any]) -> str | None:
    name = (body.get("message") or {}).get("name")
    return str(name) if name else None


def function_of(body: dict[str, Any]) -> str:
    common = body.get("common") or {}
    action = body.get("action") or {}
    return str(common.get("invokedFunction") or action.get("actionMethodName") or "")


def parameters_of(body: dict[str, Any]) -> dict[str, str]:
    common = body.get("common") or {}
    if isinstance(common.get("parameters"), dict):
        return {str(k): str(v) for k, v in common["parameters"].items()}
    listed = (body.get("action") or {}).get("parameters") or []
    return {str(p.get("key")): str(p.get("value") or "") for p in listed if isinstance(p, dict)}


def wanted(body: dict[str, Any]) -> bool:
    """Events worth writing down: people's, of the kinds the core takes."""
    if user_of(body).get("type") == "BOT" or not user_of(body).get("name"):
        return False
    if dialog_type(body) == CANCEL_DIALOG:
        return False
    return body.get("type") in ("MESSAGE", "CARD_CLICKED", "ADDED_TO_SPACE")


def event_id(body: dict[str, Any]) -> str | None:
    kind = body.get("type")
    user = user_of(body).get("name") or ""
    stamp = body.get("eventTime") or ""
    if kind == "MESSAGE" and message_name(body) and not body.get("isDialogEvent"):
        return f"message:{message_name(body)}"
    if kind == "ADDED_TO_SPACE":
        return f"added:{space_of(body).get('name')}:{user}:{stamp}"
    if not stamp:
        return None
    inputs = json.dumps((body.get("common") or {}).get("formInputs") or {}, sort_keys=True)
    answers = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    what = f"{function_of(body)}:{dialog_type(body) or ''}:{answers}"
    return f"click:{message_name(body) or space_of(body).get('name')}:{user}:{stamp}:{what}"


def command_of(body: dict[str, Any]) -> str | None:
    message = body.get("message") or {}
    for annotation in message.get("annotations") or []:
        if annotation.get("type") == "SLASH_COMMAND":
            name = (annotation.get("slashCommand") or {}).get("commandName")
            if name:
                return str(name)
    slash = message.get("slashCommand") or {}
    if slash.get("commandId") is not None:
        return COMMAND_IDS.get(str(slash["commandId"]))
    return None


def submitted_form(body: dict[str, Any]) -> Form | None:
    """The form a submit button carries (its own parameters), or None."""
    raw = parameters_of(body).get("form")
    try:
        data = json.loads(raw) if raw else None
        return form_from_dict(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def form_values(body: dict[str, Any]) -> dict[str, Any]:
    """A submitted form's values by field name: text, the chosen option, True/False."""
    inputs = (body.get("common") or {}).get("formInputs") or {}
    values: dict[str, Any] = {}
    for name, given in inputs.items():
        strings = ((given or {}).get("stringInputs") or {}).get("value") or []
        values[name] = str(strings[0]) if strings else ""
    for name in filter(None, parameters_of(body).get("checkboxes", "").split(",")):
        values[name] = values.get(name) == CHECKED
    return values


def to_event(body: dict[str, Any]) -> Event | None:
    """The core event for a Chat interaction; None for what the core does not take."""
    actor = actor_of(body)
    kind = body.get("type")
    ident = event_id(body)
    space = space_of(body).get("name")
    if kind == "ADDED_TO_SPACE":
        return AppInstalled(actor, event_id=ident, conversation_id=space)
    if function_of(body) == FORM_SUBMIT:
        form = submitted_form(body)
        if form is None:
            return None
        return FormSubmitted(
            actor,
            form_id=form.form_id,
            values=form_values(body),
            context=dict(form.context),
            event_id=ident,
            conversation_id=space,
        )
    if kind == "CARD_CLICKED" and function_of(body):
        try:
            value = json.loads(parameters_of(body).get("value") or "{}")
        except ValueError:
            value = {}
        return ActionInvoked(
            actor,
            action_id=function_of(body),
            value=value if isinstance(value, dict) else {},
            message_ref=message_name(body),
            event_id=ident,
            conversation_id=space,
        )
    if kind == "MESSAGE":
        message = body.get("message") or {}
        text = str(message.get("argumentText") or message.get("text") or "").strip()
        command = command_of(body)
        if command:
            return CommandInvoked(
                actor, command=command.lstrip("/"), text=text, event_id=ident, conversation_id=space
            )
        return MessageReceived(actor, text=text, event_id=ident, conversation_id=space)
    return None
