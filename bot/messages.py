"""Platform-neutral outbound messages: a card model every adapter renders natively.

All text here is plain text. Adapters escape it for their platform (Slack mrkdwn, Teams
markdown, the terminal), so text written by employees or customers can never ping a channel,
inject a link or break a card. Links are separate structures, never markup inside text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from bot.i18n import _


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


class FieldKind(StrEnum):
    TEXT = "text"
    MULTILINE = "multiline"
    SELECT = "select"
    CHECKBOX = "checkbox"
    # A conversation on the platform (Slack renders a channel picker; the value is its id).
    CONVERSATION = "conversation"


@dataclass(frozen=True)
class Button:
    """Invokes ``action_id`` in the core with ``value`` when pressed."""

    label: str
    action_id: str
    value: dict[str, Any] = field(default_factory=dict)
    style: ButtonStyle = ButtonStyle.DEFAULT
    selected: bool = False


@dataclass(frozen=True)
class LinkButton:
    """Opens ``url`` in the browser. With ``track`` ({"subject", "network"}), the click goes
    through the bot's redirect first, which counts it for the item, member and network."""

    label: str
    url: str
    track: dict[str, str] | None = None


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Fact:
    """A label and value pair shown as a field of the card."""

    label: str
    value: str


@dataclass(frozen=True)
class Option:
    label: str
    value: str


@dataclass(frozen=True)
class FormField:
    """One field of a form. A checkbox starts ticked when ``initial`` is CHECKED."""

    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    max_length: int | None = None
    placeholder: str = ""
    initial: str = ""
    options: tuple[Option, ...] = ()


CHECKED = "true"


@dataclass(frozen=True)
class Form:
    """A modal (Slack) or card form (Teams); submitting it raises a FormSubmitted event."""

    form_id: str
    title: str
    fields: tuple[FormField, ...]
    # Translated when the form is made, in the language then spoken.
    submit_label: str = field(default_factory=lambda: _("Submit"))
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Card:
    title: str
    text: str = ""
    facts: tuple[Fact, ...] = ()
    image_url: str | None = None
    image_alt: str = ""
    buttons: tuple[Button | LinkButton, ...] = ()
    links: tuple[Link, ...] = ()
    footer: str = ""
    # What the card is about ("content:12"), so feedback on it can be recorded and shown.
    subject: str | None = None
    # A form inside the card (Teams card inputs, Slack input blocks, prompts in the shell).
    form: Form | None = None


@dataclass(frozen=True)
class Message:
    """What the bot sends: cards, and the plain text shown by notifications and old clients."""

    fallback: str
    cards: tuple[Card, ...] = ()
    kind: str = "notice"
    # What the whole message is about ("digest_run:7"): where reactions and comments count.
    subject: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The message as plain data. Computed once per message (a digest is sent to thousands of
        people): treat the result as read-only."""
        return self._as_dict

    @cached_property
    def _as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            fallback=data["fallback"],
            kind=data.get("kind", "notice"),
            subject=data.get("subject"),
            cards=tuple(_card_from_dict(card) for card in data.get("cards", ())),
        )

    @classmethod
    def text(cls, text: str, kind: str = "notice") -> Message:
        return cls(fallback=text, kind=kind)


def _card_from_dict(data: dict[str, Any]) -> Card:
    return Card(
        title=data["title"],
        text=data.get("text", ""),
        facts=tuple(Fact(**fact) for fact in data.get("facts", ())),
        image_url=data.get("image_url"),
        image_alt=data.get("image_alt", ""),
        buttons=tuple(_button_from_dict(button) for button in data.get("buttons", ())),
        links=tuple(Link(**link) for link in data.get("links", ())),
        footer=data.get("footer", ""),
        subject=data.get("subject"),
        form=form_from_dict(data["form"]) if data.get("form") else None,
    )


def _button_from_dict(data: dict[str, Any]) -> Button | LinkButton:
    if "url" in data:
        return LinkButton(label=data["label"], url=data["url"], track=data.get("track"))
    return Button(
        label=data["label"],
        action_id=data["action_id"],
        value=dict(data.get("value", {})),
        style=ButtonStyle(data.get("style", "default")),
        selected=bool(data.get("selected", False)),
    )


def form_from_dict(data: dict[str, Any]) -> Form:
    return Form(
        form_id=data["form_id"],
        title=data["title"],
        submit_label=data.get("submit_label", "Submit"),
        context=dict(data.get("context", {})),
        fields=tuple(
            FormField(
                name=f["name"],
                label=f["label"],
                kind=FieldKind(f.get("kind", "text")),
                required=bool(f.get("required", False)),
                max_length=f.get("max_length"),
                placeholder=f.get("placeholder", ""),
                initial=f.get("initial", ""),
                options=tuple(Option(**option) for option in f.get("options", ())),
            )
            for f in data.get("fields", ())
        ),
    )


def subject_key(subject_type: str, subject_id: int) -> str:
    return f"{subject_type}:{subject_id}"


def parse_subject(subject: str) -> tuple[str, int]:
    subject_type, _colon, raw_id = subject.partition(":")
    return subject_type, int(raw_id)
