"""Digest schedules as strategists see them in chat: the list of scheduled digests and the
form that schedules one."""

from __future__ import annotations

from collections.abc import Sequence

from bot.compose import actions
from bot.messages import Card, Fact, FieldKind, Form, FormField, Message, Option
from bot.services import digests
from bot.storage.models import Digest

DAY_CHOICES = (
    Option("Every day", "*"),
    Option("Weekdays (Monday to Friday)", "mon-fri"),
    Option("Monday", "mon"),
    Option("Tuesday", "tue"),
    Option("Wednesday", "wed"),
    Option("Thursday", "thu"),
    Option("Friday", "fri"),
    Option("Saturday", "sat"),
    Option("Sunday", "sun"),
)


def schedules_message(found: Sequence[Digest]) -> Message:
    """Each digest with what it sends, to whom, and when it next fires (or that it is paused)."""
    facts = []
    for d in found:
        upcoming = digests.next_fire_times(d, 1)
        when = upcoming[0].strftime("%a %d %b %H:%M %Z") if upcoming and d.enabled else "paused"
        facts.append(
            Fact(
                d.name,
                f"{d.kind} to {d.audience}, {digests.describe_schedule(d)}; next: {when}",
            )
        )
    return Message(
        fallback="Digests: " + ", ".join(d.name for d in found),
        cards=(Card(title="Scheduled digests", facts=tuple(facts)),),
    )


def digest_form(timezone: str) -> Form:
    return Form(
        form_id=actions.FORM_DIGEST_ADD,
        title="Schedule a digest",
        submit_label="Schedule",
        fields=(
            FormField("name", "Name", required=True, max_length=100, placeholder="Monday picks"),
            FormField(
                "kind",
                "Kind",
                FieldKind.SELECT,
                required=True,
                initial="content",
                options=(
                    Option("Curated content", "content"),
                    Option("Customer voice", "voice"),
                    Option("Suggestion rollup (managers)", "rollup"),
                ),
            ),
            FormField(
                "audience",
                "Audience",
                required=True,
                initial="all",
                placeholder="all, or team:NAME",
            ),
            FormField("channel", "Or post it in a channel", FieldKind.CONVERSATION),
            FormField(
                "days", "Day", FieldKind.SELECT, required=True, initial="mon", options=DAY_CHOICES
            ),
            FormField("time", "Time (24 h)", required=True, initial="09:00", max_length=5),
            FormField("timezone", "Time zone", required=True, initial=timezone, max_length=64),
            FormField(
                "clock",
                "Whose clock",
                FieldKind.SELECT,
                required=True,
                initial="zone",
                options=(
                    Option("The time zone above", "zone"),
                    Option("Each reader's own (09:00 wherever they are)", "local"),
                ),
            ),
        ),
    )
