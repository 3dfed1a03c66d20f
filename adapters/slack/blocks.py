"""Render the core's messages and forms as Block Kit (pure functions, golden-tested).

Slack's limits are kept here so that Slack never refuses what we send: 50 blocks a message and
100 in a view, 3,000 characters a section, 10 fields a section, 150 a header, 75 a button label,
255 an action id, 2,000 a button value, 24 a modal title. A message with too many cards is cut
and ends with links to what was left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from adapters.slack.escape import escape, link, truncate
from bot.i18n import _, ngettext
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
from bot.platform.actions import FORM_OPEN

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTONS_PER_BLOCK = 25
BUTTON_VALUE = 2000
ACTION_ID = 255
MODAL_TITLE = 24
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
CONTEXT_ELEMENTS = 10
FALLBACK_TEXT = 3000
PRIVATE_METADATA = 3000
EMPTY_OPTION = "-"  # Slack options need a value; this one stands for "none chosen"
DIVIDER: dict[str, Any] = {"type": "divider"}
LINK_ACTION = "link"


def mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn names or URLs in people's text into links or mentions.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": True}


def action_id(name: str, index: int) -> str:
    """Unique within a block (Slack requires it); the core's id is what comes before '|'."""
    return truncate(f"{name}|{index}", ACTION_ID)


def core_action_id(slack_action_id: str) -> str:
    return slack_action_id.rsplit("|", 1)[0]


def _button(button: Button | LinkButton, index: int) -> dict[str, Any]:
    if isinstance(button, LinkButton):
        return {
            "type": "button",
            "text": plain(button.label + " ↗", BUTTON_TEXT),
            "url": button.url,
            "action_id": action_id(LINK_ACTION, index),
        }
    value = json.dumps(button.value, separators=(",", ":"))
    if len(value) > BUTTON_VALUE:
        raise ValueError(f"the value of button '{button.label}' is too long for Slack")
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(("✓ " if button.selected else "") + button.label, BUTTON_TEXT),
        "action_id": action_id(button.action_id, index),
        "value": value,
    }
    if button.selected or button.style == ButtonStyle.PRIMARY:
        element["style"] = "primary"
    elif button.style == ButtonStyle.DANGER:
        element["style"] = "danger"
    return element


def card_blocks(card: Card, *, index: int, heading: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if heading:
        blocks.append({"type": "header", "text": plain(card.title, HEADER_TEXT)})
        body = escape(card.text)
    else:
        title = f"*{escape(truncate(card.title, 300))}*"
        body = f"{title}\n{escape(card.text)}" if card.text else title
    if body:
        section: dict[str, Any] = {
            "type": "section",
            "text": mrkdwn(truncate(body, SECTION_TEXT)),
        }
        if card.image_url:
            section["accessory"] = {
                "type": "image",
                "image_url": card.image_url,
                "alt_text": truncate(card.image_alt or card.title, 2000),
            }
        blocks.append(section)
    facts = [f"*{escape(f.label)}*\n{escape(f.value)}" for f in card.facts]
    for start in range(0, len(facts), FIELDS_PER_SECTION):
        fields = [
            mrkdwn(truncate(f, FIELD_TEXT)) for f in facts[start : start + FIELDS_PER_SECTION]
        ]
        blocks.append({"type": "section", "fields": fields})
    if card.links:
        text = "  ·  ".join(link(item.url, item.label) for item in card.links)
        blocks.append({"type": "context", "elements": [mrkdwn(truncate(text, SECTION_TEXT))]})
    elements = [_button(button, i) for i, button in enumerate(card.buttons)]
    if card.form is not None:
        elements.append(
            {
                "type": "button",
                "text": plain(card.form.title, BUTTON_TEXT),
                "action_id": action_id(FORM_OPEN, len(elements)),
                "value": json.dumps({"card": index}),
            }
        )
    for start in range(0, len(elements), BUTTONS_PER_BLOCK):
        blocks.append(
            {
                "type": "actions",
                "block_id": f"card-{index}-{start}",
                "elements": elements[start : start + BUTTONS_PER_BLOCK],
            }
        )
    if card.footer:
        blocks.append(
            {"type": "context", "elements": [mrkdwn(truncate(escape(card.footer), 3000))]}
        )
    return blocks


def render_blocks(message: Message, limit: int = MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """The message's cards as blocks, cut to ``limit`` with links to the cards left out."""
    groups = [card_blocks(card, index=i, heading=i == 0) for i, card in enumerate(message.cards)]
    whole = [block for i, group in enumerate(groups) for block in ([DIVIDER] if i else []) + group]
    if len(whole) <= limit:
        return whole
    blocks: list[dict[str, Any]] = []
    for i, group in enumerate(groups):
        needed = ([DIVIDER] if i else []) + group
        if len(blocks) + len(needed) > limit - 1:  # keep one block for the note
            return [*blocks, _left_out_note(message.cards[i:])]
        blocks.extend(needed)
    return blocks


def _left_out_note(cards: Sequence[Card]) -> dict[str, Any]:
    """Cards that did not fit, each a link where it has one (its first link button)."""
    items = []
    for card in cards:
        url = next((b.url for b in card.buttons if isinstance(b, LinkButton)), None)
        items.append(link(url, card.title) if url else escape(truncate(card.title, 80)))
    # Translators: the end of a message cut to Slack's size; {items} are the left-out titles.
    text = ngettext("…and {count} more: {items}", "…and {count} more: {items}", len(cards)).format(
        count=len(cards), items=" · ".join(items)
    )
    return {"type": "context", "elements": [mrkdwn(truncate(text, SECTION_TEXT))]}


def fallback_text(message: Message) -> str:
    """The notification text (mrkdwn too, so escaped)."""
    return truncate(escape(message.fallback), FALLBACK_TEXT)


def _option(label: str, value: str) -> dict[str, Any]:
    return {
        "text": plain(label, OPTION_TEXT),
        "value": truncate(value or EMPTY_OPTION, OPTION_VALUE),
    }


def _element(field: FormField) -> dict[str, Any]:
    if field.kind == FieldKind.SELECT:
        options = [_option(o.label, o.value) for o in field.options[:OPTIONS]]
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": "value",
            "options": options,
        }
        initial = next((o for o in options if o["value"] == (field.initial or EMPTY_OPTION)), None)
        if initial is not None:
            element["initial_option"] = initial
        return element
    if field.kind == FieldKind.CHECKBOX:
        checkbox = {
            "type": "checkboxes",
            "action_id": "value",
            "options": [_option(field.label, "yes")],
        }
        if field.initial == CHECKED:
            checkbox["initial_options"] = checkbox["options"]
        return checkbox
    if field.kind == FieldKind.CONVERSATION:
        return {
            "type": "conversations_select",
            "action_id": "value",
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        }
    element = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": field.kind == FieldKind.MULTILINE,
    }
    if field.max_length:
        element["max_length"] = field.max_length
    if field.initial:
        element["initial_value"] = truncate(field.initial, field.max_length or 3000)
    if field.placeholder:
        element["placeholder"] = plain(field.placeholder, 150)
    return element


def modal_view(form: Form) -> dict[str, Any]:
    metadata = json.dumps(form.context, separators=(",", ":"))
    if len(metadata) > PRIVATE_METADATA:
        raise ValueError("the form's context is too long for a Slack modal")
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": plain(form.title, MODAL_TITLE),
        "submit": plain(form.submit_label, MODAL_TITLE),
        "close": plain(_("Cancel"), MODAL_TITLE),
        "private_metadata": metadata,
        "blocks": [
            {
                "type": "input",
                "block_id": field.name,
                "optional": not field.required,
                "label": plain(field.label, 2000),
                "element": _element(field),
            }
            for field in form.fields
        ][:VIEW_BLOCKS],
    }


def home_view(message: Message) -> dict[str, Any]:
    return {"type": "home", "blocks": render_blocks(message, limit=VIEW_BLOCKS)}


def form_values(view: dict[str, Any]) -> dict[str, Any]:
    """A submitted modal's values by field name: text, the chosen option, True/False, a channel."""
    values: dict[str, Any] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        state = actions.get("value", {})
        kind = state.get("type")
        if kind == "static_select":
            chosen = (state.get("selected_option") or {}).get("value", "")
            values[block_id] = "" if chosen == EMPTY_OPTION else chosen
        elif kind == "checkboxes":
            values[block_id] = bool(state.get("selected_options"))
        elif kind == "conversations_select":
            values[block_id] = state.get("selected_conversation") or ""
        else:
            values[block_id] = state.get("value") or ""
    return values
