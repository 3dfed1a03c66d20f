"""Outbound rendering: every card the core makes is drawn within the platform's limits, and
people's text is shown as written and never pings or links."""

from __future__ import annotations

import pytest

from bot.messages import (
    Button,
    Card,
    Fact,
    FieldKind,
    Form,
    FormField,
    Link,
    LinkButton,
    Message,
    Option,
)
from bot.platform.dialogs import FORM_OPENING_ACTIONS
from tests.contract.catalogue import HOSTILE, LONG_IDEA, Catalogue, catalogue
from tests.contract.harness import PlatformSession


@pytest.fixture(scope="session")
def cards() -> Catalogue:
    return catalogue()


def test_peoples_text_never_pings_or_links(platform: PlatformSession) -> None:
    message = Message(
        fallback=HOSTILE,
        cards=(Card(title=HOSTILE, text=HOSTILE, facts=(Fact(HOSTILE, HOSTILE),), footer=HOSTILE),),
    )
    native = platform.render(message)
    assert platform.pings(native) == []
    assert platform.limit_problems(native) == []
    # Shown as written: the words survive escaping (entities are decoded by readable_text).
    assert "<at>Everyone</at>" in platform.readable_text(native)


def test_a_text_only_message_with_hostile_text_never_pings(platform: PlatformSession) -> None:
    native = platform.render(Message.text(HOSTILE))
    assert platform.pings(native) == []
    assert "<!channel>" in platform.readable_text(native)


def test_nothing_the_core_puts_on_a_card_is_dropped(platform: PlatformSession) -> None:
    """Every part of a card reaches the person: its facts, its links, its link buttons, and a
    form inside it (inline, or behind a button that opens it: ``bot.platform.actions``)."""
    card = Card(
        title="Quarterly launch",
        text="Read the launch notes.",
        facts=(Fact("Owner", "Marketing"),),
        buttons=(
            Button("Share it", "share", {"n": "1"}),
            LinkButton("Open article", "https://example.com/a"),
        ),
        links=(Link("Launch notes", "https://example.com/notes"),),
        footer="Sent by the advocacy bot",
        form=Form("card_form", "Rate it", (FormField("stars", "Stars"),)),
    )
    readable = platform.readable_text(platform.render(Message(fallback="launch", cards=(card,))))
    for part in (
        "Quarterly launch",
        "Read the launch notes.",
        "Owner",
        "Marketing",
        "Share it",
        "Open article",
        "Launch notes",
        "Sent by the advocacy bot",
    ):
        assert part in readable, part
    assert "Rate it" in readable or "Stars" in readable


def test_a_very_long_card_is_kept_within_the_limits(platform: PlatformSession) -> None:
    card = Card(
        title=LONG_IDEA[:500],
        text=LONG_IDEA * 4,
        facts=tuple(Fact(f"Theme {n} {HOSTILE}", LONG_IDEA[:300]) for n in range(40)),
        buttons=tuple(Button(f"Vote {n} {HOSTILE}"[:75], "vote", {"n": str(n)}) for n in range(12)),
        footer=LONG_IDEA,
    )
    native = platform.render(Message(fallback=LONG_IDEA * 2, cards=(card,) * 30))
    assert platform.limit_problems(native) == []
    assert platform.pings(native) == []


def test_the_catalogue_holds_every_kind_of_card(cards: Catalogue) -> None:
    """The catalogue is what the core really sends: if it shrinks, the next test proves little."""
    kinds = {message.kind for _, message in cards.messages}
    assert len(cards.messages) > 100, len(cards.messages)
    assert len(kinds) > 5, kinds
    assert cards.forms
    buttons = [b for _, m in cards.messages for c in m.cards for b in c.buttons]
    assert any(isinstance(b, Button) for b in buttons)
    assert any(isinstance(b, LinkButton) for b in buttons)
    assert any(HOSTILE[:40] in str(m.to_dict()) for _, m in cards.messages)


def test_every_card_the_core_makes_is_within_the_limits_and_pings_no_one(
    cards: Catalogue, platform: PlatformSession
) -> None:
    problems: list[str] = []
    for origin, message in cards.messages:
        native = platform.render(message)
        problems += [f"{origin}: {p}" for p in platform.limit_problems(native)]
        problems += [f"{origin}: pings {p}" for p in platform.pings(native)]
        if message.fallback and not platform.readable_text(native).strip():
            problems.append(f"{origin}: nothing readable")
    assert problems == []


def test_every_form_the_core_opens_is_within_the_limits(
    cards: Catalogue, platform: PlatformSession
) -> None:
    problems: list[str] = []
    for origin, form in cards.forms:
        native = platform.render_form(form)
        problems += [f"{origin}: {p}" for p in platform.limit_problems(native)]
        problems += [f"{origin}: pings {p}" for p in platform.pings(native)]
        readable = platform.readable_text(native)
        problems += [
            f"{origin}: field {field.name} not shown"
            for field in form.fields
            if field.label.split()[0] not in readable
        ]
    assert problems == []


def test_a_form_with_hostile_labels_and_values_never_pings(platform: PlatformSession) -> None:
    form = Form(
        form_id="hostile",
        title=HOSTILE[:24],
        fields=(
            FormField("a", HOSTILE[:48], FieldKind.TEXT, initial=HOSTILE),
            FormField("b", "Pick", FieldKind.SELECT, options=(Option(HOSTILE[:70], "x"),)),
        ),
        context={"text": HOSTILE},
    )
    native = platform.render_form(form)
    assert platform.pings(native) == []
    assert platform.limit_problems(native) == []


def test_every_button_that_opens_a_form_is_known_as_one(cards: Catalogue) -> None:
    """Google Chat must mark a button that opens a dialog before it is pressed: the core's list
    of such actions (bot.platform.dialogs) holds every one whose press answered with a form."""
    assert cards.form_actions, "no press in the catalogue opened a form"
    assert cards.form_actions <= FORM_OPENING_ACTIONS
