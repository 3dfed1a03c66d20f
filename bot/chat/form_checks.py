"""Checks of one form answer at a time, for adapters that ask a form field by field (the shell):
a wrong answer is asked again on its own, with what a right one looks like, instead of the whole
form being refused at the end and every answer lost. The form's handler still checks everything
when it is submitted (Slack and Teams send a form whole)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.digest_commands import cron_from_day_and_time
from bot.chat.wording import status_word
from bot.compose import actions
from bot.config import ChannelRef
from bot.domain import DECIDED_STATUSES, DigestKind, SuggestionStatus, parse_enum
from bot.errors import Conflict, DomainError, InvalidInput
from bot.events import Actor
from bot.i18n import _, speaking
from bot.services import digests
from bot.services.content import validate_url
from bot.services.members import find_member, get_team, validate_timezone
from bot.services.permissions import OPERATOR
from bot.services.promises import Promise, check_promise, parse_direction, promised_objective
from bot.storage.database import Database
from bot.storage.types import utcnow


@dataclass(frozen=True)
class Answer:
    """One answer, with the form's earlier answers (a field may depend on them)."""

    session: AsyncSession
    platform: str
    value: str
    earlier: Mapping[str, Any]
    actor: Actor | None = None

    def before(self, name: str) -> str:
        return str(self.earlier.get(name) or "").strip()


FieldCheck = Callable[[Answer], Awaitable[None]]
# form id -> field name -> check (raises a DomainError saying what a right answer looks like)
FIELD_CHECKS: dict[str, dict[str, FieldCheck]] = {}


def field_check(form_id: str, name: str) -> Callable[[FieldCheck], FieldCheck]:
    def register(check: FieldCheck) -> FieldCheck:
        FIELD_CHECKS.setdefault(form_id, {})[name] = check
        return check

    return register


async def check_form_answer(
    db: Database,
    actor: Actor,
    form_id: str,
    name: str,
    value: Any,
    earlier: Mapping[str, Any],
) -> str | None:
    """What is wrong with one answer (the error, saying what a right one looks like), or None.
    An empty answer is the required-field check's business. Nothing is written."""
    check = FIELD_CHECKS.get(form_id, {}).get(name)
    text = str(value if value is not None else "").strip()
    if check is None or not text:
        return None
    try:
        async with db.transaction() as session:
            # Asked outside the router, so in the member's language here (the platform's hint
            # for someone not yet known).
            member = await find_member(session, actor.platform, actor.user_id, actor.workspace)
            with speaking(member.locale if member is not None else actor.locale):
                await check(Answer(session, actor.platform, text, earlier, actor))
    except DomainError as error:
        return error.message
    return None


# ----- /digest add ---------------------------------------------------------------------------


@field_check(actions.FORM_DIGEST_ADD, "name")
async def digest_name(answer: Answer) -> None:
    name = digests.validate_digest_name(answer.value)
    if await digests.find_digest(answer.session, name) is not None:
        raise Conflict(
            _("A digest named '{name}' already exists; choose another name.").format(name=name)
        )


@field_check(actions.FORM_DIGEST_ADD, "kind")
async def digest_kind(answer: Answer) -> None:
    parse_enum(DigestKind, answer.value, "digest kind")


@field_check(actions.FORM_DIGEST_ADD, "audience")
async def digest_audience(answer: Answer) -> None:
    audience = digests.parse_audience(answer.value)
    if audience.team:
        await get_team(answer.session, audience.team)
    if audience.channel:
        _channel_fits_kind(answer.before("kind"))


@field_check(actions.FORM_DIGEST_ADD, "channel")
async def digest_channel(answer: Answer) -> None:
    digests.validate_channel(ChannelRef(answer.platform, answer.value.strip()))
    _channel_fits_kind(answer.before("kind"))


@field_check(actions.FORM_DIGEST_ADD, "time")
async def digest_time(answer: Answer) -> None:
    cron_from_day_and_time(answer.before("days") or "mon", answer.value)


@field_check(actions.FORM_DIGEST_ADD, "timezone")
async def digest_timezone(answer: Answer) -> None:
    validate_timezone(answer.value)


@field_check(actions.FORM_DIGEST_ADD, "clock")
async def digest_clock(answer: Answer) -> None:
    in_channel = answer.before("channel") or answer.before("audience").lower().startswith(
        "channel:"
    )
    if answer.value == "local" and in_channel:
        raise InvalidInput(
            _(
                "A channel has no time zone of its own; choose 1 (the time zone above) for a "
                "digest posted in a channel."
            )
        )


# ----- /content add, and editing an item --------------------------------------------------------


@field_check(actions.FORM_CONTENT_ADD, "url")
async def content_url(answer: Answer) -> None:
    validate_url(answer.value)


@field_check(actions.FORM_CONTENT_EDIT, "expires")
async def content_expires(answer: Answer) -> None:
    if not answer.value.isdigit():
        raise InvalidInput(
            _("Write the number of days after which to stop sending it (e.g. 30), or nothing.")
        )


# ----- /answer: the KPI check a planned or done decision promises -------------------------------


def _answer_status(answer: Answer) -> SuggestionStatus | None:
    try:
        return SuggestionStatus(answer.before("status"))
    except ValueError:
        return None


@field_check(actions.FORM_ANSWER, "objective")
async def answer_objective(answer: Answer) -> None:
    status = _answer_status(answer)
    if status is not None and status not in DECIDED_STATUSES:
        raise InvalidInput(
            _(
                "A KPI check goes with planned or done, not {status}: choose 1 (no KPI check), "
                "or /cancel and answer again with planned or done."
            ).format(status=status_word(status))
        )
    await promised_objective(answer.session, answer.value)


@field_check(actions.FORM_ANSWER, "expect")
async def answer_expect(answer: Answer) -> None:
    Promise.from_fields(answer.before("objective"), answer.value)
    parse_direction(answer.value)


@field_check(actions.FORM_ANSWER, "review")
async def answer_review_date(answer: Answer) -> None:
    """The date as the answer will check it: a wait or a date, after today on the manager's
    own clock, within three years."""
    promise = Promise.from_fields(answer.before("objective"), answer.before("expect"), answer.value)
    status = _answer_status(answer)
    if promise is None or status not in DECIDED_STATUSES:
        return
    member = None
    if answer.actor is not None:
        member = await find_member(
            answer.session, answer.actor.platform, answer.actor.user_id, answer.actor.workspace
        )
    try:
        await check_promise(answer.session, promise, status, member or OPERATOR, utcnow())
    except DomainError as error:
        if error.field == "review":  # the others are asked of their own fields
            raise


def _channel_fits_kind(kind: str) -> None:
    if kind == DigestKind.ROLLUP:
        raise InvalidInput(
            _(
                "A rollup goes to each manager privately, not to a channel; leave this empty (or "
                "write 'all' or team:NAME as the audience)."
            )
        )
