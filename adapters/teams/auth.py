"""How the Teams adapter proves who it is and checks who calls: outbound credentials kept per
app (botbuilder made a new MSAL app, and asked Azure AD, every turn), connector clients that give
up in seconds, and every failed token check answered 401."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import ConnectorFactory, ServiceClientCredentialsFactory

log = logging.getLogger("adapters.teams.adapter")

CONNECTOR_TIMEOUT = 15


class PromptConnectors(ConnectorFactory):
    """Connector clients that give up on the Bot Framework service after CONNECTOR_TIMEOUT
    seconds (msrest waits 100 s by default, in a thread, holding an inbox worker's slot and
    keeping a SIGTERM waiting): a reply that cannot be sent is logged, a delivery retried."""

    def __init__(self, inner: ConnectorFactory) -> None:
        self.inner = inner

    async def create(self, service_url: str, audience: str) -> Any:
        client = await self.inner.create(service_url, audience)
        client.config.connection.timeout = CONNECTOR_TIMEOUT
        client.config.retry_policy.retries = 1  # the outbox retries deliveries itself
        return client


class KeptCredentials(ServiceClientCredentialsFactory):
    """The bot's outbound credentials, made once per (app, scope, authority) and kept.

    botbuilder asks for new credentials for every incoming activity's connector, and new
    credentials mean a new MSAL app with an empty token cache: each reply in a turn then asked
    Azure AD for its tenant metadata and a fresh token, with synchronous HTTP calls that block
    the event loop (measured by benchmarks/ingest.py). Kept, one MSAL app reuses its token until
    MSAL's cache says it must be renewed.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self._kept: dict[tuple[str, str, str, bool], Any] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self.inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self.inner.is_authentication_disabled()

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        credentials = self._kept.get(key)
        if credentials is None:
            credentials = await self.inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            self._kept[key] = credentials
        return credentials


class StrictAuthentication(ConfigurationBotFrameworkAuthentication):
    """Every failed token check becomes PermissionError, which botbuilder answers with 401.

    botbuilder raises other errors for some bad tokens (a bad signature, an expired token, an
    unknown key), which would otherwise reach the client as 500.
    """

    async def authenticate_request(self, activity: Activity, auth_header: str) -> Any:
        try:
            return await super().authenticate_request(activity, auth_header)
        except PermissionError:
            raise
        except Exception as error:
            log.warning("teams: refused a request whose token failed: %s", type(error).__name__)
            raise PermissionError("Unauthorized Access. Request is not authorized") from error
