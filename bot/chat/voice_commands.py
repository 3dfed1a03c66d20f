"""Employees bring customer voice in: ``/voice``, and the "Log as customer voice" message actions.

Each opens one short form (what the customer said, which customer or segment, the objective);
its answer goes through the customer-voice pipeline that the content plugin provides (the core
never imports it: ``Extensions.voice_logger``), and the colleague is told what became of it.
Anyone may log voice, whatever their role.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.chat.context import ChatContext
from bot.compose import actions
from bot.compose.text import truncate
from bot.errors import InvalidInput
from bot.events import ActionInvoked, FormSubmitted, Reply
from bot.i18n import _, ngettext
from bot.i18n.formats import format_number
from bot.messages import Card, Fact, FieldKind, Form, FormField, Link, Message, Option
from bot.plugins import EmployeeVoice, VoiceLogged
from bot.services.objectives import list_objectives
from bot.storage.models import Objective

# What one logged voice may hold: a quote, not a transcript (Slack's modal inputs stop here too).
MAX_VOICE_CHARS = 3000
MAX_CUSTOMER_CHARS = 200


def voice_form(
    objectives: Sequence[Objective],
    *,
    text: str = "",
    customer: str = "",
    objective: str = "",
    context: dict | None = None,
) -> Form:
    return Form(
        form_id=actions.FORM_VOICE,
        title=_("Log customer voice"),
        submit_label=_("Log it"),
        context=context or {},
        fields=(
            FormField(
                "text",
                _("What the customer said"),
                FieldKind.MULTILINE,
                required=True,
                max_length=MAX_VOICE_CHARS,
                placeholder=_("Their words, as close as you remember them"),
                initial=text,
            ),
            FormField(
                "customer",
                _("Which customer or segment"),
                max_length=MAX_CUSTOMER_CHARS,
                placeholder=_("Acme Corp, or: small businesses"),
                initial=customer[:MAX_CUSTOMER_CHARS],
            ),
            FormField(
                "objective",
                _("Objective it bears on"),
                FieldKind.SELECT,
                initial=objective if objective in {o.key for o in objectives} else "",
                options=(
                    Option(_("Let the themes decide"), ""),
                    *(Option(truncate(o.title, 75), o.key) for o in objectives),
                ),
            ),
        ),
    )


def too_long(text: str) -> InvalidInput:
    return InvalidInput(
        _(
            "What the customer said is {count} characters; the most is {most}. Keep the part "
            "that matters."
        ).format(count=format_number(len(text)), most=format_number(MAX_VOICE_CHARS))
    )


async def voice(ctx: ChatContext, text: str) -> Reply:
    """``/voice`` opens the form; ``/voice WORDS`` opens it with the words filled in."""
    said = text.strip()
    if len(said) > MAX_VOICE_CHARS:
        raise too_long(said)
    return Reply(form=voice_form(await list_objectives(ctx.session), text=said))


async def open_voice_form(ctx: ChatContext, event: ActionInvoked) -> Reply:
    """A chat message to log ("Log as customer voice"): the form, prefilled with its text and
    keeping a link back to it (a refused answer comes back here with what was typed). A message
    longer than a form holds is cut, and said so."""
    said = str(event.value.get("text") or "").strip()
    context = (
        {"source_url": str(event.value["source_url"])} if event.value.get("source_url") else {}
    )
    form = voice_form(
        await list_objectives(ctx.session),
        text=said[:MAX_VOICE_CHARS],
        customer=str(event.value.get("customer") or ""),
        objective=str(event.value.get("objective") or ""),
        context=context,
    )
    if len(said) > MAX_VOICE_CHARS:
        note = _("The message was cut to its first {count} characters.").format(
            count=format_number(MAX_VOICE_CHARS)
        )
        return Reply(form=form, messages=[Message.text(note)])
    return Reply(form=form)


async def voice_submitted(ctx: ChatContext, event: FormSubmitted) -> Reply:
    values = event.values
    entry = EmployeeVoice(
        text=str(values.get("text") or ""),
        customer=str(values.get("customer") or "")[:MAX_CUSTOMER_CHARS],
        objective_key=str(values.get("objective") or "").strip() or None,
        link=str(event.context.get("source_url") or "") or None,
        platform=ctx.platform,
    )
    return await log_voice(ctx, entry)


async def log_voice(ctx: ChatContext, entry: EmployeeVoice) -> Reply:
    said = entry.text.strip()
    if not said:
        raise InvalidInput(_("Write what the customer said; it cannot be empty."))
    if len(said) > MAX_VOICE_CHARS:
        raise too_long(said)
    logger = ctx.extensions.voice_logger
    if logger is None:
        raise InvalidInput(
            _("Customer voice is not set up on this server (its content plugin is not installed).")
        )
    logged = await logger(ctx.session, ctx.sealer, ctx.member, entry)
    if logged.alerted or logged.spikes_alerted:
        ctx.queued_messages = True
    return Reply(messages=[voice_receipt(logged, entry.link)])


def voice_receipt(logged: VoiceLogged, link: str | None = None) -> Message:
    """The colleague's confirmation: what the pipeline made of it, and who was told."""
    themes = ", ".join(logged.themes) or _("none yet (it still counts in the digest's volume)")
    lines = [
        _(
            "Thanks: it joins what customers told us, and the next customer-voice digest counts "
            "it among the voices logged by colleagues."
        )
    ]
    if logged.text:
        # What colleagues will read: the colleague sees that an address or number was masked.
        lines.insert(0, f"“{truncate(logged.text, 500)}”")
    if logged.urgent and logged.alerted:
        lines.append(
            _("It was sent to the alert channel as an urgent alert ({why}).").format(
                why=logged.urgent
            )
        )
    elif logged.urgent:
        lines.append(
            _(
                "It reads as urgent ({why}), but no alert channel is set up: tell the "
                "account's owner yourself."
            ).format(why=logged.urgent)
        )
    if logged.ideas:
        numbers = ", ".join(f"#{n}" for n in logged.ideas)
        lines.append(
            ngettext(
                "It weighs {count} open idea as customer evidence: {numbers}.",
                "It weighs {count} open ideas as customer evidence: {numbers}.",
                len(logged.ideas),
            ).format(count=len(logged.ideas), numbers=numbers)
        )
    if logged.spikes:
        spiking = ", ".join(logged.spikes)
        if logged.spikes_alerted:
            spike = _(
                "With it, {themes} is spiking, far above its usual level: the alert channel was "
                "told."
            )
        else:
            spike = _(
                "With it, {themes} is spiking, far above its usual level: the digest will say."
            )
        lines.append(spike.format(themes=spiking))
    title = _("Customer voice #{number} logged").format(number=logged.item_id)
    return Message(
        fallback=" ".join(
            [_("Customer voice #{number} logged.").format(number=logged.item_id), *lines]
        ),
        kind="voice_receipt",
        cards=(
            Card(
                title=title,
                text="\n".join(lines),
                facts=(Fact(_("Themes"), themes), Fact(_("Sentiment"), logged.sentiment)),
                links=(Link(_("Original message"), link),) if link else (),
            ),
        ),
    )
