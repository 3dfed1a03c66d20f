"""Inbound: each kind of event reaches the core once, as the neutral event, with its ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.emoji_names import reaction_name
from bot.events import (
    ActionInvoked,
    AppInstalled,
    CommandInvoked,
    Event,
    HomeOpened,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
    Reply,
)
from tests.contract.harness import (
    COMMAND,
    HOME,
    INSTALL,
    MESSAGE,
    PRESS,
    REACTION,
    RETRIES,
    SIGNED,
    PlatformHarness,
    PlatformSession,
)
from tests.contract.helpers import PRESS_VALUE, accepted, answer_with, sent_card


@pytest.mark.needs(MESSAGE)
async def test_a_message_reaches_the_core_as_written(
    harness: PlatformHarness, platform: PlatformSession
) -> None:
    status = await platform.say("alice", "hello there, bot")
    assert accepted(status)
    await platform.settle()
    [event] = platform.recorder.of_type(MessageReceived)
    assert event.text == "hello there, bot"
    assert event.actor.platform in platform.app.adapters
    assert event.actor.user_id
    # The platform's delivery id, where it redelivers (so a retry counts once).
    assert bool(event.event_id) or RETRIES not in harness.supports


@pytest.mark.needs(MESSAGE)
async def test_two_people_are_two_actors(platform: PlatformSession) -> None:
    platform.recorder.script = answer_with(Reply())
    assert accepted(await platform.say("alice", "from alice"))
    assert accepted(await platform.say("bob", "from bob"))
    await platform.settle()
    alice, bob = platform.recorder.of_type(MessageReceived)
    assert (alice.text, bob.text) == ("from alice", "from bob")
    assert alice.actor.user_id != bob.actor.user_id
    assert alice.actor.platform == bob.actor.platform


@pytest.mark.needs(COMMAND)
async def test_a_command_arrives_with_its_name_and_text(
    harness: PlatformHarness, platform: PlatformSession
) -> None:
    platform.recorder.script = answer_with(Reply())
    assert accepted(await platform.command("alice", "suggest", "a public status page, please"))
    await platform.settle()
    [event] = platform.recorder.of_type(CommandInvoked)
    assert event.command == "suggest"
    assert event.text == "a public status page, please"
    assert bool(event.event_id) or RETRIES not in harness.supports


@pytest.mark.needs(PRESS)
async def test_a_press_names_the_button_its_value_and_the_card_it_was_on(
    platform: PlatformSession,
) -> None:
    platform.recorder.script = answer_with(Reply())
    sent = await sent_card(platform)
    assert accepted(await platform.press("alice", sent.platform_ref or "", "Vote for it"))
    await platform.settle()
    [event] = platform.recorder.of_type(ActionInvoked)
    assert event.action_id == "contract_vote"
    assert event.value == PRESS_VALUE
    # The core finds the delivery, and so the card's subject, by this reference.
    assert event.message_ref == sent.platform_ref


@pytest.mark.needs(REACTION)
async def test_a_reaction_added_then_removed_names_the_emoji_and_the_card(
    platform: PlatformSession,
) -> None:
    platform.recorder.script = answer_with(Reply())
    sent = await sent_card(platform)
    assert accepted(await platform.react("alice", sent.platform_ref or "", "👍"))
    assert accepted(await platform.react("alice", sent.platform_ref or "", "👍", added=False))
    await platform.settle()
    [added] = platform.recorder.of_type(ReactionAdded)
    [removed] = platform.recorder.of_type(ReactionRemoved)
    for event in (added, removed):
        assert reaction_name(event.emoji) == "+1"
        assert event.message_ref == sent.platform_ref
    assert added.actor == removed.actor


@pytest.mark.needs(INSTALL)
async def test_an_install_arrives_once_as_app_installed(platform: PlatformSession) -> None:
    assert accepted(await platform.install("alice"))
    await platform.settle()
    [event] = platform.recorder.of_type(AppInstalled)
    assert event.actor.user_id


@pytest.mark.needs(HOME)
async def test_opening_the_home_arrives_and_draws_it(platform: PlatformSession) -> None:
    assert accepted(await platform.open_home("alice"))
    await platform.settle()
    [event] = platform.recorder.of_type(HomeOpened)
    assert event.actor.user_id
    assert [s for s in platform.shown("alice") if s.kind == "home"]


@dataclass(frozen=True)
class Doing:
    """One thing a person does, done again with the same delivery id by a retrying platform."""

    name: str
    event: type[Event]
    act: Callable[[PlatformSession, str, Any], Awaitable[int]]


async def _react(platform: PlatformSession, delivery: str, ref: Any) -> int:
    return await platform.react("alice", ref, "🎉", delivery_id=delivery)


async def _unreact(platform: PlatformSession, delivery: str, ref: Any) -> int:
    return await platform.react("alice", ref, "🎉", added=False, delivery_id=delivery)


DOINGS = [
    pytest.param(
        Doing(
            "message",
            MessageReceived,
            lambda p, d, ref: p.say("alice", "said once", delivery_id=d),
        ),
        marks=pytest.mark.needs(MESSAGE, RETRIES),
        id="message",
    ),
    pytest.param(
        Doing(
            "command",
            CommandInvoked,
            lambda p, d, ref: p.command("alice", "suggest", "once", delivery_id=d),
        ),
        marks=pytest.mark.needs(COMMAND, RETRIES),
        id="command",
    ),
    pytest.param(
        Doing(
            "press",
            ActionInvoked,
            lambda p, d, ref: p.press("alice", ref, "Vote for it", delivery_id=d),
        ),
        marks=pytest.mark.needs(PRESS, RETRIES),
        id="press",
    ),
    pytest.param(
        Doing("reaction added", ReactionAdded, _react),
        marks=pytest.mark.needs(REACTION, RETRIES),
        id="reaction-added",
    ),
    pytest.param(
        Doing("reaction removed", ReactionRemoved, _unreact),
        marks=pytest.mark.needs(REACTION, RETRIES),
        id="reaction-removed",
    ),
    pytest.param(
        Doing("install", AppInstalled, lambda p, d, ref: p.install("alice", delivery_id=d)),
        marks=pytest.mark.needs(INSTALL, RETRIES),
        id="install",
    ),
    pytest.param(
        Doing("home", HomeOpened, lambda p, d, ref: p.open_home("alice", delivery_id=d)),
        marks=pytest.mark.needs(HOME, RETRIES),
        id="home",
    ),
]


@pytest.mark.parametrize("doing", DOINGS)
async def test_a_redelivery_with_the_same_id_counts_once(
    platform: PlatformSession, doing: Doing
) -> None:
    platform.recorder.script = answer_with(Reply())
    sent = await sent_card(platform)
    for _ in range(3):
        assert accepted(await doing.act(platform, "delivery-1", sent.platform_ref))
    await platform.settle()
    assert len(platform.recorder.of_type(doing.event)) == 1, doing.name
    # A new delivery of the same thing is a new event.
    assert accepted(await doing.act(platform, "delivery-2", sent.platform_ref))
    await platform.settle()
    assert len(platform.recorder.of_type(doing.event)) == 2, doing.name


@pytest.mark.needs(MESSAGE, SIGNED)
async def test_forged_and_expired_requests_are_refused_and_reach_nothing(
    platform: PlatformSession,
) -> None:
    assert await platform.forged() in (401, 403)
    assert await platform.expired() in (401, 403)
    await platform.settle()
    assert platform.recorder.events == []
    assert platform.shown() == []
