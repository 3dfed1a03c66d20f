"""A content digest's run: each person (or channel) gets the best items they have not had yet,
from this digest or any other.

People with the same history get one message, composed once. Someone who already had every
item is sent nothing, as a customer-voice digest with nothing new sends nothing. A strategist
who wants items sent again says so (``include_sent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.content_digest import compose_content_digest
from bot.compose.text import plural
from bot.i18n import normalize_locale, speaking
from bot.messages import Message
from bot.outbox.queue import Recipient
from bot.plugins import Composer, ContentComposer
from bot.services.content import deliverable_content
from bot.services.content_receipts import (
    content_ids_of,
    hold_receipts,
    items_received,
    receipt_target,
)
from bot.storage.models import Digest


@dataclass(frozen=True)
class ContentSelection:
    batches: list[tuple[Message, list[Recipient]]]
    note: str

    @property
    def content_ids(self) -> list[int]:
        """Every item the run sends, in the order first sent."""
        ids = (i for message, _ in self.batches for i in content_ids_of(message))
        return list(dict.fromkeys(ids))


async def select_content(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    targets: list[Recipient],
    now: datetime,
    composer: Composer | None,
    *,
    include_sent: bool = False,
) -> ContentSelection | str:
    """The messages for ``targets``, or why there is nothing to send. The caller records the
    receipts with the deliveries, in this transaction, which holds the receipts lock."""
    await hold_receipts(session)
    compose = cast(ContentComposer, composer or newest_content)
    had = (
        {}
        if include_sent
        else await items_received(session, (receipt_target(t) for t in targets), deliverable_at=now)
    )
    # One message per history and language: what each had already, in the words they read.
    by_history: dict[tuple[frozenset[int], str], list[Recipient]] = {}
    for target in targets:
        key = frozenset(had.get(receipt_target(target), ()))
        by_history.setdefault((key, normalize_locale(target.locale) or ""), []).append(target)
    batches: list[tuple[Message, list[Recipient]]] = []
    reason, had_all = "", 0
    for (exclude, locale), group in by_history.items():
        with speaking(locale or None):
            composed = await compose(session, digest, run_id, None, now, exclude=exclude)
        if isinstance(composed, str):
            reason, had_all = composed, had_all + len(group)
            continue
        batches.append((composed[0], group))
    if not batches:
        return reason
    selection = ContentSelection(batches, "")
    note = plural(len(selection.content_ids), "item")
    selections = len({exclude for exclude, _ in by_history})
    if selections > 1:
        note += f" in {selections} selections (by what each recipient had already)"
    if include_sent:
        note += ", items already sent included"
    if had_all:
        note += f"; {plural(had_all, 'recipient')} had every item already and got nothing"
    return ContentSelection(batches, note)


async def newest_content(
    session: AsyncSession,
    digest: Digest,
    run_id: int,
    since: datetime | None,
    now: datetime,
    *,
    exclude: frozenset[int] = frozenset(),
) -> tuple[Message, str] | str:
    """The newest approved items, when no plugin ranks them (content/ does)."""
    items = await deliverable_content(
        session, since=since, objective_id=digest.objective_id, exclude=exclude
    )
    if not items:
        return (
            "No approved content that the audience has not had yet; add some with: "
            "advocacy content add URL --title TITLE"
        )
    return compose_content_digest(digest.name, run_id, items), plural(len(items), "item")
