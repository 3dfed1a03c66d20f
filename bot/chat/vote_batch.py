"""Vote presses written many to a transaction, in one trip to the database.

Under a burst of clicks, a vote handled on its own costs about ten statements, each a round trip
from the event loop to the database's thread and back that waits for the loop's next turn, all
inside the one SQLite write lock: measured, 30 to 80 votes a second. Here the presses waiting at
the same moment are written together: one transaction checks each voter and idea, marks each
inbox event done and counts each vote (``record_vote``, the one place a vote is written), with no
hop back to the loop between statements; the replies go out after the commit, never inside it.

Once-only still holds: an event's done marker is written in the same transaction as its vote,
so a redelivered event, or one handled again after a kill -9 between the commit and the reply,
finds its marker and counts nothing. Only the plain case is batched (a known, active member
pressing Vote on a card the outbox sent, on an idea open for votes); anything else (a first
contact, a closed idea, a card still in flight) and every press of a batch whose transaction
failed are handed back (None) and take the usual path, one transaction each, which tells the
person what is wrong or tries again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.domain import OPEN_SUGGESTION_STATUSES
from bot.events import ActionInvoked
from bot.i18n.locales import normalize_locale
from bot.inbox import Receipt
from bot.inbox.items import mark_all_done_in
from bot.services.suggestion_evidence import EvidenceSummary, Scrub, evidence_summaries_in
from bot.services.suggestions import record_votes
from bot.storage.database import Database
from bot.storage.models import Delivery, Member, MemberIdentity, Suggestion

log = logging.getLogger(__name__)

# Presses written in one transaction at most: the write lock is held for about a millisecond a
# vote, so other writers wait at most a fraction of a second behind a batch.
MAX_BATCH = 200


@dataclass
class Ballot:
    """One Vote press waiting for its batch."""

    event: ActionInvoked
    receipt: Receipt
    suggestion_id: int
    written: asyncio.Future[Written | None]


@dataclass(frozen=True)
class Written:
    """What the batch recorded for one press, for its reply."""

    repeat_event: bool  # the event was handled before (a platform's retry): nothing to say
    locale: str | None = None
    suggestion: Suggestion | None = None
    counted: bool = False
    count: int = 0
    in_channel: bool = False
    evidence: EvidenceSummary | None = None


class VoteBatcher:
    """Gathers Vote presses and writes them in batches: while one batch is written, the next
    gathers."""

    def __init__(self, db: Database, scrub: Callable[[], Scrub | None]) -> None:
        self.db = db
        self.scrub = scrub
        self._waiting: list[Ballot] = []
        self._writing: asyncio.Task[None] | None = None

    async def cast(
        self, event: ActionInvoked, receipt: Receipt, suggestion_id: int
    ) -> Written | None:
        """Write this press with the others waiting; None: take the usual path instead."""
        written: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(Ballot(event, receipt, suggestion_id, written))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting(), name="vote-batch")
        # Shielded: a handler cancelled while its batch commits must not cancel the batch.
        return await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[: len(batch)]
            results: list[Written | None] = [None] * len(batch)
            try:
                results = await self.db.run_in_one_trip(
                    partial(write_ballots, ballots=batch, scrub=self.scrub())
                )
            except Exception as error:
                # Nothing of the batch was written: each press goes the usual way, on its own.
                log.warning(
                    "a batch of %d vote(s) could not be written (%s: %s); each is handled on "
                    "its own",
                    len(batch),
                    type(error).__name__,
                    error,
                )
            finally:
                for ballot, result in zip(batch, results, strict=True):
                    if result is not None and not result.repeat_event:
                        ballot.receipt.done = True  # its marker committed with the vote
                    if not ballot.written.done():
                        ballot.written.set_result(result)


def write_ballots(
    connection: Connection, *, ballots: list[Ballot], scrub: Scrub | None
) -> list[Written | None]:
    """The batch's transaction (synchronous: one trip to the database), a few statements for
    the whole batch; None for a press to be handled the usual way, nothing of it written here."""
    session = Session(bind=connection, autoflush=False, expire_on_commit=False)
    try:
        members = _members(connection, ballots)
        channels = _channels(connection, ballots)
        wanted = {ballot.suggestion_id for ballot in ballots}
        ideas = {
            idea.id: idea
            for idea in session.scalars(select(Suggestion).where(Suggestion.id.in_(wanted)))
            .unique()
            .all()
        }
        taken: list[tuple[int, Any, bool, Suggestion]] = []
        for index, ballot in enumerate(ballots):
            actor = ballot.event.actor
            member = members.get((actor.platform, actor.workspace, actor.user_id))
            in_channel = channels.get((actor.platform, ballot.event.message_ref or ""))
            idea = ideas.get(ballot.suggestion_id)
            if _takes(ballot, member, in_channel, idea):
                assert in_channel is not None and idea is not None
                taken.append((index, member, in_channel, idea))
        marked = mark_all_done_in(connection, [ballots[index].receipt for index, *_ in taken])
        counting = [entry for entry, first in zip(taken, marked, strict=True) if first]
        counts = record_votes(session, [(idea.id, member.id) for _, member, _, idea in counting])
        results: list[Written | None] = [None] * len(ballots)
        for (index, *_), first in zip(taken, marked, strict=True):
            if not first:
                results[index] = Written(repeat_event=True)
        latest: dict[int, int] = {}
        for (index, member, in_channel, idea), (counted, count) in zip(
            counting, counts, strict=True
        ):
            latest[idea.id] = max(latest.get(idea.id, 0), count)
            results[index] = Written(
                repeat_event=False,
                locale=member.locale,
                suggestion=idea,
                counted=counted,
                count=count,
                in_channel=in_channel,
            )
        for idea_id, count in latest.items():
            set_committed_value(ideas[idea_id], "vote_count", count)  # the latest, for cards
        evidence = evidence_summaries_in(session, [ideas[i] for i in latest], scrub)
        return [_with_evidence(r, evidence) if r is not None else None for r in results]
    finally:
        session.close()


def _members(connection: Connection, ballots: list[Ballot]) -> dict[tuple[str, str, str], Any]:
    """The voters who are members already, by (platform, workspace, user id)."""
    found: dict[tuple[str, str, str], Any] = {}
    for platform in {ballot.event.actor.platform for ballot in ballots}:
        users = {b.event.actor.user_id for b in ballots if b.event.actor.platform == platform}
        rows = connection.execute(
            select(
                MemberIdentity.workspace,
                MemberIdentity.user_id,
                Member.id,
                Member.locale,
                Member.locale_chosen,
                Member.left_at,
            )
            .join(Member, MemberIdentity.member_id == Member.id)
            .where(MemberIdentity.platform == platform, MemberIdentity.user_id.in_(users))
        )
        for row in rows:
            found[(platform, row.workspace, row.user_id)] = row
    return found


def _channels(connection: Connection, ballots: list[Ballot]) -> dict[tuple[str, str], bool]:
    """For each pressed card the outbox sent: whether it went to a channel (or a DM)."""
    found: dict[tuple[str, str], bool] = {}
    for platform in {ballot.event.actor.platform for ballot in ballots}:
        refs = {b.event.message_ref or "" for b in ballots if b.event.actor.platform == platform}
        rows = connection.execute(
            select(Delivery.platform_ref, Delivery.channel).where(
                Delivery.platform == platform, Delivery.platform_ref.in_(refs)
            )
        )
        for ref, channel in rows:
            found.setdefault((platform, ref), bool(channel))
    return found


def _takes(ballot: Ballot, member: Any, in_channel: bool | None, idea: Suggestion | None) -> bool:
    """Whether the batch can take this press: the plain case only."""
    if member is None or member.left_at is not None:
        return False  # a first contact or a comeback: resolve_actor writes the member
    locale = normalize_locale(ballot.event.actor.locale)
    if locale is not None and not member.locale_chosen and member.locale != locale:
        return False  # their language changed in the platform: resolve_actor follows it
    if in_channel is None:
        return False  # a card still in flight: the usual path finds it among the member's
    return not (  # else the usual path says why votes are closed
        idea is None
        or idea.duplicate_of_id is not None
        or idea.hidden_at is not None
        or idea.status not in OPEN_SUGGESTION_STATUSES
    )


def _with_evidence(result: Written, evidence: dict[int, EvidenceSummary]) -> Written:
    if result.suggestion is None:
        return result
    found = evidence.get(result.suggestion.id)
    if found is None:
        return result
    return Written(
        result.repeat_event,
        result.locale,
        result.suggestion,
        result.counted,
        result.count,
        result.in_channel,
        found,
    )
