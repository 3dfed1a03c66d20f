"""What managers do to the idea board besides answering: merge duplicates (votes move with them)
and hide abusive ideas (with a reason the author is told)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.notices import hidden_notice, merged_notice
from bot.domain import Role
from bot.errors import InvalidInput, concerning
from bot.i18n import N_, _
from bot.sealing import Sealer
from bot.services.anonymous_scope import coarse_time
from bot.services.permissions import Acting, require_role
from bot.services.suggestion_audience import author_id_of, tell_author
from bot.services.suggestion_evidence import adopt_evidence
from bot.services.suggestions import (
    OPEN_STATUSES,
    get_suggestion,
    require_answerable,
    validate_text,
)
from bot.storage.models import Member, Suggestion, SuggestionVote
from bot.storage.types import utcnow

MAX_REASON = 500


async def merge_suggestions(
    session: AsyncSession,
    sealer: Sealer,
    actor: Acting | Member,
    duplicate_id: int,
    target_id: int,
    *,
    by_author: bool = False,
) -> Suggestion:
    """Fold ``duplicate_id`` into ``target_id``: its votes move (one per person), it leaves every
    list and rollup, and its author is told where it went. Managers merge ideas of their teams;
    an author may merge their own new idea into a similar one (``by_author``)."""
    if duplicate_id == target_id:
        raise InvalidInput(_("An idea cannot be merged into itself."))
    duplicate = await get_suggestion(session, duplicate_id)
    target = await get_suggestion(session, target_id)
    for idea in (duplicate, target):
        if idea.duplicate_of_id is not None:
            raise InvalidInput(
                _("#{number} was already merged into #{target}; use that one.").format(
                    number=idea.id, target=idea.duplicate_of_id
                )
            )
        if idea.hidden_at is not None:
            raise InvalidInput(
                _("#{number} is hidden; it cannot be merged.").format(number=idea.id)
            )
    if target.status not in OPEN_STATUSES:
        raise InvalidInput(
            _("#{number} is closed; merge into an open idea.").format(number=target.id)
        )
    if by_author:
        assert isinstance(actor, Member)
        if not _is_author(sealer, duplicate, actor):
            raise InvalidInput(_("Only the author of an idea can fold it into another one."))
    else:
        require_role(actor, (Role.MANAGER,), N_("merge suggestions"))
        # Both ideas must be the manager's to answer: merging moves votes onto the target and
        # takes the duplicate off another manager's board.
        await require_answerable(session, actor, duplicate)
        await require_answerable(session, actor, target)
    # Votes move: each person's vote once; the duplicate's author backs the target too, unless
    # the duplicate is anonymous: a vote in her name written as her idea joins the target would
    # tell anyone reading the database whose idea it was.
    voters = set(
        await session.scalars(
            select(SuggestionVote.member_id).where(SuggestionVote.suggestion_id == duplicate.id)
        )
    )
    author_id = author_id_of(sealer, duplicate)
    if by_author and author_id is not None and not duplicate.anonymous:
        voters.add(author_id)
    already = set(
        await session.scalars(
            select(SuggestionVote.member_id).where(SuggestionVote.suggestion_id == target.id)
        )
    )
    now = utcnow()
    for member_id in sorted(voters - already):
        session.add(SuggestionVote(suggestion_id=target.id, member_id=member_id, created_at=now))
    await session.flush()
    target.vote_count = int(
        await session.scalar(
            select(func.count(SuggestionVote.id)).where(SuggestionVote.suggestion_id == target.id)
        )
        or 0
    )
    duplicate.duplicate_of_id = target.id
    duplicate.updated_at = coarse_time(now) if duplicate.anonymous else now
    await session.flush()
    await adopt_evidence(session, duplicate.id, target.id)
    # An author who folded her own idea has the answer in front of her; a notice as well would
    # only date (to the second) the moment an anonymous author was active.
    if not by_author:  # told in their language, not the manager's
        await tell_author(session, sealer, duplicate, lambda: merged_notice(duplicate, target))
    return target


def _is_author(sealer: Sealer, suggestion: Suggestion, member: Member) -> bool:
    if not suggestion.anonymous:
        return suggestion.author_id == member.id
    # Anonymous: the sealed reference says whether it is this member, and nothing leaves here.
    return author_id_of(sealer, suggestion) == member.id


async def hide_suggestion(
    session: AsyncSession, sealer: Sealer, actor: Acting, suggestion_id: int, reason: str
) -> Suggestion:
    """Take an abusive idea off the board; the author is told why (anonymous ones too)."""
    require_role(actor, (Role.MANAGER,), N_("hide suggestions"))
    suggestion = await get_suggestion(session, suggestion_id)
    await require_answerable(session, actor, suggestion)
    with concerning("reason"):
        reason = validate_text(reason, MAX_REASON, "reason for hiding it")
    if suggestion.hidden_at is not None:
        raise InvalidInput(_("#{number} is already hidden.").format(number=suggestion.id))
    suggestion.hidden_at = utcnow()
    suggestion.hidden_reason = reason
    await session.flush()
    await tell_author(session, sealer, suggestion, lambda: hidden_notice(suggestion, reason))
    return suggestion
