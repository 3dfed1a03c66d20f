"""The Teams adapter's configuration, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.platform import AdapterStatus
from bot.platform.support import env_number

MESSAGES_PATH = "/api/messages"
BOT_FRAMEWORK = "https://api.botframework.com"
APP_TYPES = ("SingleTenant", "MultiTenant", "UserAssignedMSI")
# Azure creates no new multi-tenant bots since 31 July 2025: a new registration is single-tenant
# (an app registration with a client secret) or a user-assigned managed identity. MultiTenant
# stays for bots registered before then.
DEFAULT_APP_TYPE = "SingleTenant"
# Teams' published limit for bots: 50 requests a second per tenant. A tenant Microsoft allows more
# (or a test fake with its cap raised) sets TEAMS_TENANT_RATE.
DEFAULT_TENANT_RATE = 50.0
# At least this many tenant requests may go early after a pause (an outbox batch being written),
# so a long send runs at the rate instead of ~8 % below it; at higher rates, a tenth of a second's.
MIN_TENANT_BURST = 5
TENANT_HELP = (
    "set MICROSOFT_APP_TENANT_ID to the Directory (tenant) ID of the tenant the bot is "
    "registered in: in the Azure portal, open the Azure Bot resource → Settings → "
    "Configuration, where it is shown as 'App Tenant ID' (or Microsoft Entra ID → Overview → "
    "Tenant ID)"
)
PASSWORD_HELP = (
    "set MICROSOFT_APP_PASSWORD to a client secret of the bot's app registration (Azure "
    "portal → Azure Bot resource → Settings → Configuration → 'Manage Password' → "
    "Certificates & secrets → New client secret; copy its Value)"
)


@dataclass(frozen=True)
class TeamsConfig:
    app_id: str | None = None
    app_password: str | None = None
    app_type: str = DEFAULT_APP_TYPE
    tenant_id: str | None = None
    # Where Bot Framework tokens are checked and obtained; tests and sovereign clouds change them.
    openid_metadata_url: str | None = None
    login_url: str | None = None
    public_url: str = "http://localhost:3978"
    # Requests a second to one tenant's Bot Connector, sends and roster reads together.
    tenant_rate: float = DEFAULT_TENANT_RATE

    @classmethod
    def from_env(cls, env: Mapping[str, str], public_url: str) -> TeamsConfig:
        """The configuration, or a ValueError that says what to set (and where Azure shows
        it) for an app id whose app type lacks what it needs."""

        def value(key: str) -> str | None:
            return (env.get(key) or "").strip() or None

        given = value("MICROSOFT_APP_TYPE") or DEFAULT_APP_TYPE
        app_type = next((t for t in APP_TYPES if t.lower() == given.lower()), None)
        if app_type is None:
            raise ValueError(
                f"MICROSOFT_APP_TYPE must be one of {', '.join(APP_TYPES)}, not '{given}'."
            )
        explicit = value("MICROSOFT_APP_TYPE") is not None
        if value("MICROSOFT_APP_ID") and app_type != "MultiTenant":
            if not value("MICROSOFT_APP_TENANT_ID"):
                said = f"MICROSOFT_APP_TYPE={app_type}" + ("" if explicit else " (the default)")
                raise ValueError(
                    f"{said} needs the bot's tenant: {TENANT_HELP}. A bot registered as "
                    "multi-tenant before 31 July 2025 sets MICROSOFT_APP_TYPE=MultiTenant instead."
                )
            if app_type == "SingleTenant" and not value("MICROSOFT_APP_PASSWORD"):
                raise ValueError(
                    f"MICROSOFT_APP_TYPE=SingleTenant needs a client secret: {PASSWORD_HELP}. "
                    "A bot that signs in as a user-assigned managed identity sets "
                    "MICROSOFT_APP_TYPE=UserAssignedMSI (and no password) instead."
                )
        return cls(
            app_id=value("MICROSOFT_APP_ID"),
            app_password=value("MICROSOFT_APP_PASSWORD"),
            app_type=app_type,
            tenant_id=value("MICROSOFT_APP_TENANT_ID"),
            openid_metadata_url=value("BOT_OPENID_METADATA_URL"),
            login_url=value("BOT_LOGIN_URL"),
            public_url=public_url,
            tenant_rate=env_number(
                env, "TEAMS_TENANT_RATE", DEFAULT_TENANT_RATE, low=0.1, high=1000
            ),
        )

    @property
    def authenticated(self) -> bool:
        return self.app_id is not None

    @property
    def tenant_burst(self) -> int:
        """Tenant requests that may go early after a pause: a tenth of a second's worth, at
        least MIN_TENANT_BURST (so 5 at Teams' own 50 a second)."""
        return max(MIN_TENANT_BURST, int(self.tenant_rate / 10))

    def status(self) -> AdapterStatus:
        if self.authenticated:
            identity = self.app_type == "UserAssignedMSI"
            if not self.app_password and not identity:
                missing = "; MICROSOFT_APP_PASSWORD is not set, so the bot cannot send anything"
            elif self.app_password and identity:
                # Said, as a secret left over from a single-tenant setup is easy to believe used.
                missing = (
                    "; MICROSOFT_APP_PASSWORD is set but not used: a managed identity gets its "
                    "token from Azure (remove it, or set MICROSOFT_APP_TYPE=SingleTenant if this "
                    "is a client secret)"
                )
            else:
                missing = ""
            tenant = f", tenant {self.tenant_id}" if self.app_type != "MultiTenant" else ""
            return AdapterStatus(
                True,
                f"Bot Framework app {self.app_id} ({self.app_type}{tenant}); "
                f"every request's JWT is checked; endpoint {MESSAGES_PATH}{self._pacing}{missing}",
                warning=bool(missing),
            )
        return AdapterStatus(
            True,
            "WITHOUT AUTHENTICATION because MICROSOFT_APP_ID is not set: only requests from this "
            "machine are accepted, for a local emulator. Set MICROSOFT_APP_ID, "
            "MICROSOFT_APP_TENANT_ID and MICROSOFT_APP_PASSWORD (or MICROSOFT_APP_TYPE="
            f"UserAssignedMSI, without a password) to connect Microsoft Teams{self._pacing}",
            warning=True,
        )

    @property
    def _pacing(self) -> str:
        return f"; sends up to {self.tenant_rate:g} requests/s per tenant"

    def botbuilder_configuration(self) -> object:
        """The attribute bag botbuilder's ConfigurationBotFrameworkAuthentication reads."""

        class Configuration:
            APP_ID = self.app_id or ""
            APP_PASSWORD = self.app_password or ""
            # Without an app id (a local emulator) botbuilder's "authentication disabled"
            # needs the multi-tenant factory: the others refuse to start without one.
            APP_TYPE = self.app_type if self.app_id else "MultiTenant"
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
