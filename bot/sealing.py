"""Sealed references: values only the bot can open, for anonymous authors.

An anonymous suggestion stores its author as a Fernet token made with a key derived from
``ADVOCACY_SECRET_KEY``. The bot opens it for one purpose, to tell the author what became of
the idea; nothing that reads the database as plain text can link the idea to a person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

GENERATED_KEY_FILE = "secret.key"


class SealError(Exception):
    """A sealed value could not be opened (wrong key, or tampered with)."""


class Sealer:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the secret key must not be empty")
        digest = hashlib.sha256(b"advocacy-seal-v1:" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._tag_key = hashlib.sha256(b"advocacy-contributor-v1:" + secret.encode()).digest()
        self._event_key = hashlib.sha256(b"advocacy-event-v1:" + secret.encode()).digest()

    def event_key(self, platform: str, event_id: str) -> str:
        """The platform's event id as the inbox keeps it: equal ids give equal keys (so a retried
        delivery counts once), but the key cannot be turned back into the id, which may name a
        conversation or a person (a Teams activity id carries the author's conversation id)."""
        message = f"{platform}\x00{event_id}".encode()
        return hmac.new(self._event_key, message, hashlib.sha256).hexdigest()

    def contributor_tag(self, member_id: int) -> str:
        """A stand-in for a person that cannot be turned back into them without the server key:
        it lets reports count distinct people behind anonymous ideas (so a group of fewer than
        five is never shown apart) without storing who they are."""
        return hmac.new(self._tag_key, str(member_id).encode(), hashlib.sha256).hexdigest()[:16]

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as error:
            raise SealError("a sealed reference could not be opened with this key") from error


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """Use the configured key, or create one in the data directory on first start.

    A generated key lives beside the data it protects; production deployments should set
    ``ADVOCACY_SECRET_KEY`` so that the key survives a lost volume and is shared by every instance.
    """
    if configured:
        return configured
    path = data_dir / GENERATED_KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    log.warning(
        "ADVOCACY_SECRET_KEY is not set; generated one in %s. Set the variable in production.",
        path,
    )
    return secret
