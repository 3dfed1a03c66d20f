"""Digest schedules as strategists see them in chat: the list of scheduled digests and the
form that schedules one."""

from __future__ import annotations

from collections.abc import Sequence

from bot.compose import actions
from bot.compose.text import weekday_time
from bot.i18n import N_, _
from bot.messages import Card, Fact, FieldKind, Form, FormField, Message, Option
from bot.services import digests
from bot.storage.models import Digest

# Labels marked only: translated when the form is shown (``day_choices``).
DAY_CHOICES = (
    Option(N_("Every day"), "*"),
    Option(N_("Weekdays (Monday to Friday)"), "mon-fri"),
    Option(N_("Monday"), "mon"),
    Option(N_("Tuesday"), "tue"),
    Option(N_("Wednesday"), "wed"),
    Option(N_("Thursday"), "thu"),
    Option(N_("Friday"), "fri"),
    Option(N_("Saturday"), "sat"),
    Option(N_("Sunday"), "sun"),
)
KIND_NAMES = {
    "content": N_("Curated content"),
    "voice": N_("Customer voice"),
    "rollup": N_("Suggestion rollup (managers)"),
}


def day_choices() -> tuple[Option, ...]:
    """The days a digest may go out, in the language being spoken."""
    return tuple(Option(_(option.label), option.value) for option in DAY_CHOICES)


def schedules_message(found: Sequence[Digest]) -> Message:
    """Each digest with what it sends, to whom, and when it next fires (or that it is paused)."""
    facts = []
    for d in found:
        upcoming = digests.next_fire_times(d, 1)
        if upcoming and d.enabled:
            when = f"{weekday_time(upcoming[0])} {upcoming[0]:%Z}".strip()
        else:
            when = _("paused")
        facts.append(
            Fact(
                d.name,
                _("{kind} to {audience}, {schedule}; next: {when}").format(
                    kind=d.kind,
                    audience=d.audience,
                    schedule=digests.describe_schedule(d),
                    when=when,
                ),
            )
        )
    return Message(
        fallback=_("Digests: {names}").format(names=", ".join(d.name for d in found)),
        cards=(Card(title=_("Scheduled digests"), facts=tuple(facts)),),
    )


def digest_form(timezone: str) -> Form:
    return Form(
        form_id=actions.FORM_DIGEST_ADD,
        title=_("Schedule a digest"),
        submit_label=_("Schedule"),
        fields=(
            FormField(
                "name", _("Name"), required=True, max_length=100, placeholder=_("Monday picks")
            ),
            FormField(
                "kind",
                _("Kind"),
                FieldKind.SELECT,
                required=True,
                initial="content",
                options=tuple(Option(_(label), kind) for kind, label in KIND_NAMES.items()),
            ),
            FormField(
                "audience",
                _("Audience"),
                required=True,
                initial="all",
                # Translators: "all" and "team:" are typed as they are; NAME: a team's name.
                placeholder=_("all, or team:NAME"),
            ),
            FormField("channel", _("Or post it in a channel"), FieldKind.CONVERSATION),
            FormField(
                "days",
                _("Day"),
                FieldKind.SELECT,
                required=True,
                initial="mon",
                options=day_choices(),
            ),
            FormField("time", _("Time (24 h)"), required=True, initial="09:00", max_length=5),
            FormField("timezone", _("Time zone"), required=True, initial=timezone, max_length=64),
            FormField(
                "clock",
                _("Whose clock"),
                FieldKind.SELECT,
                required=True,
                initial="zone",
                options=(
                    Option(_("The time zone above"), "zone"),
                    Option(_("Each reader's own (09:00 wherever they are)"), "local"),
                ),
            ),
        ),
    )
