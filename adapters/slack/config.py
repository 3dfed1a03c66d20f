"""The Slack adapter's configuration, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.platform import AdapterStatus
from bot.platform.support import env_number

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
# Slack allows about one message a second per channel and keeps a workspace-wide limit that it
# does not publish; 20 a second is a conservative default that an admin can raise.
DEFAULT_WORKSPACE_RATE = 20.0
DEFAULT_TIMEOUT_SECONDS = 15.0
# Slack's app-level tokens (Socket Mode) start so; the others are named in the refusal.
APP_TOKEN_PREFIX = "xapp-"
OTHER_TOKENS = {
    "xoxb-": "a bot token",
    "xoxp-": "a user token",
    "xoxe": "a refresh token",
}


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str | None = None
    signing_secret: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # The Web API base URL; tests point it at a local fake.
    api_url: str | None = None
    public_url: str = "http://localhost:3978"
    # Messages a second the bot posts to one workspace, all channels together.
    workspace_rate: float = DEFAULT_WORKSPACE_RATE
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # The app-level token (xapp-...): with it, events come over Socket Mode, not HTTP.
    app_token: str | None = None

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
            workspace_rate=env_number(
                env, "SLACK_WORKSPACE_RATE", DEFAULT_WORKSPACE_RATE, low=0.1, high=1000
            ),
            timeout=env_number(env, "SLACK_TIMEOUT", DEFAULT_TIMEOUT_SECONDS, low=0.1, high=120),
            app_token=value("SLACK_APP_TOKEN"),
        )

    @property
    def oauth(self) -> bool:
        """Several workspaces install the app through OAuth (tokens stored in our database)."""
        return bool(self.client_id and self.client_secret)

    @property
    def socket_mode(self) -> bool:
        """Events come over a WebSocket the bot opens (Socket Mode): no public URL needed."""
        return self.app_token is not None

    def status(self) -> AdapterStatus:
        if self.socket_mode:
            return self._socket_status()
        if not self.signing_secret:
            if self.bot_token or self.oauth:
                return AdapterStatus(
                    False,
                    "SLACK_SIGNING_SECRET is not set, so requests from Slack could not be "
                    "verified (or set SLACK_APP_TOKEN, xapp-…, to use Socket Mode instead)",
                )
            return AdapterStatus(
                False,
                "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (one "
                "workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                "SLACK_SIGNING_SECRET (OAuth install) to enable it; with no public URL, "
                "SLACK_APP_TOKEN (xapp-…, Socket Mode) instead of SLACK_SIGNING_SECRET",
            )
        pacing = f"; sends up to {self.workspace_rate:g} messages/s per workspace"
        if self.oauth:
            return AdapterStatus(
                True,
                f"OAuth install for any workspace at "
                f"{self.public_url}{INSTALL_PATH}; events at {EVENTS_PATH}{pacing}",
            )
        if self.bot_token:
            return AdapterStatus(
                True, f"one workspace (SLACK_BOT_TOKEN); events at {EVENTS_PATH}{pacing}"
            )
        return AdapterStatus(
            False,
            "SLACK_BOT_TOKEN is not set (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth)",
        )

    def _socket_status(self) -> AdapterStatus:
        """Over Socket Mode Slack signs nothing (the app token opens the connection), so the
        signing secret is not needed; a bot token (or an OAuth install) still is, to send."""
        assert self.app_token is not None
        if not self.app_token.startswith(APP_TOKEN_PREFIX):
            token = self.app_token
            kind = next(
                (name for prefix, name in OTHER_TOKENS.items() if token.startswith(prefix)),
                "not an app-level token",
            )
            return AdapterStatus(
                False,
                f"SLACK_APP_TOKEN must be the app-level token, starting with {APP_TOKEN_PREFIX} "
                f"(this one is {kind}): create it under Basic Information → App-Level Tokens "
                "with the connections:write scope",
                warning=True,  # Slack was wanted: an INFO line would hide that it is off
            )
        mode = "Socket Mode (SLACK_APP_TOKEN set), no public URL needed"
        pacing = f"; sends up to {self.workspace_rate:g} messages/s per workspace"
        if self.oauth:
            return AdapterStatus(
                True,
                f"{mode}; OAuth install for any workspace at "
                f"{self.public_url}{INSTALL_PATH} (reached by the installing admin's browser "
                f"only){pacing}",
            )
        if self.bot_token:
            return AdapterStatus(True, f"{mode}; one workspace (SLACK_BOT_TOKEN){pacing}")
        return AdapterStatus(
            False,
            "SLACK_APP_TOKEN is set (Socket Mode) but SLACK_BOT_TOKEN is not: set it to the "
            "bot token (xoxb-…) of this app's installation (or set SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET for OAuth installs); SLACK_SIGNING_SECRET is not needed over "
            "Socket Mode",
            warning=True,
        )
