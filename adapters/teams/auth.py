"""How the Teams adapter proves who it is and checks who calls: outbound credentials kept per
app (botbuilder made a new MSAL app, and asked Azure AD, every turn), connector clients that give
up in seconds, and every failed token check answered 401."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import (
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth._built_in_bot_framework_authentication import (
    _BuiltinBotFrameworkAuthentication,
)

log = logging.getLogger("adapters.teams.adapter")

CONNECTOR_TIMEOUT = 15


class PromptConnectors(ConnectorFactory):
    """Connector clients that give up on the Bot Framework service after CONNECTOR_TIMEOUT
    seconds (msrest waits 100 s by default, in a thread, holding an inbox worker's slot and
    keeping a SIGTERM waiting): a reply that cannot be sent is logged, a delivery retried.

    With ``kept``, one client per (app, service URL, audience) serves every turn: botbuilder
    builds a new one (msrest configuration, retry policy, pipeline) for every activity, which
    profiled as about a sixth of the server's time under a burst of Teams invokes."""

    def __init__(
        self,
        inner: ConnectorFactory,
        kept: dict[tuple[str, str, str], Any] | None = None,
        app_id: str = "",
    ) -> None:
        self.inner = inner
        self.kept = kept
        self.app_id = app_id

    async def create(self, service_url: str, audience: str) -> Any:
        key = (self.app_id, service_url, audience or "")
        if self.kept is not None and (client := self.kept.get(key)) is not None:
            return client
        client = await self.inner.create(service_url, audience)
        client.config.connection.timeout = CONNECTOR_TIMEOUT
        client.config.retry_policy.retries = 1  # the outbox retries deliveries itself
        if self.kept is not None:
            self.kept[key] = client
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._user_token_clients: dict[str, Any] = {}

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        """One user-token client per app, kept: botbuilder makes one for every activity
        (an msrest configuration each), and this bot never asks for user tokens."""
        app_id = app_id_of(claims_identity)
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._user_token_clients[app_id] = client
        return client

    async def authenticate_request(self, activity: Activity, auth_header: str) -> Any:
        try:
            return await super().authenticate_request(activity, auth_header)
        except PermissionError:
            raise
        except Exception as error:
            log.warning("teams: refused a request whose token failed: %s", type(error).__name__)
            raise PermissionError("Unauthorized Access. Request is not authorized") from error


def app_id_of(claims_identity: ClaimsIdentity) -> str:
    """The app a request's token was issued for, as botbuilder reads it (credentials and
    clients are per app)."""
    return _BuiltinBotFrameworkAuthentication.get_app_id(claims_identity) or ""
