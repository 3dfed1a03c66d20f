"""Spikes: a theme whose volume this period stands far above its own recent history.

The rule, per theme: count the voices dated in the current period (periods are aligned on UTC:
days start at midnight UTC) and in each of the ``history`` periods before it. The usual level is
the mean of those counts; the spread is their standard deviation, but never less than the square
root of the mean nor less than 1: counts of rare events vary about that much even when the last
eight periods happened to be flat, and a theme at zero for eight days is not "infinitely" above
its usual with two voices. A theme spikes when its count reaches ``minimum`` (5) and is over
usual + ``sigmas`` (3) × spread. So zero for eight days then 5 is a spike (threshold 3); a steady
10 a day needs 20 (10 + 3 × √10). While no voice at all is dated in the history window (a fresh
install, a first import) there is no usual level and nothing spikes.

Each spike is recorded once per theme and period (``VoiceSpike`` is unique on both, so two
instances or a restart never alert twice) and one alert goes to the alert channels through the
outbox, with the count, the usual level and two scrubbed quotes.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import mean, pstdev

from babel import numbers
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compose.text import humanise_duration, truncate
from bot.config import ChannelRef, Settings, env_number
from bot.i18n import _, current_locale, ngettext, speaking
from bot.i18n.formats import format_number
from bot.messages import Card, Fact, Message
from bot.outbox.queue import Recipient, enqueue
from bot.sealing import Sealer
from bot.services.rollups import parse_period
from bot.storage.models import Objective, VoiceItem, VoiceSpike
from bot.storage.types import utcnow
from bot.storage.upsert import insert_ignore
from content.voice.scrub import scrub
from content.voice.sentiment import average, label, not_scored_note
from content.voice.wording import day_and_time, duration

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday, so weekly periods start on Mondays
DEFAULT_PERIOD = timedelta(days=1)
DEFAULT_HISTORY = 8
DEFAULT_SIGMAS = 3.0
DEFAULT_MINIMUM = 5
QUOTES = 2
QUOTE_LENGTH = 280


@dataclass(frozen=True)
class SpikeRule:
    period: timedelta = DEFAULT_PERIOD
    history: int = DEFAULT_HISTORY
    sigmas: float = DEFAULT_SIGMAS
    minimum: int = DEFAULT_MINIMUM

    @classmethod
    def from_settings(cls, settings: Settings) -> SpikeRule:
        """``VOICE_SPIKE_PERIOD`` (1d; 12h, 1w...), ``VOICE_SPIKE_MIN_COUNT`` (5),
        ``VOICE_SPIKE_SIGMAS`` (3)."""
        env = settings.env
        raw = (env.get("VOICE_SPIKE_PERIOD") or "").strip()
        try:
            period = parse_period(raw) if raw else DEFAULT_PERIOD
        except Exception as error:
            raise ValueError(f"VOICE_SPIKE_PERIOD: {getattr(error, 'message', error)}") from None
        if period is None or period < timedelta(hours=1):
            raise ValueError("VOICE_SPIKE_PERIOD must be a period such as 1d, 12h or 1w.")
        minimum = env_number(env, "VOICE_SPIKE_MIN_COUNT", DEFAULT_MINIMUM, low=1)
        sigmas = env_number(env, "VOICE_SPIKE_SIGMAS", DEFAULT_SIGMAS, low=0.5, high=20)
        return cls(period=period, sigmas=sigmas, minimum=max(1, int(minimum)))

    def period_start(self, moment: datetime) -> datetime:
        """The start of the period ``moment`` falls in (periods are aligned on UTC)."""
        steps = (moment - EPOCH) // self.period
        return EPOCH + steps * self.period

    def usual(self, history: Sequence[int]) -> tuple[float, float]:
        """The usual level (mean) and the spread the rule uses (see the module's docstring)."""
        level = mean(history) if history else 0.0
        spread = max(pstdev(history) if len(history) > 1 else 0.0, math.sqrt(level), 1.0)
        return level, spread

    def spikes(self, count: int, history: Sequence[int]) -> bool:
        level, spread = self.usual(history)
        return count >= self.minimum and count > level + self.sigmas * spread

    def per(self) -> str:
        """'a day', 'every 12 hours': how often, for the start-up log (English)."""
        if self.period == timedelta(days=1):
            return "a day"
        if self.period == timedelta(weeks=1):
            return "a week"
        return f"every {humanise_duration(self.period)}"

    def usual_note(self, usual: float) -> str:
        """'about 0.5 a day over the previous 8 days': the usual level, for people."""
        level = one_decimal(usual)
        before = duration(self.period * self.history)
        if self.period == timedelta(days=1):
            return _("about {count} a day over the previous {period}").format(
                count=level, period=before
            )
        if self.period == timedelta(weeks=1):
            return _("about {count} a week over the previous {period}").format(
                count=level, period=before
            )
        return _("about {count} every {length} over the previous {period}").format(
            count=level, length=duration(self.period), period=before
        )


@dataclass(frozen=True)
class Spike:
    theme: str
    period_start: datetime
    period_end: datetime
    count: int
    usual: float
    spread: float


async def detect_spikes(
    session: AsyncSession,
    *,
    rule: SpikeRule,
    channels: Sequence[ChannelRef],
    sealer: Sealer,
    now: datetime | None = None,
) -> list[Spike]:
    """Record the themes spiking in the current period that were not recorded yet, and queue
    one alert for each; returns those new spikes. A spike already recorded gets its count
    brought up to date, without a second alert."""
    now = now or utcnow()
    start = rule.period_start(now)
    end = start + rule.period
    since = start - rule.history * rule.period
    rows = (
        await session.execute(
            select(VoiceItem.themes, VoiceItem.received_at).where(
                VoiceItem.received_at >= since, VoiceItem.received_at < end
            )
        )
    ).all()
    history: dict[str, list[int]] = defaultdict(lambda: [0] * rule.history)
    current: Counter[str] = Counter()
    baseline = False
    for themes, received in rows:
        if received >= start:
            current.update(set(themes or ()))
            continue
        baseline = True
        index = int((received - since) // rule.period)
        for theme in set(themes or ()):
            history[theme][index] += 1
    if not baseline:
        return []
    found = []
    for theme, count in sorted(current.items()):
        past = history[theme] if theme in history else [0] * rule.history
        if not rule.spikes(count, past):
            continue
        level, spread = rule.usual(past)
        spike = Spike(theme, start, end, count, level, spread)
        if await _record(session, spike, now):
            found.append(spike)
    if found and channels:
        await _alert(session, found, rule, channels, sealer, now)
    if found:
        log.info("%d customer-voice spike(s) found", len(found))
    return found


async def _record(session: AsyncSession, spike: Spike, now: datetime) -> bool:
    """True when this spike is new; otherwise its count is brought up to date."""
    inserted = await insert_ignore(
        session,
        VoiceSpike.__table__,
        {
            "theme": spike.theme[:100],
            "period_start": spike.period_start,
            "period_end": spike.period_end,
            "count": spike.count,
            "usual": spike.usual,
            "spread": spike.spread,
            "created_at": now,
        },
    )
    if not inserted:
        await session.execute(
            update(VoiceSpike)
            .where(
                VoiceSpike.theme == spike.theme[:100],
                VoiceSpike.period_start == spike.period_start,
                VoiceSpike.count < spike.count,
            )
            .values(count=spike.count)
        )
    return inserted


async def _alert(
    session: AsyncSession,
    spikes: Sequence[Spike],
    rule: SpikeRule,
    channels: Sequence[ChannelRef],
    sealer: Sealer,
    now: datetime,
) -> None:
    start = spikes[0].period_start
    items = list(
        await session.scalars(
            select(VoiceItem)
            .where(VoiceItem.received_at >= start, VoiceItem.received_at < spikes[0].period_end)
            .order_by(VoiceItem.received_at.desc())
        )
    )
    titles = {o.id: o.title for o in await session.scalars(select(Objective))}
    recipients = [Recipient.for_channel(channel) for channel in channels]
    for spike in spikes:
        about = [item for item in items if spike.theme in (item.themes or ())]
        # Alert channels hear the workspace's language, whoever's words tipped the spike.
        with speaking(None):
            message = spike_message(spike, about, rule, titles)
        await enqueue(
            session,
            message,
            recipients,
            sealer=sealer,
            dedupe_prefix=f"voice-spike:{spike.theme}:{spike.period_start.isoformat()}",
        )
        await session.execute(
            update(VoiceSpike)
            .where(
                VoiceSpike.theme == spike.theme[:100],
                VoiceSpike.period_start == spike.period_start,
            )
            .values(alerted_at=now)
        )


def spike_quotes(items: Sequence[VoiceItem]) -> tuple[str, ...]:
    """The most negative voice and the most recent other one, scrubbed."""
    if not items:
        return ()
    worst = min(items, key=lambda item: item.sentiment if item.sentiment is not None else 0)
    picks = [worst, *(item for item in items if item is not worst)][:QUOTES]
    return tuple(truncate(scrub(item.text), QUOTE_LENGTH) for item in picks)


def one_decimal(value: float) -> str:
    """``0.5``, ``2.0`` / ``0,5``: a usual level, always with its tenth."""
    return numbers.format_decimal(value, "#,##0.0", locale=current_locale())


def voices(count: int) -> str:
    return ngettext("{count} voice", "{count} voices", count).format(count=format_number(count))


def spike_note(spike: VoiceSpike) -> str:
    """'6 voices from 10 Mar 00:00 UTC, against about 0.5 usually' (the digest marks spikes)."""
    return _("{voices} from {moment} UTC, against about {usual} usually").format(
        voices=voices(spike.count),
        moment=day_and_time(spike.period_start),
        usual=one_decimal(spike.usual),
    )


def spike_message(
    spike: Spike, items: Sequence[VoiceItem], rule: SpikeRule, objective_titles: dict[int, str]
) -> Message:
    usual = rule.usual_note(spike.usual)
    facts = [
        Fact(
            _("This period"),
            _("{voices} since {moment} UTC").format(
                voices=voices(spike.count), moment=day_and_time(spike.period_start)
            ),
        ),
        Fact(_("Usual"), usual),
    ]
    # Over the scored voices only; how many were not scored (another language) beside it.
    mean_score = average(i.sentiment for i in items)
    if mean_score is not None:
        mood = label(mean_score)
        if note := not_scored_note(i.sentiment for i in items):
            mood = _("{sentiment} ({not_scored})").format(sentiment=mood, not_scored=note)
        facts.append(Fact(_("Sentiment"), mood))
    objectives = Counter(i.objective_id for i in items if i.objective_id is not None)
    if objectives and (title := objective_titles.get(objectives.most_common(1)[0][0])):
        facts.append(Fact(_("Objective"), title))
    quotes = spike_quotes(items)
    return Message(
        fallback=_("Spike in customer voice: {theme}, {voices} ({usual})").format(
            theme=spike.theme, voices=voices(spike.count), usual=usual
        ),
        kind="voice_spike",
        cards=(
            Card(
                title=_("Spike: {theme} ({voices})").format(
                    theme=spike.theme, voices=voices(spike.count)
                ),
                text="\n".join(_("“{quote}”").format(quote=quote) for quote in quotes),
                facts=tuple(facts),
                footer=_("One alert per theme and period; the customer-voice digest marks it."),
            ),
        ),
    )


async def recent_spikes(
    session: AsyncSession, since: datetime, until: datetime | None = None
) -> list[VoiceSpike]:
    """Spikes whose period overlaps [since, until), newest first."""
    statement = select(VoiceSpike).where(VoiceSpike.period_end > since)
    if until is not None:
        statement = statement.where(VoiceSpike.period_start < until)
    return list(
        await session.scalars(statement.order_by(VoiceSpike.period_start.desc(), VoiceSpike.theme))
    )
