"""The Teams adapter's configuration, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.platform import AdapterStatus

MESSAGES_PATH = "/api/messages"
BOT_FRAMEWORK = "https://api.botframework.com"
APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")


@dataclass(frozen=True)
class TeamsConfig:
    app_id: str | None = None
    app_password: str | None = None
    app_type: str = "MultiTenant"
    tenant_id: str | None = None
    # Where Bot Framework tokens are checked and obtained; tests and sovereign clouds change them.
    openid_metadata_url: str | None = None
    login_url: str | None = None
    public_url: str = "http://localhost:3978"

    @classmethod
    def from_env(cls, env: Mapping[str, str], public_url: str) -> TeamsConfig:
        def value(key: str) -> str | None:
            return (env.get(key) or "").strip() or None

        given = value("MICROSOFT_APP_TYPE") or "MultiTenant"
        app_type = next((t for t in APP_TYPES if t.lower() == given.lower()), None)
        if app_type is None:
            raise ValueError(
                f"MICROSOFT_APP_TYPE must be one of {', '.join(APP_TYPES)}, not '{given}'."
            )
        if (
            app_type != "MultiTenant"
            and value("MICROSOFT_APP_ID")
            and not value("MICROSOFT_APP_TENANT_ID")
        ):
            raise ValueError(
                f"MICROSOFT_APP_TYPE={app_type} needs MICROSOFT_APP_TENANT_ID (the tenant the "
                "bot is registered in)."
            )
        return cls(
            app_id=value("MICROSOFT_APP_ID"),
            app_password=value("MICROSOFT_APP_PASSWORD"),
            app_type=app_type,
            tenant_id=value("MICROSOFT_APP_TENANT_ID"),
            openid_metadata_url=value("BOT_OPENID_METADATA_URL"),
            login_url=value("BOT_LOGIN_URL"),
            public_url=public_url,
        )

    @property
    def authenticated(self) -> bool:
        return self.app_id is not None

    def status(self) -> AdapterStatus:
        if self.authenticated:
            missing = (
                "; MICROSOFT_APP_PASSWORD is not set, so the bot cannot send anything"
                if not self.app_password and self.app_type != "UserAssignedMSI"
                else ""
            )
            return AdapterStatus(
                True,
                f"Bot Framework app {self.app_id} ({self.app_type}); "
                f"every request's JWT is checked; endpoint {MESSAGES_PATH}{missing}",
                warning=bool(missing),
            )
        return AdapterStatus(
            True,
            "WITHOUT AUTHENTICATION because MICROSOFT_APP_ID is not set: only requests from this "
            "machine are accepted, for a local emulator. Set MICROSOFT_APP_ID and "
            "MICROSOFT_APP_PASSWORD to connect Microsoft Teams",
            warning=True,
        )

    def botbuilder_configuration(self) -> object:
        """The attribute bag botbuilder's ConfigurationBotFrameworkAuthentication reads."""

        class Configuration:
            APP_ID = self.app_id or ""
            APP_PASSWORD = self.app_password or ""
            APP_TYPE = self.app_type
            APP_TENANTID = self.tenant_id or ""

        settings = Configuration()
        if self.openid_metadata_url:
            # Naming any identity URL switches botbuilder to "parameterized" mode, where the
            # issuer and the outbound scope must be named too.
            settings.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = self.openid_metadata_url  # type: ignore[attr-defined]
            settings.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = BOT_FRAMEWORK  # type: ignore[attr-defined]
        if self.login_url:
            settings.TO_CHANNEL_FROM_BOT_LOGIN_URL = self.login_url  # type: ignore[attr-defined]
            settings.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = BOT_FRAMEWORK  # type: ignore[attr-defined]
        return settings
