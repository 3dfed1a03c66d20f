"""Sealed references: values only the bot can open, for anonymous authors.

An anonymous suggestion stores its author as a Fernet token made with a key derived from
``ADVOCACY_SECRET_KEY``. The bot opens it for one purpose, to tell the author what became of
the idea; nothing that reads the database as plain text can link the idea to a person.

Tokens are undated: a Fernet token carries the second it was made in plain text (bytes 1-9),
which would date an anonymous idea to the second however coarsely its own row is stamped. Nothing
here uses Fernet's expiry, so the time is written as 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import math
import os
import secrets
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

GENERATED_KEY_FILE = "secret.key"
UNDATED = 0
TAG_NONCE_BYTES = 12
# Opened contributor tags kept per process: a rollup opens one per anonymous idea in its period,
# and the same ideas come back in every rollup. About 200 bytes an entry.
OPENED_TAGS_KEPT = 200_000
# Marks an inbox event sealed with AES-GCM (a Fernet token never starts with it: "gAAAA...").
EVENT_PREFIX = "e1."


class SealError(Exception):
    """A sealed value could not be opened (wrong key, or tampered with)."""


class Sealer:
    """The ciphers are made on first use: ``cryptography`` (about 6 MiB resident) is then
    imported, which an idle server that seals nothing never does."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the secret key must not be empty")
        self._seal_key = hashlib.sha256(b"advocacy-seal-v1:" + secret.encode()).digest()
        self._tag_key = hashlib.sha256(b"advocacy-contributor-v1:" + secret.encode()).digest()
        self._tag_seal = hashlib.sha256(b"advocacy-contributor-seal-v1:" + secret.encode()).digest()
        self._opened_tags: dict[str, str | None] = {}
        self._event_key = hashlib.sha256(b"advocacy-event-v1:" + secret.encode()).digest()
        self._event_seal = hashlib.sha256(b"advocacy-event-seal-v1:" + secret.encode()).digest()

    @cached_property
    def _fernet(self) -> Fernet:
        from cryptography.fernet import Fernet

        return Fernet(base64.urlsafe_b64encode(self._seal_key))

    @cached_property
    def _tag_cipher(self) -> AESGCM:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._tag_seal)

    @cached_property
    def _event_cipher(self) -> AESGCM:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._event_seal)

    def event_key(self, platform: str, event_id: str) -> str:
        """The platform's event id as the inbox keeps it: equal ids give equal keys (so a retried
        delivery counts once), but the key cannot be turned back into the id, which may name a
        conversation or a person (a Teams activity id carries the author's conversation id)."""
        message = f"{platform}\x00{event_id}".encode()
        return hmac.new(self._event_key, message, hashlib.sha256).hexdigest()

    def contributor_tag(self, member_id: int) -> str:
        """A stand-in for a person that cannot be turned back into them without the server key:
        it lets reports count distinct people behind anonymous ideas (so a group of fewer than
        five is never shown apart) without storing who they are. Equal for equal people, so it
        is only ever stored sealed (``seal_contributor``)."""
        return hmac.new(self._tag_key, str(member_id).encode(), hashlib.sha256).hexdigest()[:16]

    def seal_contributor(self, member_id: int) -> str:
        """The contributor tag as an anonymous idea stores it: sealed with a random nonce, so two
        ideas of one person give different bytes and nobody can link them without the key.

        AES-GCM rather than Fernet (both authenticated encryption): a rollup opens one per
        anonymous idea, and Fernet took 57 us an opening against 4 us here (20,000 ideas)."""
        nonce = secrets.token_bytes(TAG_NONCE_BYTES)
        sealed = self._tag_cipher.encrypt(nonce, self.contributor_tag(member_id).encode(), None)
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open_contributor(self, sealed: str) -> str | None:
        """The tag inside a sealed one (None if this key cannot open it), remembered for the
        process: rollups count people over the same anonymous ideas again and again."""
        if sealed in self._opened_tags:
            return self._opened_tags[sealed]
        from cryptography.exceptions import InvalidTag

        tag: str | None
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            nonce, body = raw[:TAG_NONCE_BYTES], raw[TAG_NONCE_BYTES:]
            tag = self._tag_cipher.decrypt(nonce, body, None).decode()
        except (InvalidTag, ValueError):
            tag = None
        if len(self._opened_tags) >= OPENED_TAGS_KEPT:
            self._opened_tags.clear()
        self._opened_tags[sealed] = tag
        return tag

    def seal(self, value: dict[str, Any]) -> str:
        data = json.dumps(value, sort_keys=True).encode()
        return self._fernet.encrypt_at_time(data, UNDATED).decode()

    @staticmethod
    def dated(token: str) -> bool:
        """Whether a sealed value shows when it was made (tokens sealed before they were
        undated do: anyone can read the second from the token without the key)."""
        try:
            raw = base64.urlsafe_b64decode(token.encode())
        except ValueError:
            return False
        return len(raw) > 9 and int.from_bytes(raw[1:9], "big") != UNDATED

    def seal_event(self, value: dict[str, Any]) -> str:
        """An inbound event as the inbox keeps it while it waits. AES-GCM, not Fernet (both
        authenticated encryption): every acknowledgement seals one, and a clicked Slack card
        took 87 us with Fernet over sorted JSON against 50 us here."""
        nonce = secrets.token_bytes(TAG_NONCE_BYTES)
        sealed = self._event_cipher.encrypt(nonce, json.dumps(value).encode(), None)
        return EVENT_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open_event(self, token: str) -> dict[str, Any]:
        """An event sealed by ``seal_event`` (or, written before it, by ``seal``)."""
        if not token.startswith(EVENT_PREFIX):
            return self.open(token)
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(token[len(EVENT_PREFIX) :].encode())
            nonce, body = raw[:TAG_NONCE_BYTES], raw[TAG_NONCE_BYTES:]
            return json.loads(self._event_cipher.decrypt(nonce, body, None))
        except (InvalidTag, ValueError) as error:
            raise SealError("an inbox event could not be opened with this key") from error

    def open(self, token: str) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as error:
            raise SealError("a sealed reference could not be opened with this key") from error


# A configured key shorter than this, or guessable, is refused at start: it seals every anonymous
# author, so whoever guesses it and reads the database knows who wrote what.
MIN_SECRET_LENGTH = 32
# Estimated from the key's own characters (Shannon): 32 random hexadecimal digits have 90 or more.
MIN_SECRET_BITS = 80
# What people type when told to "set a secret" (compared without case, spaces or punctuation).
PLACEHOLDERS = (
    "changeme",
    "change",
    "secret",
    "password",
    "passwd",
    "example",
    "placeholder",
    "default",
    "replace",
    "yourkey",
    "letmein",
    "qwerty",
)
MAKE_ONE = "make one with: advocacy secret-key"


class WeakSecret(ValueError):
    """The configured key is too easy to guess (a ValueError: every command shows it as its
    one-line error)."""


def new_secret() -> str:
    """A strong key: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def secret_weakness(secret: str) -> str | None:
    """Why a key is too weak to seal anonymous authors with, or None when it is strong enough."""
    if len(secret) < MIN_SECRET_LENGTH:
        return f"{len(secret)} characters; at least {MIN_SECRET_LENGTH} are needed"
    folded = "".join(c for c in secret.lower() if c.isalnum())
    for word in PLACEHOLDERS:
        if word in folded:
            return f"it contains '{word}', a well-known placeholder"
    if _predictable(secret):
        return "too predictable: few different characters, repeated or in sequence"
    return None


def _predictable(secret: str) -> bool:
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    # Neighbours equal or one apart ("aaaa", "abcd", "4321"): a random key has few.
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(secret))
    repeated = any(secret[period:] == secret[:-period] for period in range(1, len(secret) // 2 + 1))
    return bits < MIN_SECRET_BITS or steps > 0.6 * (len(secret) - 1) or repeated


def check_secret(secret: str, source: str = "ADVOCACY_SECRET_KEY") -> str:
    """The key, or a WeakSecret naming where it came from and how to make a strong one."""
    weakness = secret_weakness(secret)
    if weakness:
        raise WeakSecret(f"{source} is too weak ({weakness}); {MAKE_ONE}")
    return secret


def warn_if_generated_key_differs(configured: str, path: Path) -> None:
    """Setting ADVOCACY_SECRET_KEY after the bot ran with a generated key silently orphans what
    that key sealed: the authors of earlier anonymous ideas are never told of an answer."""
    try:
        generated = path.read_text().strip()
    except OSError:
        return
    if generated and generated != configured:
        log.warning(
            "ADVOCACY_SECRET_KEY differs from the key generated in %s before it was set, which "
            "sealed what was stored until then (anonymous ideas' authors, events waiting in the "
            "inbox, Slack installations): to keep them, set ADVOCACY_SECRET_KEY to that file's "
            "key; if nothing was stored with it, delete the file.",
            path,
        )


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """Use the configured key (refused when weak), or create one in the data directory on first
    start.

    A generated key lives beside the data it protects; production deployments should set
    ``ADVOCACY_SECRET_KEY`` so that the key survives a lost volume and is shared by every instance.
    """
    path = data_dir / GENERATED_KEY_FILE
    if configured:
        secret = check_secret(configured)
        warn_if_generated_key_differs(secret, path)
        return secret
    if path.is_file():
        return check_secret(path.read_text().strip(), f"the key in {path}")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = new_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    log.warning(
        "ADVOCACY_SECRET_KEY is not set; generated one in %s. Set the variable in production "
        "(advocacy secret-key prints a new one).",
        path,
    )
    return secret
