"""The /digest commands: strategists list, schedule, send, pause, edit and delete digests.
Who may run each is in the command table (bot/chat/commands.py)."""

from __future__ import annotations

import re

from bot.chat.context import ChatContext
from bot.chat.parsing import split_words
from bot.compose.digest_schedule import DAY_CHOICES, digest_form, schedules_message
from bot.domain import Role
from bot.errors import InvalidInput
from bot.events import Reply
from bot.i18n import L_, _, ngettext
from bot.i18n.formats import format_number
from bot.services import digest_runs, digests
from bot.services.permissions import require_role


async def digest_list(ctx: ChatContext, text: str) -> Reply:
    found = await digests.list_digests(ctx.session)
    if not found:
        return Reply.say(_("No digests are scheduled. A strategist adds one with /digest add."))
    return Reply(messages=[schedules_message(found)])


async def digest_run(ctx: ChatContext, text: str) -> Reply:
    """Send a digest now; ``--include-sent`` resends content people already had, ``--since``
    sets the period a voice digest covers."""
    rest, since_text = split_words(text), None
    if "--since" in rest:
        at = rest.index("--since")
        if at + 1 >= len(rest):
            raise InvalidInput(_("--since needs a date or a period: --since 2026-11-03 or 30d."))
        since_text = rest[at + 1]
        rest = rest[:at] + rest[at + 2 :]
    include_sent = "--include-sent" in rest
    name = " ".join(w for w in rest if w != "--include-sent")
    if not name:
        raise InvalidInput(_("Which digest? Write /digest run NAME; /digest list shows them."))
    require_role(ctx.member, (Role.STRATEGIST,), _("send digests"))
    found = await digests.get_digest(ctx.session, name)
    outcome = await digest_runs.start_run(
        ctx.session,
        ctx.sealer,
        found,
        actor=ctx.member,
        composers=ctx.extensions.composers,
        include_sent=include_sent,
        since=digests.parse_since(since_text, found.timezone) if since_text else None,
    )
    assert outcome is not None
    if outcome.queued == 0:
        return Reply.say(
            _("'{name}' was not sent: {note}").format(name=found.name, note=outcome.note)
        )
    ctx.queued_messages = True
    return Reply.say(
        ngettext(
            "'{name}' is on its way to {count} recipient (run #{run}, {note}).",
            "'{name}' is on its way to {count} recipients (run #{run}, {note}).",
            outcome.queued,
        ).format(
            name=found.name,
            count=format_number(outcome.queued),
            run=outcome.run.id,
            note=outcome.note,
        )
    )


async def digest_add(ctx: ChatContext, text: str) -> Reply:
    return await offer_digest_form(ctx)


async def offer_digest_form(ctx: ChatContext) -> Reply:
    """The scheduling form, in the member's own time zone (from /digest add or a button)."""
    require_role(ctx.member, (Role.STRATEGIST,), _("schedule digests"))
    return Reply(form=digest_form(ctx.member.timezone))


async def digest_pause(ctx: ChatContext, text: str) -> Reply:
    return await _set_enabled(ctx, text, "pause")


async def digest_resume(ctx: ChatContext, text: str) -> Reply:
    return await _set_enabled(ctx, text, "resume")


async def _set_enabled(ctx: ChatContext, text: str, sub: str) -> Reply:
    name = " ".join(split_words(text))
    if not name:
        raise InvalidInput(_("Which digest? Write /digest {command} NAME.").format(command=sub))
    found = await digests.set_digest_enabled(ctx.session, ctx.member, name, sub == "resume")
    if found.enabled:
        said = _("'{name}' resumed; the scheduler picks this up within 30 seconds.")
    else:
        said = _("'{name}' paused; the scheduler picks this up within 30 seconds.")
    return Reply.say(said.format(name=found.name))


async def digest_delete(ctx: ChatContext, text: str) -> Reply:
    name = " ".join(split_words(text))
    if not name:
        raise InvalidInput(_("Which digest? Write /digest delete NAME."))
    deleted = await digests.delete_digest(ctx.session, ctx.member, name)
    return Reply.say(
        _("'{name}' deleted; deliveries already queued still go out.").format(name=deleted)
    )


async def digest_edit(ctx: ChatContext, text: str) -> Reply:
    name, options = _edit_options(split_words(text))
    found = await digests.edit_digest(
        ctx.session,
        ctx.member,
        name,
        cron=options.get("cron"),
        timezone=options.get("tz"),
        audience=options.get("audience"),
        local_time=True if "local" in options else False if "fixed" in options else None,
    )
    # Translators: {kind} and {audience} are as typed (content, voice, team:Support...).
    return Reply.say(
        _(
            "'{name}' now goes {kind} to {audience}, {schedule}; the scheduler picks this up "
            "within 30 seconds."
        ).format(
            name=found.name,
            kind=found.kind,
            audience=found.audience,
            schedule=digests.describe_schedule(found),
        )
    )


EDIT_USAGE = L_(
    'Write /digest edit NAME --cron "0 9 * * mon" --tz Europe/Paris --audience team:Support; '
    "--local sends at that time on each reader's clock, --fixed in the digest's time zone."
)


def _edit_options(words: list[str]) -> tuple[str, dict[str, str]]:
    """'weekly news --cron "0 9 * * mon" --local' -> ('weekly news', {cron:..., local: ''})."""
    name_words: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            option = word[2:].lower()
            if option in ("local", "fixed"):
                options[option] = ""
            elif option in ("cron", "tz", "audience") and index + 1 < len(words):
                options[option] = words[index + 1]
                index += 1
            else:
                raise InvalidInput(
                    _("Unknown or incomplete option {option}.").format(option=word)
                    + f" {EDIT_USAGE}"
                )
        else:
            name_words.append(word)
        index += 1
    if not name_words or not options:
        raise InvalidInput(str(EDIT_USAGE))
    return " ".join(name_words), options


TIME_PATTERN = re.compile(r"^([01]?\d|2[0-3])[:h.]([0-5]\d)$")


def cron_from_day_and_time(days: str, time: str) -> str:
    """'mon-fri' and '09:30' -> '30 9 * * mon-fri' (read in the digest's time zone)."""
    match = TIME_PATTERN.match(time.strip().lower())
    if not match:
        raise InvalidInput(
            _("'{time}' is not a time of day; write it like 09:00 or 17:30.").format(time=time)
        )
    valid = {option.value for option in DAY_CHOICES}
    day = days.strip().lower() or "*"
    if day not in valid:
        raise InvalidInput(
            _("Unknown day '{day}'; choose every day, weekdays or one day.").format(day=days)
        )
    return f"{int(match.group(2))} {int(match.group(1))} * * {day}"
