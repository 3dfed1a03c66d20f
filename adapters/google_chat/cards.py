"""Rendering for Google Chat: every core ``Message`` as cards v2, every ``Form`` as a dialog.

Card text (``textParagraph``, ``decoratedText``) is a small HTML dialect: ``<a href>``,
``<b>``, ``<font>``; people's text is HTML-escaped there, so ``<users/all>`` or a link shows as
typed and does nothing. Header titles and button labels are plain text. Limits: 100 widgets a
card (Google ignores the rest) and 32 KB a card; the message's plain ``fallbackText`` (what a
notification shows) is kept under the 4,096 characters of a message's text.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
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
from bot.platform.actions import FORM_OPEN
from bot.platform.dialogs import FORM_OPENING_ACTIONS
from bot.platform.support import in_written_order

WIDGETS_PER_CARD = 100
CARD_BYTES = 32_000
TEXT_LIMIT = 4_096
PARAGRAPH = 4_000
TITLE = 200
LABEL = 100
# The function a form's submit button invokes; its parameters carry the form itself.
FORM_SUBMIT = "form.submit"
FOOTER_COLOR = "#5f6368"


def escape(text: str) -> str:
    """People's text inside card HTML: shown as typed, never markup, a mention or a link, and
    in the order it was written (no direction override to show "evil" as "live")."""
    return html.escape(in_written_order(text), quote=False)


def inert(text: str) -> str:
    """Plain text (a notification's fallback) that cannot read as ``<users/all>`` or
    ``<https://link|label>``: a zero-width space follows every '<'."""
    return in_written_order(text).replace("<", "<\u200b")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int) -> str:
    """A title, label or option: plain text in cards v2, and inert besides (belt and braces)."""
    return truncate(inert(text), limit)


def paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": escape(truncate(text, PARAGRAPH))}}


def _action(function: str, parameters: dict[str, str], *, dialog: bool) -> dict[str, Any]:
    action: dict[str, Any] = {
        "function": function,
        "parameters": [{"key": k, "value": v} for k, v in parameters.items()],
    }
    if dialog:
        action["interaction"] = "OPEN_DIALOG"
    return {"action": action}


def button(item: Button | LinkButton) -> dict[str, Any]:
    if isinstance(item, LinkButton):  # the URL is the core's (tracked) link, not people's text
        return {
            "text": plain(item.label + " ↗", LABEL),
            "onClick": {"openLink": {"url": item.url}},
        }
    rendered: dict[str, Any] = {
        "text": plain(("✓ " if item.selected else "") + item.label, LABEL),
        "onClick": _action(
            item.action_id,
            {"value": json.dumps(item.value, separators=(",", ":"))},
            dialog=item.action_id in FORM_OPENING_ACTIONS,
        ),
    }
    if item.selected or item.style == ButtonStyle.PRIMARY:
        rendered["type"] = "FILLED"
    elif item.style == ButtonStyle.DANGER:
        rendered["type"] = "FILLED_TONAL"
    return rendered


def card_widgets(card: Card, index: int) -> list[dict[str, Any]]:
    """A card's body (its title goes in the header): text, image, facts, links, buttons."""
    widgets: list[dict[str, Any]] = []
    if card.text:
        widgets.append(paragraph(card.text))
    if card.image_url:
        widgets.append(
            {
                "image": {
                    "imageUrl": card.image_url,
                    "altText": plain(card.image_alt or card.title, 200),
                }
            }
        )
    for fact in card.facts:
        widgets.append(
            {
                "decoratedText": {
                    "topLabel": escape(truncate(fact.label, LABEL)),
                    "text": escape(truncate(fact.value, PARAGRAPH)),
                    "wrapText": True,
                }
            }
        )
    if card.links:
        links = " · ".join(
            f'<a href="{html.escape(link.url, quote=True)}">{escape(link.label)}</a>'
            for link in card.links
        )
        widgets.append({"textParagraph": {"text": links}})
    buttons = [button(item) for item in card.buttons]
    if card.form is not None:
        buttons.append(
            {
                "text": plain(card.form.title, LABEL),
                "onClick": _action(FORM_OPEN, {"value": json.dumps({"card": index})}, dialog=True),
            }
        )
    if buttons:
        widgets.append({"buttonList": {"buttons": buttons}})
    if card.footer:
        footer = escape(truncate(card.footer, PARAGRAPH))
        widgets.append({"textParagraph": {"text": f'<font color="{FOOTER_COLOR}">{footer}</font>'}})
    return widgets


def render_message(message: Message) -> dict[str, Any]:
    """The Chat API ``Message`` body for ``spaces.messages.create`` (and ``patch``)."""
    cards: list[dict[str, Any]] = []
    if not message.cards:
        cards.append(
            {"cardId": "card-0", "card": {"sections": [{"widgets": [paragraph(message.fallback)]}]}}
        )
    for index, card in enumerate(message.cards):
        widgets = card_widgets(card, index)[:WIDGETS_PER_CARD]
        body: dict[str, Any] = {"header": {"title": plain(card.title, TITLE) or " "}}
        if widgets:
            body["sections"] = [{"widgets": widgets}]
        cards.append({"cardId": f"card-{index}", "card": body})
    return {
        "fallbackText": truncate(inert(message.fallback), TEXT_LIMIT),
        "cardsV2": _within_size(cards),
    }


def _within_size(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cards over 32 KB lose their last widgets until they fit (a long digest item, say)."""
    for entry in cards:
        sections = entry["card"].get("sections") or []
        while sections and _size(entry) > CARD_BYTES:
            widgets = sections[-1]["widgets"]
            widgets.pop()
            if not widgets:
                sections.pop()
    return cards


def _size(value: Any) -> int:
    """Bytes as JSON with non-ASCII escaped: never less than what Google counts."""
    return len(json.dumps(value).encode())


# ----- forms ---------------------------------------------------------------------------------


def _label(field: FormField) -> str:
    """A field's label, marked optional unless it is required or says so already (Chat does
    not mark optional fields itself)."""
    # Translators: the mark a form label that already ends with it is not given twice.
    marks = ("(optional)", _("(optional)"))
    if field.required or field.label.rstrip().endswith(marks):
        return field.label
    # Translators: a form field that may be left empty.
    return _("{label} (optional)").format(label=field.label)


def _input(field: FormField, value: Any) -> dict[str, Any]:
    label = plain(_label(field), LABEL)
    if field.kind == FieldKind.SELECT:
        chosen = str(value if value is not None else field.initial)
        return {
            "selectionInput": {
                "name": field.name,
                "label": label,
                "type": "DROPDOWN",
                "items": [
                    {
                        "text": plain(o.label, LABEL),
                        "value": o.value,
                        "selected": o.value == chosen,
                    }
                    for o in field.options
                ],
            }
        }
    if field.kind == FieldKind.CHECKBOX:
        ticked = bool(value) if value is not None else field.initial == CHECKED
        return {
            "selectionInput": {
                "name": field.name,
                "label": label,
                "type": "CHECK_BOX",
                "items": [
                    {"text": plain(field.label, LABEL), "value": CHECKED, "selected": ticked}
                ],
            }
        }
    text: dict[str, Any] = {
        "name": field.name,
        "label": label,
        "type": "MULTIPLE_LINE" if field.kind == FieldKind.MULTILINE else "SINGLE_LINE",
    }
    initial = str(value) if value is not None else field.initial
    if initial:
        text["value"] = truncate(initial, field.max_length or PARAGRAPH)
    if field.placeholder:
        text["hintText"] = plain(field.placeholder, LABEL)
    return {"textInput": text}


def form_card(
    form: Form, *, problem: str | None = None, values: dict[str, Any] | None = None, dialog: bool
) -> dict[str, Any]:
    """The form as a card: a dialog's body, or a card of inputs in a message. A refused answer
    comes back with the ``problem`` on top and the ``values`` as typed."""
    widgets: list[dict[str, Any]] = []
    if problem:
        widgets.append({"textParagraph": {"text": f"<b>⚠️ {escape(problem)}</b>"}})
    widgets.extend(_input(field, (values or {}).get(field.name)) for field in form.fields)
    checkboxes = ",".join(f.name for f in form.fields if f.kind == FieldKind.CHECKBOX)
    submit = {
        "text": plain(form.submit_label, LABEL),
        "type": "FILLED",
        "onClick": _action(
            FORM_SUBMIT,
            {"form": json.dumps(asdict(form), separators=(",", ":")), "checkboxes": checkboxes},
            dialog=False,
        ),
    }
    widgets.append({"buttonList": {"buttons": [submit]}})
    card: dict[str, Any] = {
        "header": {"title": plain(form.title, TITLE)},
        "sections": [{"widgets": widgets[:WIDGETS_PER_CARD]}],
    }
    if not dialog:
        card["cardId"] = f"form-{form.form_id}"
    return card


def dialog_response(
    form: Form, *, problem: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = form_card(form, problem=problem, values=values, dialog=True)
    return {"actionResponse": {"type": "DIALOG", "dialogAction": {"dialog": {"body": body}}}}


def form_message(form: Form) -> dict[str, Any]:
    """A form in a message (no dialog can be opened from here): inputs and a submit button."""
    card = form_card(form, dialog=False)
    card_id = card.pop("cardId")
    return {
        "fallbackText": truncate(inert(form.title), TEXT_LIMIT),
        "cardsV2": [{"cardId": card_id, "card": card}],
    }


def close_dialog(note: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"statusCode": "OK"}
    if note:
        status["userFacingMessage"] = truncate(note, 200)
    return {"actionResponse": {"type": "DIALOG", "dialogAction": {"actionStatus": status}}}


# ----- reading what a person sees (tests and limits) -----------------------------------------


def limit_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    if len(body.get("text") or "") > TEXT_LIMIT or len(body.get("fallbackText") or "") > TEXT_LIMIT:
        problems.append("text over 4096 characters")
    for entry in body.get("cardsV2") or []:
        widgets = sum(len(s.get("widgets") or []) for s in entry["card"].get("sections") or [])
        if widgets > WIDGETS_PER_CARD:
            problems.append(f"{entry.get('cardId')}: {widgets} widgets (at most 100)")
        if _size(entry) > CARD_BYTES:
            problems.append(f"{entry.get('cardId')}: over 32 KB")
    return problems
