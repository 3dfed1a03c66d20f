"""Replies: every platform shows a core ``Reply`` the one way (``bot.platform.show_reply``): its
form, then the card updated in place, then its messages, then its error; its home refreshed
when it says so; its messages only to the person where the platform allows."""

from __future__ import annotations

import pytest

from bot.events import ActionInvoked, Reply
from bot.messages import Message
from tests.contract.harness import (
    COMMAND,
    EPHEMERAL,
    FORM,
    HOME,
    MESSAGE,
    PRESS,
    UPDATE,
    UPDATE_BY_API,
    PlatformHarness,
    PlatformSession,
    Shown,
)
from tests.contract.helpers import accepted, answer_with, every_field_form, sent_card

TOLD = ("message", "ephemeral")


def told(shown: list[Shown]) -> list[Shown]:
    return [s for s in shown if s.kind in TOLD]


@pytest.mark.needs(MESSAGE)
async def test_a_reply_s_messages_are_shown_to_the_person_in_order(
    platform: PlatformSession,
) -> None:
    platform.recorder.script = answer_with(
        Reply(messages=[Message.text("first answer"), Message.text("second answer")])
    )
    assert accepted(await platform.say("alice", "hello"))
    await platform.settle()
    texts = [s.text for s in told(platform.shown("alice"))]
    first = next(i for i, t in enumerate(texts) if "first answer" in t)
    second = next(i for i, t in enumerate(texts) if "second answer" in t)
    assert first < second
    assert not any("answer" in s.text for s in platform.shown("bob"))


@pytest.mark.needs(MESSAGE)
async def test_a_reply_s_error_is_shown_as_every_platform_shows_it(
    platform: PlatformSession,
) -> None:
    platform.recorder.script = answer_with(Reply.fail("That idea is gone."))
    assert accepted(await platform.say("alice", "hello"))
    await platform.settle()
    assert [s for s in told(platform.shown("alice")) if "That idea is gone." in s.text]


@pytest.mark.needs(PRESS, UPDATE, FORM)
async def test_a_reply_shows_its_form_then_the_update_then_messages_then_the_error(
    platform: PlatformSession, harness: PlatformHarness
) -> None:
    sent = await sent_card(platform)
    platform.forget()
    platform.recorder.script = lambda event: (
        Reply(
            form=every_field_form(),
            update=Message.text("the card, now voted"),
            messages=[Message.text("thanks for voting")],
            error="but one thing went wrong",
        )
        if isinstance(event, ActionInvoked)
        else Reply()
    )
    assert accepted(await platform.press("alice", sent.platform_ref or "", "Vote for it"))
    await platform.settle()
    shown = platform.shown("alice")
    kinds = [s.kind for s in shown]
    assert "form" in kinds and "update" in kinds
    form = kinds.index("form")
    update = kinds.index("update")
    thanks = next(i for i, s in enumerate(shown) if "thanks for voting" in s.text)
    error = next(i for i, s in enumerate(shown) if "but one thing went wrong" in s.text)
    assert form < thanks < error
    if UPDATE_BY_API in harness.supports:
        assert form < update < thanks
    assert shown[form].kind == "form" and "Tell us more" in shown[form].text
    assert "the card, now voted" in shown[update].text
    assert shown[thanks].kind in TOLD and shown[error].kind in TOLD


@pytest.mark.needs(PRESS, UPDATE)
async def test_an_update_replaces_the_card_that_was_pressed(platform: PlatformSession) -> None:
    sent = await sent_card(platform)
    other = await sent_card(platform)
    platform.recorder.script = answer_with(Reply(update=Message.text("the card, now voted")))
    assert accepted(await platform.press("alice", sent.platform_ref or "", "Vote for it"))
    await platform.settle()
    [update] = [s for s in platform.shown("alice") if s.kind == "update"]
    assert "the card, now voted" in update.text
    # The card pressed, not another one.
    assert update.ref == sent.platform_ref != other.platform_ref


@pytest.mark.needs(PRESS, HOME)
async def test_a_reply_that_changed_the_home_refreshes_it(platform: PlatformSession) -> None:
    sent = await sent_card(platform)
    assert accepted(await platform.open_home("alice"))  # the home is there before it changes
    await platform.settle()
    platform.forget()
    platform.recorder.script = answer_with(Reply(refresh_home=True))
    assert accepted(await platform.press("alice", sent.platform_ref or "", "Vote for it"))
    await platform.settle()
    assert [s for s in platform.shown("alice") if s.kind == "home"]


@pytest.mark.needs(COMMAND, EPHEMERAL)
async def test_a_command_s_answer_is_seen_only_by_the_person(platform: PlatformSession) -> None:
    platform.recorder.script = answer_with(Reply(messages=[Message.text("only for you")]))
    assert accepted(await platform.command("alice", "prefs", ""))
    await platform.settle()
    [answer] = [s for s in platform.shown() if "only for you" in s.text]
    assert answer.kind == "ephemeral"
    assert answer in platform.shown("alice")
    assert answer not in platform.shown("bob")


@pytest.mark.needs(MESSAGE)
async def test_the_core_s_own_answer_is_shown(platform: PlatformSession) -> None:
    """No script: the real core answers (its help, for a greeting) and the person sees it."""
    assert accepted(await platform.say("alice", "help"))
    await platform.settle()
    assert told(platform.shown("alice"))
