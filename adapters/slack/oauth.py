"""Slack OAuth installations and states, kept in our database through the adapter store.

Tokens are sealed at rest with the server's key; the rest of an installation (team, bot user,
scopes) stays readable for operators.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.platform.store import AdapterStore
from bot.platform.support import utcnow

log = logging.getLogger(__name__)

INSTALLATION = "installation"
STATE = "oauth_state"
STATE_LIFETIME = timedelta(minutes=10)
SECRET_FIELDS = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",
)


def installation_key(enterprise_id: str | None, team_id: str | None) -> str:
    return f"{enterprise_id or ''}:{team_id or ''}"


class DatabaseInstallationStore(AsyncInstallationStore):
    def __init__(self, store: AdapterStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        data = installation.to_dict_for_copying()
        secret = {field: data.pop(field, None) for field in SECRET_FIELDS}
        key = installation_key(installation.enterprise_id, installation.team_id)
        await self.store.put(INSTALLATION, key, _jsonable(data), secret=secret)
        log.info("Slack app installed in workspace %s", installation.team_name or key)

    async def async_save_bot(self, bot: Bot) -> None:
        # Bots are saved as part of their installation.
        return None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if is_enterprise_install:
            team_id = None
        record = await self.store.get(INSTALLATION, installation_key(enterprise_id, team_id))
        if record is None:
            return None
        return Installation(**{**record.value, **(record.secret or {})})

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return installation.to_bot() if installation and installation.bot_token else None

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self.store.delete(INSTALLATION, installation_key(enterprise_id, team_id))

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class DatabaseStateStore(AsyncOAuthStateStore):
    """One-time OAuth states: issued for the install page, consumed once by the redirect."""

    def __init__(self, store: AdapterStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self.store.put(STATE, state, {}, expires_at=utcnow() + STATE_LIFETIME)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.store.consume(STATE, state) is not None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
