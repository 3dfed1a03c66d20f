"""Managers answering an idea from chat: '/answer 12 planned We ship it in May', with an
optional KPI check (the promise). The answer form reaches ``record_answer`` with its fields."""

from __future__ import annotations

from bot.chat.context import ChatContext
from bot.chat.parsing import parse_id
from bot.chat.review_commands import promise_of, promise_told, take_promise_flags
from bot.chat.wording import status_choices, status_word
from bot.compose.notices import who_is_told
from bot.compose.suggestion_cards import answer_form, status_label
from bot.compose.suggestion_cards import status_word as card_status_word
from bot.domain import Role, SuggestionStatus, closest_choice, normalise_choice
from bot.errors import InvalidInput
from bot.events import Reply
from bot.i18n import ENGLISH, _, current_locale
from bot.i18n.formats import join_sentences
from bot.services import suggestions as suggestion_service
from bot.services.objectives import list_objectives
from bot.services.permissions import require_role
from bot.services.promises import Promise

# Words that start an answer as often as they misspell a status ("News: ..." is not "new").
_NOT_TYPOS = {SuggestionStatus.NEW.value}


async def answer(ctx: ChatContext, text: str) -> Reply:
    raw_id, _space, rest = text.strip().partition(" ")
    if not raw_id:
        raise InvalidInput(
            _("Write /answer ID [STATUS] TEXT, for example: /answer 12 planned We ship it in May.")
        )
    require_role(ctx.member, (Role.MANAGER,), _("answer suggestions"))
    suggestion_id = parse_id(raw_id, "suggestion")
    flags: dict[str, str | bool] = {}  # the KPI check: before or after the status
    status, rest = leading_status(take_promise_flags(rest, flags))
    rest = take_promise_flags(rest, flags)
    promise = promise_of(flags)
    if not rest.strip():
        suggestion = await suggestion_service.get_suggestion(ctx.session, suggestion_id)
        await suggestion_service.require_answerable(ctx.session, ctx.member, suggestion)
        return Reply(form=answer_form(suggestion, status, await list_objectives(ctx.session)))
    return await record_answer(ctx, suggestion_id, rest, status, promise)


def leading_status(text: str) -> tuple[str | None, str]:
    """Split '/answer 12 under review Looking into it' into the status and the answer. A first
    word that misspells a status ('planed') is refused rather than sent as the answer, which
    would tell the author and every voter that nothing changed."""
    stripped = text.strip()
    heads = []
    for count in (2, 1):  # "under review" before "under"
        parts = stripped.split(None, count)
        if len(parts) >= count:
            heads.append((" ".join(parts[:count]), parts[count] if len(parts) > count else ""))
    values = [status.value for status in SuggestionStatus]
    local = _local_statuses()
    for head, rest in heads:
        typed = normalise_choice(head.rstrip(":,;.：、。"))
        if typed in values:
            return typed, rest.strip()
        if typed in local:
            return local[typed], rest.strip()
    for head, _rest in heads:
        typo = closest_choice(head.rstrip(":,;."), set(values) - _NOT_TYPOS, cutoff=0.8)
        if typo is not None:
            label = SuggestionStatus(typo).label
            # Translators: {status} and {statuses} are typed as they are, in English.
            raise InvalidInput(
                _(
                    "'{head}' is not a status. Did you mean {status}? A status is one of: "
                    "{statuses}. Write /answer ID {status} YOUR ANSWER, or /answer ID alone "
                    "for a form."
                ).format(head=head, status=label, statuses=status_choices())
            )
    return None, stripped


def _local_statuses() -> dict[str, str]:
    """The statuses as the bot writes them in the language being spoken ("予定", "In Prüfung"),
    so a manager may type back the word the cards show; English ones are the values already."""
    if current_locale() == ENGLISH:
        return {}
    return {
        normalise_choice(word): status.value
        for status in SuggestionStatus
        for word in (status_word(status), status_label(status), card_status_word(status))
    }


async def record_answer(
    ctx: ChatContext,
    suggestion_id: int,
    text: str,
    status: str | None,
    promise: Promise | None = None,
) -> Reply:
    outcome = await suggestion_service.answer_suggestion(
        ctx.session, ctx.sealer, ctx.member, suggestion_id, text, status=status, promise=promise
    )
    ctx.queued_messages = outcome.author_notified
    told = who_is_told(outcome.author_notified, outcome.others_notified)
    state = status_word(outcome.suggestion.status)
    kpi = promise_told(ctx, outcome)
    recorded = _("Answer recorded: #{number} is {status}.").format(
        number=outcome.suggestion.id, status=state
    )
    return Reply.say(join_sentences(recorded, told, kpi))
