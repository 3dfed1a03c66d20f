"""What content/ adds to the core: the customer-voice digest, the content digest's ranking,
reading a page's metadata, feed polling, and the customer-voice webhook."""

from __future__ import annotations

from bot.app import Application
from bot.config import Settings
from bot.plugins import Extensions, Job, PageInfo
from content.curated.digest import content_composer
from content.curated.feeds import poll_all
from content.curated.fetch import fetch_page
from content.curated.metadata import page_info
from content.settings import ContentSettings, content_settings
from content.voice import webhook
from content.voice.digest import voice_composer
from content.voice.employee_voice import employee_voice_logger
from content.voice.evidence import embeddings_installed, evidence_index_job, evidence_matcher
from content.voice.scrub import scrub
from content.voice.spikes import detect_spikes

# How often the leader looks for spikes between imports (imports and logged voice check at once).
SPIKE_CHECK_SECONDS = 600


class ContentPlugin:
    name = "content"

    def extend(self, extensions: Extensions, settings: Settings) -> None:
        configured = content_settings(settings)

        async def enrich(url: str) -> PageInfo:
            return page_info(
                await fetch_page(url, allow_private=configured.fetch_private_addresses)
            )

        def feeds_job(app: Application) -> Job:
            async def poll() -> None:
                await poll_all(app.db, allow_private=configured.fetch_private_addresses)

            return Job("feeds", configured.feed_poll_minutes * 60, poll)

        def spikes_job(app: Application) -> Job:
            async def check() -> None:
                async with app.db.transaction() as session:
                    found = await detect_spikes(
                        session,
                        rule=configured.spikes,
                        channels=configured.alerts.channels,
                        sealer=app.sealer,
                    )
                if found and app.worker is not None:
                    app.worker.wake()

            return Job("voice spikes", SPIKE_CHECK_SECONDS, check)

        extensions.composers["voice"] = voice_composer(configured.taxonomy)
        extensions.composers["content"] = content_composer
        extensions.url_enricher = enrich
        extensions.scrubber = scrub
        extensions.evidence = evidence_matcher(
            configured.taxonomy,
            embeddings=(settings.env.get("EVIDENCE_MATCHER") or "").lower() != "lexical",
        )
        extensions.jobs.append(feeds_job)
        extensions.jobs.append(evidence_index_job)
        extensions.jobs.append(spikes_job)
        extensions.voice_logger = employee_voice_logger(configured, extensions.evidence)
        extensions.routes.append(webhook.mount)
        extensions.summaries[self.name] = (
            f"{summary(configured)}; customer evidence matched by {extensions.evidence.name}"
            + ("" if embeddings_installed() else " (install the embeddings extra for paraphrases)")
        )


def summary(configured: ContentSettings) -> str:
    """One line for the start-up log: what is on, and how to switch on what is not."""
    hook = (
        f"webhook on at {webhook.PATH}"
        if configured.webhook_secret
        else f"webhook off (set VOICE_WEBHOOK_SECRET to take items at {webhook.PATH})"
    )
    channels = ", ".join(str(c) for c in configured.alerts.channels)
    alerts = (
        f"urgent alerts to {channels}"
        if channels
        else "urgent alerts off (set VOICE_ALERT_CHANNELS)"
    )
    rule = configured.spikes
    spikes = (
        f"spikes: a theme with at least {rule.minimum} voices {rule.per()} and over its usual "
        f"level by {rule.sigmas:g} spreads (VOICE_SPIKE_*), "
        + (
            f"alerted to {channels}"
            if channels
            else "marked in voice digests but not alerted (set VOICE_ALERT_CHANNELS)"
        )
    )
    return (
        f"content and customer-voice digests; feeds polled every "
        f"{configured.feed_poll_minutes:g} min; {hook}; {alerts}; {spikes}; themes from "
        f"{configured.themes_file}"
    )
