"""A member's own commands: who they are to the bot, what they receive, and the way into the
web console."""

from __future__ import annotations

from bot.chat.context import ChatContext
from bot.chat.languages import language_preference, set_language
from bot.chat.parsing import split_words
from bot.compose.member_cards import preferences_message, role_name, whoami_message
from bot.console.invite import send_link_by_dm
from bot.events import Reply
from bot.i18n import _
from bot.services.preferences import (
    PreferenceChange,
    apply_preferences,
    describe_preferences,
    parse_preference_words,
)


async def whoami(ctx: ChatContext, text: str) -> Reply:
    return Reply(messages=[whoami_message(ctx.member)])


LANGUAGE_WORDS = ("language", "lang", "locale")


async def prefs(ctx: ChatContext, text: str) -> Reply:
    """Each member's own choices: what to mute, daily or weekly, quiet hours, the language."""
    words = split_words(text)
    said = []
    if words and words[0].lower() in LANGUAGE_WORDS:
        said.append(await set_language(ctx, " ".join(words[1:])))
    else:
        change = parse_preference_words(words)
        if change != PreferenceChange():
            await apply_preferences(ctx.session, ctx.member, change)
    described = [*describe_preferences(ctx.member), language_preference(ctx.member)]
    return Reply(messages=[*said, preferences_message(described)])


async def console(ctx: ChatContext, text: str) -> Reply:
    """A one-time link to the web console, sent by direct message (never in a channel)."""
    await send_link_by_dm(ctx.session, ctx.sealer, ctx.member, ctx.public_url)
    ctx.queued_messages = True
    return Reply.say(
        _(
            "I sent you a sign-in link by direct message. It works once, for 10 minutes. What "
            "you see there depends on your role ({role})."
        ).format(role=role_name(ctx.member.role))
    )
