"""Bottom-up suggestions: filing (optionally anonymous), votes, manager answers, and telling the
author what became of the idea.

An anonymous suggestion stores no author id, only a reference sealed with the server's key; it
is opened for one purpose, to queue a notice to the author, and that delivery is sealed too. Its
team is where it is shown, which is its author's only when that team is large enough to hide her
(bot/services/anonymous_scope.py), and its times are kept to the hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.compose.notices import answer_notice
from bot.compose.suggestion_cards import announcement
from bot.config import ChannelRef
from bot.domain import OPEN_SUGGESTION_STATUSES, Role, SuggestionStatus, parse_enum
from bot.errors import InvalidInput, NotFound, PermissionDenied, concerning
from bot.i18n import N_, _
from bot.outbox.queue import Recipient, enqueue
from bot.sealing import Sealer, SealError
from bot.services.anonymous_scope import coarse_time, load_team_scopes
from bot.services.content import validate_url
from bot.services.members import managed_team_ids
from bot.services.objectives import get_objective
from bot.services.permissions import Acting, Operator, actor_id, require_role
from bot.services.promises import Promise, carried_over, check_promise, record_promise
from bot.services.suggestion_audience import (
    responder_name,
    tell_author,
    tell_everyone_concerned,
)
from bot.services.suggestion_evidence import EvidenceMatcher, EvidenceSummary, record_evidence
from bot.storage.models import (
    DecisionReview,
    Member,
    Suggestion,
    SuggestionResponse,
    SuggestionVote,
)
from bot.storage.types import utcnow

MAX_SUGGESTION = 3000
MAX_ANSWER = 3000
OPEN_STATUSES = OPEN_SUGGESTION_STATUSES


def validate_text(text: str, limit: int, what: str) -> str:
    value = text.strip()
    if not value:
        raise InvalidInput(_(EMPTY[what]))
    if len(value) > limit:
        raise InvalidInput(_(TOO_LONG[what]).format(count=len(value), limit=limit))
    return value


# What ``validate_text`` says of each text it checks.
EMPTY = {
    "suggestion": N_("The suggestion is empty; write what you have in mind."),
    "answer": N_("The answer is empty; write what you have in mind."),
    "reason for hiding it": N_("The reason for hiding it is empty; write what you have in mind."),
}
TOO_LONG = {
    "suggestion": N_(
        "The suggestion has {count} characters; the limit is {limit}. Shorten it and resend."
    ),
    "answer": N_("The answer has {count} characters; the limit is {limit}. Shorten it and resend."),
    "reason for hiding it": N_(
        "The reason for hiding it has {count} characters; the limit is {limit}. "
        "Shorten it and resend."
    ),
}


async def file_suggestion(
    session: AsyncSession,
    sealer: Sealer,
    author: Member,
    text: str,
    *,
    platform: str,
    objective_key: str | None = None,
    anonymous: bool = False,
    source_url: str | None = None,
    evidence: EvidenceMatcher | None = None,
) -> Suggestion:
    """File an idea; with ``evidence``, the customer voice that says the same is found and
    stored with it (read before the idea is written, so the write is short)."""
    text = validate_text(text, MAX_SUGGESTION, "suggestion")
    source_url = validate_url(source_url) if source_url else None
    objective = await get_objective(session, objective_key) if objective_key else None
    team_id = author.team_id
    filed_at = utcnow()
    if anonymous:
        # Shown under a group large enough to hide the author, and stamped to the hour, so that
        # neither the team nor the moment points at her.
        team_id = (await load_team_scopes(session)).place(author.team_id)
        filed_at = coarse_time(filed_at)
        # Nor the message it was made from: "Turn into suggestion" on her own message would
        # link to her name.
        source_url = None
    matches = await evidence.for_idea(session, text, utcnow()) if evidence is not None else []
    suggestion = Suggestion(
        text=text,
        anonymous=anonymous,
        author_id=None if anonymous else author.id,
        sealed_author=sealer.seal({"member": author.id}) if anonymous else None,
        contributor_tag=sealer.seal_contributor(author.id) if anonymous else None,
        team_id=team_id,
        objective_id=objective.id if objective else None,
        status=SuggestionStatus.NEW,
        platform=platform,
        source_url=source_url,
        created_at=filed_at,
        updated_at=filed_at,
    )
    session.add(suggestion)
    await session.flush()
    if matches:
        await record_evidence(session, suggestion.id, matches)
    # Load team, objective and author now: async code cannot lazy-load them later.
    await session.refresh(suggestion)
    return suggestion


async def reseal_anonymous_ideas(session: AsyncSession, sealer: Sealer) -> int:
    """Anonymous ideas filed before migration 0010 lost their plain contributor tags, and their
    sealed author references still show the second they were made. Seal both again with the
    server's key (undated, a sealed tag each), so that rollups count their authors as people
    again. The author is opened here only to be sealed again; nothing leaves this function.
    Returns how many ideas were sealed again."""
    ideas = await session.execute(
        select(Suggestion.id, Suggestion.sealed_author, Suggestion.contributor_tag).where(
            Suggestion.anonymous, Suggestion.sealed_author.is_not(None)
        )
    )
    changes = []
    for idea_id, sealed_author, tag in ideas:
        if tag and not sealer.dated(sealed_author):
            continue
        try:
            member_id = int(sealer.open(sealed_author)["member"])
        except (SealError, KeyError, ValueError):
            continue  # sealed with another key: left as it is
        changes.append(
            {
                "key": idea_id,
                "author": sealer.seal({"member": member_id}),
                "tag": sealer.seal_contributor(member_id),
            }
        )
    if changes:
        # Core UPDATE naming updated_at, so that the idea's (hour-coarse) time is not refreshed.
        await session.execute(
            update(Suggestion.__table__)
            .where(Suggestion.__table__.c.id == bindparam("key"))
            .values(
                sealed_author=bindparam("author"),
                contributor_tag=bindparam("tag"),
                updated_at=Suggestion.__table__.c.updated_at,
            ),
            changes,
        )
    return len(changes)


async def announce_suggestion(
    session: AsyncSession,
    sealer: Sealer,
    suggestion: Suggestion,
    channels: Sequence[ChannelRef],
    evidence: EvidenceSummary | None = None,
) -> int:
    """Post a new idea in the suggestion channels, where colleagues vote on it (with what
    customers said about it)."""
    if not channels:
        return 0
    return await enqueue(
        session,
        announcement(suggestion, evidence),
        [Recipient.for_channel(channel) for channel in channels],
        sealer=sealer,
        dedupe_prefix=f"suggestion:{suggestion.id}",
    )


async def get_suggestion(session: AsyncSession, suggestion_id: int) -> Suggestion:
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(
            _("There is no suggestion #{number}; list them with /suggestions.").format(
                number=suggestion_id
            )
        )
    return suggestion


async def vote(
    session: AsyncSession, member: Member, suggestion_id: int
) -> tuple[Suggestion, bool]:
    """One vote per member and suggestion; returns (suggestion, whether this vote counted)."""
    suggestion = await get_suggestion(session, suggestion_id)
    if suggestion.duplicate_of_id is not None:
        raise InvalidInput(
            _("#{number} joined #{target}; vote for that one.").format(
                number=suggestion.id, target=suggestion.duplicate_of_id
            )
        )
    if suggestion.hidden_at is not None:
        raise InvalidInput(
            _("#{number} was hidden by a manager; votes are closed.").format(number=suggestion.id)
        )
    if suggestion.status not in OPEN_STATUSES:
        raise InvalidInput(
            _("Suggestion #{number} is {status}; votes are closed.").format(
                number=suggestion.id, status=_(SuggestionStatus(suggestion.status).label)
            )
        )
    counted, count = await session.run_sync(record_vote, suggestion.id, member.id)
    set_committed_value(suggestion, "vote_count", count)
    return suggestion, counted


def record_vote(session: Session, suggestion_id: int, member_id: int) -> tuple[bool, int]:
    """One vote, once per member and idea: (whether it counted, the idea's count now)."""
    return record_votes(session, [(suggestion_id, member_id)])[0]


def record_votes(session: Session, votes: list[tuple[int, int]]) -> list[tuple[bool, int]]:
    """The write of votes, each (idea, member) once: for each, whether it counted and the idea's
    count with it. Every vote goes through here, one at a time (``vote``) or a batch of presses
    in one trip to the database (bot/chat/vote_batch.py), so what must change with a vote
    belongs here (in the same transaction).

    Synchronous, for the batch; the caller has checked that the ideas take votes. A statement
    for all the votes, and one an idea for its count."""
    if not votes:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    now = utcnow()
    rows = [
        {"suggestion_id": s, "member_id": m, "created_at": now} for s, m in dict.fromkeys(votes)
    ]
    table = SuggestionVote.__table__
    new = set(
        session.execute(
            insert(table)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(table.c.suggestion_id, table.c.member_id)
        ).tuples()
    )
    added: dict[int, int] = {}
    for suggestion_id, _member in new:
        added[suggestion_id] = added.get(suggestion_id, 0) + 1
    counts: dict[int, int] = {}
    for suggestion_id in sorted({pair[0] for pair in votes}):  # one order: no deadlock
        if suggestion_id in added:
            # The count as the database has it (another process may have voted meanwhile),
            # read in the same statement.
            statement = (
                update(Suggestion)
                .where(Suggestion.id == suggestion_id)
                .values(vote_count=Suggestion.vote_count + added[suggestion_id])
                .returning(Suggestion.vote_count)
                .execution_options(synchronize_session=False)
            )
        else:
            # Only repeats: read the count behind any vote being counted right now (on
            # PostgreSQL, wait for that row's lock), or the card this press updates could show
            # an older count after a newer one was shown.
            statement = (
                select(Suggestion.vote_count)
                .where(Suggestion.id == suggestion_id)
                .with_for_update()
            )
        counts[suggestion_id] = int(session.scalar(statement) or 0)
    # Each counted vote gets the count it made, in order; a repeat the count now.
    given = {s: counts[s] - n for s, n in added.items()}
    results: list[tuple[bool, int]] = []
    for pair in votes:
        suggestion_id = pair[0]
        if pair in new:
            new.discard(pair)
            given[suggestion_id] += 1
            results.append((True, given[suggestion_id]))
        else:
            results.append((False, counts[suggestion_id]))
    return results


async def withdraw_vote(
    session: AsyncSession, member: Member, suggestion_id: int
) -> tuple[Suggestion, bool]:
    """Take back one's vote while the idea is open; returns (suggestion, whether there was one).
    A decided idea keeps its votes: they are the record of who backed it and who was told."""
    suggestion = await get_suggestion(session, suggestion_id)
    if suggestion.status not in OPEN_STATUSES or suggestion.duplicate_of_id is not None:
        raise InvalidInput(
            _("#{number} is no longer open for votes, so its votes stay as they were.").format(
                number=suggestion.id
            )
        )
    removed = await session.scalar(
        delete(SuggestionVote)
        .where(
            SuggestionVote.suggestion_id == suggestion.id,
            SuggestionVote.member_id == member.id,
        )
        .returning(SuggestionVote.suggestion_id)
        .execution_options(synchronize_session=False)
    )
    if removed is not None:
        count = await session.scalar(
            update(Suggestion)
            .where(Suggestion.id == suggestion.id)
            .values(vote_count=Suggestion.vote_count - 1)
            .returning(Suggestion.vote_count)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(suggestion, "vote_count", count)
    return suggestion, removed is not None


async def list_suggestions(
    session: AsyncSession,
    *,
    status: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
    order: str = "newest",
) -> list[Suggestion]:
    statement = select(Suggestion).where(
        Suggestion.duplicate_of_id.is_(None), Suggestion.hidden_at.is_(None)
    )
    if status:
        statement = statement.where(
            Suggestion.status == parse_enum(SuggestionStatus, status, _("status"))
        )
    if open_only:
        statement = statement.where(Suggestion.status.in_(OPEN_STATUSES))
    if order == "votes":
        statement = statement.order_by(Suggestion.vote_count.desc(), Suggestion.created_at.desc())
    elif order == "evidence":
        statement = statement.order_by(
            Suggestion.evidence_count.desc(),
            Suggestion.vote_count.desc(),
            Suggestion.created_at.desc(),
        )
    else:
        statement = statement.order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
    if limit:
        statement = statement.limit(limit)
    return list(await session.scalars(statement))


async def responses_for(session: AsyncSession, suggestion_id: int) -> list[SuggestionResponse]:
    return list(
        await session.scalars(
            select(SuggestionResponse)
            .where(SuggestionResponse.suggestion_id == suggestion_id)
            .order_by(SuggestionResponse.created_at, SuggestionResponse.id)
        )
    )


async def require_answerable(session: AsyncSession, actor: Acting, suggestion: Suggestion) -> None:
    """Managers answer ideas from the teams below them (an anonymous idea: the team it is shown
    under); admins and the operator answer any."""
    require_role(actor, (Role.MANAGER,), N_("answer suggestions"))
    if isinstance(actor, Operator) or actor.role == Role.ADMIN or suggestion.team_id is None:
        return
    scopes = await load_team_scopes(session) if suggestion.anonymous else None
    team = scopes.shown_team(suggestion) if scopes is not None else suggestion.team_id
    if team is not None and team not in await managed_team_ids(session, actor):
        raise PermissionDenied(
            _(
                "Suggestion #{number} comes from a team you do not manage; "
                "its team's manager answers it."
            ).format(number=suggestion.id)
        )


@dataclass(frozen=True)
class AnswerOutcome:
    suggestion: Suggestion
    response: SuggestionResponse
    author_notified: bool
    others_notified: int = 0
    # The KPI check this decision promised (bot/services/promises.py), if it made one.
    review: DecisionReview | None = None


async def answer_suggestion(
    session: AsyncSession,
    sealer: Sealer,
    actor: Acting,
    suggestion_id: int,
    text: str,
    *,
    status: str | None = None,
    promise: Promise | None = None,
) -> AnswerOutcome:
    """Record a manager's answer (and status change) and queue the author's notice, atomically.
    With a ``promise`` (planned or done only), the KPI check it makes is recorded with it."""
    require_role(actor, (Role.MANAGER,), N_("answer suggestions"))
    suggestion = await get_suggestion(session, suggestion_id)
    await require_answerable(session, actor, suggestion)
    if suggestion.duplicate_of_id is not None:
        raise InvalidInput(
            _(
                "#{number} was merged into #{target}; answer that one (its author hears of it)."
            ).format(number=suggestion.id, target=suggestion.duplicate_of_id)
        )
    if suggestion.hidden_at is not None:
        raise InvalidInput(
            _("#{number} was hidden; it is off the board and not answered.").format(
                number=suggestion.id
            )
        )
    with concerning("text"):
        text = validate_text(text, MAX_ANSWER, "answer")
    before = SuggestionStatus(suggestion.status)
    with concerning("status"):
        after = parse_enum(SuggestionStatus, status, _("status")) if status else before
    now = utcnow()
    promise = promise or await carried_over(session, suggestion, after, actor)
    checked = await check_promise(session, promise, after, actor, now) if promise else None
    response = SuggestionResponse(
        suggestion_id=suggestion.id,
        responder_id=actor_id(actor),
        status_before=before,
        status_after=after,
        text=text,
        created_at=now,
    )
    session.add(response)
    suggestion.status = after
    suggestion.updated_at = now
    if suggestion.first_response_at is None:
        suggestion.first_response_at = now
    await session.flush()
    review = await record_promise(session, suggestion, response, checked, actor, now)
    # Composed in the author's language, not the manager's.
    told = await tell_author(
        session,
        sealer,
        suggestion,
        lambda: answer_notice(suggestion, response, responder_name=responder_name(actor)),
    )
    others = await tell_everyone_concerned(session, sealer, suggestion, response, responder=actor)
    return AnswerOutcome(
        suggestion,
        response,
        author_notified=told,
        others_notified=others,
        review=review,
    )
