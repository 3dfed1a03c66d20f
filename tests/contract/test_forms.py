"""Forms round-trip: a form a reply opens is shown with every field, filled in as the platform
lets a person fill it, and arrives as one ``FormSubmitted`` with those values and its context."""

from __future__ import annotations

import pytest

from bot.chat.parsing import truthy
from bot.events import CommandInvoked, FormSubmitted, Reply
from tests.contract.catalogue import Catalogue, catalogue
from tests.contract.harness import COMMAND, FORM, RETRIES, PlatformSession
from tests.contract.helpers import accepted, every_field_form

# People's text at length (surrounding spaces are the platform's to trim).
LONG = ("A long answer, with <!channel> and [a link](http://evil.example). " * 40)[:2900].strip()


async def _open_form(platform: PlatformSession) -> None:
    form = every_field_form()
    platform.recorder.script = lambda event: (
        Reply(form=form) if isinstance(event, CommandInvoked) else Reply()
    )
    assert accepted(await platform.command("alice", "suggest", ""))
    await platform.settle()


@pytest.mark.needs(COMMAND, FORM)
async def test_a_form_is_shown_with_every_field(platform: PlatformSession) -> None:
    await _open_form(platform)
    [shown] = [s for s in platform.shown("alice") if s.kind == "form"]
    for label in ("Tell us more", "Title", "Details", "Status", "Send anonymously"):
        assert label in shown.text
    assert platform.limit_problems(platform.render_form(every_field_form())) == []


@pytest.mark.needs(COMMAND, FORM)
async def test_a_filled_in_form_arrives_with_its_values_and_context(
    platform: PlatformSession,
) -> None:
    await _open_form(platform)
    status = await platform.submit(
        "alice",
        {"title": "A status page", "details": LONG, "status": "planned", "anonymous": True},
    )
    assert accepted(status)
    await platform.settle()
    [event] = platform.recorder.of_type(FormSubmitted)
    assert event.form_id == "contract_form"
    assert event.context == {"idea": 42, "from": "contract"}
    values = event.values
    assert values["title"] == "A status page"
    assert values["details"] == LONG
    assert values["status"] == "planned"
    assert truthy(values["anonymous"]) is True
    # Fields left alone keep their initial values.
    assert truthy(values.get("public")) is True
    assert not values.get("channel")


@pytest.mark.needs(COMMAND, FORM)
async def test_initial_values_are_submitted_when_left_alone(platform: PlatformSession) -> None:
    await _open_form(platform)
    assert accepted(await platform.submit("alice", {"title": "Only the title"}))
    await platform.settle()
    [event] = platform.recorder.of_type(FormSubmitted)
    assert event.values["title"] == "Only the title"
    assert event.values["details"] == "As it was"
    assert event.values["status"] == "under_review"
    assert truthy(event.values.get("anonymous", False)) is False
    assert truthy(event.values.get("public")) is True


@pytest.mark.needs(COMMAND, FORM, RETRIES)
async def test_a_resubmitted_form_counts_once(platform: PlatformSession) -> None:
    await _open_form(platform)
    for _ in range(2):
        assert accepted(await platform.submit("alice", {"title": "Once"}, delivery_id="form-1"))
    await platform.settle()
    assert len(platform.recorder.of_type(FormSubmitted)) == 1


def test_no_form_the_core_makes_says_optional_itself() -> None:
    """Slack and Google Chat mark optional fields themselves, the shell and Teams mark the
    required ones: a label that says "(optional)" reads it twice on two platforms."""
    cards: Catalogue = catalogue()
    labels = [f.label for _, form in cards.forms for f in form.fields]
    assert labels
    assert [label for label in labels if "optional" in label.lower()] == []
