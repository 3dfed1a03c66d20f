"""What content/ reads from the configuration (the environment, through core Settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings, env_number
from content.voice.pipeline import AlertRules
from content.voice.spikes import SpikeRule
from content.voice.themes import DEFAULT_TAXONOMY, Taxonomy

DEFAULT_FEED_MINUTES = 30


@dataclass(frozen=True)
class ContentSettings:
    themes_file: Path
    alerts: AlertRules
    spikes: SpikeRule
    webhook_secret: str | None
    feed_poll_minutes: float
    # Only tests fetch pages on this machine; real deployments never reach private addresses.
    fetch_private_addresses: bool

    def taxonomy(self) -> Taxonomy:
        return Taxonomy.load(self.themes_file)


def content_settings(settings: Settings) -> ContentSettings:
    env = settings.env
    return ContentSettings(
        themes_file=Path(env["VOICE_THEMES_FILE"])
        if env.get("VOICE_THEMES_FILE")
        else DEFAULT_TAXONOMY,
        alerts=AlertRules.from_settings(settings),
        spikes=SpikeRule.from_settings(settings),
        webhook_secret=(env.get("VOICE_WEBHOOK_SECRET") or "").strip() or None,
        feed_poll_minutes=env_number(env, "FEED_POLL_MINUTES", DEFAULT_FEED_MINUTES, low=1),
        fetch_private_addresses=(env.get("CONTENT_FETCH_ALLOW_PRIVATE") or "").lower()
        in ("1", "true", "yes"),
    )
