"""Microsoft Teams: the same bot, built on botbuilder-core's CloudAdapter."""

from __future__ import annotations

from adapters.teams.config import TeamsConfig
from bot.platform import AdapterContext, AdapterStatus
from bot.platform.support import Settings


class TeamsAdapterFactory:
    platform = "teams"

    def status(self, settings: Settings) -> AdapterStatus:
        try:
            return TeamsConfig.from_env(settings.env, settings.public_url).status()
        except ValueError as error:  # configured, but wrongly: the operator must see it
            return AdapterStatus(False, str(error), warning=True)

    def create(self, context: AdapterContext):  # type: ignore[no-untyped-def]
        config = TeamsConfig.from_env(context.settings.env, context.settings.public_url)
        if not config.authenticated:
            # A local emulator only, on in every install: botbuilder loads on its first use.
            from adapters.teams.deferred import DeferredTeamsAdapter

            return DeferredTeamsAdapter(context, config)
        from adapters.teams.adapter import TeamsAdapter

        return TeamsAdapter(context, config)
