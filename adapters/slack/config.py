"""The Slack adapter's configuration, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.platform import AdapterStatus

# What the bot asks for at install; the manifest (manifest.yaml) declares the same.
BOT_SCOPES = (
    "chat:write",
    "chat:write.public",
    "commands",
    "im:history",
    "im:write",
    "reactions:read",
    "users:read",
)
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str | None = None
    signing_secret: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # The Web API base URL; tests point it at a local fake.
    api_url: str | None = None
    public_url: str = "http://localhost:3978"

    @classmethod
    def from_env(cls, env: Mapping[str, str], public_url: str) -> SlackConfig:
        def value(key: str) -> str | None:
            return (env.get(key) or "").strip() or None

        api_url = value("SLACK_API_URL")
        if api_url and not api_url.endswith("/"):
            api_url += "/"
        return cls(
            bot_token=value("SLACK_BOT_TOKEN"),
            signing_secret=value("SLACK_SIGNING_SECRET"),
            client_id=value("SLACK_CLIENT_ID"),
            client_secret=value("SLACK_CLIENT_SECRET"),
            api_url=api_url,
            public_url=public_url,
        )

    @property
    def oauth(self) -> bool:
        """Several workspaces install the app through OAuth (tokens stored in our database)."""
        return bool(self.client_id and self.client_secret)

    def status(self) -> AdapterStatus:
        if not self.signing_secret:
            if self.bot_token or self.oauth:
                return AdapterStatus(
                    False,
                    "SLACK_SIGNING_SECRET is not set, so requests from Slack could not be verified",
                )
            return AdapterStatus(
                False,
                "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (one "
                "workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                "SLACK_SIGNING_SECRET (OAuth install) to enable it",
            )
        if self.oauth:
            return AdapterStatus(
                True,
                f"OAuth install for any workspace at "
                f"{self.public_url}{INSTALL_PATH}; events at {EVENTS_PATH}",
            )
        if self.bot_token:
            return AdapterStatus(True, f"one workspace (SLACK_BOT_TOKEN); events at {EVENTS_PATH}")
        return AdapterStatus(
            False,
            "SLACK_BOT_TOKEN is not set (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth)",
        )
