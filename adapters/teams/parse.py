"""Bot Framework activities (as Teams sends them) to core events: pure functions.

A Teams user is known by their Azure AD object id (stable, and what HR exports hold) within their
tenant; the emulator, which has no AAD, falls back to the channel user id.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

from botbuilder.schema import Activity

from adapters.teams.cards import (
    ACTION_KEY,
    CARD_KEY,
    CONTEXT_KEY,
    FORM_KEY,
    FORM_SUBMIT,
    OUR_KEYS,
    form_values,
)
from adapters.teams.commands import COMMAND_WORDS, SUGGEST_COMMAND, VOICE_COMMAND
from bot.events import (
    ActionInvoked,
    Actor,
    CommandInvoked,
    Event,
    FormSubmitted,
    HomeOpened,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
)
from bot.messages import CHECKED, FieldKind, Form
from bot.platform.actions import SUGGEST_OPEN, VOICE_OPEN
from bot.platform.support import split_command

PLATFORM = "teams"
# The message actions (the app package's composeExtensions commands) and the core action each
# opens, as Slack's message shortcuts do.
MESSAGE_COMMANDS = {SUGGEST_COMMAND: SUGGEST_OPEN, VOICE_COMMAND: VOICE_OPEN}
# What a member types (or sends from the home card's menu) to get their home card.
HOME_WORD = "home"
_MENTION = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)


def tenant_of(activity: Activity) -> str:
    conversation = activity.conversation
    if conversation is not None and getattr(conversation, "tenant_id", None):
        return str(conversation.tenant_id)
    data = activity.channel_data or {}
    tenant = data.get("tenant") if isinstance(data, dict) else None
    return str((tenant or {}).get("id") or "")


def user_key(account: Any) -> str:
    return str(getattr(account, "aad_object_id", None) or account.id)


def actor_of(activity: Activity) -> Actor:
    """The person behind an activity, with the language their Teams client uses (``locale``,
    "de-DE", sent on every activity): a hint the core follows unless they chose one."""
    user = activity.from_property
    return Actor(
        PLATFORM,
        user_key(user),
        tenant_of(activity),
        display_name=user.name or None,
        locale=activity.locale or None,
    )


def message_ref(conversation_id: str, activity_id: str) -> str:
    return f"{conversation_id}|{activity_id}"


def split_ref(ref: str) -> tuple[str, str]:
    conversation_id, _, activity_id = ref.rpartition("|")
    return conversation_id, activity_id


def event_id(activity: Activity) -> str | None:
    """A redelivered activity carries the same id: that is what makes it count once."""
    if not activity.id:
        return None
    return f"{activity.conversation.id}:{activity.id}"


def clean_text(activity: Activity) -> str:
    """What the person typed, without the @mention of the bot that channels add."""
    return _MENTION.sub("", activity.text or "").strip()


def data_event(
    actor: Actor, data: dict[str, Any], *, ref: str | None, event: str | None
) -> Event | None:
    """A card button's data (from Action.Execute or Action.Submit) as a core event."""
    action = data.get(ACTION_KEY)
    if not isinstance(action, str) or not action:
        return None
    if action == FORM_SUBMIT:
        context = data.get(CONTEXT_KEY)
        return FormSubmitted(
            actor,
            form_id=str(data.get(FORM_KEY) or ""),
            values=form_values(data),
            context=context if isinstance(context, dict) else {},
            event_id=event,
        )
    value = {k: v for k, v in data.items() if k not in OUR_KEYS}
    return ActionInvoked(actor, action_id=action, value=value, message_ref=ref, event_id=event)


def message_event(activity: Activity) -> Event | None:
    actor = actor_of(activity)
    ref = (
        message_ref(activity.conversation.id, activity.reply_to_id)
        if activity.reply_to_id
        else None
    )
    if isinstance(activity.value, dict):  # an Action.Submit button
        return data_event(actor, activity.value, ref=ref, event=event_id(activity))
    text = clean_text(activity)
    if not text:
        return None
    if text.lower() == HOME_WORD:
        return HomeOpened(actor, event_id=event_id(activity))
    name, rest = split_command(text)
    if name in COMMAND_WORDS:  # chosen from the app's command menu, or typed as it shows them
        return CommandInvoked(
            actor,
            command=name,
            text=rest,
            conversation_id=activity.conversation.id,
            event_id=event_id(activity),
        )
    return MessageReceived(
        actor, text=text, conversation_id=activity.conversation.id, event_id=event_id(activity)
    )


def invoke_event(activity: Activity) -> Event | None:
    """An ``adaptiveCard/action`` invoke (Action.Execute)."""
    value = activity.value if isinstance(activity.value, dict) else {}
    action = value.get("action") or {}
    data = dict(action.get("data") or {})
    data.setdefault(ACTION_KEY, action.get("verb"))
    ref = (
        message_ref(activity.conversation.id, activity.reply_to_id)
        if activity.reply_to_id
        else None
    )
    return data_event(actor_of(activity), data, ref=ref, event=event_id(activity))


def reaction_events(activity: Activity) -> list[Event]:
    if not activity.reply_to_id:
        return []
    actor = actor_of(activity)
    ref = message_ref(activity.conversation.id, activity.reply_to_id)
    base = event_id(activity) or ""
    events: list[Event] = [
        ReactionAdded(actor, emoji=str(r.type), message_ref=ref, event_id=f"{base}:+{r.type}")
        for r in activity.reactions_added or []
    ]
    events += [
        ReactionRemoved(actor, emoji=str(r.type), message_ref=ref, event_id=f"{base}:-{r.type}")
        for r in activity.reactions_removed or []
    ]
    return events


def card_index(activity: Activity) -> int | None:
    """Which core card the pressed button sat on, when the button says."""
    value = activity.value if isinstance(activity.value, dict) else {}
    data = (value.get("action") or {}).get("data") if "action" in value else value
    index = (data or {}).get(CARD_KEY)
    return index if isinstance(index, int) else None


class _PlainText(HTMLParser):
    """The text of a Teams message's HTML body: tags dropped (an ``<at>`` mention keeps its
    name), block ends as line breaks, entities decoded; scripts and styles left out."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})
    SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def message_action_event(activity: Activity) -> ActionInvoked | None:
    """``composeExtension/fetchTask`` from "Turn into suggestion" or "Log as customer voice" on
    a message: open the core's form with the message's text (its HTML made plain) and a link
    back to it (Teams' ``linkToMessage``), as Slack's message shortcuts do with a permalink."""
    value = activity.value if isinstance(activity.value, dict) else {}
    action_id = MESSAGE_COMMANDS.get(str(value.get("commandId") or ""))
    if action_id is None:
        return None
    payload = value.get("messagePayload") or {}
    body = payload.get("body") or {}
    content = str(body.get("content") or "")
    text = content if body.get("contentType") == "text" else html_to_text(content)
    # Whole: the form cuts a text longer than it holds, and says so in the dialog.
    data: dict[str, Any] = {"text": text}
    link = payload.get("linkToMessage")
    if isinstance(link, str) and link.startswith("https://"):
        data["source_url"] = link
    # No event id: opening a form changes nothing, so a repeat simply opens it again.
    return ActionInvoked(actor_of(activity), action_id=action_id, value=data)


def task_submit_event(activity: Activity) -> Event | None:
    """``composeExtension/submitAction``: the task module's form, as a core form submission."""
    value = activity.value if isinstance(activity.value, dict) else {}
    data = value.get("data")
    if not isinstance(data, dict):
        return None
    return data_event(actor_of(activity), data, ref=None, event=event_id(activity))


def filled_in(form: Form, values: dict[str, Any]) -> Form:
    """``form`` showing what was submitted (a refused answer shown again: nothing typed, chosen
    or ticked is lost)."""
    fields = []
    for field in form.fields:
        if field.name not in values:
            fields.append(field)
            continue
        given = values[field.name]
        if field.kind == FieldKind.CHECKBOX:
            initial = CHECKED if str(given).lower() in ("true", "1", "yes", "on") else ""
        else:
            initial = "" if given is None else str(given)
        fields.append(replace(field, initial=initial))
    return replace(form, fields=tuple(fields))
