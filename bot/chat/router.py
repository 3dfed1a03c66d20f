"""The EventRouter: the one entry point through which every adapter hands events to the core.

Each event is handled in one transaction: the inbox item marked done (or, for an event handled
in its request, its keyed id recorded so a platform's retry counts once), the member resolved
(created on first contact), the handler run. Metrics are counted only after the commit,
so they reflect what was really recorded. Logs name the event type and platform, never the
person: an anonymous idea must not be traceable through the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chart_links import ChartLinks
from bot.chat.catalogue import closest_command, known
from bot.chat.commands import help_command, run_command
from bot.chat.context import ChatContext
from bot.chat.help import help_message
from bot.chat.home import home_message
from bot.chat.interactions import ACTIONS, FORMS, reaction
from bot.chat.parsing import MAX_ID, split_command
from bot.chat.suggestion_commands import vote_reply
from bot.chat.vote_batch import VoteBatcher, Written
from bot.chat.vote_preview import VotePreview, preview_vote
from bot.compose.actions import SUGGESTION_VOTE
from bot.config import ChannelRef
from bot.errors import DomainError, InvalidInput
from bot.events import (
    ActionInvoked,
    AppInstalled,
    CommandInvoked,
    Event,
    FormSubmitted,
    HomeOpened,
    MessageReceived,
    ReactionAdded,
    ReactionRemoved,
    Reply,
)
from bot.i18n import L_, _, current_locale, speaking, use_locale
from bot.inbox import Receipt, RetryLater
from bot.links import TrackedLinks
from bot.metrics import Metrics
from bot.plugins import Extensions
from bot.sealing import Sealer
from bot.services.members import resolve_actor
from bot.storage.database import Database
from bot.storage.models import InboxEvent
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore
from bot.text_safety import first_unstorable

log = logging.getLogger(__name__)

# Fewer than the database pool holds (5 + 10), leaving connections for the outbox and the web.
CONCURRENT_EVENTS = 8
CONCURRENT_PREVIEWS = 4

UNEXPECTED = L_(
    "Something went wrong on our side; it has been logged. Please try again in a minute."
)


class EventRouter:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        metrics: Metrics,
        *,
        suggestion_channels: tuple[ChannelRef, ...] = (),
        extensions: Extensions | None = None,
        on_queued: Callable[[], None] | None = None,
        charts: ChartLinks | None = None,
        public_url: str = "http://localhost:3978",
        links: TrackedLinks | None = None,
        answer_after: timedelta = timedelta(days=7),
    ) -> None:
        self.answer_after = answer_after
        self.charts = charts
        self.links = links
        self.public_url = public_url
        self.suggestion_channels = suggestion_channels
        self.extensions = extensions or Extensions()
        self.db = db
        self.sealer = sealer
        self.metrics = metrics
        self.on_queued = on_queued
        # Events wait here for a turn rather than for a pooled connection, which gives up after
        # 30 s: under a burst, work acknowledged to the platform is queued, not lost.
        self._turns = asyncio.Semaphore(CONCURRENT_EVENTS)
        # Previews read on connections of the same pool: a burst of presses must not take
        # the connections the events' writes need.
        self._previews = asyncio.Semaphore(CONCURRENT_PREVIEWS)
        # Vote presses from the inbox, many to a transaction (see vote_batch).
        self.votes = VoteBatcher(db, lambda: self.extensions.scrubber)

    async def handle(self, event: Event, receipt: Receipt | None = None) -> Reply:
        """Handle one event in one transaction. With an inbox ``receipt``, the inbox item is
        marked done in that same transaction (de-duplication happened when it was accepted);
        without one, the event's id is recorded there so a platform's retry counts once.

        The reply is in the member's language; the next event starts from the default again."""
        with speaking(None):
            reply = await self._handle(event, receipt)
            # Still the member's language here: the adapter says its own words in it too.
            return reply if reply.locale else replace(reply, locale=current_locale())

    async def _handle(self, event: Event, receipt: Receipt | None) -> Reply:
        kind = type(event).__name__
        platform = event.actor.platform
        ballot = batched_vote(event) if receipt is not None else None
        if ballot is not None and receipt is not None:
            written = await self.votes.cast(ballot, receipt, batched_suggestion(ballot))
            if written is not None:
                return self._voted(ballot, written)
        try:
            async with self._turns, self.db.transaction() as session:
                if receipt is not None:
                    first = await receipt.mark_done(session)
                elif event.event_id:
                    first = await self._first_time(session, platform, event.event_id)
                else:
                    first = True
                if not first:
                    self.metrics.events.labels(
                        platform=platform, type=kind, outcome="duplicate"
                    ).inc()
                    log.debug("%s from %s ignored: already processed", kind, platform)
                    return Reply(duplicate=True)
                member = await resolve_actor(session, event.actor)
                # Everything said from here on (and by ``reply.complete``) is in their language.
                use_locale(member.locale)
                ctx = ChatContext(
                    session,
                    member,
                    event,
                    self.sealer,
                    self.metrics,
                    suggestion_channels=self.suggestion_channels,
                    extensions=self.extensions,
                    charts=self.charts,
                    public_url=self.public_url,
                    links=self.links,
                    answer_after=self.answer_after,
                )
                reply = await self._dispatch(ctx)
        except DomainError as error:
            self.metrics.events.labels(platform=platform, type=kind, outcome="refused").inc()
            return Reply.fail(error.message)
        except Exception as error:
            if receipt is not None and not receipt.last_attempt:
                # Acknowledged work is not dropped: the inbox tries it again (the database may
                # have gone away for a moment); the person hears only if every attempt fails.
                self.metrics.events.labels(platform=platform, type=kind, outcome="retried").inc()
                raise RetryLater(f"{kind} failed: {type(error).__name__}: {error}") from error
            self.metrics.events.labels(platform=platform, type=kind, outcome="error").inc()
            log.exception("%s from %s failed", kind, platform)
            if receipt is not None:
                receipt.failed = True
            return Reply.fail(str(UNEXPECTED))
        for callback in ctx.after_commit:
            callback()
        if ctx.queued_messages and self.on_queued is not None:
            self.on_queued()
        self.metrics.events.labels(platform=platform, type=kind, outcome="handled").inc()
        if reply.complete is not None:
            reply = await self._complete(reply)
        return reply

    async def preview_vote(
        self, event: ActionInvoked, *, pending: bool = False
    ) -> VotePreview | None:
        """What a Vote press will show once written, read without writing (``vote_preview``):
        for a platform that answers the press before the inbox's worker writes it."""
        async with self._previews:
            return await preview_vote(self.db, event, extensions=self.extensions, pending=pending)

    def _voted(self, event: ActionInvoked, written: Written) -> Reply:
        """The reply to a vote its batch wrote (the same as ``vote_button`` gives)."""
        platform, kind = event.actor.platform, type(event).__name__
        if written.repeat_event:
            self.metrics.events.labels(platform=platform, type=kind, outcome="duplicate").inc()
            return Reply(duplicate=True)
        assert written.suggestion is not None
        use_locale(written.locale)
        reply = vote_reply(
            written.suggestion,
            written.counted,
            written.count,
            written.in_channel,
            written.evidence,
        )
        self.metrics.events.labels(platform=platform, type=kind, outcome="handled").inc()
        return reply

    async def _complete(self, reply: Reply) -> Reply:
        """Finish a reply outside any transaction (it may wait on the network)."""
        assert reply.complete is not None
        try:
            return await reply.complete()
        except DomainError as error:
            return Reply.fail(error.message)
        except Exception:
            log.exception("finishing a reply failed")
            return replace(reply, complete=None)

    async def _first_time(self, session: AsyncSession, platform: str, event_id: str) -> bool:
        """Record a handled event by its keyed id; False when it was handled before."""
        now = utcnow()
        return await insert_ignore(
            session,
            InboxEvent.__table__,
            {
                "event_key": self.sealer.event_key(platform, event_id),
                "platform": platform,
                "kind": "direct",
                "status": "done",
                "attempts": 1,
                "next_attempt_at": now,
                "received_at": now,
                "handled_at": now,
            },
        )

    async def _dispatch(self, ctx: ChatContext) -> Reply:
        event = ctx.event
        problem = first_unstorable(
            getattr(event, name, None) for name in ("text", "value", "values", "context")
        )
        if problem:  # PostgreSQL would refuse it, deep inside the handler's transaction
            # Translators: {problem} says what is wrong ("contains a NUL character").
            raise InvalidInput(
                _(
                    "What you sent {problem}, which cannot be stored; remove it and send it again."
                ).format(problem=problem)
            )
        if isinstance(event, CommandInvoked):
            return await run_command(ctx, event.command, event.text)
        if isinstance(event, MessageReceived):
            name, text = split_command(event.text)
            if known(name) or name == "advocacy":
                return await run_command(ctx, name, text)
            guess = closest_command(name, ctx.member.role) if name else None
            if guess is not None:  # "sugest more coffee", in a chat where commands need no slash
                return Reply.say(
                    _("Did you mean {command}? Type /help to see what I can do.").format(
                        command=f"/{guess}"
                    )
                )
            return Reply.say(
                _(
                    "I answer commands; type /help to see them. To send an idea, "
                    "write /suggest followed by your idea."
                )
            )
        if isinstance(event, ActionInvoked):
            handler = ACTIONS.get(event.action_id)
            if handler is None:
                return Reply.fail(_("This button is no longer supported; ask for a fresh card."))
            return await handler(ctx, event)
        if isinstance(event, FormSubmitted):
            form_handler = FORMS.get(event.form_id)
            if form_handler is None:
                return Reply.fail(_("This form is no longer supported; open it again."))
            return await form_handler(ctx, event)
        if isinstance(event, ReactionAdded | ReactionRemoved):
            return await reaction(
                ctx, event.message_ref, event.emoji, isinstance(event, ReactionAdded)
            )
        if isinstance(event, HomeOpened):
            return Reply(messages=[await home_message(ctx)])
        if isinstance(event, AppInstalled):
            return Reply(messages=[help_message(ctx.member.role)])
        return await help_command(ctx, "")


def batched_vote(event: Event) -> ActionInvoked | None:
    """A Vote press on a card, with a value that needs no checking: written in a batch."""
    if not isinstance(event, ActionInvoked) or event.action_id != SUGGESTION_VOTE:
        return None
    if not event.message_ref or batched_suggestion(event) <= 0:
        return None
    if first_unstorable(getattr(event, name, None) for name in ("value", "context")):
        return None
    return event


def batched_suggestion(event: ActionInvoked) -> int:
    """The idea a Vote press names (0 when it names none: the usual path says so)."""
    value = str(event.value.get("suggestion", ""))
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        return 0
    return int(value)
