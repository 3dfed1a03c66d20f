"""Platform-neutral inbound events and the reply the core gives to each.

Adapters parse platform payloads into these (pure functions), hand them to the core's
EventRouter and render the Reply with their platform's means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Form, Message


@dataclass(frozen=True)
class Actor:
    """Who did something, as the platform knows them."""

    platform: str
    user_id: str
    workspace: str = ""
    display_name: str | None = None
    timezone: str | None = None
    # The platform's locale tag for this person (``de-DE``, ``ja-JP``): a hint, see bot/i18n.
    locale: str | None = None


@dataclass(frozen=True)
class Event:
    actor: Actor
    # The platform's id for this delivery of the event; a retried delivery carries the same id.
    event_id: str | None = field(default=None, kw_only=True)
    conversation_id: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class MessageReceived(Event):
    text: str = ""


@dataclass(frozen=True)
class CommandInvoked(Event):
    """A slash command or its text equivalent: ``/suggest improve the status page``."""

    command: str = ""
    text: str = ""


@dataclass(frozen=True)
class ActionInvoked(Event):
    """A button pressed on a card. ``message_ref`` is the platform's reference to that card."""

    action_id: str = ""
    value: dict[str, Any] = field(default_factory=dict)
    message_ref: str | None = None


@dataclass(frozen=True)
class FormSubmitted(Event):
    form_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReactionAdded(Event):
    emoji: str = ""
    message_ref: str | None = None


@dataclass(frozen=True)
class ReactionRemoved(Event):
    emoji: str = ""
    message_ref: str | None = None


@dataclass(frozen=True)
class AppInstalled(Event):
    """The app was installed, or a member opened it for the first time."""


@dataclass(frozen=True)
class HomeOpened(Event):
    """A member opened the app's home (Slack's Home tab, a Teams personal tab)."""


@dataclass
class Reply:
    """What the core asks the adapter to show the actor in answer to an event.

    ``messages`` go to the actor (ephemeral where the platform allows), ``update`` replaces the
    card the action came from, ``form`` opens a modal or card form, ``error`` is one line.
    ``duplicate`` means the event changed nothing: a repeat, or a platform's retry.
    ``refresh_home`` says the event changed what the person's home shows (an answered idea
    leaves their queue): adapters with a home surface show it again.
    ``complete`` finishes the reply after the transaction has committed, for work that waits on
    the network (reading a page to fill a form in): no network call is made inside a transaction.
    ``locale`` is the language it is in (wrap the adapter's own words in ``speaking(locale)``).
    """

    messages: list[Message] = field(default_factory=list)
    update: Message | None = None
    form: Form | None = None
    error: str | None = None
    duplicate: bool = False
    refresh_home: bool = False
    complete: Callable[[], Awaitable[Reply]] | None = None
    # The language the reply was written in (the member's): what the adapter adds itself, and
    # the core's notes shown with it, are said in it too (set by the router).
    locale: str | None = None

    @classmethod
    def say(cls, text: str) -> Reply:
        return cls(messages=[Message.text(text)])

    @classmethod
    def fail(cls, text: str) -> Reply:
        return cls(error=text)
