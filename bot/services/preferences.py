"""What each member chose to receive: digest kinds muted, daily or weekly, and quiet hours.

The choices live on the member and are applied in the core (when a run picks its audience and
when a delivery is queued), so every adapter respects them without knowing they exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import DigestKind, parse_enum
from bot.errors import InvalidInput
from bot.i18n import _, normalize_locale
from bot.storage.models import Member

DAILY, WEEKLY = "daily", "weekly"
CADENCES = (DAILY, WEEKLY)
# A weekly member gets a digest when the last one reached them at least this long ago; a little
# under seven days so a schedule that fires at the same time each week is never a week late.
WEEKLY_GAP = timedelta(days=6, hours=12)
WEEKLY_PERIOD = timedelta(days=7)
QUIET_PATTERN = re.compile(r"^\s*(\d{1,2})[:h.]?(\d{2})\s*-\s*(\d{1,2})[:h.]?(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight, e.g. 22:00-07:00


def parse_quiet_hours(text: str) -> QuietHours:
    """'22:00-07:00' (local time), or a one-line error with an example."""
    match = QUIET_PATTERN.match(text)
    if match:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return QuietHours(time(h1, m1), time(h2, m2))
    raise InvalidInput(
        _(
            "'{text}' is not a quiet-hours range; write it like 22:00-07:00 (your local time)."
        ).format(text=text)
    )


def quiet_until(member: Member, now: datetime) -> datetime | None:
    """When the member's quiet hours end, if ``now`` falls inside them; else None."""
    if not member.quiet_hours:
        return None
    quiet = parse_quiet_hours(member.quiet_hours)
    zone = ZoneInfo(member.timezone or "UTC")
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Set on the local wall clock, so the end stays 07:00 across a daylight-saving change.
    return end.astimezone(now.tzinfo)


def wants_kind(member: Member, kind: str) -> bool:
    return kind not in (member.muted_kinds or [])


@dataclass(frozen=True)
class PreferenceChange:
    mute: tuple[str, ...] = ()
    unmute: tuple[str, ...] = ()
    cadence: str | None = None
    quiet_hours: str | None = None  # "" switches them off


def parse_preference_words(words: list[str]) -> PreferenceChange:
    """Chat's '/prefs mute voice', 'weekly', 'quiet 22:00-07:00', 'quiet off'..."""
    if not words:
        return PreferenceChange()
    verb, rest = words[0].lower(), words[1:]
    if verb in ("mute", "unmute"):
        if not rest:
            raise InvalidInput(
                _("Which digests? Write /prefs {verb} {kinds}.").format(
                    verb=verb, kinds="|".join(_kinds())
                )
            )
        kinds = tuple(parse_enum(DigestKind, word, _("digest kind")) for word in rest)
        return PreferenceChange(mute=kinds) if verb == "mute" else PreferenceChange(unmute=kinds)
    if verb in CADENCES:
        return PreferenceChange(cadence=verb)
    if verb == "quiet":
        value = " ".join(rest)
        if value.lower() in ("off", "none", ""):
            return PreferenceChange(quiet_hours="")
        return PreferenceChange(quiet_hours=value)
    raise InvalidInput(
        _(
            "Unknown preference '{word}'; use mute KIND, unmute KIND, daily, weekly, "
            "quiet 22:00-07:00 or quiet off."
        ).format(word=words[0])
    )


def _kinds() -> list[str]:
    return [kind.value for kind in DigestKind]


async def apply_preferences(
    session: AsyncSession, member: Member, change: PreferenceChange
) -> Member:
    """A member changes their own preferences (nobody else may)."""
    muted = [k for k in (member.muted_kinds or []) if k not in change.unmute]
    muted += [k for k in change.mute if k not in muted]
    member.muted_kinds = sorted(muted)
    if change.cadence is not None:
        if change.cadence not in CADENCES:
            raise InvalidInput(
                _("'{cadence}' is not a cadence; use daily or weekly.").format(
                    cadence=change.cadence
                )
            )
        member.cadence = change.cadence
    if change.quiet_hours is not None:
        member.quiet_hours = (
            str(parse_quiet_hours(change.quiet_hours)) if change.quiet_hours else None
        )
    await session.flush()
    return member


def describe_preferences(member: Member) -> list[tuple[str, str]]:
    muted = ", ".join(member.muted_kinds or []) or _("nothing")
    quiet = member.quiet_hours or _("none")
    return [
        (_("Muted digests"), muted),
        (
            _("Digests"),
            _("weekly (one a week per digest)") if member.cadence == WEEKLY else _("as scheduled"),
        ),
        (_("Quiet hours"), f"{quiet} ({member.timezone})" if member.quiet_hours else quiet),
    ]


def choose_language(member: Member, locale: str | None, platform_hint: str | None = None) -> None:
    """A member picks the language the bot speaks to them (``locale``, one of bot.i18n's
    SUPPORTED), kept whatever their platform says; None follows the platform again, from this
    event's hint (``platform_hint``) at once, or the workspace's default until one comes."""
    if locale is None:
        member.locale = normalize_locale(platform_hint)
        member.locale_chosen = False
    else:
        member.locale = locale
        member.locale_chosen = True
