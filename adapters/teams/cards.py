"""Render the core's messages and forms as Adaptive Cards 1.5 (pure functions, schema-tested).

People's text only ever goes into ``TextRun`` inlines, which Adaptive Cards never read as
Markdown: an idea or a customer quote cannot add links, formatting or fake mentions. Buttons are
``Action.Execute`` (Teams sends an ``adaptiveCard/action`` invoke and shows the card we answer
with); Teams clients without Universal Actions fall back to ``Action.Submit``.
Teams refuses messages over 28 KB: a long message is split into several cards.
"""

from __future__ import annotations

import json
from typing import Any

from bot.i18n import _
from bot.messages import (
    CHECKED,
    Button,
    ButtonStyle,
    Card,
    FieldKind,
    Form,
    FormField,
    LinkButton,
    Message,
)

VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams' limit is 28 KB for the whole activity; keep room for the envelope around the card.
MAX_CARD_BYTES = 24 * 1024
EMPTY_CHOICE = "-"
ACTION_KEY = "advocacy_action"  # where the core's action id travels in Action.Submit data
FORM_KEY = "advocacy_form"
CARD_KEY = "advocacy_card"  # which core card a button sits on (long messages are split)
CONTEXT_KEY = "advocacy_context"
HOME_KEY = "advocacy_home"  # a button on the member's home card (its press refreshes the home)
FORM_SUBMIT = "form.submit"
# Universal Actions' refresh of the home card: Teams sends it when the owner views the card.
HOME_REFRESH = "home.refresh"


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _rich(*inlines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(inlines), **extra}


def _execute(
    title: str, verb: str, data: dict[str, Any], style: str | None = None
) -> dict[str, Any]:
    """A button: Action.Execute, falling back to Action.Submit with the same data."""
    submit: dict[str, Any] = {
        "type": "Action.Submit",
        "title": title,
        "data": {**data, ACTION_KEY: verb},
    }
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {**data, ACTION_KEY: verb},
        "fallback": submit,
    }
    if style:
        action["style"] = submit["style"] = style
    return action


def _button(button: Button | LinkButton, card_index: int) -> dict[str, Any]:
    if isinstance(button, LinkButton):
        return {"type": "Action.OpenUrl", "title": button.label, "url": button.url}
    style = (
        "positive"
        if button.selected or button.style == ButtonStyle.PRIMARY
        else ("destructive" if button.style == ButtonStyle.DANGER else None)
    )
    title = ("✓ " if button.selected else "") + button.label
    return _execute(title, button.action_id, {**button.value, CARD_KEY: card_index}, style)


def card_items(card: Card, *, index: int, first: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        _rich(_run(card.title, weight="Bolder", size="Large" if first else "Medium"))
    ]
    if card.text:
        items.append(_rich(_run(card.text)))
    if card.image_url:
        items.append(
            {
                "type": "Image",
                "url": card.image_url,
                "altText": card.image_alt or card.title,
                "size": "Stretch",
            }
        )
    for fact in card.facts:
        items.append(
            _rich(_run(f"{fact.label}: ", weight="Bolder"), _run(fact.value), spacing="Small")
        )
    if card.links:
        inlines = []
        for i, link in enumerate(card.links):
            if i:
                inlines.append(_run("  ·  "))
            inlines.append(
                _run(link.label, selectAction={"type": "Action.OpenUrl", "url": link.url})
            )
        items.append(_rich(*inlines))
    if card.form is not None:
        items.extend(form_items(card.form))
    actions = [_button(button, index) for button in card.buttons]
    if card.form is not None:
        actions.append(_form_submit(card.form))
    if actions:
        items.append({"type": "ActionSet", "actions": actions})
    if card.footer:
        items.append(_rich(_run(card.footer, isSubtle=True, size="Small")))
    return [
        {
            "type": "Container",
            "id": f"card-{index}",
            "items": items,
            "separator": not first,
            "spacing": "Medium" if first else "Large",
        }
    ]


def _card(body: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "body": body,
        "fallbackText": fallback,
        "msteams": {"width": "Full"},
    }


def card_size(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def render_parts(message: Message, limit: int = MAX_CARD_BYTES) -> list[dict[str, Any]]:
    """The message as one card, or as several when one would be too big for Teams."""
    groups = [card_items(card, index=i, first=i == 0) for i, card in enumerate(message.cards)]
    if not groups:
        return [_card([_rich(_run(message.fallback))], message.fallback)]
    parts: list[list[dict[str, Any]]] = [[]]
    for group in groups:
        candidate = parts[-1] + group
        if parts[-1] and card_size(_card(candidate, message.fallback)) > limit:
            parts.append(list(group))
        else:
            parts[-1] = candidate
    rendered = [_card(body, message.fallback) for body in parts]
    for card in rendered:
        if card_size(card) > limit:  # one core card alone is too big: shorten its texts
            _shorten(card, limit)
    return rendered


def _shorten(card: dict[str, Any], limit: int) -> None:
    runs = [item for item in _walk(card) if item.get("type") == "TextRun"]
    runs.sort(key=lambda run: len(run["text"]), reverse=True)
    for run in runs:
        excess = card_size(card) - limit
        if excess <= 0:
            return
        keep = max(40, len(run["text"]) - excess - 10)
        run["text"] = run["text"][:keep].rstrip() + "…"


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def part_of_card(message: Message, card_index: int, limit: int = MAX_CARD_BYTES) -> int:
    """Which part (see render_parts) holds the core card ``card_index``."""
    for number, part in enumerate(render_parts(message, limit)):
        ids = {item.get("id") for item in part["body"]}
        if f"card-{card_index}" in ids:
            return number
    return 0


def _input(field: FormField) -> dict[str, Any]:
    base: dict[str, Any] = {"id": field.name, "label": field.label, "isRequired": field.required}
    if field.required:
        base["errorMessage"] = _("{label} is required.").format(label=field.label)
    if field.kind == FieldKind.SELECT:
        choices = [{"title": o.label, "value": o.value or EMPTY_CHOICE} for o in field.options]
        return {
            "type": "Input.ChoiceSet",
            **base,
            "style": "compact",
            "choices": choices,
            "value": field.initial or EMPTY_CHOICE,
        }
    if field.kind == FieldKind.CHECKBOX:
        return {
            "type": "Input.Toggle",
            "id": field.name,
            "title": field.label,
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if field.initial == CHECKED else "false",
        }
    element: dict[str, Any] = {
        "type": "Input.Text",
        **base,
        "isMultiline": field.kind == FieldKind.MULTILINE,
    }
    if field.max_length:
        element["maxLength"] = field.max_length
    if field.initial:
        element["value"] = field.initial
    placeholder = field.placeholder or (
        _("A channel id (19:…@thread.tacv2)") if field.kind == FieldKind.CONVERSATION else ""
    )
    if placeholder:
        element["placeholder"] = placeholder
    return element


def form_items(form: Form) -> list[dict[str, Any]]:
    return [_input(field) for field in form.fields]


def _form_submit(form: Form) -> dict[str, Any]:
    return _execute(
        form.submit_label,
        FORM_SUBMIT,
        {FORM_KEY: form.form_id, CONTEXT_KEY: form.context},
        "positive",
    )


def form_card(form: Form) -> dict[str, Any]:
    """A form as its own card: Teams' equivalent of a Slack modal."""
    body = [
        _rich(_run(form.title, weight="Bolder", size="Medium")),
        *form_items(form),
        {"type": "ActionSet", "actions": [_form_submit(form)]},
    ]
    return _card(body, form.title)


def task_form_card(form: Form, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """A form in a task module (a message action's dialog). Task modules take Action.Submit
    only: its data comes back as ``composeExtension/submitAction``."""
    submit = {
        "type": "Action.Submit",
        "title": form.submit_label,
        "style": "positive",
        "data": {ACTION_KEY: FORM_SUBMIT, FORM_KEY: form.form_id, CONTEXT_KEY: form.context},
    }
    body = [
        *(_rich(_run(note, color="Attention")) for note in notes),
        *form_items(form),
    ]
    card = _card(body, form.title)
    card["actions"] = [submit]
    del card["msteams"]  # a dialog has its own width
    return card


def home_card(message: Message, owner: str, limit: int = MAX_CARD_BYTES) -> dict[str, Any]:
    """The member's home (the core's home view, as Slack's Home tab shows it) as one card that
    refreshes itself when its owner views it (Universal Actions ``refresh``; ``owner`` is their
    Teams id). Its buttons say they sit on the home, so a press answers with the home as it then
    is. Sections that would take it over Teams' size are left for the next refresh to show."""
    body: list[dict[str, Any]] = []
    for index, card in enumerate(message.cards):
        group = card_items(card, index=index, first=index == 0)
        if body and card_size(_card(body + group, message.fallback)) > limit:
            break
        body += group
    rendered = _card(body or [_rich(_run(message.fallback))], message.fallback)
    if card_size(rendered) > limit:
        _shorten(rendered, limit)
    for node in _walk(rendered):
        if node.get("type") in ("Action.Execute", "Action.Submit") and "data" in node:
            node["data"][HOME_KEY] = True
    rendered["refresh"] = {
        "action": {"type": "Action.Execute", "verb": HOME_REFRESH, "data": {HOME_KEY: True}},
        "userIds": [owner],
    }
    return rendered


OUR_KEYS = (ACTION_KEY, FORM_KEY, CONTEXT_KEY, CARD_KEY, HOME_KEY)


def form_values(data: dict[str, Any]) -> dict[str, Any]:
    """Submitted inputs by field name (the button's own keys left out); a choice set's
    "nothing chosen" sentinel becomes ""."""
    return {
        name: "" if value == EMPTY_CHOICE else value
        for name, value in data.items()
        if name not in OUR_KEYS
    }


def without_msteams(card: dict[str, Any]) -> dict[str, Any]:
    """The card as the Adaptive Cards schema knows it (``msteams`` is Teams-only)."""
    return {key: value for key, value in card.items() if key != "msteams"}
