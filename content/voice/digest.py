"""The customer-voice digest: what customers said in a period, against the period before.

Volume and its change, the sentiment mix and its trend, the top themes with counts, change, the
objective each bears on and two or three scrubbed quotes, and emerging themes: what recurs in
voices no theme covers yet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel import numbers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose import actions
from bot.compose.text import humanise_duration, plural, truncate
from bot.domain import EMPLOYEE_VOICE_SOURCE
from bot.i18n import _, current_locale, ngettext
from bot.i18n.formats import format_number, format_percent, format_signed
from bot.messages import Button, ButtonStyle, Card, Fact, Message, subject_key
from bot.plugins import Composer
from bot.storage.models import Digest, Objective, VoiceItem, VoiceSpike
from content.voice.language import language_name
from content.voice.scrub import scrub
from content.voice.sentiment import MIXED, NEGATIVE, POSITIVE, average, kind, label, not_scored_note
from content.voice.spikes import recent_spikes, spike_note
from content.voice.themes import Taxonomy, emerging_themes
from content.voice.wording import duration

DEFAULT_PERIOD = timedelta(days=7)
TOP_THEMES = 5
QUOTES = 3
QUOTE_LENGTH = 280


@dataclass(frozen=True)
class ThemeView:
    name: str
    count: int
    before: int
    sentiment: float | None
    objective: str | None
    quotes: tuple[str, ...]
    # Voices in a language the analyser cannot read: left out of ``sentiment``.
    not_scored: int = 0


def change(now: int, before: int) -> str:
    if before == 0:
        return _("new") if now else _("none")
    percent = round(100 * (now - before) / before)
    signed = numbers.format_percent(percent / 100, "+#,##0%;-#,##0%", locale=current_locale())
    # Translators: {change} is a signed percentage such as "+40%".
    return _("{change} on the period before").format(change=signed)


def trend(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return _("no earlier period to compare")
    delta = now - before
    if abs(delta) < 0.05:
        return _("steady")
    if delta > 0:
        return _("improving ({change})").format(change=format_signed(delta))
    return _("worsening ({change})").format(change=format_signed(delta))


def mix(items: Sequence[VoiceItem]) -> str:
    """``60% negative, 40% positive`` among the scored voices (the rest are not in it)."""
    counts = Counter(kind(item.sentiment) for item in items)
    total = sum(counts[k] for k in (NEGATIVE, MIXED, POSITIVE)) or 1
    shares = {
        # Translators: a share of the customer voices, e.g. "60% negative".
        NEGATIVE: _("{percent} negative"),
        MIXED: _("{percent} mixed"),
        POSITIVE: _("{percent} positive"),
    }
    return ", ".join(
        shares[k].format(percent=format_percent(round(100 * counts[k] / total) / 100))
        for k in (NEGATIVE, MIXED, POSITIVE)
        if counts[k]
    )


def sentiment_line(items: Sequence[VoiceItem], mean_score: float | None) -> str:
    """``negative: 60% negative, 40% positive (2 not scored)``: the average and mix over the
    scored voices, and how many were not scored."""
    scored_mix = mix(items)
    if mean_score is None or not scored_mix:
        return label(mean_score)  # "not scored": none of them could be
    line = _("{label}: {mix}").format(label=label(mean_score), mix=scored_mix)
    note = not_scored_note(item.sentiment for item in items)
    return _("{sentiment} ({not_scored})").format(sentiment=line, not_scored=note) if note else line


def languages_line(items: Sequence[VoiceItem]) -> tuple[Fact, ...]:
    """``English 12, French 3, unknown 1`` when the voices are not all in one language."""
    counts = Counter(item.language for item in items)
    if len(counts) < 2:
        return ()
    ordered = sorted(counts.items(), key=lambda pair: (pair[0] is None, -pair[1], pair[0] or ""))
    return (
        Fact(
            _("Languages"),
            ", ".join(
                _("{language} {count}").format(
                    language=language_name(code), count=format_number(count)
                )
                for code, count in ordered
            ),
        ),
    )


def representative_quotes(items: Sequence[VoiceItem]) -> tuple[str, ...]:
    """The most negative voice, the most positive, and one in between: the range, not the
    average. Voices not scored stand in the middle (their words may be the angriest of all)."""
    ordered = sorted(items, key=lambda item: item.sentiment if item.sentiment is not None else 0)
    picks = [ordered[0], ordered[-1], ordered[len(ordered) // 2]] if ordered else []
    quotes: list[str] = []
    for item in picks:
        quote = truncate(scrub(item.text), QUOTE_LENGTH)
        if quote not in quotes:
            quotes.append(quote)
    return tuple(quotes[:QUOTES])


def theme_views(
    current: Sequence[VoiceItem],
    previous: Sequence[VoiceItem],
    objective_titles: dict[int, str],
    spiking: frozenset[str] = frozenset(),
) -> list[ThemeView]:
    """The top themes by volume, and every spiking theme whatever its rank."""
    by_theme: dict[str, list[VoiceItem]] = defaultdict(list)
    for item in current:
        for theme in item.themes or []:
            by_theme[theme].append(item)
    before = Counter(theme for item in previous for theme in item.themes or [])
    views = []
    for name, items in by_theme.items():
        objectives = Counter(i.objective_id for i in items if i.objective_id is not None)
        objective = objective_titles.get(objectives.most_common(1)[0][0]) if objectives else None
        views.append(
            ThemeView(
                name,
                len(items),
                before[name],
                average(i.sentiment for i in items),
                objective,
                representative_quotes(items),
                sum(1 for i in items if i.sentiment is None),
            )
        )
    views.sort(key=lambda view: (-view.count, view.name))
    return [v for i, v in enumerate(views) if i < TOP_THEMES or v.name in spiking]


def compose(
    digest_name: str,
    run_id: int,
    current: Sequence[VoiceItem],
    previous: Sequence[VoiceItem],
    period: timedelta,
    taxonomy: Taxonomy,
    objective_titles: dict[int, str],
    spikes: Mapping[str, VoiceSpike] | None = None,
) -> Message:
    """``spikes``: the spikes recorded in the period, by theme (their themes are marked)."""
    spikes = spikes or {}
    subject = subject_key("digest_run", run_id)
    # Averages over the scored voices only; how many were not scored is said beside them.
    now_average = average(i.sentiment for i in current)
    header = Card(
        title=digest_name,
        text=_("What customers told us in the last {period}.").format(period=duration(period)),
        facts=(
            Fact(
                _("Voices"),
                _("{count} ({change})").format(
                    count=format_number(len(current)),
                    change=change(len(current), len(previous)),
                ),
            ),
            Fact(_("Sentiment"), sentiment_line(current, now_average)),
            Fact(_("Trend"), trend(now_average, average(i.sentiment for i in previous))),
            *languages_line(current),
            *logged_by_colleagues(current),
        ),
        buttons=(
            Button(_("Useful"), actions.FEEDBACK_USEFUL, {"subject": subject}, ButtonStyle.PRIMARY),
            Button(_("Not relevant"), actions.FEEDBACK_NOT_RELEVANT, {"subject": subject}),
            Button(_("Suggest an idea"), actions.SUGGEST_OPEN, {"subject": subject}),
        ),
        subject=subject,
    )
    cards = [header]
    for view in theme_views(current, previous, objective_titles, frozenset(spikes)):
        mood = label(view.sentiment)
        if view.not_scored and view.sentiment is not None:
            note = ngettext("{count} not scored", "{count} not scored", view.not_scored).format(
                count=format_number(view.not_scored)
            )
            mood = _("{sentiment} ({not_scored})").format(sentiment=mood, not_scored=note)
        facts = [
            Fact(_("Sentiment"), mood),
            Fact(_("Change"), change(view.count, view.before)),
        ]
        spike = spikes.get(view.name)
        if spike is not None:
            facts.insert(0, Fact(_("Spike"), spike_note(spike)))
        if view.objective:
            facts.append(Fact(_("Objective"), view.objective))
        voices = ngettext("{count} voice", "{count} voices", view.count).format(
            count=format_number(view.count)
        )
        # Theme names are the strategists' words (themes.yaml): never translated.
        title = (
            _("📈 Spiking: {theme}: {voices}") if spike is not None else _("{theme}: {voices}")
        ).format(theme=view.name.capitalize(), voices=voices)
        cards.append(
            Card(
                title=title,
                text="\n".join(_("“{quote}”").format(quote=quote) for quote in view.quotes),
                facts=tuple(facts),
            )
        )
    uncovered = [item for item in current if not item.themes]
    for term, count in emerging_themes(
        [i.text for i in uncovered], [i.text for i in previous], taxonomy
    ):
        examples = [i for i in uncovered if term in i.text.lower()]
        quote = truncate(scrub(examples[0].text), QUOTE_LENGTH) if examples else ""
        cards.append(
            Card(
                title=ngettext(
                    "Emerging: “{term}” ({count} voice, no theme yet)",
                    "Emerging: “{term}” ({count} voices, no theme yet)",
                    count,
                ).format(term=term, count=format_number(count)),
                text=_("“{quote}”").format(quote=quote) if quote else "",
                footer=_("A strategist can add it to the themes file if it matters."),
            )
        )
    voices = ngettext("{count} customer voice", "{count} customer voices", len(current)).format(
        count=format_number(len(current))
    )
    return Message(
        fallback=_("{digest}: {voices}, {sentiment}").format(
            digest=digest_name, voices=voices, sentiment=label(now_average)
        ),
        cards=tuple(cards),
        kind="voice_digest",
        subject=subject,
    )


def logged_by_colleagues(items: Sequence[VoiceItem]) -> tuple[Fact, ...]:
    """How many of the voices colleagues heard and logged from chat (none: no line)."""
    logged = sum(1 for item in items if item.source == EMPLOYEE_VOICE_SOURCE)
    return (Fact(_("Logged by colleagues"), format_number(logged)),) if logged else ()


def day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y}"


async def nothing_in_period(
    session: AsyncSession, digest: Digest, since: datetime | None, start: datetime
) -> str:
    """Why there is nothing to send, saying which period was read: on a first run (``since``
    None) the last 7 days, else since ``since``. Items stored in that time but dated before it
    (last month's file, imported today) are counted, with how to cover them. It is the run's
    note, kept in the database and shown by the admin CLI: English, like every note."""
    zone = ZoneInfo(digest.timezone)
    if since is None:
        period = (
            f"in the last {humanise_duration(DEFAULT_PERIOD)} (since {day(start, zone)}; "
            "the digest's first run)"
        )
    else:
        period = f"since {start.astimezone(zone):%d %b %Y %H:%M} {digest.timezone}"
    matching = [VoiceItem.objective_id == digest.objective_id] if digest.objective_id else []
    earlier = select(
        func.count(VoiceItem.id), func.min(VoiceItem.received_at), func.max(VoiceItem.received_at)
    ).where(VoiceItem.received_at < start, *matching)
    if since is not None:
        earlier = earlier.where(VoiceItem.created_at >= since)
    count, first, last = (await session.execute(earlier)).one()
    about = " on this digest's objective" if matching else ""
    if count:
        stored = "stored since then" if since is not None else "stored"
        return (
            f"No customer voice{about} dated {period}: 0 items in this period. "
            f"{count:,} {'item' if count == 1 else 'items'} {stored} "
            f"{'is' if count == 1 else 'are'} dated from {day(first, zone)} to "
            f"{day(last, zone)}; to cover them, run the digest with --since "
            f"{first.astimezone(zone):%Y-%m-%d}."
        )
    if since is None and not await session.scalar(select(func.count(VoiceItem.id))):
        return (
            "No customer voice has been imported yet; import some with: advocacy voice import "
            "FILE (or send it to the webhook)."
        )
    return f"No customer voice{about} dated {period}."


def voice_composer(taxonomy_loader: Callable[[], Taxonomy]) -> Composer:
    """The composer the plugin registers for "voice" digests (the taxonomy is read at each run,
    so strategists' edits count without a restart)."""

    async def composer(
        session: AsyncSession, digest: Digest, run_id: int, since: datetime | None, now: datetime
    ) -> tuple[Message, str] | str:
        start = since or now - DEFAULT_PERIOD
        period = max(now - start, timedelta(hours=1))
        statement = select(VoiceItem).where(
            VoiceItem.received_at >= start - period, VoiceItem.received_at < now
        )
        if digest.objective_id is not None:
            statement = statement.where(VoiceItem.objective_id == digest.objective_id)
        items = list(await session.scalars(statement))
        current = [i for i in items if i.received_at >= start]
        if not current:
            return await nothing_in_period(session, digest, since, start)
        previous = [i for i in items if i.received_at < start]
        titles = {o.id: o.title for o in await session.scalars(select(Objective))}
        # The latest spike of each theme whose period overlaps this digest's.
        spikes = {s.theme: s for s in reversed(await recent_spikes(session, start, now))}
        message = compose(
            digest.name, run_id, current, previous, period, taxonomy_loader(), titles, spikes
        )
        return message, plural(len(current), "voice")

    return composer
