"""Slack: every user of the bot served in Slack, built on slack-bolt's AsyncApp."""

from __future__ import annotations

from adapters.slack.config import SlackConfig
from bot.platform import AdapterContext, AdapterStatus
from bot.platform.support import Settings


class SlackAdapterFactory:
    platform = "slack"

    def status(self, settings: Settings) -> AdapterStatus:
        return SlackConfig.from_env(settings.env, settings.public_url).status()

    def create(self, context: AdapterContext):  # type: ignore[no-untyped-def]
        # Imported here so that a missing Slack package only matters when Slack is configured.
        from adapters.slack.adapter import SlackAdapter

        config = SlackConfig.from_env(context.settings.env, context.settings.public_url)
        if config.socket_mode:  # SLACK_APP_TOKEN: events over a WebSocket, no public URL
            from adapters.slack.socket_mode import SlackSocketAdapter

            return SlackSocketAdapter(context, config)
        return SlackAdapter(context, config)
