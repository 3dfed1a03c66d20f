"""Who hears about an idea: its author (sealed when anonymous), the authors of every idea merged
into it, and everyone who voted for any of them. The sealed reference of an anonymous author is
opened here to reach them and for nothing else; the delivery it makes is sealed too."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.notices import merged_author_notice, voter_notice
from bot.i18n import _, speaking
from bot.messages import Message
from bot.outbox.queue import Recipient, enqueue, enqueue_in_their_languages, member_recipient
from bot.sealing import Sealer, SealError
from bot.services.permissions import Acting, Operator
from bot.storage.models import Member, Suggestion, SuggestionResponse, SuggestionVote


def responder_name(actor: Acting) -> str:
    """Who answered, as a notice names them: the operator is "A manager" (call it while
    composing: it is said in the reader's language)."""
    return _("A manager") if isinstance(actor, Operator) else actor.display_name


def author_id_of(sealer: Sealer, suggestion: Suggestion) -> int | None:
    """The author's member id, for reaching or recognising them; never stored or shown."""
    if not suggestion.anonymous:
        return suggestion.author_id
    if not suggestion.sealed_author:
        return None
    try:
        return int(sealer.open(suggestion.sealed_author)["member"])
    except (SealError, KeyError, ValueError):
        return None


async def author_recipient(
    session: AsyncSession, sealer: Sealer, suggestion: Suggestion
) -> Recipient | None:
    """Where to tell the author; sealed for anonymous ones so the outbox does not reveal them."""
    if not suggestion.anonymous:
        author = await session.get(Member, suggestion.author_id) if suggestion.author_id else None
        return member_recipient(author) if author is not None else None
    member_id = author_id_of(sealer, suggestion)
    if member_id is None:
        return None
    author = await session.get(Member, member_id)
    recipient = member_recipient(author) if author is not None else None
    if recipient is None:
        return None
    return Recipient(
        platform=recipient.platform,
        workspace=recipient.workspace,
        user_id=recipient.user_id,
        sealed=True,
        locale=recipient.locale,
    )


async def tell_author(
    session: AsyncSession,
    sealer: Sealer,
    suggestion: Suggestion,
    compose: Callable[[], Message],
) -> bool:
    """Queue to the idea's author (sealed when anonymous) what ``compose`` makes, composed in
    their language; False when they cannot be reached."""
    recipient = await author_recipient(session, sealer, suggestion)
    if recipient is None:
        return False
    with speaking(recipient.locale):
        notice = compose()
    await enqueue(session, notice, [recipient], sealer=sealer)
    return True


async def tell_everyone_concerned(
    session: AsyncSession,
    sealer: Sealer,
    suggestion: Suggestion,
    response: SuggestionResponse,
    *,
    responder: Acting,
) -> int:
    """Voters of the idea and of everything merged into it hear of an answer, and so do the
    authors of merged ideas (the idea's own author is told by the caller). Returns how many
    notices were queued."""
    return await tell_backers(
        session,
        sealer,
        suggestion,
        responder=responder,
        voter_message=lambda: voter_notice(
            suggestion, response, responder_name=responder_name(responder)
        ),
        merged_message=lambda duplicate: merged_author_notice(
            suggestion, duplicate, response, responder_name=responder_name(responder)
        ),
    )


async def tell_backers(
    session: AsyncSession,
    sealer: Sealer,
    suggestion: Suggestion,
    *,
    responder: Acting,
    voter_message: Callable[[], Message],
    merged_message: Callable[[Suggestion], Message],
) -> int:
    """Tell everyone who backed an idea what became of it: the voters of the idea and of
    everything merged into it (``voter_message``), and the authors of merged ideas
    (``merged_message`` of their idea, sealed when anonymous). Nobody twice, but an anonymous
    author, and not the manager who answered. Each is composed in the language of those it
    goes to. Returns how many notices were queued."""
    merged = list(
        await session.scalars(select(Suggestion).where(Suggestion.duplicate_of_id == suggestion.id))
    )
    # An anonymous author is never left out of what others get: "every voter was told, but
    # one" would name her. She may then hear twice (as author, sealed, and as a voter).
    main_author = author_id_of(sealer, suggestion)
    merged_authors: dict[int, Suggestion] = {}
    for duplicate in merged:
        author = author_id_of(sealer, duplicate)
        if author is not None and (suggestion.anonymous or author != main_author):
            merged_authors.setdefault(author, duplicate)
    skip = {main_author} if not suggestion.anonymous else set()
    skip |= {author for author, idea in merged_authors.items() if not idea.anonymous}
    if not isinstance(responder, Operator):
        skip.add(responder.id)
    ideas = [suggestion.id, *(m.id for m in merged)]
    voter_ids = (
        set(
            await session.scalars(
                select(SuggestionVote.member_id).where(SuggestionVote.suggestion_id.in_(ideas))
            )
        )
        - skip
    )
    voters = list(await session.scalars(select(Member).where(Member.id.in_(voter_ids))))
    recipients = [r for m in voters if (r := member_recipient(m)) is not None]
    told = await enqueue_in_their_languages(session, voter_message, recipients, sealer=sealer)
    for duplicate in merged_authors.values():
        if await tell_author(session, sealer, duplicate, lambda d=duplicate: merged_message(d)):
            told += 1
    return told
