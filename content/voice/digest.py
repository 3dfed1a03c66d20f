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
from statistics import mean
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose import actions
from bot.compose.text import humanise_duration, plural, truncate
from bot.domain import EMPLOYEE_VOICE_SOURCE
from bot.messages import Button, ButtonStyle, Card, Fact, Message, subject_key
from bot.plugins import Composer
from bot.storage.models import Digest, Objective, VoiceItem, VoiceSpike
from content.voice.scrub import scrub
from content.voice.sentiment import label
from content.voice.spikes import recent_spikes
from content.voice.themes import Taxonomy, emerging_themes

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


def change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "none"
    percent = round(100 * (now - before) / before)
    return f"{percent:+d}% on the period before"


def trend(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "no earlier period to compare"
    delta = now - before
    if abs(delta) < 0.05:
        return "steady"
    return f"{'improving' if delta > 0 else 'worsening'} ({delta:+.2f})"


def mix(items: Sequence[VoiceItem]) -> str:
    counts = Counter(label(item.sentiment) for item in items)
    total = len(items) or 1
    return ", ".join(
        f"{round(100 * counts[kind] / total)}% {kind}"
        for kind in ("negative", "mixed", "positive")
        if counts[kind]
    )


def representative_quotes(items: Sequence[VoiceItem]) -> tuple[str, ...]:
    """The most negative voice, the most positive, and one in between: the range, not the
    average."""
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
        scores = [i.sentiment for i in items if i.sentiment is not None]
        objectives = Counter(i.objective_id for i in items if i.objective_id is not None)
        objective = objective_titles.get(objectives.most_common(1)[0][0]) if objectives else None
        views.append(
            ThemeView(
                name,
                len(items),
                before[name],
                mean(scores) if scores else None,
                objective,
                representative_quotes(items),
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
    scores = [i.sentiment for i in current if i.sentiment is not None]
    earlier = [i.sentiment for i in previous if i.sentiment is not None]
    now_average = mean(scores) if scores else None
    header = Card(
        title=digest_name,
        text=f"What customers told us in the last {humanise_duration(period)}.",
        facts=(
            Fact("Voices", f"{len(current)} ({change(len(current), len(previous))})"),
            Fact("Sentiment", f"{label(now_average)}: {mix(current)}"),
            Fact("Trend", trend(now_average, mean(earlier) if earlier else None)),
            *logged_by_colleagues(current),
        ),
        buttons=(
            Button("Useful", actions.FEEDBACK_USEFUL, {"subject": subject}, ButtonStyle.PRIMARY),
            Button("Not relevant", actions.FEEDBACK_NOT_RELEVANT, {"subject": subject}),
            Button("Suggest an idea", actions.SUGGEST_OPEN, {"subject": subject}),
        ),
        subject=subject,
    )
    cards = [header]
    for view in theme_views(current, previous, objective_titles, frozenset(spikes)):
        facts = [
            Fact("Sentiment", label(view.sentiment)),
            Fact("Change", change(view.count, view.before)),
        ]
        spike = spikes.get(view.name)
        if spike is not None:
            facts.insert(0, Fact("Spike", spike_note(spike)))
        if view.objective:
            facts.append(Fact("Objective", view.objective))
        mark = "📈 Spiking: " if spike is not None else ""
        cards.append(
            Card(
                title=f"{mark}{view.name.capitalize()}: {plural(view.count, 'voice')}",
                text="\n".join(f"“{quote}”" for quote in view.quotes),
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
                title=f"Emerging: “{term}” ({plural(count, 'voice')}, no theme yet)",
                text=f"“{quote}”" if quote else "",
                footer="A strategist can add it to the themes file if it matters.",
            )
        )
    return Message(
        fallback=f"{digest_name}: {plural(len(current), 'customer voice')}, {label(now_average)}",
        cards=tuple(cards),
        kind="voice_digest",
        subject=subject,
    )


def logged_by_colleagues(items: Sequence[VoiceItem]) -> tuple[Fact, ...]:
    """How many of the voices colleagues heard and logged from chat (none: no line)."""
    logged = sum(1 for item in items if item.source == EMPLOYEE_VOICE_SOURCE)
    return (Fact("Logged by colleagues", str(logged)),) if logged else ()


def spike_note(spike: VoiceSpike) -> str:
    return (
        f"{plural(spike.count, 'voice')} from {spike.period_start:%d %b %H:%M} UTC, against "
        f"about {spike.usual:.1f} usually"
    )


def day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y}"


async def nothing_in_period(
    session: AsyncSession, digest: Digest, since: datetime | None, start: datetime
) -> str:
    """Why there is nothing to send, saying which period was read: on a first run (``since``
    None) the last 7 days, else since ``since``. Items stored in that time but dated before it
    (last month's file, imported today) are counted, with how to cover them."""
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
