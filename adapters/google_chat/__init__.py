"""Google Chat: the bot as a Chat app on an HTTP endpoint, sending through the Chat API."""

from __future__ import annotations

from adapters.google_chat.config import GoogleChatConfig
from bot.platform import AdapterContext, AdapterStatus
from bot.platform.support import Settings


class GoogleChatAdapterFactory:
    platform = "google_chat"

    def status(self, settings: Settings) -> AdapterStatus:
        try:
            return GoogleChatConfig.from_env(settings.env, settings.public_url).status()
        except ValueError as error:  # configured, but wrongly: the operator must see it
            return AdapterStatus(False, str(error), warning=True)

    def create(self, context: AdapterContext):  # type: ignore[no-untyped-def]
        from adapters.google_chat.adapter import GoogleChatAdapter

        return GoogleChatAdapter(
            context, GoogleChatConfig.from_env(context.settings.env, context.settings.public_url)
        )
