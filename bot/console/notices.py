"""The one-line notice a console page shows after a form: what was done, or why it was refused.

It is kept with the session on the server and shown once, by the next page rendered. It never
travels in the address: a ``?notice=`` could be written by anyone into a link to this trusted
page ("Your session expired, sign in at ..."). A refusal is marked as one, so that it is never
shown in the same box as a success.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.auth import secret_hash
from bot.storage.models import ConsoleSession

MAX_NOTICE = 1000


@dataclass(frozen=True)
class Notice:
    text: str
    refused: bool = False


def keep_notice(record: ConsoleSession, notice: Notice) -> None:
    """Keep ``notice`` for the next page this session renders (committed with the work)."""
    record.notice = notice.text[:MAX_NOTICE]
    record.notice_refused = notice.refused


async def keep_notice_for(session: AsyncSession, cookie: str, notice: Notice) -> None:
    """The same for the session behind ``cookie``, after the work's transaction rolled back."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == secret_hash(cookie))
        .values(notice=notice.text[:MAX_NOTICE], notice_refused=notice.refused)
        .execution_options(synchronize_session=False)
    )


def take_notice(record: ConsoleSession) -> Notice | None:
    """The notice waiting for this session, if any; it is shown once."""
    if not record.notice:
        return None
    notice = Notice(record.notice, record.notice_refused)
    record.notice = None
    record.notice_refused = False
    return notice
